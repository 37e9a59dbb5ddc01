"""fork110: a Rust-faithful process API, and live, contained demonstrations of what goes wrong with fork.

>>> from fork110 import Command
>>> Command("echo").arg("hello from a child").output().stdout
b'hello from a child\\n'

The Command API mirrors Rust's ``std::process`` (``Command``, ``Child``, ``ExitStatus``, ``Output``,
``Stdio``) with the unix ``CommandExt``/``ExitStatusExt`` methods. ``fork110.ps`` inspects process trees;
``fork110.sandbox`` runs code contained. Importing fork110 stays light: the widgets load on demand.
"""

from ._child import Child
from ._command import Command
from ._errors import Error, ExitStatusError, PreExecError, ThreadedForkWarning, WaitTimeout
from ._status import ExitStatus, Output
from ._stdio import ChildStderr, ChildStdin, ChildStdout, Stdio

__all__ = [
    "Child",
    "ChildStderr",
    "ChildStdin",
    "ChildStdout",
    "Command",
    "Error",
    "ExitStatus",
    "ExitStatusError",
    "Output",
    "PreExecError",
    "Stdio",
    "ThreadedForkWarning",
    "WaitTimeout",
]

__version__ = "0.1.0"


def _public_face() -> None:
    """Show each exported name as ``fork110.X`` (reprs, tracebacks, help), as httpx and trio do.

    Python's doctest finder then no longer sees the classes' methods as belonging to their home
    module (it compares ``__module__`` and ``__globals__``), so each home module gets a ``__test__``
    entry per documented method: ``pytest --doctest-modules`` collects them there, with the home
    module's globals, while the classes' own docstrings are collected from this module.
    """
    import sys
    from types import FunctionType

    for name in __all__:
        obj = globals()[name]
        home = sys.modules[obj.__module__]
        tests: dict[str, object] = home.__dict__.setdefault("__test__", {})
        for attr, member in vars(obj).items():
            func = member.fget if isinstance(member, property) else member
            func = getattr(func, "__func__", func)  # classmethod, staticmethod
            if isinstance(func, FunctionType) and func.__doc__ and ">>>" in func.__doc__:
                tests[f"{name}.{attr}"] = func
        obj.__module__ = __name__


_public_face()


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext fork110``: register the ``%%contained`` cell magic (IPython loads only then).

    >>> class Shell:  # what IPython passes: an object with register_magics
    ...     def register_magic_function(self, func, magic_kind, magic_name):
    ...         print(f"%%{magic_name}" if magic_kind == "cell" else "?")
    >>> load_ipython_extension(Shell())
    %%contained
    """
    from .magic import load_ipython_extension as load

    load(ipython)
