"""The caller's side of a contained run: start the supervisor, take its events, never leave anything.

A :class:`LiveRun` starts the supervisor (``python -S inside/supervisor.py``) through
:class:`fork110.Command` with three pipes: its stdin is the *lifeline* (configuration first,
then command bytes; when this process dies, even by SIGKILL, the kernel closes it and the
supervisor kills the run), its stdout carries the event frames, its stderr its own complaints.
The caller never forks.

Clean-up, whatever happens (the run ends, the caller is interrupted, the caller exits):
:meth:`LiveRun.close` closes the lifeline and waits (at most a second) for the supervisor to
kill and reap the run and exit; if it does not, or died before, the caller kills the supervisor
and then every process of the run itself (its session, its cgroup, the pids it was told of), and
checks ``/proc`` that nothing is left: that count is :attr:`ContainedRun.leaked`.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
import select
import signal
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING, cast, get_args

from fork110._child import Child
from fork110._command import Command
from fork110._errors import Error, WaitTimeout
from fork110._ps_proc import boot_time, clock_ticks
from fork110._sandbox.inside import wire
from fork110._sandbox.inside.cgroup import RunCgroup
from fork110._sandbox.inside.ns import ns_ids
from fork110._sandbox.inside.procs import descendants, kill_until_gone, members, read_stat
from fork110._sandbox.result import ContainedRun, Event, EventKind
from fork110._status import ExitStatus
from fork110._stdio import Stdio
from fork110.ps import Inspector, Namer, ProcessInfo, Snapshot

if TYPE_CHECKING:
    from fork110._sandbox.inside.wire import Config, Info, Record, Summary, Survivor

__all__ = ["SUPERVISOR", "LiveRun", "SandboxError"]

SUPERVISOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "inside", "supervisor.py")
_GRACE = 3.0  # beyond the timeout, how long the supervisor gets before the caller steps in
_CLOSE_WAIT = 1.0
_INLINE_STDIN = 1 << 16
_MAX_SNAPSHOTS = 2000
_NEW_PROCESS = ("start", "fork", "spawn", "appear")
_live: weakref.WeakSet[LiveRun] = weakref.WeakSet()
_KINDS = frozenset(get_args(EventKind))
_PR_GET_DUMPABLE, _PR_SET_DUMPABLE = 3, 4
_shielded = [0, -1]  # [runs live, the caller's own dumpable setting before the first]
_shield_lock = threading.Lock()


def _shield(on: bool) -> None:
    """While any run is live, the caller is not dumpable: the run's processes (same uid, or root
    without CAP_SYS_PTRACE) cannot open ``/proc/<caller>/fd`` (the event pipe from the
    supervisor: forged frames), ``mem`` or ``environ``, nor trace it. Restored after the last."""
    import ctypes

    with _shield_lock:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
        if on:
            if _shielded[0] == 0:
                _shielded[1] = prctl(_PR_GET_DUMPABLE, 0, 0, 0, 0)
                prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
            _shielded[0] += 1
        elif _shielded[0] > 0:
            _shielded[0] -= 1
            if _shielded[0] == 0 and _shielded[1] > 0:
                prctl(_PR_SET_DUMPABLE, _shielded[1], 0, 0, 0)


_KEY = object()  # LiveRun's constructor is not public: start() and start_program() make them


def _new_live_run(
    cfg: Config,
    *,
    snapshots: bool,
    sample_interval: float,
    cwd: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
) -> LiveRun:
    """Start a run (what :func:`fork110.sandbox.start` calls once the limits are checked)."""
    return LiveRun(
        cfg, snapshots=snapshots, sample_interval=sample_interval, cwd=cwd, env=env, _key=_KEY
    )


class SandboxError(Error, RuntimeError):
    """The contained run's machinery failed to start (the user's code is reported, not raised).

    >>> str(SandboxError("the supervisor exited at once"))
    'the supervisor exited at once'
    """


class LiveRun:
    """A contained run in progress. Use it as a context manager (leaving kills what is left).

    :meth:`poll` returns the events that arrived (a widget's refresh loop), iterating yields
    them until the run is over, :meth:`result` waits for the end and gives the
    :class:`ContainedRun`, :meth:`kill` ends it now, :meth:`snapshot` shows the tree.

    >>> from fork110.sandbox import start
    >>> with start("print('hi')") as live:
    ...     print([e.describe() for e in live if e.kind == "stdout"])
    ['parent | hi']
    """

    def __init__(
        self,
        cfg: Config,
        *,
        snapshots: bool,
        sample_interval: float,
        cwd: str | os.PathLike[str] | None = None,
        env: dict[str, str] | None = None,
        _key: object = None,
    ) -> None:
        if _key is not _KEY:
            self._closed = True
            raise TypeError("a LiveRun is made by fork110.sandbox.start() or start_program()")
        self._t0 = time.monotonic()
        cfg["t0"] = self._t0
        self._stdin_file = -1
        data_in = cfg.get("stdin")
        if data_in is not None and len(data_in) > _INLINE_STDIN:
            # large input goes in a memfd the supervisor inherits (at the same number): written
            # once, never pushed through the configuration pipe (linear, and fast)
            self._stdin_file = os.memfd_create("fork110-stdin", os.MFD_CLOEXEC)
            view = memoryview(data_in)
            while view:
                view = view[os.write(self._stdin_file, view) :]
            cfg["stdin"] = None
            cfg["stdin_file"] = self._stdin_file
        cfg["caller"] = os.getpid()
        self._timeout = cfg["timeout"]
        self._budget = cfg["max_processes"]
        self._max_memory = cfg.get("max_memory")
        self._want_snapshots = snapshots
        self._interval = sample_interval
        self._events: list[Event] = []
        self._taken = 0
        self._snapshots: list[Snapshot] = []
        self._last_snap = -1.0
        self._last_key: tuple[tuple[int, str, str], ...] | None = None
        self._namer = Namer()
        self._inspector: Inspector | None = None
        self._info: Info | None = None
        self._summary: Summary | None = None
        self._known: dict[int, int] = {}  # host pid -> start ticks of every process we were told of
        self._ns_root = 0  # in a run with its own pid namespace: its pid 1's host pid
        self._hosts: dict[int, int] = {}  # the run's pids (as it sees them) -> host pids
        self._survivors: tuple[ProcessInfo, ...] = ()
        self._watchdog = ""
        self._notes: list[str] = []
        self._stdout: list[str] = []
        self._stderr: list[str] = []
        self._err = bytearray()
        # the largest frame the supervisor sends: a line of output (at most max_output bytes, as
        # UTF-8 text up to 3x that once decoded and re-encoded), or a watchdog's list of survivors
        self._unframer = wire.Unframer(3 * int(cfg["max_output"]) + (1 << 20))
        self._bad_frames = False
        self._out_open = self._err_open = True
        self._done = False
        self._closed = False
        self._result: ContainedRun | None = None
        self._leaked = 0
        self._deadline = self._t0 + self._timeout + _GRACE
        cmd = Command(sys.executable).args(["-S", SUPERVISOR])
        cmd.stdin(Stdio.piped()).stdout(Stdio.piped()).stderr(Stdio.piped())
        if cwd is not None:
            cmd.current_dir(os.fspath(cwd))
        if env is not None:
            cmd.env_clear()
            for key, value in env.items():
                cmd.env(key, value)
        _shield(True)  # before the run exists: its processes never see us dumpable
        try:
            if self._stdin_file != -1:
                os.set_inheritable(self._stdin_file, True)  # for the supervisor only
            try:
                self._child: Child = cmd.spawn()
            finally:
                if self._stdin_file != -1:
                    os.set_inheritable(self._stdin_file, False)
        except BaseException:
            self._close_stdin_file()
            _shield(False)
            raise
        st = read_stat(self._child.id())
        self._sup_ticks = -1 if st is None else st.start_ticks  # to notice its pid reused
        _live.add(self)
        assert self._child.stdin and self._child.stdout and self._child.stderr
        self._out = self._child.stdout.fileno()
        self._errfd = self._child.stderr.fileno()
        os.set_blocking(self._out, False)
        os.set_blocking(self._errfd, False)
        data = memoryview(wire.frame(cfg))
        try:
            while data:  # a raw pipe end: a write may take only part (a signal, say)
                data = data[self._child.stdin.write(data) or 0 :]
        except BrokenPipeError:
            pass  # it died at once; its stderr says why, and result() raises SandboxError

    # -- public -----------------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        """The supervisor's pid as the caller sees it (the run's processes are below it). In a
        run with its own pid namespace the supervisor is that namespace's pid 1, and this is
        its pid outside (waiting, if need be, for the supervisor to say it).

        >>> from fork110.sandbox import start
        >>> with start("pass") as live:
        ...     live.pid > 1
        True
        """
        end = time.monotonic() + _GRACE
        while self._info is None and not self._done and time.monotonic() < end:
            self._pump(0.05)
        return self._ns_root or self._child.id()

    def host_pid(self, pid: int) -> int | None:
        """The pid the caller sees for the run's process *pid* (as the run itself names it, in
        events and snapshots), None if it is not running (any more). The same pid where the run
        shares the caller's pid namespace.

        >>> from fork110.sandbox import start
        >>> code = "import os, time; print(os.getpid(), flush=True); time.sleep(30)"
        >>> with start(code, timeout=60) as live:
        ...     pid = int(next(e for e in live if e.kind == "stdout").detail)
        ...     host = live.host_pid(pid)
        ...     with open(f"/proc/{host}/cmdline") as f:
        ...         f.read().startswith("python <contained>")
        True
        """
        if not self._ns_root:
            st = read_stat(pid)
            return pid if st is not None else None
        return self._host_of(pid)

    @property
    def namespace(self) -> bool:
        """True if the run has its own pid namespace (known once the supervisor has started it).

        >>> from fork110.sandbox import start
        >>> with start("pass") as live:
        ...     _ = live.result()
        ...     live.namespace in (True, False)
        True
        """
        return bool(self._ns_root)

    @property
    def done(self) -> bool:
        """True once the run is over and cleaned up (every event has arrived).

        >>> from fork110.sandbox import start
        >>> with start("pass") as live:
        ...     _ = live.result()
        ...     live.done
        True
        """
        return self._done

    @property
    def events(self) -> tuple[Event, ...]:
        """Every event so far (whether or not :meth:`poll` returned it).

        >>> from fork110.sandbox import start
        >>> with start("pass") as live:
        ...     _ = live.result()
        ...     live.events[0].kind
        'start'
        """
        return tuple(self._events)

    def poll(self, timeout: float = 0.0) -> list[Event]:
        """The events that arrived since the last call, waiting up to *timeout* seconds for one.

        >>> from fork110.sandbox import start
        >>> with start("print(1)") as live:
        ...     seen = []
        ...     while not live.done:
        ...         seen += live.poll(0.1)
        ...     [e.kind for e in seen][-1]
        'end'
        """
        end = time.monotonic() + max(0.0, timeout)
        while True:
            self._pump(max(0.0, end - time.monotonic()))
            if self._taken < len(self._events) or self._done or time.monotonic() >= end:
                break
        new = self._events[self._taken :]
        self._taken = len(self._events)
        return new

    def __iter__(self) -> Iterator[Event]:
        """Yield the events as they arrive, until the run is over (``end`` comes last)."""
        while True:
            yield from self.poll(0.1)
            if self._done and self._taken == len(self._events):
                return

    def snapshot(self) -> Snapshot:
        """The run's process tree now (empty before the run starts and after it ends); it joins
        the run's :attr:`~ContainedRun.snapshots`.

        >>> from fork110.sandbox import start
        >>> with start("import time; time.sleep(30)", timeout=60) as live:
        ...     _ = live.poll(5)  # the start event
        ...     print(live.snapshot().by_name("parent").state in "RS")
        True
        """
        if self._inspector is None or self._done:
            return Snapshot(time.time(), self._child.id(), ())
        snap = self._as_run_sees(self._inspector.snapshot())
        if self._want_snapshots:
            self._add_snapshot(snap)  # part of the run's history too
        return snap

    def kill(self) -> None:
        """Ask the supervisor to kill the run now (events keep arriving until it is over).

        >>> from fork110.sandbox import start
        >>> with start("import time; time.sleep(30)", timeout=60) as live:
        ...     live.kill()
        ...     live.result().killed
        'killed'
        """
        stdin = self._child.stdin
        if stdin is not None and not self._done:
            with contextlib.suppress(OSError, ValueError):
                stdin.write(wire.KILL)

    def result(self, timeout: float | None = None) -> ContainedRun:
        """Wait for the end (at most *timeout* seconds more, then kill) and return the run.

        >>> from fork110.sandbox import start
        >>> with start("print('done')") as live:
        ...     live.result().stdout
        'done\\n'
        """
        limit = None if timeout is None else time.monotonic() + timeout
        while not self._done:
            if limit is not None and time.monotonic() >= limit:
                self.kill()
                limit = None
            self._pump(0.2)
        self.close()
        assert self._result is not None
        if self._info is None:  # the supervisor never got as far as starting the run
            raise SandboxError(
                "the contained run could not be started: "
                + (self._err.decode("utf-8", "replace").strip() or "the supervisor exited at once")
            )
        return self._result

    def close(self) -> None:
        """Kill whatever is left of the run, reap it, release everything. Safe to call twice;
        an interrupt arriving meanwhile is re-raised once the clean-up is complete.

        >>> from fork110.sandbox import start
        >>> live = start("import time; time.sleep(30)", timeout=60)
        >>> live.close(); live.done
        True
        """
        pending: BaseException | None = None
        while not self._closed:
            try:
                self._teardown()
            except KeyboardInterrupt as exc:  # finish the clean-up first
                pending = exc
        if pending is not None:
            raise pending

    def __enter__(self) -> LiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            with contextlib.suppress(Exception):
                self.close()

    def __repr__(self) -> str:
        state = "over" if self._done else "running"
        sup = self._ns_root or self._child.id()
        return f"<LiveRun supervisor={sup} {state}, {len(self._events)} events>"

    # -- reading the supervisor -------------------------------------------------------------------

    def _pump(self, timeout: float) -> None:
        """Read what the supervisor sent (waiting up to *timeout*), handle it, notice the end."""
        if self._done:
            return
        if time.monotonic() > self._deadline:
            self._notes.append("the supervisor did not finish in time: the caller killed the run")
            self._teardown()
            return
        fds = [
            fd
            for fd, open_ in ((self._out, self._out_open), (self._errfd, self._err_open))
            if open_
        ]
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN)
        wait = min(
            timeout,
            self._interval if self._want_snapshots else timeout,
            max(0.0, self._deadline - time.monotonic()),
        )
        ready = poller.poll(wait * 1000) if fds else []
        for fd, _mask in ready:
            self._read(fd)
        self._maybe_snapshot(False)
        if not self._out_open and not self._err_open:
            self._finish()

    def _read(self, fd: int) -> None:
        while True:
            try:
                data = os.read(fd, 1 << 16)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if fd == self._errfd:
                if not data:
                    self._err_open = False
                    return
                self._err += data
                continue
            if not data:
                self._out_open = False
                return
            if self._bad_frames:
                continue  # the stream cannot be trusted any more: drain it, believe nothing
            try:
                for record in self._unframer.feed(data):
                    self._record(cast("Record", record))
                if self._unframer.failed:
                    self._unframer.feed(b"")  # raises the error held back
            except (wire.FrameError, TypeError, ValueError, KeyError) as exc:
                self._bad_frames = True
                self._notes.append(f"a malformed frame from the supervisor ({exc}): run killed")
                self.kill()

    def _record(self, rec: Record) -> None:
        if not (isinstance(rec, tuple) and len(rec) == 9):
            raise ValueError("not an event record")
        kind, t, pid, name, other_pid, other, status, text, extra = rec
        if not (
            isinstance(kind, str)
            and isinstance(t, float)
            and all(isinstance(v, int) for v in (pid, other_pid, status))
            and all(isinstance(v, str) for v in (name, other, text))
        ):
            raise ValueError(f"an event record of the wrong types ({kind!r})")
        if kind == "info":
            self._close_stdin_file()  # the supervisor has its own open of it by now
            self._info = cast("Info", extra)
            if self._info.get("namespace"):
                self._ns_root = int(self._info["host"])
            self._inspector = Inspector(
                self._ns_root or self._info["supervisor"], namer=self._namer, include_root=False
            )
            return
        if kind == "done":
            self._summary = cast("Summary", extra)
            return
        if kind in _NEW_PROCESS and isinstance(extra, int) and extra >= 0:
            host = self._host_of(other_pid) if self._ns_root else other_pid
            if host is not None:  # (a process already gone is not named in the tree anyway)
                self._known[host] = extra
                self._namer.pin(host, boot_time() + extra / clock_ticks(), other)
        if kind == "watchdog":
            self._watchdog = text
            self._survivors = tuple(_survivor(s) for s in cast("list[Survivor]", extra))
            root = self._info["supervisor"] if self._info else 0
            self._add_snapshot(Snapshot(time.time(), root, _tree(self._survivors)))
        if kind == "note":
            self._notes.append(text)
        if kind not in _KINDS:
            raise ValueError(f"an event of an unknown kind ({kind!r})")
        event = Event(
            t - self._t0,
            cast("EventKind", kind),
            name,
            pid,
            text,
            other or None,
            other_pid or None,
            ExitStatus(status) if status >= 0 else None,
        )
        self._events.append(event)
        if kind == "stdout":
            self._stdout.append(text)
        elif kind == "stderr":
            self._stderr.append(text)
        elif kind in _NEW_PROCESS or kind in ("exit", "reap", "exec"):
            self._maybe_snapshot(True)

    # -- snapshots --------------------------------------------------------------------------------

    def _maybe_snapshot(self, changed: bool) -> None:
        if not self._want_snapshots or self._inspector is None or self._done:
            return
        now = time.monotonic()
        if now - self._last_snap < (0.005 if changed else self._interval):
            return
        self._last_snap = now
        self._add_snapshot(self._as_run_sees(self._inspector.snapshot()))

    def _host_of(self, pid: int) -> int | None:
        """The host pid of the run's process *pid* (as the run names it), looked up below the
        namespace's pid 1 when not known yet; None if it is not there (any more)."""
        host = self._hosts.get(pid)
        if host is not None and (ids := ns_ids(host)) is not None and ids[0] == pid:
            return host
        for host in descendants(self._ns_root):
            ids = ns_ids(host)
            if ids is not None:
                self._hosts[ids[0]] = host
        host = self._hosts.get(pid)
        return host if host is not None and (ids := ns_ids(host)) and ids[0] == pid else None

    def _as_run_sees(self, snap: Snapshot) -> Snapshot:
        """*snap* (taken from outside) with the pids the run's own processes see: in a run with
        its own pid namespace, pid 1 is its supervisor and ``os.getpid()`` matches the tree."""
        if not self._ns_root:
            return snap
        table = {self._ns_root: 1}
        ids: dict[int, tuple[int, int, int]] = {}
        for p in snap.processes:
            got = ns_ids(p.pid)
            if got is not None:
                ids[p.pid] = got
                table[p.pid] = got[0]
                self._hosts[got[0]] = p.pid
        procs = tuple(
            dataclasses.replace(
                p,
                pid=table.get(p.pid, p.pid),
                ppid=table.get(p.ppid, p.ppid),
                pgid=ids[p.pid][1] if p.pid in ids else table.get(p.pgid, p.pgid),
                sid=ids[p.pid][2] if p.pid in ids else table.get(p.sid, p.sid),
            )
            for p in snap.processes
            if p.pid in ids  # (gone between the two reads: it is not in the tree any more)
        )
        return Snapshot(snap.time, 1, procs)

    def _add_snapshot(self, snap: Snapshot) -> None:
        # the command is part of the key: a process that execs (the run's first process becoming
        # the C program) is a change worth a sample even when its pid and state stay the same
        key = tuple((p.pid, p.state, p.command) for p in snap.processes)
        if key == self._last_key or len(self._snapshots) >= _MAX_SNAPSHOTS:
            return
        self._last_key = key
        self._snapshots.append(snap)

    # -- the end ----------------------------------------------------------------------------------

    def _finish(self) -> None:
        """The supervisor closed its output: reap it, check nothing is left, build the result."""
        self._teardown()

    def _teardown(self) -> None:
        if self._closed:
            return
        child = self._child
        if not self._done:
            if child.stdin is not None:  # the lifeline: closing it makes the supervisor kill all
                with contextlib.suppress(OSError, ValueError):
                    child.stdin.write(wire.KILL)
                with contextlib.suppress(OSError):
                    child.stdin.close()
                child.stdin = None
            end = time.monotonic() + _CLOSE_WAIT
            while (self._out_open or self._err_open) and time.monotonic() < end:
                poller = select.poll()
                for fd, open_ in ((self._out, self._out_open), (self._errfd, self._err_open)):
                    if open_:
                        poller.register(fd, select.POLLIN)
                for fd, _ in poller.poll(max(0.0, end - time.monotonic()) * 1000):
                    self._read(fd)
        try:
            child.wait(timeout=0.0 if (self._out_open or self._err_open) else _CLOSE_WAIT)
        except WaitTimeout:
            self._notes.append("the supervisor did not exit: the caller killed it")
        if self._want_snapshots and self._inspector is not None:
            self._add_snapshot(self._as_run_sees(self._inspector.snapshot()))  # nothing left
        self._backstop()
        for pipe in (child.stdout, child.stderr):
            if pipe is not None:
                pipe.close()
        child.stdout = child.stderr = None
        self._out_open = self._err_open = False
        self._leaked = len(self._leftovers())
        self._close_stdin_file()
        self._done = True
        self._closed = True
        _live.discard(self)
        _shield(False)
        self._build()

    def _close_stdin_file(self) -> None:
        if self._stdin_file != -1:
            os.close(self._stdin_file)
            self._stdin_file = -1

    def _backstop(self) -> None:
        """Make sure the supervisor is reaped and none of the run's processes is left."""
        child = self._child
        if child.try_wait() is None:
            child.kill()
            child.wait()
        if not self._summary:
            err = self._err.decode("utf-8", "replace").strip()
            self._notes.append("the supervisor ended early" + (f": {err}" if err else ""))
        if self._leftovers():
            group = self._cgroup()
            kill_until_gone(
                self._leftovers,
                deadline=time.monotonic() + _CLOSE_WAIT,
                cgroup_kill=group.kill if group is not None else None,  # thaws a frozen run too
            )
            _reap_ours(self._leftovers(), time.monotonic() + _CLOSE_WAIT)
        cgroup = self._cgroup()
        if cgroup is not None:
            cgroup.remove(time.monotonic() + 0.5)
        lock = self._info["lock"] if self._info else ""
        if lock:
            with contextlib.suppress(OSError):
                os.unlink(lock)

    def _cgroup(self) -> RunCgroup | None:
        dirs = self._info["cgroups"] if self._info else []
        if not dirs:
            return None
        return RunCgroup.of(dirs)

    def _leftovers(self) -> set[int]:
        """The run's processes still in the process table, seen from outside: alive ones, and
        zombies left to us (a zombie adopted by init is init's to reap, and gone soon)."""
        found: set[int] = set()
        sup = self._child.id()
        st = read_stat(sup)
        reused = st is not None and st.start_ticks != self._sup_ticks  # reaped, then reused
        if self._info is not None and not reused:
            sid = self._info["sid"]  # the run's own session only (never the caller's)
            found |= members(sup, sid if sid == sup else -1)
        cgroup = self._cgroup()
        if cgroup is not None:
            found |= {p for p in cgroup.procs() if os.path.isdir(f"/proc/{p}")}
        for pid, ticks in self._known.items():
            st = read_stat(pid)
            if st is not None and st.start_ticks == ticks:
                found.add(pid)
        found.discard(os.getpid())
        found.discard(sup)
        me = os.getpid()
        return {
            p
            for p in found
            if (st := read_stat(p)) is not None and (st.state not in "ZX" or st.ppid == me)
        }

    def _build(self) -> None:
        s = self._summary
        raw = s["status"] if s else -1
        timed_out = s["timed_out"] if s else time.monotonic() > self._deadline
        status = ExitStatus(raw if raw >= 0 else signal.SIGKILL)
        killed = (s["killed"] if s else "caller").replace("timeout", "")
        duration = time.monotonic() - self._t0
        n = len({e.other or e.process for e in self._events if e.kind in _NEW_PROCESS})
        parts = [f"parent {status}", f"{n} process{'es' if n != 1 else ''}"]
        parts.append("nothing left" if not self._leaked else f"{self._leaked} LEFT")
        sup = self._info["supervisor"] if self._info else self._child.id()
        self._events.append(Event(duration, "end", "supervisor", sup, "; ".join(parts)))
        self._result = ContainedRun(
            events=tuple(self._events),
            stdout="".join(self._stdout),
            stderr="".join(self._stderr),
            status=status,
            snapshots=tuple(self._snapshots),
            peak_processes=s["peak"] if s else 0,
            timed_out=timed_out,
            leaked=self._leaked,
            max_processes=self._budget,
            timeout=self._timeout,
            duration=duration,
            refusals=s["refusals"] if s else 0,
            enforcement=s["mode"] if s else self._info["mode"] if self._info else "",
            killed=killed,
            watchdog=self._watchdog,
            survivors=self._survivors,
            notes=tuple(self._notes),
            max_memory=self._max_memory,
            memory=s["memory"] if s else "",
            oom_kills=s["oom_kills"] if s else 0,
            namespace=bool(self._info.get("namespace")) if self._info else False,
        )


