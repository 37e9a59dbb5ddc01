"""Child: a running (or finished) child process, as Rust's ``std::process::Child``.

Beyond Rust: a context manager that reaps (the slides' "Drop that calls wait"), a ``ResourceWarning``
for a Child garbage-collected without being waited for (and the zombie reaped anyway), ``wait(timeout=)``,
``send_signal``/``terminate``/``kill_process_group``, and a repr that says what state the child is in.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import signal
import threading
import time
import warnings
import weakref
from types import TracebackType
from typing import TypeVar

from ._engine import read_both
from ._errors import WaitTimeout
from ._proc import read_stat, state_phrase
from ._status import ExitStatus, Output
from ._stdio import ChildStderr, ChildStdin, ChildStdout, _PipeEnd

__all__ = ["Child", "reap_abandoned"]

_P = TypeVar("_P", bound=_PipeEnd)

_abandoned: set[int] = (
    set()
)  # pids of Children collected while still running: reaped on later spawns
_abandoned_lock = threading.Lock()
_WCOREFLAG = 0x80  # <sys/wait.h>: the raw status's "core dumped" bit
_WSTOPPED = 0x7F  # <sys/wait.h>: the low byte of a raw status that reports a stop
_WCONTINUED_RAW = 0xFFFF  # <sys/wait.h>: the raw status that reports SIGCONT
_BYTE = 0xFF  # an exit code is the low byte of what the child passed to exit()


def reap_abandoned() -> None:
    """Reap any child whose :class:`Child` was garbage-collected while it still ran (no zombie stays).

    >>> reap_abandoned()
    """
    with _abandoned_lock:
        for pid in list(_abandoned):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                _abandoned.discard(pid)


class Child:
    """A child process started by :meth:`Command.spawn` (the only way to make one: a Child stands for
    a process this one started and must reap). Wait for it (or use ``with``) to reap it.

    >>> from fork110 import Command, Stdio
    >>> with Command("sh").args(["-c", "exit 3"]).spawn() as child:
    ...     pass
    >>> child
    <Child pid=... exited (exit status: 3)>
    """

    term_grace: float = 1.0
    """Seconds a child gets between SIGTERM and SIGKILL when a ``with`` block exits on an exception."""
    stdin: ChildStdin | None
    """The write end of the child's stdin, when it was ``Stdio.piped()``; else None."""
    stdout: ChildStdout | None
    """The read end of the child's stdout, when it was ``Stdio.piped()``; else None."""
    stderr: ChildStderr | None
    """The read end of the child's stderr, when it was ``Stdio.piped()``; else None."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        """Refused: a Child comes from :meth:`Command.spawn`.

        >>> Child(1234)
        Traceback (most recent call last):
        ...
        TypeError: Child objects are made by Command.spawn(), not by calling Child()
        """
        raise TypeError("Child objects are made by Command.spawn(), not by calling Child()")

    @classmethod
    def _spawned(
        cls, pid: int, stdin: int = -1, stdout: int = -1, stderr: int = -1, *, leader: bool = False
    ) -> Child:
        """The Child for a process just started by the engine (called by Command.spawn only)."""
        child = cls.__new__(cls)
        child._setup(pid, stdin, stdout, stderr, leader)
        return child

    def _setup(self, pid: int, stdin: int, stdout: int, stderr: int, leader: bool) -> None:
        self._pid = pid
        self._status: ExitStatus | None = None
        # Held only to reap or to signal (never while blocked), so kill() from another thread or a
        # signal handler cannot wait behind wait(); re-entrant for the signal-handler case.
        self._lock = threading.RLock()
        self._leader = leader
        self._lost = False  # someone else reaped the pid: never signal or wait on it again
        self.stdin = _wrap(ChildStdin, stdin, "wb", self)
        self.stdout = _wrap(ChildStdout, stdout, "rb", self)
        self.stderr = _wrap(ChildStderr, stderr, "rb", self)

    def id(self) -> int:
        """The child's process id.

        >>> from fork110 import Command
        >>> with Command("true").spawn() as child:
        ...     child.id() > 1
        True
        """
        return self._pid

    def kill(self) -> None:
        """Send SIGKILL. Does nothing if the child was already reaped (its pid may belong to another now).

        >>> from fork110 import Command
        >>> child = Command("sleep").arg("10").spawn()
        >>> child.kill(); child.wait()
        <ExitStatus signal: 9 (SIGKILL)>
        >>> child.kill()  # already reaped: a no-op, as in Rust
        """
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        """Send SIGTERM (a polite request to exit). A no-op once reaped.

        >>> from fork110 import Command
        >>> child = Command("sleep").arg("10").spawn()
        >>> child.terminate(); print(child.wait())
        signal: 15 (SIGTERM)
        """
        self.send_signal(signal.SIGTERM)

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to the child. Never signals a reaped pid (the kernel may have given it to another).

        >>> import signal
        >>> from fork110 import Command
        >>> child = Command("sleep").arg("10").spawn()
        >>> child.send_signal(signal.SIGINT); child.wait().signal() == signal.SIGINT
        True
        """
        with self._lock:  # the pid cannot be reaped (and reused) while we hold the lock
            if self._status is None and not self._lost:
                os.kill(self._pid, sig)

    def kill_process_group(self, sig: int = signal.SIGKILL) -> None:
        """Signal the child's whole process group (made with ``Command.process_group(0)``): the child and
        everything it started that stayed in the group, even after the child itself was reaped.

        >>> from fork110 import Command
        >>> child = Command("sleep").arg("10").process_group(0).spawn()
        >>> child.kill_process_group(); child.wait().signal()
        9

        Once the child is reaped, its group id can be reused when the group's last member is gone:
        signal the group while the child is still yours to wait for.
        """
        if not self._leader:
            raise ValueError(
                f"child {self._pid} does not lead its own process group; spawn it from a Command with "
                ".process_group(0) first (signalling the group it shares would hit this process too)"
            )
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._pid, sig)

    def wait(self, timeout: float | None = None) -> ExitStatus:
        """Close the child's stdin (so it sees EOF), wait for it to exit, reap it, and return its status.

        The status is cached: a second wait returns the same. With ``timeout`` (seconds), raise
        :class:`WaitTimeout` (a ``TimeoutError``) if the child is still running then; it stays yours
        (its stdin is closed all the same: waiting means "I have nothing more to send").

        When this process is the child's tracer (``PTRACE_TRACEME`` in a ``pre_exec`` hook), the
        untimed wait returns at the child's first stop, as Rust's does: a status whose
        ``stopped_signal()`` is ``SIGTRAP`` and ``code()`` None. Unlike Rust, fork110 does not cache
        it: the next ``wait()`` waits for the real end. ``wait(timeout=)`` waits for the end only.

        >>> from fork110 import Command, WaitTimeout
        >>> child = Command("sleep").arg("10").spawn()
        >>> try:
        ...     child.wait(timeout=0.05)
        ... except WaitTimeout as e:
        ...     print("still running")
        still running
        >>> child.kill(); child.wait().signal()
        9
        """
        if self._status is not None:
            return self._status
        if self.stdin is not None:
            stdin, self.stdin = self.stdin, None
            stdin.close()
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
                raise TypeError(
                    f"wait(timeout=): expected seconds as a number, not {type(timeout).__name__}"
                )
            self._wait_ready(timeout)
        else:
            self._block_until_exit()
        with self._lock:
            if self._status is None:
                raw = self._waitpid(os.WNOHANG)  # it has exited: this reaps without blocking
                if raw is None:  # (never expected; block rather than invent a status)
                    raw = self._waitpid(0)
                status = ExitStatus(raw or 0)
                if not _is_end(status):
                    return status  # a stop reported to this process as the child's tracer
                self._status = status
            return self._status

    def try_wait(self) -> ExitStatus | None:
        """The status if the child has exited (reaping it), else None. Does not close stdin.

        >>> from fork110 import Command
        >>> child = Command("sleep").arg("10").spawn()
        >>> child.try_wait() is None
        True
        >>> child.kill(); _ = child.wait(); child.try_wait()
        <ExitStatus signal: 9 (SIGKILL)>
        """
        if self._status is not None:
            return self._status
        if not self._lock.acquire(blocking=False):
            return None  # another thread is inside wait(): the child has not been reaped yet
        try:
            if self._status is None:
                raw = self._waitpid(os.WNOHANG)
                if raw is not None:
                    status = ExitStatus(raw)
                    if not _is_end(status):
                        return status  # a tracer's stop: reported once, never cached
                    self._status = status
            return self._status
        finally:
            self._lock.release()

    def wait_with_output(self) -> Output:
        """Close stdin, read stdout and stderr to the end at the same time (no deadlock however much the
        child writes to either), then reap the child.

        >>> from fork110 import Command, Stdio
        >>> child = Command("sh").args(["-c", "echo out; echo err >&2"]).stdout(Stdio.piped()).stderr(Stdio.piped()).spawn()
        >>> child.wait_with_output()
        Output(status=<ExitStatus exit status: 0>, stdout=b'out\\n', stderr=b'err\\n')
        """
        if self.stdin is not None:
            stdin, self.stdin = self.stdin, None
            stdin.close()
        out, err = self.stdout, self.stderr
        self.stdout = self.stderr = None
        try:
            data_out, data_err = read_both(_fd(out), _fd(err), close=False)
        except (
            BaseException
        ):  # interrupted: the child must not outlive the call unseen (as output())
            self.kill()
            self.wait()
            raise
        finally:
            for pipe in (out, err):
                if pipe is not None:
                    pipe.close()
        return Output(self.wait(), data_out, data_err)

    def _waitpid(self, flags: int) -> int | None:
        """Reap the child if it has *exited* (waitid WEXITED), returning its raw wait status.

        Linux reports a tracee's stops to its tracer whatever the flags, so when this process traces
        the child (``PTRACE_TRACEME`` in a ``pre_exec`` hook), ``waitid(WEXITED)`` returns at each
        stop too (``CLD_TRAPPED``). That is returned as a stopped status (``stopped_signal()`` set,
        ``code()`` None, as Rust's ``Child::wait`` returns it) and consumed, as ``waitpid`` consumes
        it; the callers never cache it, so the next wait waits for the real end. Other processes'
        stops (SIGSTOP from a shell) are not reported here at all.
        """
        try:
            info = os.waitid(os.P_PID, self._pid, os.WEXITED | flags)
        except ChildProcessError:
            self._lost = True
            raise ChildProcessError(
                errno.ECHILD,
                f"child {self._pid} was already reaped by someone else (is SIGCHLD ignored, or did code "
                "call os.wait()?); its exit status is lost",
            ) from None
        if info is None or info.si_pid == 0:
            return None
        if info.si_code == os.CLD_EXITED:
            return (info.si_status & _BYTE) << 8
        if info.si_code in (os.CLD_TRAPPED, os.CLD_STOPPED):
            return (info.si_status & _BYTE) << 8 | _WSTOPPED
        if info.si_code == os.CLD_CONTINUED:
            return _WCONTINUED_RAW
        return info.si_status | (_WCOREFLAG if info.si_code == os.CLD_DUMPED else 0)

    def _block_until_exit(self) -> None:
        """Sleep until the child has exited, without reaping it (so the lock is free meanwhile)."""
        try:
            os.waitid(os.P_PID, self._pid, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            pass  # reaped by someone else: _waitpid reports it

    def _wait_ready(self, timeout: float) -> None:
        try:
            pidfd = os.pidfd_open(self._pid)
        except (AttributeError, OSError):
            pidfd = -1
        if pidfd == -1:  # no pidfd (old kernel): poll with a growing sleep
            deadline, pause = time.monotonic() + timeout, 0.0005
            while self.try_wait() is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WaitTimeout(self._pid, timeout)
                time.sleep(min(pause, left))
                pause = min(pause * 2, 0.05)
            return
        try:
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
            if not poller.poll(max(0.0, timeout) * 1000):
                raise WaitTimeout(self._pid, timeout)
        finally:
            os.close(pidfd)

    def _forget_pipe(self, pipe: _PipeEnd) -> None:
        for name in ("stdin", "stdout", "stderr"):
            if getattr(self, name) is pipe:
                setattr(self, name, None)

    def __enter__(self) -> Child:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Leaving the block reaps the child: our pipe ends are closed; on an exception (an interrupt,
        say) the child is asked to stop with SIGTERM, given :attr:`term_grace` seconds to clean up, then
        killed with SIGKILL (trio's and systemd's escalation), so the wait cannot hang.

        Rust's ``Child`` has no such block (dropping it neither waits nor kills); this is beyond Rust.
        Everything Rust documents (``kill()`` is SIGKILL, ``wait()`` closes stdin first) is unchanged.
        """
        for pipe in (self.stdout, self.stderr):
            if pipe is not None:
                pipe.close()
        self.stdout = self.stderr = None
        if exc_type is not None and self.try_wait() is None:
            self.terminate()
            try:
                self.wait(timeout=self.term_grace)
            except WaitTimeout:
                self.kill()
        self.wait()

    def __del__(self) -> None:
        if getattr(self, "_status", True) is not None or self._lost:
            return  # waited for, reaped by someone else, or never fully built
        for pipe in (self.stdin, self.stdout, self.stderr):
            if (
                pipe is not None
            ):  # as Rust's Drop: the child sees EOF or EPIPE now, not at the next gc
                pipe.close()
        try:
            if self._waitpid(os.WNOHANG) is None:
                # no lock here: a collection can run this inside reap_abandoned(), which holds
                # _abandoned_lock; set.add is atomic, and reap_abandoned iterates over a copy
                _abandoned.add(self._pid)
        except Exception:
            pass
        warnings.warn(
            f"child process {self._pid} was never waited for: call wait() or use 'with' "
            "(it has been reaped for you, or will be on the next spawn)",
            ResourceWarning,
            stacklevel=2,
            source=self,
        )

    def __repr__(self) -> str:
        if self._status is not None:
            return f"<Child pid={self._pid} exited ({self._status})>"
        if self._lost:
            return f"<Child pid={self._pid} lost: reaped by someone else, status unknown>"
        st = read_stat(self._pid)
        state = "?" if st is None else st.state
        if state == "Z":
            return f"<Child pid={self._pid} exited, not yet waited for ({state_phrase(state)})>"
        if state in ("T", "t"):
            return f"<Child pid={self._pid} stopped>"
        return f"<Child pid={self._pid} running>"


def _wrap(cls: type[_P], fd: int, mode: str, owner: Child) -> _P | None:
    if fd == -1:
        return None
    pipe = cls(fd, mode)
    pipe._owner = weakref.ref(owner)  # no Child <-> pipe cycle: dropping a Child frees it at once
    return pipe


def _fd(pipe: _PipeEnd | None) -> int:
    return -1 if pipe is None else pipe.fileno()


def _is_end(status: ExitStatus) -> bool:
    """Whether a status is the child's end (an exit or a death), not a stop or a continue."""
    return status.stopped_signal() is None and not status.continued()
