"""Who belongs to a contained run, read from ``/proc``; and killing all of them for good.

The run is everything below its supervisor. The supervisor is a child subreaper, so an orphan
is adopted by it rather than by init and stays below it; a process that leaves the run's session
(``setsid``) is still below it. Membership is therefore "a descendant of the supervisor", and,
for when the supervisor itself has gone, "in the supervisor's session" (plus the run's cgroup,
see :mod:`fork110._sandbox.inside.cgroup`, which nothing can leave).

Only ``os`` is imported (and :mod:`fork110._proc`, which imports only ``os``): the supervisor and
every process of a run load this module.

>>> import os
>>> read_stat(os.getpid()).ppid == os.getppid()
True
>>> os.getpid() in descendants(os.getppid())
True
"""

from __future__ import annotations

import os
import signal
import time

from fork110._proc import ProcStat, read_stat

TYPE_CHECKING = False  # typing costs milliseconds to import, and the supervisor is on the clock
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = [
    "ProcStat",
    "children",
    "descendants",
    "kill_until_gone",
    "members",
    "read_cmdline",
    "read_stat",
    "read_wchan",
    "reap_all",
    "stop_all",
]


def _read(path: str, size: int = 4096) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return os.read(fd, size)
    except OSError:
        return None
    finally:
        os.close(fd)


def read_wchan(pid: int) -> str:
    """The kernel function *pid* sleeps in, or ``""``.

    >>> read_wchan(-1)
    ''
    """
    data = _read(f"/proc/{pid}/wchan", 256)
    return "" if not data or data == b"0" else data.decode("ascii", "replace").strip()


def read_cmdline(pid: int) -> str:
    """The command line as ``ps -o args`` shows it (``""`` for zombies and the gone).

    >>> read_cmdline(-1)
    ''
    """
    data = _read(f"/proc/{pid}/cmdline", 65536)
    if not data:
        return ""
    return data.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")


def children(pid: int) -> list[int]:
    """The children of *pid* (all its threads'), from ``/proc/PID/task/*/children``.

    >>> children(-1)
    []
    """
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    out: list[int] = []
    for tid in tids:
        data = _read(f"/proc/{pid}/task/{tid}/children", 65536)
        if data:
            out.extend(int(c) for c in data.split())
    return out


def descendants(root: int) -> set[int]:
    """Every process below *root* (not *root* itself), walking the children files.

    Fast (one read per member) but a process being adopted at that very moment can be missed;
    :func:`members` is the careful count.

    >>> descendants(-1)
    set()
    """
    found: set[int] = set()
    todo = children(root)
    while todo:
        pid = todo.pop()
        if pid not in found and pid != root:
            found.add(pid)
            todo.extend(children(pid))
    return found


def members(supervisor: int, sid: int) -> set[int]:
    """The run's processes, zombies included: below *supervisor* or in session *sid*.

    One read of every ``/proc/PID/stat``. A process is below the supervisor if its chain of
    parents reaches it; adoption only ever moves a process *up* its chain, and the session catches
    one whose chain is broken mid-read, so nothing alive is missed.

    >>> os.getpid() in members(os.getppid(), -1)
    True
    """
    parent: dict[int, int] = {}
    found: set[int] = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = read_stat(int(name))
        if st is None:
            continue
        parent[st.pid] = st.ppid
        if st.sid == sid and st.pid != supervisor:
            found.add(st.pid)
    verdict: dict[int, bool] = {supervisor: True}
    for pid in parent:
        chain: list[int] = []
        p = pid
        while p not in verdict:
            chain.append(p)
            q = parent.get(p)
            if q is None or q == 0 or len(chain) > 4096:
                verdict[p] = False
                break
            p = q
        ok = verdict[p]
        for c in chain:
            verdict[c] = ok
    found.update(pid for pid, ok in verdict.items() if ok and pid != supervisor)
    return found


def reap_all() -> list[tuple[int, int]]:
    """Reap every child that has exited (``waitpid(-1, WNOHANG)`` until none); ``(pid, status)``.

    >>> reap_all()
    []
    """
    out: list[tuple[int, int]] = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return out
        if pid == 0:
            return out
        out.append((pid, status))


def stop_all(find: Callable[[], Iterable[int]], *, deadline: float) -> None:
    """SIGSTOP whatever *find* returns until nothing new appears and all of it has stopped.

    A stopped process runs no code: it cannot fork (the kernel restarts a fork while a signal
    is pending), nor complete a ``wait`` and take a child's exit status before we do. Killing
    what has been stopped therefore leaves every exit to the supervisor, status included.

    >>> stop_all(lambda: [], deadline=0.0)
    """
    sent: set[int] = set()
    pause = 0.0002
    while time.monotonic() < deadline:
        pids = {p for p in find() if p > 1 and p != os.getpid()}
        new = pids - sent
        for pid in new:
            try:
                os.kill(pid, signal.SIGSTOP)
            except OSError:
                pass
        sent |= new
        if not new:
            states = [read_stat(pid) for pid in pids]
            if all(st is None or st.state in "TtZXx" for st in states):
                return
        time.sleep(pause)
        pause = min(pause * 2, 0.005)


def kill_until_gone(
    find: Callable[[], Iterable[int]],
    *,
    deadline: float,
    reap: bool = False,
    cgroup_kill: Callable[[], None] | None = None,
) -> tuple[int, list[tuple[int, int]]]:
    """SIGKILL whatever *find* returns, again and again, until it returns nothing.

    Everything is stopped first (see :func:`stop_all`). A process that forks while we kill is
    caught on the next round (and a fork racing a SIGKILL fails in the kernel). With *reap* (we
    are the subreaper) the dead are reaped as we go, so no zombie stays. *cgroup_kill*, when
    given, kills the whole cgroup in one step first. Returns how many distinct processes were
    signalled, and what was reaped.

    >>> kill_until_gone(lambda: [], deadline=0.0)
    (0, [])
    """
    stop_all(find, deadline=min(deadline, time.monotonic() + 0.3))
    signalled: set[int] = set()
    reaped: list[tuple[int, int]] = []
    pause = 0.0002
    while True:
        if cgroup_kill is not None:
            cgroup_kill()
        pids = [p for p in find() if p > 1 and p != os.getpid()]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                signalled.add(pid)
            except OSError:
                pass
        if reap:
            reaped.extend(reap_all())
        if not pids:
            return len(signalled), reaped
        if time.monotonic() > deadline:
            return len(signalled), reaped
        # Only zombies not yet reaped by their (dying) parents can be left: give them a moment.
        time.sleep(pause)
        pause = min(pause * 2, 0.01)
