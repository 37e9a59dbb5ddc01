"""Contained runs: run code that forks, safely, and watch what its processes do.

Every live demo, the ``%%contained`` cell magic and the widgets run code through here. The code
runs in a fresh interpreter started with :class:`fork110.Command` (the caller, a notebook kernel,
never forks), under a supervisor that guarantees, whatever the code does:

* **containment**: the run has its own pid namespace, mount namespace and user namespace where
  the kernel allows them (as root, and as an ordinary user through a user namespace): its
  supervisor is **pid 1** there, the run's first process pid 2, so an orphan is reparented to
  pid 1, as textbooks say, and reaped; ``/proc`` shows the run and nothing else; the pids in
  events, snapshots and ``ContainedRun`` are the ones the programs print (``os.getpid()``).
  Elsewhere (see *Fallback* below) the run is its own session and process group, and its
  supervisor a child subreaper, so orphans stay in the run, visible, and get reaped;
* **a fork budget** (``max_processes``, default 32) that holds even as root: a fork past it
  fails with ``BlockingIOError`` (EAGAIN), as a real fork does at its limit. The kernel enforces
  it through a pids cgroup where one can be made (root); elsewhere every Python-level fork is
  counted under a lock, and RLIMIT_NPROC is set too where the user is not root;
* **a watchdog**: a run alive after ``timeout`` seconds is killed whole and reported as timed
  out, naming the processes still alive and what they were doing (``S`` sleeping in
  ``futex_wait``, say, for a child deadlocked on a lock copied from its parent);
* **clean-up**: when the run ends, when the caller is interrupted (KeyboardInterrupt, the
  kernel's interrupt button), when the caller exits, even when it is killed with SIGKILL, every
  process of the run is killed and reaped within a second; ``leaked`` is checked, and is 0;
* **output through pipes**: each process's stdout and stderr reach the caller through pipes of
  its own (never the caller's own fds), as ``stdout``/``stderr`` events naming the process, in
  the order the process wrote them and made its forks, execs and reaps;
* **no stray signals**: ``kill(-1)``, and signals to the supervisor or to the caller, fail with
  EPERM even from C code (a seccomp filter); so do ``ptrace``, ``prlimit`` and
  ``process_vm_readv``/``writev`` of them, and making them a file's owner (``F_SETOWN``: SIGIO).
  Python code may only signal the run's processes;
* **nothing from the run is trusted**: the supervisor takes a report only from a process the
  kernel names as its sender (``SCM_CREDENTIALS``) and finds in the run at that moment, and
  acts only on pids it verified belong to the run; it is not dumpable, so its pipes to the caller
  cannot be opened through ``/proc`` by the run; every frame it sends is capped (tied to
  ``max_output``), and a malformed one is reported in ``notes``, never raised;
* **memory and CPU**: ``max_memory`` (default 512 MiB) for the whole run, past which the kernel
  kills a process (``oom_kills``, and a note in words) or, without a memory cgroup, an allocation
  fails (``MemoryError``, RLIMIT_AS per process); one CPU's worth of time where a cpu cgroup
  can be made (``memory`` says which held).

Isolation, by environment (``ContainedRun.namespace`` says which held; ``containment`` says it
in words, e.g. ``"pid namespace + cgroup"`` or ``"seccomp filter + rlimits"``):

* **pid namespace** (the default wherever ``unshare`` allows it): the run cannot see, signal,
  ptrace or prlimit the caller, the supervisor's host identity, or anyone else's processes (they
  have no pid in its namespace; pid 1 handles no signal it did not ask for, and the seccomp
  filter below still guards it). Its first process enters a mount namespace of its own where the
  Jupyter runtime directories (the kernel's connection files: ``JUPYTER_RUNTIME_DIR`` and
  ``jupyter_core``'s ``runtime`` dir) and ``/sys/fs/cgroup`` are empty read-only tmpfs, then a
  user namespace of its own: uid 0 there is the caller's uid outside, with no capability outside
  it, so it can neither undo those mounts nor write a cgroup file (``pids.max``, another group's
  ``cgroup.procs``). The host's filesystem is **read-only** to it, for every caller (every
  mount bind-remounted read-only, ``/proc/sys`` and ``/proc/sysrq-trigger`` too): as root, where
  its uid 0 is the host's, it cannot change ``/etc/passwd``, the course's files or ``~/.bashrc``;
  as a user, not even that user's files. ``/tmp``, ``/var/tmp`` and ``/dev/shm`` are its own: an
  overlay of a private tmpfs (64 MiB each) on the host's, so it reads what is there, and what it
  writes nobody outside sees and vanishes with it (``share=`` names host paths under them it
  must see as they are: a FIFO the caller writes to). FIFOs, sockets, ``/dev/null`` and other
  devices work as ever. Killing pid 1 kills the whole namespace. What it still can: read what
  the caller may read; open devices the caller's uid may open; the network.
* **seccomp filter** (the fallback: the kernel refuses the namespaces, with EPERM, ENOSPC or no
  support, or ``FORK110_SANDBOX_NAMESPACES=0``): the run shares the caller's pid and mount
  namespaces; the filter and the hooks keep signals, ptrace, prlimit and ``F_SETOWN`` off the
  caller and the supervisor, but C code can see and signal other processes by pid, and threads
  the caller starts after the run began; it can read the kernel's connection file. Nothing of
  the read-only host above holds there: the run writes what the caller's uid may write (as
  root, any file), and ``/tmp`` is the host's.

What enforces the budget, by environment (``ContainedRun.enforcement`` says which held):

* ``"cgroup"`` (root, cgroups writable, as on the course machines): the kernel's pids
  controller. Exact for everything: Python, C, exec'd programs. It counts threads as well.
  The run's cgroup files belong to an owner nobody has and root in the run gives up
  CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_CHOWN, CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE, so the run
  cannot raise ``pids.max`` or its memory limit; a process that moves itself out of the run's
  cgroup is still below the supervisor, which kills the run when it counts more than the budget.
* ``"rlimit"`` (not root): every Python-level fork, spawn and ``os.system`` is counted under a
  lock, exactly; RLIMIT_NPROC (the user's processes now plus the budget) holds C code back too,
  loosely, since it counts all the user's processes. Memory: RLIMIT_AS, per process.
* ``"wrapper"`` (root without cgroups): Python-level forks are counted exactly; processes made
  by C code or exec'd programs are not held back by the kernel, but the supervisor, which
  walks the tree every ``sample_interval``, kills the whole run as soon as it sees more than
  the budget (reported in ``killed`` and ``notes``).

Not covered, in every mode: disk and network are not limited, and the run acts on files with
the caller's uid (see above).

>>> run("print('hello from', 'the parent')").stdout
'hello from the parent\\n'
>>> r = run('''
... import os
... pid = os.fork()
... if pid == 0:
...     print("child")
...     os._exit(3)
... os.waitpid(pid, 0)
... ''')
>>> print(r.transcript(output=False))
parent started: python <contained>
parent forked child-1
child-1 exited (exit status: 3)
parent reaped child-1 (exit status: 3)
parent exited (exit status: 0)
supervisor reaped parent (exit status: 0)
end: parent exit status: 0; 2 processes; nothing left

A fork bomb (every process forks as fast as it can, and shrugs off refusals) stays within its
budget until the watchdog ends it:

>>> bomb = run('''
... import os
... while True:
...     try:
...         os.fork()
...     except BlockingIOError:
...         pass
... ''', max_processes=8, timeout=0.5)
>>> bomb.timed_out, bomb.peak_processes <= 8, bomb.refusals > 0, bomb.leaked
(True, True, True, 0)
"""

