"""A Python process of a contained run: its state, its reports to the supervisor, its limits.

:class:`RunState` is this process's part of the run (forks copy it; the child then updates its
copy). :func:`send` reports an event: a datagram on the supervisor's abstract unix socket (see
:mod:`fork110._sandbox.inside.wire`), then a marker in the process's own relay pipes, so the supervisor
places the event exactly among the process's output (see :mod:`fork110._sandbox.inside.relay`).

The limits, used by the wrappers of :mod:`fork110._sandbox.inside.hooks`:

* the fork budget where the kernel does not enforce it (no pids cgroup): under a lock (a file
  lock between processes, a thread lock within one), count the run's processes, zombies too,
  and at the budget fail as a real fork does at RLIMIT_NPROC, with ``BlockingIOError(EAGAIN)``;
* signals: only to the run's own processes (EPERM otherwise, and for ``kill(-1)``).

>>> state() is None  # not inside a run
True
"""

from __future__ import annotations

import _socket
import _thread
import errno
import fcntl
import os
import time

from fork110._proc import child_name
from fork110._sandbox.inside import wire
from fork110._sandbox.inside.procs import members, read_stat
from fork110._sandbox.inside.relay import marker

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "RunState",
    "argv_text",
    "budget_lock",
    "deny",
    "group_in_run",
    "ident",
    "in_run",
    "install_state",
    "refused",
    "renew_lock",
    "send",
    "state",
    "unlock",
]

_HIGH_FD = 200  # where the socket goes, leaving low fds to the user's own os.pipe() calls
_ARGV_MAX = 2000


class RunState:
    """This process's part of the run (copied into each child by fork, then updated there).

    >>> RunState("@x", "parent", 32, False, "", 1, 1).name
    'parent'
    """

    __slots__ = (
        "addr",
        "budget",
        "check",
        "err_id",
        "in_spawn",
        "kids",
        "lock_path",
        "name",
        "out_id",
        "pending",
        "pid",
        "searching",
        "seq",
        "sid",
        "sock",
        "supervisor",
        "token",
    )

    def __init__(
        self,
        addr: str,
        name: str,
        budget: int,
        check: bool,
        lock_path: str,
        supervisor: int,
        sid: int,
        token: str = "",
    ) -> None:
        self.addr = addr
        self.token = token.encode("ascii")
        self.seq = 0  # events this process reported (each leaves marker <seq> in its pipes)
        self.name = name
        self.budget = budget
        self.check = check  # count processes ourselves (no kernel limit)
        self.lock_path = lock_path
        self.supervisor = supervisor
        self.sid = sid
        self.pid = os.getpid()
        self.kids = 0  # children started so far (they are numbered 1, 2, ...)
        self.pending = 0  # the number the child of a fork in progress takes
        self.in_spawn = False
        self.searching = False
        self.sock: _socket.socket | None = None
        self.out_id = ident(1)
        self.err_id = ident(2)

    def child_name(self, number: int) -> str:
        """The name of this process's *number*-th child.

        >>> s = RunState("@x", "parent", 32, False, "", 1, 1)
        >>> s.child_name(2), RunState("@x", "child-2", 32, False, "", 1, 1).child_name(1)
        ('child-2', 'child-2.1')
        """
        return child_name(self.name, number)


_state: RunState | None = None
# POSIX file locks do not exclude the threads of one process: this one does (made anew in a child,
# where a copy might be held by a thread that does not exist there).
_threads_lock = _thread.allocate_lock()


def install_state(st: RunState) -> None:
    """Make *st* this process's run state (the run's first process does, once).

    >>> callable(install_state)
    True
    """
    global _state
    _state = st


def renew_lock() -> None:
    """In a new child: a fresh thread lock (the copy may be held by a thread that is not here).

    >>> renew_lock()
    """
    global _threads_lock
    _threads_lock = _thread.allocate_lock()


def state() -> RunState | None:
    """This process's run state, or None outside a run.

    >>> state() is None
    True
    """
    return _state


def ident(fd: int) -> tuple[int, int] | None:
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _socket_for(st: RunState) -> _socket.socket:
    sock = st.sock
    if sock is not None:
        return sock
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
    try:
        high = fcntl.fcntl(sock.fileno(), fcntl.F_DUPFD_CLOEXEC, _HIGH_FD)
    except OSError:
        pass
    else:
        sock.close()
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM, 0, high)
    st.sock = sock
    return sock


