"""A pytest plugin that fails any test leaving a child process, a zombie or a file descriptor behind.

Loaded for the whole suite with ``-p fork110.testing``. Around every test (doctests included) an
autouse fixture takes a snapshot of this process's descendants, keyed by ``(pid, start time)`` so a
reused pid is never mistaken for an old process, and of its open file descriptors, keyed by
``(fd, readlink target)``. After the test, anything new is a leak: the test errors at teardown with a
message naming each pid (state, parent, command line) and each fd (target), and the leak is removed
(the processes and their whole subtrees are killed with SIGKILL, the zombies that are ours are reaped,
the fds are closed) so the next test starts clean.

The pytest process is made a child subreaper (``PR_SET_CHILD_SUBREAPER``) for the session, so a
grandchild whose parent exited is reparented to pytest instead of init and is still caught.
At the end of the session, any descendant born during the session that is still there is reported,
removed, and makes the run fail.

Resources that legitimately live longer than one test belong in a module- or session-scoped
fixture: those are set up before the check's snapshot and torn down after it, so they are not blamed.

The same check is available to any code as a context manager:

>>> import os
>>> with assert_no_leaks():
...     r, w = os.pipe()
...     os.close(r)
...     os.close(w)
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import io
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pytest

from fork110._proc import ProcStat, read_stat, state_word

__all__ = [
    "LeakError",
    "ProcessInfo",
    "assert_no_leaks",
    "fork110_leak_check",
    "live_descendants",
    "open_fds",
]

#: How long cleanup keeps killing and reaping before it gives up and reports what is left.
CLEANUP_TIMEOUT = 2.0

_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37
_WALL = 0x40000000  # __WALL: also children whose exit signal is not SIGCHLD (clone children)

# --------------------------------------------------------------------------------------------------
# Reading the process table and the fd table (/proc, no psutil: one scan costs well under 1 ms)


def _has_children() -> bool:
    """Whether this process has any child, running or zombie (does not reap; a few µs)."""
    try:
        os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT | _WALL)
    except ChildProcessError:
        return False
    return True


def _scan_descendants(root: int) -> list[ProcStat]:
    """Every process below ``root`` in the process table, parents before children."""
    if root == os.getpid() and not _has_children():
        # No child, so no descendant: this spares the scan of the whole table (~1 ms) on the
        # common path.
        return []
    by_parent: dict[int, list[ProcStat]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = read_stat(int(entry))
            if stat is not None:
                by_parent.setdefault(stat.ppid, []).append(stat)
    found: list[ProcStat] = []
    pending = [root]
    while pending:
        for stat in by_parent.get(pending.pop(0), ()):
            found.append(stat)
            pending.append(stat.pid)
    return found


def _read_cmdline(pid: int) -> tuple[str, ...]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return ()
    return tuple(arg.decode(errors="replace") for arg in raw.split(b"\0")[:-1])


@dataclass(frozen=True)
class ProcessInfo:
    """One process as the kernel shows it: the row `ps -o pid,ppid,stat,args` would print.

    >>> info = ProcessInfo(pid=42, ppid=7, state="Z", starttime=1, name="sleep", cmdline=())
    >>> info.state_name
    'zombie'
    """

    pid: int
    ppid: int
    state: str  # one letter, as ps prints it: R, S, D, Z, T, t, ...
    starttime: int  # clock ticks after boot; with pid, identifies the process
    name: str  # the kernel's short name (comm)
    cmdline: tuple[str, ...]  # empty for zombies and kernel threads

    @property
    def state_name(self) -> str:
        """The state letter spelled out.

        >>> ProcessInfo(1, 0, "S", 1, "init", ("/sbin/init",)).state_name
        'sleeping'
        """
        return state_word(self.state)

    def describe(self) -> str:
        """A one-line description, as the leak report prints it.

        >>> print(ProcessInfo(42, 7, "Z", 1, "sleep", ()).describe())
        pid 42 (Z zombie, parent 7): [sleep] <defunct>
        >>> print(ProcessInfo(43, 7, "S", 1, "sh", ("sh", "-c", "sleep 9")).describe())
        pid 43 (S sleeping, parent 7): sh -c 'sleep 9'
        """
        if self.cmdline:
            command = shlex.join(self.cmdline)
        else:
            command = f"[{self.name}]" + (" <defunct>" if self.state == "Z" else "")
        return f"pid {self.pid} ({self.state} {self.state_name}, parent {self.ppid}): {command}"


def _info(stat: ProcStat) -> ProcessInfo:
    cmdline = () if stat.state == "Z" else _read_cmdline(stat.pid)
    return ProcessInfo(stat.pid, stat.ppid, stat.state, stat.start_ticks, stat.comm, cmdline)


def live_descendants(pid: int | None = None) -> list[ProcessInfo]:
    """The descendants of ``pid`` (default: this process) still in the process table.

    Zombies are included (they are still in the table, in state ``Z``); parents come before
    their children.

    >>> import subprocess, sys
    >>> code = "import sys; sys.stdin.read()"
    >>> with subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE) as child:
    ...     child.pid in [p.pid for p in live_descendants()]
    True
    >>> child.pid in [p.pid for p in live_descendants()]
    False
    """
    return [_info(stat) for stat in _scan_descendants(os.getpid() if pid is None else pid)]


def open_fds() -> dict[int, str]:
    """This process's open file descriptors and what each points to (its /proc readlink).

    >>> import os
    >>> r, w = os.pipe()
    >>> open_fds()[r]  # doctest: +ELLIPSIS
    'pipe:[...]'
    >>> os.close(r)
    >>> os.close(w)
    >>> r in open_fds()
    False
    """
    fds: dict[int, str] = {}
    # The directory fd listdir uses is closed again by the time we readlink it: it drops out.
    for entry in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            fds[int(entry)] = os.readlink(f"/proc/self/fd/{entry}")
    return fds


# --------------------------------------------------------------------------------------------------
# Snapshots, leaks, cleanup


@dataclass(frozen=True)
class _Snapshot:
    processes: frozenset[tuple[int, int]]
    fds: frozenset[tuple[int, str]]

    @classmethod
    def take(cls) -> _Snapshot:
        return cls(
            frozenset(stat.key for stat in _scan_descendants(os.getpid())),
            frozenset(open_fds().items()),
        )

    def new_processes(self) -> list[ProcStat]:
        return [s for s in _scan_descendants(os.getpid()) if s.key not in self.processes]

    def new_fds(self) -> list[tuple[int, str]]:
        return sorted(set(open_fds().items()) - self.fds)


class LeakError(AssertionError):
    """Processes or fds outlived the code that created them; they have been removed since.

    ``processes`` and ``fds`` hold what was found; ``survivors`` what cleanup could not remove.

    >>> err = LeakError([], [(9, "pipe:[1]")], [])
    >>> print(err)
    leaked 1 fd (closed it):
      fd 9 -> pipe:[1]
    """

    def __init__(
        self,
        processes: Iterable[ProcessInfo],
        fds: Iterable[tuple[int, str]],
        survivors: Iterable[ProcessInfo],
    ) -> None:
        self.processes = tuple(processes)
        self.fds = tuple(fds)
        self.survivors = tuple(survivors)
        super().__init__(self._message())

    def _message(self) -> str:
        found, done = [], []
        if self.processes:
            n = len(self.processes)
            found.append(f"{n} process{'es' if n > 1 else ''}")
            done.append("killed and reaped " + ("them" if n > 1 else "it"))
        if self.fds:
            n = len(self.fds)
            found.append(f"{n} fd{'s' if n > 1 else ''}")
            done.append("closed " + ("them" if n > 1 else "it"))
        lines = [f"leaked {' and '.join(found)} ({', '.join(done)}):"]
        lines += [f"  {p.describe()}" for p in self.processes]
        lines += [
            f"  fd {fd} -> {target}" + (" (a standard stream: left open)" if fd < 3 else "")
            for fd, target in self.fds
        ]
        if self.survivors:
            lines.append("  still there after cleanup (not ours to reap, or unkillable):")
            lines += [f"    {p.describe()}" for p in self.survivors]
        return "\n".join(lines)


def _find_leaks(before: _Snapshot) -> tuple[list[ProcStat], list[tuple[int, str]]]:
    processes, fds = before.new_processes(), before.new_fds()
    if processes or fds:
        # Objects the code dropped (files in reference cycles, Popen objects of exited children)
        # are closed or reaped by their finalizers: collect them, then look again. Collecting
        # only when something looks leaked keeps the clean path fast on a big heap.
        gc.collect()
        processes, fds = before.new_processes(), before.new_fds()
    return processes, fds


def _kill(stat: ProcStat) -> None:
    """SIGKILL the process ``stat`` names, never another one that reused its pid."""
    try:
        pidfd = os.pidfd_open(stat.pid)
    except ProcessLookupError:
        return
    except OSError:  # no pidfd (old kernel): a plain kill after the identity check
        pidfd = -1
    try:
        now = read_stat(stat.pid)
        if now is None or now.key != stat.key:
            return  # gone, or the pid now names another process
        if pidfd >= 0:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        else:
            os.kill(stat.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    finally:
        if pidfd >= 0:
            os.close(pidfd)


def _reap(pid: int) -> int | None:
    """waitpid(pid, WNOHANG) for our child ``pid``; its exit code once reaped, else None."""
    try:
        reaped, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # someone else reaped it meanwhile
        return None
    return os.waitstatus_to_exitcode(status) if reaped == pid else None


def _remove_processes(before: _Snapshot, timeout: float = CLEANUP_TIMEOUT) -> list[ProcStat]:
    """Kill every process born since ``before``, reap those that are ours; return what is left."""
    me = os.getpid()
    reaped: dict[int, int] = {}
    deadline = time.monotonic() + timeout
    pause = 0.001
    left = before.new_processes()
    while left:
        for stat in left:  # parents first, so they stop forking
            if stat.state not in "ZXx":
                _kill(stat)
        for stat in left:
            if stat.ppid == me:  # ours: its pid cannot be reused until we reap it
                code = _reap(stat.pid)
                if code is not None:
                    reaped[stat.pid] = code
        # Rescan: orphans of killed processes come back to us (subreaper), forks made meanwhile
        # show up; both are handled next round.
        left = before.new_processes()
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
    if reaped:
        _settle_popens(reaped)
    return left


def _settle_popens(reaped: dict[int, int]) -> None:
    """Give Popen objects of children we reaped their exit code, so they never wait again.

    Otherwise a later ``poll()``/``wait()`` (or ``subprocess``'s own cleanup of dropped Popen
    objects) would waitpid the pid, which may by then name another child of ours.
    """
    for obj in gc.get_objects():
        if isinstance(obj, subprocess.Popen) and obj.returncode is None and obj.pid in reaped:
            obj.returncode = reaped[obj.pid]


def _close_fds(fds: list[tuple[int, str]]) -> None:
    """Close leaked fds, through the Python object owning each one where there is one.

    Fds 0, 1 and 2 are never closed (a test that replaced one is reported, but closing it would
    let the next open() become stdin, stdout or stderr).
    """
    fds = [(fd, target) for fd, target in fds if fd >= 3]
    wanted = dict(fds)
    for obj in gc.get_objects():
        # A raw FileIO or a socket closed here stays closed: its wrappers see it closed and
        # never close the fd number again (which could by then be someone else's fd).
        if isinstance(obj, (io.FileIO, socket.socket)):
            with contextlib.suppress(Exception):
                fd = obj.fileno()
                if fd in wanted and os.readlink(f"/proc/self/fd/{fd}") == wanted[fd]:
                    if isinstance(obj, socket.socket):
                        obj.detach()  # marks it closed without closing; os.close below
                    else:
                        obj.close()
    current = open_fds()
    for fd, target in fds:
        if current.get(fd) == target:
            with contextlib.suppress(OSError):
                os.close(fd)


def _check(before: _Snapshot) -> LeakError | None:
    """Find what was created since ``before`` and is still there, remove it, describe it."""
    processes, fds = _find_leaks(before)
    if not processes and not fds:
        return None
    infos = [_info(stat) for stat in processes]  # read command lines before killing
    survivors = [_info(stat) for stat in _remove_processes(before)]
    if fds:
        _close_fds(fds)
    return LeakError(infos, fds, survivors)


@contextlib.contextmanager
def assert_no_leaks() -> Iterator[None]:
    """Raise :class:`LeakError` if the block leaves a process, zombie or fd behind.

    The leak is removed first (processes killed and reaped, fds closed). If the block raises,
    its exception propagates unchanged, after the same cleanup.

    >>> import os, sys
    >>> with assert_no_leaks():  # doctest: +ELLIPSIS
    ...     r, w = os.pipe()
    Traceback (most recent call last):
      ...
    fork110.testing.LeakError: leaked 2 fds (closed them):
      fd ... -> pipe:[...]
      fd ... -> pipe:[...]
    >>> with assert_no_leaks():  # doctest: +ELLIPSIS
    ...     pid = os.posix_spawn(sys.executable, [sys.executable, "-c", "pass"], os.environ)
    Traceback (most recent call last):
      ...
    fork110.testing.LeakError: leaked 1 process (killed and reaped it):
      pid ... (..., parent ...): ...
    """
    before = _Snapshot.take()
    try:
        yield
    except BaseException:
        _check(before)
        raise
    error = _check(before)
    if error is not None:
        raise error


# --------------------------------------------------------------------------------------------------
# The pytest plugin


def _subreaper(value: int | None) -> int | None:
    """Set the child-subreaper flag (if value is not None); return its previous value.

    None when prctl is not available (not Linux).
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        previous = ctypes.c_int(0)
        zero = ctypes.c_ulong(0)  # prctl is variadic: pass unsigned longs, as it reads them
        if libc.prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(previous), zero, zero, zero) != 0:
            return None
        if value is not None:
            arg = ctypes.c_ulong(value)
            if libc.prctl(_PR_SET_CHILD_SUBREAPER, arg, zero, zero, zero) != 0:
                return None
    except (OSError, AttributeError):
        return None
    return previous.value


