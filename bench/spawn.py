"""Spawn benchmark: fork110.Command against the standard library, C and Rust, in one run.

Every figure is a per-spawn time measured in this run, and every target is a ratio
against a baseline measured in the same run, interleaved with it:

* each round runs every case once, as a batch of spawns, in a shuffled order;
* a case's figure is the median, over rounds, of the batch's mean time per spawn;
* a ratio is the median, over rounds, of case / baseline within the round (paired); the
  A/A row (a second copy of the baseline) shows how much of a ratio is noise;
* the C program (``spawn_c.c``, a posix_spawn + waitpid loop: the floor) and the Rust
  program (``spawn_rust.rs``, ``Command::status()`` / ``output()``: the peer) run their
  own batch of spawns per round and print their time per spawn; they are built on the
  fly into ``bench/_build/`` and skipped, with a note, where ``cc`` or ``rustc`` is missing.

Sections: the spawn table for ``/bin/true`` and for the bare name ``true`` (searched on
PATH); spawn cost while the parent holds 1 GiB (two long-lived worker processes, one
small and one holding 1 GiB of touched memory, driven in interleaved rounds); the cost
of ``import fork110`` on interpreter start-up (bytecode cached; with the .pth files of
this installation and with none, since an editable install's finder preloads modules
fork110 would otherwise pay for). Each target prints PASS or MISS with its figure. Usage::

    python bench/spawn.py [--quick] [--rounds N] [--hold-mib M] [--seed S]
"""

from __future__ import annotations

import argparse
import mmap
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import fork110
from fork110 import Command, _engine

BENCH_DIR = Path(__file__).resolve().parent
BUILD_DIR = BENCH_DIR / "_build"
TARGETS = ("/bin/true", "true")
MEMORY_TARGET = "/bin/true"

# The targets: ceilings on the ratios, and on the import cost in ms.
STATUS_MAX = 1.00
OUTPUT_MAX = 0.95
MEMORY_MAX = 1.10
IMPORT_MAX_MS = 30.0

STATUS, OUTPUT, SPAWN = "status", "output", "spawn"
BASELINES = {
    STATUS: "subprocess.run()",
    OUTPUT: "subprocess.run(capture_output=True)",
    SPAWN: "subprocess.Popen().wait()",
}
FLOOR = "C posix_spawn+waitpid (floor)"

# Case names, in table order.
CMD_STATUS = "Command.status()"
CMD_STATUS_PORTABLE = "Command.status() [portable engine]"
CMD_OUTPUT_PORTABLE = "Command.output() [portable engine]"
CMD_CWD = "Command.current_dir().status()"
CMD_CWD_PORTABLE = "Command.current_dir().status() [portable]"
RUST_STATUS = "Rust Command::status()"
CMD_OUTPUT = "Command.output()"
RUST_OUTPUT = "Rust Command::output()"
CMD_SPAWN = "Command.spawn().wait()"
POSIX_SPAWN = "os.posix_spawn+waitpid"
FORK_EXEC = "os.fork+execv+waitpid"
AA_CONTROL = "subprocess.run() again (A/A noise)"

BatchRunner = Callable[[int], float]
"""Runs a batch of n spawns; returns the mean time of one spawn in microseconds."""


@dataclass(frozen=True)
class Case:
    """One measured way of starting the target program."""

    target: str
    name: str
    group: str
    run_batch: BatchRunner


@dataclass(frozen=True)
class Settings:
    """How much to measure; ``--quick`` shrinks everything for smoke runs."""

    rounds: int
    batch: int
    memory_rounds: int
    fork_batch: int
    import_pairs: int
    hold_mib: int
    seed: int


# --------------------------------------------------------------------------- timing


def time_batch(spawn_once: Callable[[], object], n: int) -> float:
    """Run ``spawn_once`` n times; return the mean wall time of one call in microseconds."""
    start = time.perf_counter_ns()
    for _ in range(n):
        spawn_once()
    return (time.perf_counter_ns() - start) / n / 1e3


def python_batch(spawn_once: Callable[[], object]) -> BatchRunner:
    """A batch runner that calls ``spawn_once`` in this process."""
    return lambda n: time_batch(spawn_once, n)