def _reap_ours(pids: set[int], deadline: float) -> None:
    """Reap those of *pids* that are our children (we are a subreaper and adopted them)."""
    me = os.getpid()
    for pid in pids:
        st = read_stat(pid)
        while st is not None and st.ppid == me and time.monotonic() < deadline:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                break
            if done:
                break
            select.select([], [], [], 0.001)
            st = read_stat(pid)


def _survivor(rec: Survivor) -> ProcessInfo:
    pid, ppid, name, state, wchan, command, threads, pgrp, sid = rec
    return ProcessInfo(
        pid, ppid, state, command, threads, wchan or None, 0.0, name, 0, state, pgrp, sid
    )


def _tree(procs: tuple[ProcessInfo, ...]) -> tuple[ProcessInfo, ...]:
    """Order processes parent-first with depths, for a Snapshot built from the watchdog's list."""
    by_pid = {p.pid: p for p in procs}
    kids: dict[int, list[ProcessInfo]] = {}
    for p in procs:
        kids.setdefault(p.ppid if p.ppid in by_pid else -1, []).append(p)
    out: list[ProcessInfo] = []
    stack = [(p, 0) for p in reversed(kids.get(-1, []))]
    while stack:
        p, depth = stack.pop()
        out.append(
            ProcessInfo(
                p.pid,
                p.ppid,
                p.state,
                p.command,
                p.threads,
                p.wchan,
                p.start_time,
                p.name,
                depth,
                p.stat,
                p.pgid,
                p.sid,
            )
        )
        stack.extend((c, depth + 1) for c in reversed(kids.get(p.pid, [])))
    return tuple(out)


@atexit.register
def _close_all() -> None:
    """At interpreter exit (a kernel shutting down), end every run still going."""
    for live in list(_live):
        with contextlib.suppress(BaseException):
            live.close()