from __future__ import annotations

import math
import os
import shutil
import sys
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Literal, TypedDict

from fork110._sandbox.inside import ns as _sandbox_ns
from fork110._sandbox.live import LiveRun, SandboxError, _new_live_run
from fork110._sandbox.result import ContainedRun, Event

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from fork110._sandbox.inside.wire import Config

Enforce = Literal["auto", "wrapper", "none"]
"""How the fork budget is enforced: ``"auto"`` (the strongest the machine allows), ``"wrapper"``
(count forks in Python and scan the tree, even where a cgroup could be made; for tests), ``"none"``."""

DEFAULT_MEMORY = 512 << 20  # a dozen runs at once stay well within a 24 GiB machine
MAX_BUDGET = 4_194_304  # the kernel's own ceiling on pids (PID_MAX_LIMIT)


class ProgramLimits(TypedDict, total=False):
    """The keyword arguments of :func:`start_program` and :func:`run_program`."""

    max_processes: int
    timeout: float
    snapshots: bool
    sample_interval: float
    cwd: str | os.PathLike[str] | None
    env: dict[str, str] | None
    max_events: int
    max_output: int
    enforce: Enforce
    stdin: str | bytes | None
    max_memory: int | None
    share: Sequence[str | os.PathLike[str]]


class Limits(ProgramLimits, total=False):
    """The keyword arguments of :func:`start`, :func:`run` and :func:`stream`."""

    line_buffered: bool
    filename: str