def external_batch(argv_head: Sequence[str], argv_tail: Sequence[str]) -> BatchRunner:
    """A batch runner for a native loop: ``argv_head K argv_tail`` prints microseconds per spawn."""

    def run(n: int) -> float:
        done = subprocess.run(
            [*argv_head, str(n), *argv_tail], capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0:
            raise RuntimeError(f"{argv_head[0]} failed ({done.returncode}): {done.stderr.strip()}")
        return float(done.stdout)

    return run


def median_and_spread(values: Sequence[float]) -> tuple[float, float, float]:
    """Median, 25th and 75th percentiles of per-round figures."""
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q2, q1, q3


def paired_ratio(case: Sequence[float], baseline: Sequence[float]) -> float:
    """Median over rounds of case / baseline, each pair measured in the same round.

    Pairing cancels the drift between rounds; an A/A control (the baseline against a second
    copy of itself) stays within about 1% on a quiet 2-core machine.
    """
    return statistics.median(c / b for c, b in zip(case, baseline, strict=True))


def run_rounds(
    cases: Sequence[Case], rounds: int, batch: int, rng: random.Random
) -> dict[Case, list[float]]:
    """Run every case once per round, in a fresh shuffled order each round, after one warm-up."""
    results: dict[Case, list[float]] = {case: [] for case in cases}
    order = list(cases)
    for case in order:
        case.run_batch(1)
    for _ in range(rounds):
        rng.shuffle(order)
        for case in order:
            results[case].append(case.run_batch(batch))
    return results


# --------------------------------------------------------------------------- native peers


def build(source: Path, output: Path, compile_argv: Sequence[str]) -> Path | None:
    """Compile ``source`` into ``output`` unless it is up to date; None (with a note) on failure."""
    if output.exists() and output.stat().st_mtime >= source.stat().st_mtime:
        return output
    BUILD_DIR.mkdir(exist_ok=True)
    partial = output.with_name(f"{output.name}.{os.getpid()}.tmp")
    done = subprocess.run(
        [*compile_argv, "-o", str(partial), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        print(f"note: building {source.name} failed, skipping it:\n{done.stderr.strip()}")
        return None
    os.replace(partial, output)
    return output


def native_programs() -> tuple[Path | None, Path | None]:
    """The C floor and the Rust peer, built on the fly; None for what cannot be built here."""
    c_prog = rust_prog = None
    cc = shutil.which("cc")
    if cc is None:
        print("note: no C compiler (cc) on PATH: the C posix_spawn floor is skipped")
    else:
        c_prog = build(BENCH_DIR / "spawn_c.c", BUILD_DIR / "spawn_c", [cc, "-O2"])
    rustc = shutil.which("rustc")
    if rustc is None:
        print("note: no rustc on PATH: the Rust Command peer is skipped")
    else:
        rust_prog = build(
            BENCH_DIR / "spawn_rust.rs",
            BUILD_DIR / "spawn_rust",
            [rustc, "-O", "--edition", "2021"],
        )
    return c_prog, rust_prog


# --------------------------------------------------------------------------- the cases


def posix_spawn_wait(target: str) -> Callable[[], tuple[int, int]]:
    """os.posix_spawn (posix_spawnp for a bare name) of ``target``, then waitpid."""
    spawn = os.posix_spawnp if os.sep not in target else os.posix_spawn

    def run() -> tuple[int, int]:
        pid = spawn(target, [target], os.environ)
        return os.waitpid(pid, 0)

    return run


def fork_exec_wait(target: str) -> Callable[[], object]:
    """os.fork, os.execv in the child, waitpid in the parent: what design.md §4 rules out."""

    def run() -> object:
        pid = os.fork()
        if pid == 0:
            try:
                os.execv(target, [target])
            finally:
                os._exit(127)
        return os.waitpid(pid, 0)

    return run


def portable(spawn_once: Callable[[], object]) -> Callable[[], object]:
    """``spawn_once`` through the portable engine (public APIs only), whatever this process chose."""

    def run() -> object:
        saved = _engine.engine()
        _engine._chosen[:] = ["portable"]
        try:
            return spawn_once()
        finally:
            _engine._chosen[:] = [saved]

    return run


def spawn_cases(target: str, c_prog: Path | None, rust_prog: Path | None) -> list[Case]:
    """Every case of the spawn table for one target, in table order."""
    argv = [target]

    def case(name: str, group: str, run_batch: BatchRunner) -> Case:
        return Case(target, name, group, run_batch)

    cases = [
        case(CMD_STATUS, STATUS, python_batch(lambda: Command(target).status())),
        case(CMD_STATUS_PORTABLE, STATUS, python_batch(portable(lambda: Command(target).status()))),
        case(CMD_CWD, STATUS, python_batch(lambda: Command(target).current_dir("/").status())),
        case(
            CMD_CWD_PORTABLE,
            STATUS,
            python_batch(portable(lambda: Command(target).current_dir("/").status())),
        ),
        case(BASELINES[STATUS], STATUS, python_batch(lambda: subprocess.run(argv))),
        case(AA_CONTROL, STATUS, python_batch(lambda: subprocess.run(argv))),
    ]
    if rust_prog is not None:
        cases.append(case(RUST_STATUS, STATUS, external_batch([str(rust_prog), "status"], argv)))
    cases += [
        case(CMD_OUTPUT, OUTPUT, python_batch(lambda: Command(target).output())),
        case(CMD_OUTPUT_PORTABLE, OUTPUT, python_batch(portable(lambda: Command(target).output()))),
        case(
            BASELINES[OUTPUT],
            OUTPUT,
            python_batch(lambda: subprocess.run(argv, capture_output=True)),
        ),
    ]
    if rust_prog is not None:
        cases.append(case(RUST_OUTPUT, OUTPUT, external_batch([str(rust_prog), "output"], argv)))
    cases += [
        case(CMD_SPAWN, SPAWN, python_batch(lambda: Command(target).spawn().wait())),
        case(BASELINES[SPAWN], SPAWN, python_batch(lambda: subprocess.Popen(argv).wait())),
        case(POSIX_SPAWN, SPAWN, python_batch(posix_spawn_wait(target))),
    ]
    if c_prog is not None:
        cases.append(case(FLOOR, SPAWN, external_batch([str(c_prog)], argv)))
    return cases


def check_target(target: str) -> None:
    """Fail early, before any timing, unless every Python way of running ``target`` exits 0."""
    argv = [target]
    statuses = {
        CMD_STATUS: Command(target).status().code(),
        CMD_OUTPUT: Command(target).output().status.code(),
        CMD_SPAWN: Command(target).spawn().wait().code(),
        BASELINES[STATUS]: subprocess.run(argv).returncode,
        BASELINES[OUTPUT]: subprocess.run(argv, capture_output=True).returncode,
        BASELINES[SPAWN]: subprocess.Popen(argv).wait(),
        POSIX_SPAWN: os.waitstatus_to_exitcode(posix_spawn_wait(target)()[1]),
    }
    failed = {name: code for name, code in statuses.items() if code != 0}
    if failed:
        raise RuntimeError(f"running {target!r} did not exit 0: {failed}")


def memory_cases(target: str) -> dict[str, Callable[[], object]]:
    """What the 1 GiB workers measure, by name."""
    argv = [target]
    return {
        CMD_STATUS: lambda: Command(target).status(),
        BASELINES[STATUS]: lambda: subprocess.run(argv),
        POSIX_SPAWN: posix_spawn_wait(target),
        FORK_EXEC: fork_exec_wait(target),
    }


# --------------------------------------------------------------------------- verdicts


def verdict(passed: bool, label: str, figure: str, target: str) -> str:
    """One PASS/MISS line."""
    return f"{'PASS' if passed else 'MISS'}  {label}: {figure} (target {target})"


def ratio_check(label: str, ratio: float, ceiling: float) -> str:
    """A PASS/MISS line for a ratio that must not exceed ``ceiling``."""
    return verdict(ratio <= ceiling, label, f"{ratio:.2f}x", f"<= {ceiling:.2f}x")


# --------------------------------------------------------------------------- section 1


def spawn_table(settings: Settings, rng: random.Random) -> list[str]:
    """Measure and print the spawn table for both targets; return the verdict lines."""
    c_prog, rust_prog = native_programs()
    cases = [case for target in TARGETS for case in spawn_cases(target, c_prog, rust_prog)]
    for target in TARGETS:
        check_target(target)
        found = shutil.which(target)
        print(f"target {target!r}: runs {found}" + ("" if os.sep in target else " (PATH search)"))
    print()
    print(
        f"== spawn: {settings.rounds} rounds x {settings.batch} spawns per case, "
        "interleaved; us per spawn =="
    )
    results = run_rounds(cases, settings.rounds, settings.batch, rng)
    by_name = {(case.target, case.name): figures for case, figures in results.items()}
    header = (
        f"{'target':<10} {'case':<38} {'median':>8} {'p25-p75':>11}  {'vs baseline':<44} vs floor"
    )
    print(header)
    print("-" * len(header))
    for case in cases:
        mid, low, high = median_and_spread(results[case])
        base_name = BASELINES[case.group]
        vs_base = ""
        if case.name != base_name:
            vs_base = (
                f"{paired_ratio(results[case], by_name[case.target, base_name]):.2f}x {base_name}"
            )
        floor = by_name.get((case.target, FLOOR))
        vs_floor = "" if floor is None else f"{paired_ratio(results[case], floor):.2f}x"
        row = (
            f"{case.target:<10} {case.name:<38} {mid:8.1f} {f'{low:.0f}-{high:.0f}':>11}  "
            f"{vs_base:<44} {vs_floor}"
        )
        print(row.rstrip())
    print()
    lines: list[str] = []
    for target in TARGETS:
        status = paired_ratio(by_name[target, CMD_STATUS], by_name[target, BASELINES[STATUS]])
        output = paired_ratio(by_name[target, CMD_OUTPUT], by_name[target, BASELINES[OUTPUT]])
        lines.append(ratio_check(f"status() / subprocess.run() [{target}]", status, STATUS_MAX))
        for name, fast in ((CMD_STATUS_PORTABLE, CMD_STATUS), (CMD_OUTPUT_PORTABLE, CMD_OUTPUT),
                           (CMD_CWD_PORTABLE, CMD_CWD)):  # fmt: skip
            ratio = paired_ratio(by_name[target, name], by_name[target, fast])
            lines.append(
                f"info {name} / {fast} [{target}]: {ratio:.2f}x (engine: {_engine.engine()})"
            )
        lines.append(
            ratio_check(
                f"output() / subprocess.run(capture_output=True) [{target}]", output, OUTPUT_MAX
            )
        )
    return lines


# --------------------------------------------------------------------------- section 2


def proc_mib(path: str, key: str) -> float:
    """A ``key: N kB`` figure of a /proc file, in MiB (inf when the file does not have it)."""
    for line in Path(path).read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    return float("inf")


def hold_memory(mib: int) -> bytearray:
    """Allocate ``mib`` MiB and write one byte per page so every page is resident."""
    size = mib * 1024 * 1024
    block = bytearray(size)
    block[:: mmap.PAGESIZE] = b"\x01" * len(range(0, size, mmap.PAGESIZE))
    return block


def worker_main(hold_mib: int) -> int:
    """The worker: hold memory, then time batches named on stdin ("case<TAB>n"), one per line."""
    held = hold_memory(hold_mib)
    cases = memory_cases(MEMORY_TARGET)
    print(f"ready {proc_mib('/proc/self/status', 'VmRSS'):.0f}", flush=True)
    for line in sys.stdin:
        name, n = line.rstrip("\n").split("\t")
        print(f"{time_batch(cases[name], int(n)):.3f}", flush=True)
    del held
    return 0


@contextmanager
def worker(hold_mib: int) -> Iterator[Callable[[str, int], float]]:
    """A ``spawn.py --worker`` process holding ``hold_mib`` MiB; yields ``batch(case, n) -> us``."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--worker", str(hold_mib)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    stdin, stdout = proc.stdin, proc.stdout

    def ask(request: str) -> str:
        stdin.write(request)
        stdin.flush()
        answer = stdout.readline()
        if not answer:
            raise RuntimeError(f"the worker holding {hold_mib} MiB exited: {proc.wait()}")
        return answer

    try:
        print(f"worker holding {hold_mib} MiB: RSS {ask('').split()[1]} MiB")
        yield lambda name, n: float(ask(f"{name}\t{n}\n"))
    finally:
        stdin.close()  # EOF ends the worker
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        stdout.close()


def memory_section(settings: Settings, rng: random.Random) -> list[str]:
    """Spawn cost in a small parent vs one holding ``hold_mib`` MiB; return the verdict line."""
    hold = settings.hold_mib
    room = proc_mib("/proc/meminfo", "MemAvailable") - 512
    if hold > room:
        hold = max(64, int(room))
        print(f"note: only {room + 512:.0f} MiB available; holding {hold} MiB, not 1 GiB")
    print(
        f"== spawn of {MEMORY_TARGET} from a small parent vs one holding {hold} MiB: "
        f"{settings.memory_rounds} rounds, interleaved; us per spawn =="
    )
    names = list(memory_cases(MEMORY_TARGET))
    with worker(0) as small, worker(hold) as big:
        pair = [small, big]
        figures: dict[tuple[str, int], list[float]] = {(n, w): [] for n in names for w in (0, 1)}
        for name in names:
            small(name, 1)
            big(name, 1)
        for _ in range(settings.memory_rounds):
            rng.shuffle(names)
            for name in names:
                # The two sides of a pair run back to back, in a random order.
                n = settings.fork_batch if name == FORK_EXEC else settings.batch
                for side in rng.sample((0, 1), 2):
                    figures[name, side].append(pair[side](name, n))
    print(f"{'case':<38} {'small':>9} {f'{hold} MiB':>9}  ratio")
    ratios: dict[str, float] = {}
    for name in memory_cases(MEMORY_TARGET):
        small_figures, big_figures = figures[name, 0], figures[name, 1]
        ratios[name] = paired_ratio(big_figures, small_figures)
        print(
            f"{name:<38} {statistics.median(small_figures):9.1f} "
            f"{statistics.median(big_figures):9.1f}  {ratios[name]:.2f}x"
        )
    print()
    return [ratio_check(f"status() at {hold} MiB / small parent", ratios[CMD_STATUS], MEMORY_MAX)]


# --------------------------------------------------------------------------- section 3


@dataclass(frozen=True)
class StartUp:
    """One way of starting the interpreter: `python FLAGS -c BASE` vs `... -c BASE; import fork110`."""

    label: str
    flags: tuple[str, ...]
    env: dict[str, str]
    base: str

    def command(self, with_fork110: bool) -> list[str]:
        """The argv of the run without or with ``import fork110``."""
        code = f"{self.base}; import fork110" if with_fork110 else self.base
        return [sys.executable, *self.flags, "-c", code]


def start_ups() -> tuple[StartUp, StartUp]:
    """As installed here, and with nothing preloaded by the .pth files of site-packages.

    An editable install's finder (a .pth file) imports pathlib, re and more before any user
    code, which flatters fork110; the second way drops the .pth files, keeps site's own
    imports and finds the package through PYTHONPATH, as a plain install would. Bytecode is
    cached under bench/_build/ (PYTHONPYCACHEPREFIX, even where PYTHONDONTWRITEBYTECODE is
    set), as an installed package has it; the runs write nothing else.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(BUILD_DIR / "pycache")
    paths = sysconfig.get_paths()
    package_root = str(Path(fork110.__file__).resolve().parent.parent)
    path = os.pathsep.join([package_root, paths["purelib"], paths["platlib"]])
    return (
        StartUp("site and .pth files as installed here", (), env, "pass"),
        StartUp(
            "nothing preloaded by .pth files", ("-S",), dict(env, PYTHONPATH=path), "import site"
        ),
    )


def interpreter_ms(argv: list[str], env: dict[str, str]) -> float:
    """Wall time, in ms, of running ``argv`` from spawn to reap.

    No timeout here: with one, Popen.wait polls with sleeps of up to 50 ms (CPython 3.11),
    which rounds every figure up to the next poll.
    """
    start = time.perf_counter_ns()
    subprocess.run(argv, env=env, check=True)
    return (time.perf_counter_ns() - start) / 1e6


def import_cost_ms(start_up: StartUp, pairs: int) -> float:
    """Print and return the median paired difference made by ``import fork110``, in ms."""
    bare_argv, loaded_argv = start_up.command(False), start_up.command(True)
    interpreter_ms(bare_argv, start_up.env)
    interpreter_ms(loaded_argv, start_up.env)  # warm-up: caches written, files in the page cache
    bare: list[float] = []
    loaded: list[float] = []
    for i in range(pairs):
        if i % 2:
            loaded.append(interpreter_ms(loaded_argv, start_up.env))
            bare.append(interpreter_ms(bare_argv, start_up.env))
        else:
            bare.append(interpreter_ms(bare_argv, start_up.env))
            loaded.append(interpreter_ms(loaded_argv, start_up.env))
    extra = statistics.median(b - a for a, b in zip(bare, loaded, strict=True))
    print(
        f"{start_up.label}: {statistics.median(bare):.1f} ms without, "
        f"{statistics.median(loaded):.1f} ms with; median paired difference {extra:+.1f} ms"
    )
    return extra


def import_section(settings: Settings) -> list[str]:
    """Start-up cost of ``import fork110`` and what it imports; return the verdict lines."""
    print(
        f"== interpreter start-up: {settings.import_pairs} interleaved pairs of runs "
        "without and with `import fork110`, spawn to reap =="
    )
    installed, bare = start_ups()
    extra = max(import_cost_ms(s, settings.import_pairs) for s in (installed, bare))
    probe = (
        "import site, sys, time; start = time.perf_counter(); import fork110; "
        "print(f'{(time.perf_counter() - start) * 1e3:.1f}', 'ipywidgets' in sys.modules)"
    )
    took, widgets = captured([sys.executable, *bare.flags, "-c", probe], bare.env).split()
    print(f"nothing preloaded: the import statement itself takes {took} ms")
    print(f"slowest modules it adds (-X importtime, self us): {slowest_imports(bare)}")
    print(f"'ipywidgets' in sys.modules after import fork110: {widgets}")
    print()
    return [
        verdict(
            extra <= IMPORT_MAX_MS,
            "import fork110 start-up cost (larger of the two)",
            f"{extra:+.1f} ms",
            "<= 30 ms",
        ),
        verdict(
            widgets == "False", "import fork110 leaves ipywidgets unimported", widgets, "False"
        ),
    ]


def captured(argv: list[str], env: dict[str, str], stream: str = "stdout") -> str:
    """Run ``argv``; return its stdout (or stderr) as text; raise if it fails."""
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True, timeout=60)
    return str(getattr(done, stream))


def slowest_imports(start_up: StartUp, count: int = 6) -> str:
    """The modules ``import fork110`` adds with the largest self time, from ``-X importtime``."""
    times: list[dict[str, int]] = []
    for with_fork110 in (False, True):
        argv = start_up.command(with_fork110)
        report = captured([argv[0], "-X", "importtime", *argv[1:]], start_up.env, "stderr")
        fields = [line.removeprefix("import time:").split("|") for line in report.splitlines()]
        times.append({f[2].strip(): int(f[0]) for f in fields if f[0].strip().isdigit()})
    added = sorted(
        ((us, name) for name, us in times[1].items() if name not in times[0]), reverse=True
    )
    return f"{len(added)} modules; " + ", ".join(f"{name} {us}" for us, name in added[:count])


# --------------------------------------------------------------------------- main


def parse_settings(argv: Sequence[str] | None) -> Settings | int:
    """Parse the command line; an int means: run as a worker holding that many MiB."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few rounds, for smoke runs")
    parser.add_argument("--rounds", type=int, help="rounds of the spawn table (default 150)")
    parser.add_argument("--hold-mib", type=int, default=1024, help="the big parent (1024)")
    parser.add_argument("--seed", type=int, default=110, help="shuffle seed (110)")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        return int(args.worker)
    rounds = args.rounds if args.rounds is not None else (6 if args.quick else 150)
    if rounds < 1:
        parser.error("--rounds must be at least 1")
    return Settings(
        rounds=rounds,
        batch=4 if args.quick else 10,
        memory_rounds=max(3, rounds // 3),
        fork_batch=1 if args.quick else 2,
        import_pairs=max(4, rounds // 5),
        hold_mib=args.hold_mib,
        seed=args.seed,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run every section and print the verdicts; exit 0 whether or not the targets are met."""
    settings = parse_settings(argv)
    if isinstance(settings, int):
        return worker_main(settings)
    print(
        f"python {platform.python_version()} ({sys.executable}), {os.cpu_count()} CPUs, "
        f"Linux {platform.release()}, seed {settings.seed}"
    )
    rng = random.Random(settings.seed)
    started = time.monotonic()
    verdicts = spawn_table(settings, rng)
    verdicts += memory_section(settings, rng)
    verdicts += import_section(settings)
    print(f"== targets ({time.monotonic() - started:.0f} s) ==")
    print("\n".join(verdicts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