@dataclass
class _SessionState:
    previous_subreaper: int | None
    start: _Snapshot | None = None
    report: str | None = None


_STATE = pytest.StashKey[_SessionState]()


def pytest_configure(config: pytest.Config) -> None:
    """Make pytest a child subreaper, so orphaned grandchildren are reparented to it."""
    config.stash[_STATE] = _SessionState(previous_subreaper=_subreaper(1))


def pytest_unconfigure(config: pytest.Config) -> None:
    """Restore the subreaper flag (an outer pytest running this one in-process keeps its own)."""
    state = config.stash.get(_STATE, None)
    if state is not None and state.previous_subreaper is not None:
        _subreaper(state.previous_subreaper)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Remember which processes existed before the session."""
    session.config.stash[_STATE].start = _Snapshot.take()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Remove and report any process born during the session that is still there."""
    state = session.config.stash.get(_STATE, None)
    if state is None or state.start is None:
        return
    processes = state.start.new_processes()
    if not processes:
        return
    gc.collect()
    processes = state.start.new_processes()
    if not processes:
        return
    infos = [_info(stat) for stat in processes]
    survivors = [_info(stat) for stat in _remove_processes(state.start)]
    state.report = str(LeakError(infos, [], survivors))
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the end-of-session leak report, if there is one."""
    state = terminalreporter.config.stash.get(_STATE, None)
    if state is not None and state.report is not None:
        terminalreporter.section("fork110 leak check: left at the end of the session", red=True)
        terminalreporter.line("the session " + state.report)


@pytest.fixture(autouse=True)
def fork110_leak_check() -> Iterator[None]:
    """Fail the test at teardown if it left a process, zombie or fd behind (autouse).

    The snapshot is taken before the test's function-scoped fixtures are set up and checked after
    they are torn down; module- and session-scoped fixtures are set up before it, so what they
    hold is not blamed on the test. The leak is removed before the failure is reported.
    """
    before = _Snapshot.take()
    yield
    error = _check(before)
    if error is not None:
        pytest.fail("the test " + str(error), pytrace=False)