__all__ = [
    "ContainedRun",
    "Enforce",
    "Event",
    "Limits",
    "LiveRun",
    "ProgramLimits",
    "SandboxError",
    "run",
    "run_program",
    "start",
    "start_program",
    "stream",
]

_ENFORCE = ("auto", "wrapper", "none")


def _config(
    mode: str,
    code: str,
    argv: list[str],
    filename: str,
    *,
    max_processes: int,
    timeout: float,
    sample_interval: float,
    max_events: int,
    max_output: int,
    enforce: Enforce,
    line_buffered: bool = True,
    stdin: str | bytes | None = None,
    max_memory: int | None = DEFAULT_MEMORY,
    share: Sequence[str | os.PathLike[str]] = (),
) -> Config:
    """Check the limits (clear errors for bad ones) and build the supervisor's configuration."""
    if isinstance(max_processes, bool) or not isinstance(max_processes, int):
        raise TypeError(f"max_processes must be an int, not {type(max_processes).__name__}")
    if max_processes < 1:
        raise ValueError(
            f"max_processes must be at least 1 (the run's own first process), not {max_processes}"
        )
    if max_processes > MAX_BUDGET:
        raise ValueError(
            f"max_processes must be at most {MAX_BUDGET} (the kernel's own limit on pids), "
            f"not {max_processes}"
        )
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number of seconds, not {type(timeout).__name__}")
    if not (timeout > 0 and math.isfinite(timeout)):
        raise ValueError(f"timeout must be a positive, finite number of seconds, not {timeout!r}")
    # wrong types raise TypeError, wrong values ValueError, for every limit alike
    if isinstance(sample_interval, bool) or not isinstance(sample_interval, (int, float)):
        raise TypeError(
            f"sample_interval must be a number of seconds, not {type(sample_interval).__name__}"
        )
    if not 0 < sample_interval < math.inf:
        raise ValueError(
            f"sample_interval must be a positive number of seconds, not {sample_interval!r}"
        )
    for name, value in (("max_events", max_events), ("max_output", max_output)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, not {type(value).__name__}")
        if value < 1:
            raise ValueError(f"{name} must be a positive int, not {value!r}")
    if not isinstance(enforce, str):
        raise TypeError(f"enforce must be a str, not {type(enforce).__name__}")
    if enforce not in _ENFORCE:
        raise ValueError(f"enforce must be one of {_ENFORCE}, not {enforce!r}")
    if max_memory is not None:
        if isinstance(max_memory, bool) or not isinstance(max_memory, int):
            raise TypeError(
                f"max_memory must be an int (bytes) or None, not {type(max_memory).__name__}"
            )
        if max_memory < 1 << 20:
            raise ValueError(f"max_memory must be at least 1 MiB (1048576), not {max_memory!r}")
    if stdin is not None and not isinstance(stdin, (str, bytes)):
        raise TypeError(f"stdin must be str, bytes or None, not {type(stdin).__name__}")
    if isinstance(share, (str, bytes)) or not all(isinstance(p, (str, os.PathLike)) for p in share):
        raise TypeError("share must be a sequence of paths (str or os.PathLike)")
    title = f"python {filename}" if mode == "python" else ""  # what ps shows for the parent
    return {
        "mode": mode,
        "code": code,
        "argv": argv,
        "filename": filename,
        "title": title,
        "line_buffered": bool(line_buffered),
        "path": [str(p) for p in sys.path] if mode == "python" else [],
        "max_processes": max_processes,
        "timeout": float(timeout),
        "scan": min(float(sample_interval), 0.05),
        "max_events": max_events,
        "max_output": max_output,
        "enforce": enforce,
        "caller": os.getpid(),
        "t0": 0.0,
        # what the run's first process reads on fd 0 (then end of file); None: /dev/null
        "stdin": stdin.encode("utf-8") if isinstance(stdin, str) else stdin,
        "stdin_file": -1,
        "max_memory": max_memory,
        "memory_mode": "",
        "namespaces": os.environ.get("FORK110_SANDBOX_NAMESPACES", "1").strip() != "0",
        "hide": _sandbox_ns.runtime_dirs(),
        "share": [os.path.abspath(os.fspath(p)) for p in share],
        "in_namespace": False,
        "host_uid": -1,
    }


def start(
    code: str,
    *,
    max_processes: int = 32,
    timeout: float = 5.0,
    snapshots: bool = True,
    sample_interval: float = 0.05,
    line_buffered: bool = True,
    filename: str = "<contained>",
    cwd: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
    max_events: int = 20_000,
    max_output: int = 4 << 20,
    enforce: Enforce = "auto",
    stdin: str | bytes | None = None,
    max_memory: int | None = DEFAULT_MEMORY,
    share: Sequence[str | os.PathLike[str]] = (),
) -> LiveRun:
    """Start running Python *code* contained; return the :class:`LiveRun` (use it with ``with``).

    The code runs as ``python -c`` would, with the caller's ``sys.path``, in *cwd* with *env*
    (the caller's by default). Its stdout and stderr are line-buffered, as on a terminal, unless
    ``line_buffered=False`` (then a fork duplicates what was not yet flushed, as with a pipe).
    ``snapshots`` samples the tree every *sample_interval* seconds and on every fork and exit.
    ``enforce`` is for tests: ``"wrapper"`` counts forks in Python even where a cgroup could.
    Raises SyntaxError for code that does not compile, ValueError/TypeError for bad limits;
    :class:`SandboxError` (from :meth:`LiveRun.result`) if the run could not be started at all.
    Anything the code itself does, raises or prints is reported in the result, not raised.
    ``stdin`` is what the run's first process reads on fd 0, as if typed, then end of file
    (its children inherit it, as a shell's do); by default /dev/null. The host's files are
    read-only to the run in its namespaces, and ``/tmp``, ``/var/tmp`` and ``/dev/shm`` its
    private copies: ``share`` names paths under those that it must see as they are (a FIFO
    the caller writes to, say; read-only still, as FIFOs, sockets and devices need not be).

    >>> with start("print(6 * 7)") as live:
    ...     live.result().stdout
    '42\\n'
    >>> run("print(input()[::-1])", stdin="olleh\\n").stdout
    'hello\\n'
    """
    if not isinstance(code, str):
        raise TypeError(f"code must be a str of Python source, not {type(code).__name__}")
    if not isinstance(filename, str) or not filename:
        raise ValueError("filename must be a non-empty str")
    try:
        compile(code, filename, "exec")
    except ValueError as exc:  # NUL bytes, before 3.12
        raise SyntaxError(f"{exc} in the contained code") from None
    cfg = _config(
        "python",
        code,
        [],
        filename,
        max_processes=max_processes,
        timeout=timeout,
        sample_interval=sample_interval,
        max_events=max_events,
        max_output=max_output,
        enforce=enforce,
        line_buffered=line_buffered,
        stdin=stdin,
        max_memory=max_memory,
        share=share,
    )
    return _new_live_run(
        cfg, snapshots=snapshots, sample_interval=sample_interval, cwd=cwd, env=env
    )


def run(code: str, **limits: Unpack[Limits]) -> ContainedRun:
    """Run Python *code* contained, to the end; see :func:`start` for the keyword arguments.

    An interrupt (KeyboardInterrupt) kills and reaps the whole run before it propagates.

    >>> r = run("import sys; print('to stderr', file=sys.stderr); sys.exit(4)")
    >>> r.status, r.stderr
    (<ExitStatus exit status: 4>, 'to stderr\\n')
    """
    with start(code, **limits) as live:
        return live.result()


def stream(code: str, **limits: Unpack[Limits]) -> Generator[Event, None, None]:
    """Yield the events of a contained run of *code* as they happen (``end`` last).

    Closing the generator early (or an exception in the loop) kills the run.

    >>> [e.describe() for e in stream("print('a'); print('b')") if e.kind == "stdout"]
    ['parent | a', 'parent | b']
    """
    with start(code, **limits) as live:
        yield from live


def start_program(
    argv: Sequence[str | os.PathLike[str]],
    *,
    max_processes: int = 32,
    timeout: float = 5.0,
    snapshots: bool = True,
    sample_interval: float = 0.02,
    cwd: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
    max_events: int = 20_000,
    max_output: int = 4 << 20,
    enforce: Enforce = "auto",
    stdin: str | bytes | None = None,
    max_memory: int | None = DEFAULT_MEMORY,
    share: Sequence[str | os.PathLike[str]] = (),
) -> LiveRun:
    """Start a program (a compiled C demo, say) as the run's first process, contained.

    The same guarantees hold, with one difference: nothing in the program reports its forks,
    so the supervisor finds its processes by walking the tree every *sample_interval* seconds
    (a very short-lived process can be missed), output is attributed to the process that owns
    the pipe (children share their parent's), and the budget is the kernel's (pids cgroup, or
    RLIMIT_NPROC when not root); as root without cgroups the supervisor kills the whole run as
    soon as it sees more than ``max_processes`` processes. Raises FileNotFoundError if the
    program cannot be found.

    >>> with start_program(["sh", "-c", "echo hi"]) as live:
    ...     live.result().stdout
    'hi\\n'
    """
    args = [os.fspath(a) for a in argv] if not isinstance(argv, (str, bytes)) else None
    if not args or not all(isinstance(a, str) for a in args):
        raise TypeError(
            "argv must be a non-empty sequence of str (the program, then its arguments)"
        )
    program = args[0]
    search = env.get("PATH") if env is not None else None
    if shutil.which(program, path=search) is None:
        raise FileNotFoundError(2, "No such file or directory (or not executable)", program)
    cfg = _config(
        "program",
        "",
        args,
        "",
        max_processes=max_processes,
        timeout=timeout,
        sample_interval=sample_interval,
        max_events=max_events,
        max_output=max_output,
        enforce=enforce,
        stdin=stdin,
        max_memory=max_memory,
        share=share,
    )
    return _new_live_run(
        cfg, snapshots=snapshots, sample_interval=sample_interval, cwd=cwd, env=env
    )


def run_program(
    argv: Sequence[str | os.PathLike[str]], **limits: Unpack[ProgramLimits]
) -> ContainedRun:
    """Run a program contained, to the end; see :func:`start_program`.

    >>> run_program(["sh", "-c", "exit 5"]).status
    <ExitStatus exit status: 5>
    """
    with start_program(argv, **limits) as live:
        return live.result()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fork110.sandbox [-c CODE | FILE | --program PROGRAM ARGS...]``: run contained,
    print the events as they happen, then the summary; exit with ``parent``'s status (124 if the
    watchdog fired, as ``timeout(1)`` does).

    >>> main(["--max-processes", "4", "-c", "print('hi')"])
    parent started: python <contained>
    parent | hi
    parent exited (exit status: 0)
    supervisor reaped parent (exit status: 0)
    end: parent exit status: 0; 1 process; nothing left
    parent: exit status: 0; 1 process, peak 1 of 4; nothing left running
    0
    """
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m fork110.sandbox", description="Run code contained and watch its processes."
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("-c", dest="code", help="Python code to run")
    what.add_argument("file", nargs="?", help="a Python file to run")
    what.add_argument("--program", nargs=argparse.REMAINDER, help="a program and its arguments")
    parser.add_argument("--max-processes", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--times", action="store_true", help="show when each event happened")
    args = parser.parse_args(argv)
    limits = {"max_processes": args.max_processes, "timeout": args.timeout}
    if args.program:
        live = start_program(args.program, **limits)
    elif args.code is not None:
        live = start(args.code, **limits)
    else:
        with open(args.file, encoding="utf-8") as f:
            live = start(f.read(), filename=args.file, **limits)
    with live:
        for event in live:
            print(event if args.times else event.describe(), flush=True)
        result = live.result()
    print(result.summary())
    if result.timed_out:
        return 124
    code = result.status.code()
    return code if code is not None else 128 + (result.status.signal() or 0)


if __name__ == "__main__":
    sys.exit(main())
