"""Exceptions raised by fork110, and the helpers that build them.

Every exception class of the package derives from :class:`Error` and keeps its standard base, so
``except fork110.Error`` catches all of them and ``except TimeoutError`` still catches a wait that ran
out of time::

    Exception
    └── fork110.Error
        ├── fork110.ExitStatusError             a child exited unsuccessfully (ExitStatus.exit_ok)
        ├── fork110.WaitTimeout (TimeoutError)  Child.wait(timeout=...) ran out of time
        ├── fork110.PreExecError (RuntimeError) a pre_exec hook raised a non-OSError in the child
        ├── fork110.sandbox.SandboxError        a contained run could not be set up
        └── CompileError (RuntimeError)         a demo's C program did not build (fork110.demos)

Not in the tree, on purpose: a program that cannot be started raises the standard ``OSError``
subclass for its errno (``FileNotFoundError``...), as ``subprocess`` and Rust's ``io::Error`` do, and a
wrong argument raises ``TypeError``/``ValueError``; :class:`ThreadedForkWarning` is a warning, not an
error.

OS errors are translated at one edge (here): every failure to start a program becomes the standard
``OSError`` subclass for its errno (the Python face of Rust's ``io::ErrorKind``), with ``filename``
naming what failed and ``strerror`` saying which part of the command it was.
"""

from __future__ import annotations

import errno as _errno
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._status import ExitStatus, Output

__all__ = ["Error", "ExitStatusError", "PreExecError", "ThreadedForkWarning", "WaitTimeout"]


class Error(Exception):
    """The base of every exception class fork110 defines (the tree is at the top of this module).

    >>> from fork110 import ExitStatus, Error
    >>> try:
    ...     ExitStatus.from_raw(1 << 8).exit_ok()
    ... except Error as exc:
    ...     print(type(exc).__name__)
    ExitStatusError
    """


class ExitStatusError(Error):
    """A child exited unsuccessfully; raised by :meth:`ExitStatus.exit_ok` (Rust's ``ExitStatusError``).

    >>> from fork110 import ExitStatus
    >>> err = ExitStatusError(ExitStatus.from_raw(3 << 8))
    >>> str(err), err.code()
    ('process exited unsuccessfully: exit status: 3', 3)
    """

    def __init__(self, status: ExitStatus, output: Output | None = None) -> None:
        super().__init__(f"process exited unsuccessfully: {status}")
        self.status = status
        self.output = output

    def __reduce__(self) -> tuple[object, ...]:  # survives pickling (multiprocessing, futures)
        return (type(self), (self.status, self.output))

    def code(self) -> int | None:
        """The exit code, or None when the child was killed by a signal.

        >>> from fork110 import ExitStatus
        >>> ExitStatusError(ExitStatus.from_raw(9)).code() is None
        True
        """
        return self.status.code()

    def into_status(self) -> ExitStatus:
        """The status that was not a success.

        >>> from fork110 import ExitStatus
        >>> ExitStatusError(ExitStatus.from_raw(256)).into_status()
        <ExitStatus exit status: 1>
        """
        return self.status


class WaitTimeout(Error, TimeoutError):
    """``Child.wait(timeout=...)`` ran out of time; the child is still running and still yours to reap.

    >>> str(WaitTimeout(4242, 0.5))
    'child 4242 still running after 0.5 s'
    """

    def __init__(self, pid: int, timeout: float) -> None:
        super().__init__(f"child {pid} still running after {timeout:g} s")
        self.pid = pid
        self.timeout = timeout

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.pid, self.timeout))


class PreExecError(Error, RuntimeError):
    """A ``pre_exec`` hook raised something other than ``OSError`` in the child (an OSError comes back as
    itself, with its errno).

    >>> str(PreExecError("setup", "ValueError", "bad"))
    "pre_exec hook 'setup' raised ValueError: bad in the child; the program was not started"
    """

    def __init__(self, hook: str, exc_type: str, message: str) -> None:
        super().__init__(
            f"pre_exec hook {hook!r} raised {exc_type}: {message} in the child;"
            " the program was not started"
        )
        self.hook = hook
        self.exc_type = exc_type
        self.message = message

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.hook, self.exc_type, self.message))


class ThreadedForkWarning(RuntimeWarning):
    """Python code is about to run in a child forked from a multi-threaded process (the lecture's
    malloc-lock lesson): another thread may hold a lock that the child can never take."""


def os_error(err: int, what: str, filename: str | bytes | None) -> OSError:
    """Build the OSError subclass for ``err``, saying which part of the command failed.

    >>> e = os_error(2, "program not found", "nosuch")
    >>> type(e).__name__, str(e)
    ('FileNotFoundError', "[Errno 2] No such file or directory (program not found): 'nosuch'")
    """
    reason = os.strerror(err) if err else "unknown error"
    return OSError(err, f"{reason} ({what})", filename)


def nul_error(field: str, value: str | bytes) -> ValueError:
    """The error for a NUL byte inside ``value``, which no C string can carry.

    >>> str(nul_error("argument 1", "a\\x00b"))
    "argument 1 contains a NUL byte, which no C string can carry: 'a\\\\x00b'"
    """
    return ValueError(f"{field} contains a NUL byte, which no C string can carry: {value!r}")


EACCES = _errno.EACCES
