"""The ``%%contained`` cell magic: run a cell's code as a contained run, with the live tree under it.

Load it with ``%load_ext fork110``; then a cell that starts with ``%%contained`` runs in a fresh
interpreter under the sandbox's supervisor (fork budget, watchdog, clean-up: see
:mod:`fork110.sandbox`); the kernel itself never forks. Options on the magic line:

``--budget N``   the fork budget (default 32 processes);
``--timeout S``  the watchdog's timeout (default 5 seconds);
``--c``          the cell is C: compiled with ``cc`` (compiler errors are raised as errors) and run
                 the same way;
``--quiet``      no tree, only the output.

The run's output is printed in the cell as it arrives; the finished
:class:`~fork110.sandbox.ContainedRun` is bound to ``_contained`` for the next cell to inspect.
Interrupting the kernel kills the run (and everything it started) before the interrupt goes on.

>>> r = run_cell("import os\\nif os.fork() == 0:\\n    print('child')\\nelse:\\n    os.wait()", quiet=True)
child
>>> r.peak_processes, r.leaked
(2, 0)
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when a cell runs, so that %load_ext stays quick
    from fork110.sandbox import ContainedRun, Event, LiveRun

__all__ = [
    "CellCompileError",
    "compile_cell",
    "contained",
    "load_ipython_extension",
    "run_cell",
    "start_cell",
]

CFLAGS = ("-Wall", "-Wextra", "-O0", "-pthread")
VARIABLE = "_contained"


class CellCompileError(RuntimeError):
    """The C compiler rejected the cell; the message is what it said.

    >>> str(CellCompileError("cell.c:1:1: error: expected ';'"))
    "the C compiler rejected the cell:\\ncell.c:1:1: error: expected ';'"
    """

    def __init__(self, message: str) -> None:
        """The error for a compiler that printed *message*."""
        super().__init__(f"the C compiler rejected the cell:\n{message.rstrip()}")
        self.compiler_output = message


def compile_cell(source: str) -> Path:
    """Compile C *source* with ``cc`` (cached by content) and return the program's path.

    Raises :class:`CellCompileError` with the compiler's messages if it fails, and
    FileNotFoundError if there is no C compiler. Warnings are printed on stderr.

    >>> compile_cell("int main(void) { return 0; }").is_file()
    True
    """
    import hashlib
    import tempfile

    cc = shutil.which("cc")
    if cc is None:
        raise FileNotFoundError("no C compiler (cc) on this machine: install gcc to run C cells")
    key = hashlib.sha256(repr((cc, CFLAGS)).encode() + source.encode()).hexdigest()[:16]
    base = Path(tempfile.gettempdir()) / f"fork110-cells-{os.getuid()}"
    base.mkdir(exist_ok=True)
    exe = base / f"cell-{key}"
    if exe.is_file():
        return exe
    src = base / f"cell-{key}.c"
    src.write_text(source, encoding="utf-8")
    tmp = base / f"cell-{key}.tmp{os.getpid()}"
    from fork110 import Command, Stdio

    cmd = Command(cc).args([*CFLAGS, "-o", str(tmp), str(src)]).stdin(Stdio.null())
    out = cmd.output()  # a spawn (posix_spawn/vfork), not a fork of the kernel
    message = (out.stderr + out.stdout).decode("utf-8", "replace").replace(str(src), "cell.c")
    if not out.status.success():
        raise CellCompileError(message or str(out.status))
    if message:
        print(message, file=sys.stderr, end="" if message.endswith("\n") else "\n")
    os.replace(tmp, exe)
    return exe


def _print(events: list[Event]) -> None:
    for e in events:
        if e.kind == "stdout":
            sys.stdout.write(e.detail)
        elif e.kind == "stderr":
            sys.stderr.write(e.detail)
    sys.stdout.flush()
    sys.stderr.flush()


def start_cell(cell: str, *, budget: int = 32, timeout: float = 5.0, c: bool = False) -> LiveRun:
    """Start the cell contained (compiling it first with ``c=True``) and return the live run.

    >>> with start_cell("print(1 + 1)") as live:
    ...     live.result().stdout
    '2\\n'
    """
    from fork110 import sandbox

    if c:
        exe = compile_cell(cell)
        return sandbox.start_program([str(exe)], max_processes=budget, timeout=timeout)
    return sandbox.start(cell, max_processes=budget, timeout=timeout, filename="<cell>")


def run_cell(
    cell: str,
    *,
    budget: int = 32,
    timeout: float = 5.0,
    c: bool = False,
    quiet: bool = False,
) -> ContainedRun:
    """Run a cell contained, print its output as it comes, show the live tree (unless *quiet*),
    and return the finished run. An interrupt kills the run, then propagates.

    >>> run_cell("print('hi')", quiet=True).stdout
    hi
    'hi\\n'
    """
    live = start_cell(cell, budget=budget, timeout=timeout, c=c)
    if quiet:
        with live:
            for e in live:
                _print([e])
            result = live.result()
        if not result.success():
            print(result.summary(), file=sys.stderr)
        return result
    import queue

    from fork110.widgets import TreeView

    arrived: queue.Queue[list[Event]] = queue.Queue()
    view = TreeView(live, budget=budget, title="%%contained" + (" --c" if c else ""))
    view.on_events(arrived.put)
    try:
        from fork110.widgets._static import display

        display(view)
        while not view.ended or not arrived.empty():
            try:
                _print(arrived.get(timeout=0.05))
            except queue.Empty:
                pass
    except KeyboardInterrupt:
        view.close()  # kills the run and everything it started, then the view shows the end
        _bind(view.result)
        print("interrupted: the run was killed; nothing of it is left", file=sys.stderr)
        raise
    result = view.wait()
    return result


def _bind(result: ContainedRun | None) -> None:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return
    shell = get_ipython()
    if shell is not None and result is not None:
        shell.user_ns[VARIABLE] = result


def _parser() -> Any:  # an argparse.ArgumentParser (imported on first use)
    import argparse

    parser = argparse.ArgumentParser(prog="%%contained", add_help=False, exit_on_error=False)
    parser.add_argument("--budget", type=int, default=32, help="the fork budget (processes)")
    parser.add_argument("--timeout", type=float, default=5.0, help="the watchdog's timeout (s)")
    parser.add_argument("--c", action="store_true", help="the cell is C: compile it, then run it")
    parser.add_argument("--quiet", action="store_true", help="no tree, only the output")
    return parser


def contained(line: str, cell: str) -> None:
    """The ``%%contained [--budget N] [--timeout S] [--c] [--quiet]`` cell magic.

    >>> contained("--budget 2 --quiet", "print('in a run')")
    in a run
    >>> contained("--bogus", "pass")
    Traceback (most recent call last):
    ...
    IPython.core.error.UsageError: %%contained: unrecognized arguments: --bogus ...
    """
    import argparse
    import shlex

    from IPython.core.error import UsageError

    try:
        args, rest = _parser().parse_known_args(shlex.split(line))
    except (argparse.ArgumentError, ValueError) as exc:
        raise UsageError(f"%%contained: {exc}") from None
    if rest:
        raise UsageError(
            f"%%contained: unrecognized arguments: {' '.join(rest)} "
            "(the options are --budget N, --timeout S, --c, --quiet)"
        )
    try:
        result = run_cell(
            cell, budget=args.budget, timeout=args.timeout, c=args.c, quiet=args.quiet
        )
    except (CellCompileError, FileNotFoundError) as exc:  # said plainly, without a traceback
        raise UsageError(str(exc)) from None
    _bind(result)


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%%contained`` with *ipython* (what ``%load_ext fork110`` calls).

    >>> class Shell:  # what IPython gives: an object with register_magics
    ...     def register_magic_function(self, func, magic_kind, magic_name):
    ...         print(f"%%{magic_name}" if magic_kind == "cell" else "?")
    >>> load_ipython_extension(Shell())
    %%contained
    """
    ipython.register_magic_function(contained, magic_kind="cell", magic_name="contained")