def _marks(st: RunState) -> dict[str, int]:
    """Our relay pipes still on fd 1 and 2: {stream: fd}, one fd per distinct pipe."""
    found: dict[str, int] = {}
    for fd in (1, 2):
        pipe = ident(fd)
        if pipe is None:
            continue
        if pipe == st.out_id:
            found.setdefault("o", fd)
        elif pipe == st.err_id:
            found.setdefault("e", fd)
    return found


def send(kind: str, *fields: object, fds: Sequence[int] = (), mark: bool = True) -> None:
    """Send one event to the supervisor; never raises (a run without a supervisor is dying).

    With *mark*, the event gets the next sequence number and, once sent, its marker is written
    to this process's relay pipes, so the supervisor places it exactly among the output.

    >>> send("note", "outside a run: nothing happens")
    """
    st = _state
    if st is None:
        return
    marks: dict[str, int] = {}
    seq = 0
    if mark:
        st.seq += 1
        seq = st.seq
        marks = _marks(st)
    needs = "".join(sorted(marks))
    data = wire.pack_msg(kind, st.pid, time.monotonic(), seq, needs, *fields)
    if _deliver(st, data, fds):
        for fd in marks.values():
            try:
                os.write(fd, marker(st.token, seq))
            except OSError:
                pass


def _deliver(st: RunState, data: bytes, fds: Sequence[int]) -> bool:
    for attempt in range(2):
        try:
            sock = _socket_for(st)
            if fds:
                rights = b"".join(fd.to_bytes(4, "little", signed=True) for fd in fds)
                sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, rights)], 0, st.addr)
            else:
                sock.sendto(data, st.addr)
            return True
        except OSError as exc:
            # The user closed or replaced our fd (os.closerange, dup2): make a new socket once.
            if attempt or exc.errno not in (errno.EBADF, errno.ENOTSOCK, errno.EINVAL):
                return False
            st.sock = None
    return False


def argv_text(argv: object) -> str:
    try:
        parts = [os.fsdecode(a) for a in argv]  # type: ignore[attr-defined]
    except TypeError:
        parts = [str(argv)]
    text = " ".join(parts)
    return text if len(text) <= _ARGV_MAX else text[: _ARGV_MAX - 3] + "..."


# -- the budget ------------------------------------------------------------------------------------


def budget_lock(st: RunState, what: str) -> int:
    """Take the run's fork lock and check the budget; the lock fd to close after the fork."""
    if not st.check:
        return -1
    try:
        fd = os.open(st.lock_path, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return -1
    _threads_lock.acquire()
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX)
        alive = len(members(st.supervisor, st.sid))
    except BaseException:
        unlock(fd)
        raise
    if alive >= st.budget:
        unlock(fd)
        send(
            wire.MSG_REFUSED, f"{what} refused: the run has {alive} processes (budget {st.budget})"
        )
        raise BlockingIOError(errno.EAGAIN, os.strerror(errno.EAGAIN))
    return fd


def unlock(fd: int) -> None:
    if fd != -1:
        os.close(fd)  # releases the file lock
        if _threads_lock.locked():
            _threads_lock.release()


def refused(what: str, exc: OSError) -> None:
    if exc.errno == errno.EAGAIN and _state is not None:
        send(
            wire.MSG_REFUSED,
            f"{what} refused by the kernel: {exc.strerror} (budget {_state.budget})",
        )


def in_run(pid: int) -> bool:
    """Is *pid* one of the run's processes (walking up its parents to the supervisor)?"""
    st = _state
    if st is None:
        return True
    for _ in range(4096):
        if pid == st.supervisor:
            return False
        info = read_stat(pid)
        if info is None:
            return False
        if info.sid == st.sid or info.ppid == st.supervisor:
            return True
        if info.ppid <= 1:
            return False
        pid = info.ppid
    return False


def group_in_run(pgid: int) -> bool:
    st = _state
    if st is None:
        return True
    if pgid == st.supervisor:
        return False
    if in_run(pgid):
        return True
    return any(
        (info := read_stat(p)) is not None and info.pgrp == pgid
        for p in members(st.supervisor, st.sid)
    )


def deny(what: str) -> None:
    send(wire.MSG_REFUSED, f"{what} refused: a contained run may only signal its own processes")
    raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))
