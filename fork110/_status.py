"""ExitStatus and Output: what a finished child leaves behind (Rust's ``ExitStatus`` and ``Output``)."""

from __future__ import annotations

import os
import signal as _signal

from ._errors import ExitStatusError

__all__ = ["ExitStatus", "Output", "signal_name"]


# The names Rust's ExitStatus Display gives on Linux (real-time signals have none)
_RUST_NAMES = (
    "SIGHUP SIGINT SIGQUIT SIGILL SIGTRAP SIGABRT SIGBUS SIGFPE SIGKILL SIGUSR1 SIGSEGV SIGUSR2 "
    "SIGPIPE SIGALRM SIGTERM SIGSTKFLT SIGCHLD SIGCONT SIGSTOP SIGTSTP SIGTTIN SIGTTOU SIGURG "
    "SIGXCPU SIGXFSZ SIGVTALRM SIGPROF SIGWINCH SIGIO SIGPWR SIGSYS"
).split()
_NAMES = {int(getattr(_signal, n)): n for n in _RUST_NAMES if hasattr(_signal, n)}
_NAMES.setdefault(16, "SIGSTKFLT")  # Linux's number on x86 and arm; Python 3.10 has no constant


def signal_name(signum: int) -> str | None:
    """The name Rust's ``ExitStatus`` Display gives a signal on Linux, or None.

    >>> signal_name(9), signal_name(11), signal_name(34)
    ('SIGKILL', 'SIGSEGV', None)
    """
    return _NAMES.get(signum)


class ExitStatus:
    """The raw wait status of a finished (or stopped, or continued) child.

    The raw status is kept, so every reading that Rust's ``ExitStatusExt`` offers works.

    >>> st = ExitStatus.from_raw(0)
    >>> st.success(), st.code(), str(st)
    (True, 0, 'exit status: 0')
    >>> print(ExitStatus.from_raw(9 | 0x80))
    signal: 9 (SIGKILL) (core dumped)
    """

    __slots__ = ("_raw",)

    def __init__(self, raw: int) -> None:
        self._raw = raw

    @classmethod
    def from_raw(cls, raw: int) -> ExitStatus:
        """Make a status from a raw wait status, as ``waitpid`` returns it.

        >>> ExitStatus.from_raw(1 << 8).code()
        1
        """
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise TypeError(
                f"ExitStatus.from_raw() takes an int wait status, not {type(raw).__name__}"
            )
        if not -(2**31) <= raw < 2**31:
            raise ValueError(f"ExitStatus.from_raw(): {raw} is not a C int wait status")
        return cls(raw)

    def into_raw(self) -> int:
        """The raw wait status.

        >>> ExitStatus.from_raw(0x0f00).into_raw()
        3840
        """
        return self._raw

    def success(self) -> bool:
        """True when the child exited normally with code 0.

        >>> ExitStatus.from_raw(0).success(), ExitStatus.from_raw(15).success()
        (True, False)
        """
        return self._raw == 0  # as Rust: only the all-zero status is a success

    def code(self) -> int | None:
        """The exit code (0-255), or None when the child did not exit normally (a signal ended it).

        >>> ExitStatus.from_raw(42 << 8).code(), ExitStatus.from_raw(15).code()
        (42, None)
        """
        return os.WEXITSTATUS(self._raw) if os.WIFEXITED(self._raw) else None

    def signal(self) -> int | None:
        """The signal that terminated the child, if one did.

        >>> ExitStatus.from_raw(15).signal(), ExitStatus.from_raw(0).signal()
        (15, None)
        """
        return os.WTERMSIG(self._raw) if os.WIFSIGNALED(self._raw) else None

    def core_dumped(self) -> bool:
        """True when a signal ended the child and it dumped core.

        >>> ExitStatus.from_raw(11 | 0x80).core_dumped()
        True
        """
        return os.WIFSIGNALED(self._raw) and os.WCOREDUMP(self._raw)

    def stopped_signal(self) -> int | None:
        """The signal that stopped the child (a status from ``waitpid(..., WUNTRACED)``), if any.

        >>> ExitStatus.from_raw(0x137f).stopped_signal()  # stopped by SIGSTOP (19)
        19
        """
        return os.WSTOPSIG(self._raw) if os.WIFSTOPPED(self._raw) else None

    def continued(self) -> bool:
        """True for a status that reports a stopped child resumed by SIGCONT (``WCONTINUED``).

        >>> ExitStatus.from_raw(0xffff).continued()
        True
        """
        return os.WIFCONTINUED(self._raw)

    def exit_ok(self) -> None:
        """Return None on success; raise :class:`ExitStatusError` otherwise (Rust's ``exit_ok``).

        >>> ExitStatus.from_raw(0).exit_ok()
        >>> ExitStatus.from_raw(2 << 8).exit_ok()
        Traceback (most recent call last):
        ...
        fork110.ExitStatusError: process exited unsuccessfully: exit status: 2
        """
        if not self.success():
            raise ExitStatusError(self)

    def __str__(self) -> str:
        code = self.code()
        if code is not None:
            return f"exit status: {code}"
        sig = self.signal()
        if sig is not None:
            return f"signal: {_with_name(sig)}" + (" (core dumped)" if self.core_dumped() else "")
        stop = self.stopped_signal()
        if stop is not None:
            return f"stopped (not terminated) by signal: {_with_name(stop)}"
        if self.continued():
            return "continued (WIFCONTINUED)"
        return f"unrecognised wait status: {self._raw} {self._raw:#x}"

    def __repr__(self) -> str:
        return f"<ExitStatus {self}>"

    def __eq__(self, other: object) -> bool:
        """Equal to another ExitStatus with the same raw status; other types decide for themselves.

        >>> ExitStatus.from_raw(0) == ExitStatus.from_raw(0), ExitStatus.from_raw(0) == 0
        (True, False)
        """
        if not isinstance(other, ExitStatus):
            return NotImplemented
        return other._raw == self._raw

    def __hash__(self) -> int:
        return hash(("ExitStatus", self._raw))


def _with_name(signum: int) -> str:
    name = signal_name(signum)
    return f"{signum} ({name})" if name else str(signum)


class Output:
    """What :meth:`Command.output` and :meth:`Child.wait_with_output` return (immutable).

    >>> out = Output(ExitStatus.from_raw(0), b"hi\\n", b"")
    >>> out.status.success(), out.stdout
    (True, b'hi\\n')
    """

    __slots__ = ("status", "stderr", "stdout")
    status: ExitStatus
    stdout: bytes
    stderr: bytes

    def __init__(self, status: ExitStatus, stdout: bytes, stderr: bytes) -> None:
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "stdout", stdout)
        object.__setattr__(self, "stderr", stderr)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Output is immutable: cannot set {name!r}")

    def __repr__(self) -> str:
        return f"Output(status={self.status!r}, stdout={self.stdout!r}, stderr={self.stderr!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Output):
            return NotImplemented
        return (self.status, self.stdout, self.stderr) == (other.status, other.stdout, other.stderr)

    def __hash__(self) -> int:
        return hash((self.status, self.stdout, self.stderr))

    def exit_ok(self) -> Output:
        """Return self when the status is a success; else raise :class:`ExitStatusError` carrying this output.

        >>> Output(ExitStatus.from_raw(256), b"", b"oops").exit_ok()
        Traceback (most recent call last):
        ...
        fork110.ExitStatusError: process exited unsuccessfully: exit status: 1
        """
        if not self.status.success():
            raise ExitStatusError(self.status, self)
        return self
