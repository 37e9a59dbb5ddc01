"""The Rust side of the demos: the slides' own language, compiled with ``rustc`` and run contained.

Each :class:`RustProgram` is a complete program in ``fork110/demos/rust/`` that uses the standard
library only (``std::process::Command``, ``Child``, ``CommandExt::pre_exec``; a libc function it
needs, such as ``ptrace``, is declared with ``extern "C"``), and says in plain words what it shows
(``shows``). :func:`compile_rust` builds one with ``rustc`` under ``-D warnings``, caching the
executable by source hash as :mod:`fork110.demos._c` does for C; where there is no ``rustc`` it
returns None and the demo runs the Python translation instead, with a note.

>>> sorted(RUST_SOURCES)
['command', 'ptrace', 'zombies_drop', 'zombies_guard']
>>> RUST_SOURCES["zombies_drop"].path.name
'zombies_drop.rs'
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ._c import CompileError, build

__all__ = [
    "RUSTFLAGS",
    "RUST_DIR",
    "RUST_SOURCES",
    "CompileError",
    "RustProgram",
    "compile_rust",
    "find_rustc",
]

#: The folder that holds the programs.
RUST_DIR = Path(__file__).resolve().with_name("rust")

#: Compiler flags for every program: they must build warning-free.
RUSTFLAGS = ("--edition", "2021", "-D", "warnings", "-C", "opt-level=0", "-C", "debuginfo=0")

#: Seconds a compilation may take before it is killed.
COMPILE_TIMEOUT = 300.0


@dataclass(frozen=True)
class RustProgram:
    """One Rust program: its name, its file, and what it shows.

    >>> p = RUST_SOURCES["ptrace"]
    >>> p.path.suffix, "pre_exec" in p.source, "extern \\"C\\"" in p.source
    ('.rs', True, True)
    """

    name: str
    path: Path
    shows: str

    @property
    def source(self) -> str:
        """The program's text.

        >>> "Command::new" in RUST_SOURCES["command"].source
        True
        """
        return self.path.read_text(encoding="utf-8")


def find_rustc() -> str | None:
    """``rustc`` on PATH, else in ``~/.cargo/bin`` (where rustup puts it, often not on a Jupyter
    kernel's PATH); None where there is none.

    >>> r = find_rustc()
    >>> r is None or os.path.basename(r) == "rustc"
    True
    """
    found = shutil.which("rustc")
    if found is None:
        cargo = os.path.join(os.path.expanduser("~"), ".cargo", "bin", "rustc")
        found = cargo if os.access(cargo, os.X_OK) else None
    return found


def compile_rust(name: str, out_dir: str | os.PathLike[str]) -> Path | None:
    """Compile the program ``RUST_SOURCES[name]`` into ``out_dir`` with ``rustc``.

    Returns the executable's path, or None when there is no ``rustc``. The executable is named
    ``<name>-<hash>`` after the compiler, the flags and the source, so an unchanged program is not
    rebuilt. Raises :class:`~fork110.demos._c.CompileError` with rustc's output when it fails.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     exe = compile_rust("zombies_guard", d)
    ...     exe is None or (exe.name.startswith("zombies_guard-") and compile_rust("zombies_guard", d) == exe)
    True
    >>> compile_rust("nope", ".")
    Traceback (most recent call last):
    ...
    KeyError: "no Rust program named 'nope'; see RUST_SOURCES"
    """
    try:
        program = RUST_SOURCES[name]
    except KeyError:
        raise KeyError(f"no Rust program named {name!r}; see RUST_SOURCES") from None
    return compile_rust_file(program.path, out_dir)


def compile_rust_file(
    source: str | os.PathLike[str], out_dir: str | os.PathLike[str]
) -> Path | None:
    """Compile one ``.rs`` file into ``out_dir`` (see :func:`compile_rust`).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     bad = Path(d, "bad.rs")
    ...     _ = bad.write_text("fn main() { let unused = 1; }\\n")
    ...     try:
    ...         compile_rust_file(bad, d)
    ...     except CompileError as e:
    ...         print("unused" in e.stderr)
    ...     else:  # no rustc on this machine
    ...         print(True)
    True
    """
    src = Path(source)
    rustc = find_rustc()
    if rustc is None:
        return None
    return build(src, rustc, RUSTFLAGS, out_dir, COMPILE_TIMEOUT, in_scratch_dir=True)


def _p(name: str, shows: str) -> RustProgram:
    return RustProgram(name, RUST_DIR / f"{name}.rs", " ".join(shows.split()))


_PROGRAMS = [
    _p(
        "command",
        """The slides' ps --pid example with std::process::Command three ways: output() (stdin
        null, stdout and stderr piped, waits; a readlink of /proc/self/fd/0 under output() prints
        /dev/null), status() (all three inherited: ps writes straight to
        our stdout), spawn() with a piped stdout, then wait(). Then a stdin pipe: tr a-z A-Z
        spawned with stdin and stdout piped, a line written into child.stdin, the pipe closed by
        dropping it so tr sees end of file, and wait_with_output(). Last, a missing program:
        output() returns Err with ErrorKind::NotFound and raw_os_error 2 (ENOENT).""",
    ),
    _p(
        "zombies_drop",
        """Three children spawned with Command::spawn() whose Child values are dropped at once,
        without wait(): std's Child has no Drop, so nothing reaps them. Each exits with status 1,
        2 and 3; the parent reads their state from /proc ("Z (zombie)"), sleeps 1 s listing them,
        and exits without ever waiting: its zombies are then adopted and reaped by whoever
        reaps orphans (init, or the nearest subreaper).""",
    ),
    _p(
        "zombies_guard",
        """The recap's suggestion made real: a guard type Reaped(Child) whose Drop calls wait().
        Three children, each in a block whose end drops its guard, which waits until the child
        exits; the Drop prints what wait() returned, and after 1 s /proc has no entry left for
        any of them.""",
    ),
    _p(
        "ptrace",
        """The slide's pre_exec with std only: ptrace is declared with extern "C" (no libc crate),
        and the pre_exec closure calls ptrace(PTRACE_TRACEME) in the child between fork and exec.
        Child::wait() (waitpid(pid, 0)) returns at the SIGTRAP stop at exec: an ExitStatus whose
        code() is None and stopped_signal() is Some(5); it caches that status, so a second wait()
        returns the same stop. The parent reads the state from /proc (t) and the instruction
        pointer (PTRACE_PEEKUSER on x86_64), continues the child with PTRACE_CONT and, as a
        debugger does, collects the exit with its own raw waitpid.""",
    ),
]

#: Every program by name.
RUST_SOURCES: dict[str, RustProgram] = {p.name: p for p in _PROGRAMS}
