"""The supervisor's bookkeeping: the run's processes, their names, pipes and events, in order.

Each process (:class:`Proc`) has a queue of the events it reported and its relay
:class:`~fork110._sandbox.inside.relay.Stream` s. An event leaves its queue (and is emitted to the
caller) only when every relay pipe it marked has been read up to its marker, so a process's
output and its events come out in the order the process made them. A child's events and output
wait until its parent's ``fork`` has been emitted (it is *announced*). Events the supervisor
itself observes (an exit through a pidfd, a reap it did) first flush the process's queue.

Names follow :class:`fork110.ps.Namer`: ``parent``, its children ``child-1``, ``child-2``, theirs
``child-1.1``, ..., and ``orphan-N`` for a process whose parent was never known.

Only builtins are imported (the supervisor loads this before its first event).

>>> t = Tracker("T", None, 100, 1000, 1)
>>> p = t.register(10, 1, "parent"); t.announce(p)
>>> t.register(11, 10, None).name, t.register(12, 10, "child-2").name, t.register(13, 11, None).name
('child-1', 'child-2', 'child-1.1')
"""

from __future__ import annotations

import os
import select
import time

from fork110._proc import child_name, child_number
from fork110._sandbox.inside import relay, wire
from fork110._sandbox.inside.procs import read_stat

__all__ = ["Pending", "Proc", "Tracker"]

_IN = select.POLLIN | select.POLLHUP | select.POLLERR
_ESSENTIAL = frozenset({"start", "watchdog", "kill", "note", "done", "info"})
_SPECIFIC = {wire.MSG_HELLO: 3, wire.MSG_FORK: 2, wire.MSG_SPAWN: 4, wire.MSG_REAP: 2}
_LETTER = {"stdout": "o", "stderr": "e"}
# the field of a report that names another process (after seq and needs), to be vouched for
_NAMED = {wire.MSG_FORK: 2, wire.MSG_SPAWN: 2, wire.MSG_REAP: 2}
EXPIRE = (
    1.0  # an event whose marker never comes (a non-blocking fd, a lost datagram) waits no longer
)
GRACE = 0.2  # how long a process found reaped waits for its reaper's report (which has the status)
ANNOUNCE_WAIT = 0.5  # how long a new process of a Python parent waits for the parent's report


class Pending:
    """An event a process reported, waiting for its markers."""

    __slots__ = ("fields", "kind", "needs", "seq", "since")

    def __init__(self, seq: int, needs: str, kind: str, fields: list[str]) -> None:
        self.seq = seq
        self.needs = needs
        self.kind = kind
        self.fields = fields
        self.since = time.monotonic()


class Proc:
    """What the supervisor knows about one process of the run."""

    __slots__ = (
        "announced",
        "born",
        "busy",
        "deferred",
        "exited",
        "gone_since",
        "hooked",
        "last_seq",
        "name",
        "origin",
        "pid",
        "pidfd",
        "ppid",
        "queue",
        "reached",
        "reaped",
        "refusals",
        "scan_only",
        "status",
        "streams",
    )

    def __init__(self, pid: int, name: str, ppid: int, hooked: bool = False) -> None:
        self.pid = pid
        self.name = name
        self.ppid = ppid  # its parent now (an orphan's changes)
        self.origin = ppid  # the parent that made it
        self.hooked = hooked  # runs our hooks (Python, not exec'd since): it reports its forks
        self.born = time.monotonic()
        self.deferred: list[
            tuple[int, int]
        ] = []  # (status, reaper or 0 for an exit) until announced
        self.pidfd = -1
        self.exited = self.reaped = self.scan_only = self.announced = self.busy = False
        self.status = -1
        self.gone_since = 0.0
        self.refusals = 0
        self.last_seq = 0
        self.queue: list[Pending] = []
        self.reached: dict[int, str] = {}
        self.streams: list[relay.Stream] = []

    def __repr__(self) -> str:
        return f"<Proc {self.name} pid={self.pid}>"


class Tracker:
    """Processes, names, relay streams and ordered events of one run (no OS lifecycle here)."""

    def __init__(
        self, token: str, poller: select.poll | None, max_events: int, max_output: int, own: int
    ) -> None:
        self.mark = relay.prefix(token)
        self.poller = poller
        self.max_events = max_events
        self.max_output = max_output
        self.own = own  # the supervisor's pid
        self.procs: dict[int, Proc] = {}
        self.names: set[str] = set()
        self.counters: dict[str, int] = {}
        self.orphans = 0
        self.streams: dict[int, tuple[Proc, relay.Stream]] = {}
        self.out = bytearray()
        self.nevents = self.dropped = self.out_bytes = self.refusals = self.forks = self.peak = 0
        self.truncated = False
        self.bad_reports = 0
        self.parent_pid = -1
        self.parent_status = -1
        self.final = False  # the run is over: stop waiting for reports

    # -- to the caller ----------------------------------------------------------------------------

    def emit(
        self,
        kind: str,
        pid: int,
        name: str,
        other_pid: int = 0,
        other: str = "",
        status: int = -1,
        text: str = "",
        extra: object = None,
    ) -> None:
        """Queue one frame for the caller (events past ``max_events`` are counted, not sent)."""
        if kind not in _ESSENTIAL:
            if self.nevents >= self.max_events:
                self.dropped += 1
                return
            self.nevents += 1
        self.out += wire.frame(
            (kind, time.monotonic(), pid, name, other_pid, other, status, text, extra)
        )

    def line(self, proc: Proc, kind: str, data: bytes) -> None:
        self.out_bytes += len(data)
        if self.out_bytes > self.max_output:
            if not self.truncated:
                self.truncated = True
                self.emit(
                    "note",
                    self.own,
                    "supervisor",
                    text=f"output truncated after {self.max_output} bytes",
                )
            return
        self.emit(kind, proc.pid, proc.name, text=data.decode("utf-8", "replace"))

    # -- processes --------------------------------------------------------------------------------

    def register(self, pid: int, ppid: int, proposed: str | None, hooked: bool = False) -> Proc:
        """Know a new process by a name of its own (*proposed* if free)."""
        known = self.procs.get(pid)
        if known is not None:
            return known
        parent = self.procs.get(ppid)
        base = None if parent is None else parent.name
        name = proposed if proposed and proposed not in self.names else None
        if name is None:
            if base is None:
                self.orphans += 1
                name = f"orphan-{self.orphans}"
            else:
                n = self.counters.get(base, 0)
                while True:
                    n += 1
                    name = child_name(base, n)
                    if name not in self.names:
                        break
        if base is not None:
            number = child_number(name, base)
            if number is not None:
                self.counters[base] = max(self.counters.get(base, 0), number)
        self.names.add(name)
        proc = Proc(pid, name, ppid, hooked)
        self.procs[pid] = proc
        self.watch(proc)
        # a reap reported late (its parent waited, then forked again at once) must not count twice:
        # only processes the kernel still has (zombies included) are alive at this moment
        self.peak = max(
            self.peak, sum(1 for p in self.procs.values() if not p.reaped and _exists(p.pid))
        )
        return proc

    def watch(self, proc: Proc) -> None:
        """Start watching *proc* for its exit (the supervisor opens a pidfd)."""

    def ticks(self, pid: int) -> int:
        st = read_stat(pid)
        return -1 if st is None else st.start_ticks

    def announce(self, proc: Proc, event: str = "", text: str = "") -> None:
        """Let *proc*'s output and events flow, first emitting *event* (``fork``/``appear``)."""
        if proc.announced:
            return
        if event:
            parent = self.procs.get(proc.ppid)
            self.forks += 1
            # nothing reported its birth: it "appears", said by itself; else its parent forked it
            unseen = parent is None or event == "appear"
            kind, by = ("appear", proc) if unseen else (event, parent)
            assert by is not None
            self.emit(
                kind, by.pid, by.name, proc.pid, proc.name, text=text, extra=self.ticks(proc.pid)
            )
        proc.announced = True
        self.advance(proc)
        deferred, proc.deferred = proc.deferred, []
        for status, reaper in deferred:  # what happened to it before anyone could tell
            if reaper:
                self.reaped(proc.pid, status, reaper)
            else:
                self.exited(proc, status)

    def waiting(self, proc: Proc) -> bool:
        """Should *proc* still wait for its parent to report its fork (rather than be made up)?"""
        if proc.announced or self.final:
            return False
        parent = self.procs.get(proc.origin)
        return (
            parent is not None
            and parent.hooked
            and not parent.exited
            and time.monotonic() - proc.born < ANNOUNCE_WAIT
        )

    def announce_now(self, proc: Proc) -> None:
        """*proc* must be announced now (it exited, the run ends): flush its parent's events up to
        its fork, or make up the fork if its parent never reported it."""
        if proc.announced:
            return
        parent = self.procs.get(proc.origin)
        if parent is not None:
            self.drain(parent)
            for i, q in enumerate(parent.queue):
                if q.kind in (wire.MSG_FORK, wire.MSG_SPAWN) and int(q.fields[0]) == proc.pid:
                    self.announce_now(parent)
                    self.force(parent, i + 1)
                    break
        if not proc.announced:
            self.announce(
                proc, "fork" if parent is not None else "appear", "seen by the supervisor"
            )

    def discover(self, pid: int, text: str = "seen by the supervisor") -> Proc:
        """A process no event announced (started from C code): name it and announce it."""
        known = self.procs.get(pid)
        if known is not None:
            return known
        st = read_stat(pid)
        ppid = -1 if st is None else st.ppid
        proc = self.register(pid, ppid, None)
        if not self.waiting(proc):  # a Python parent will report it: give the report a moment
            self.announce(
                proc, "fork" if ppid in self.procs and ppid != self.own else "appear", text
            )
        return proc

    # -- streams ----------------------------------------------------------------------------------

    def attach(self, proc: Proc, fd: int, letter: str) -> None:
        os.set_blocking(fd, False)
        s = relay.Stream(fd, "stdout" if letter == "o" else "stderr")
        proc.streams.append(s)
        self.streams[fd] = (proc, s)
        self.set_poll(proc, s)

    def set_poll(self, proc: Proc, s: relay.Stream) -> None:
        want = proc.announced and not s.closed and not s.blocked
        if want != s.polled and self.poller is not None:
            if want:
                self.poller.register(s.fd, _IN)
            else:
                self.poller.unregister(s.fd)
            s.polled = want

    def fill(self, proc: Proc, s: relay.Stream, limit: int = 1 << 20) -> None:
        """Read what the pipe holds (up to *limit* bytes) into ``s.raw``; notice end of file."""
        got = 0
        while not s.closed and got < limit:
            try:
                data = os.read(s.fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                s.closed = True
                self.set_poll(proc, s)
                del self.streams[s.fd]
                os.close(s.fd)
                return
            s.raw += data
            got += len(data)

    def read_stream(self, fd: int) -> None:
        proc, s = self.streams[fd]
        self.fill(proc, s)
        self.advance(proc)

    def drain(self, proc: Proc) -> None:
        """Read everything *proc*'s pipes hold now, and move its events along."""
        for s in list(proc.streams):
            self.fill(proc, s)
        self.advance(proc)

    # -- ordered events ---------------------------------------------------------------------------

    def member(self, pid: int) -> bool:
        """Is *pid* one of the run's processes now (the supervisor checks /proc)?"""
        return True

    def forged(self, what: str) -> None:
        """A report that does not hold up: say so (a few times), act on none of it."""
        self.bad_reports += 1
        if self.bad_reports <= 3:
            self.emit("note", self.own, "supervisor", text=f"ignored a report: {what}")

    def sent_by_run(self, sender: int, kind: str, rest: list[str]) -> bool:
        """Did a process of the run send this? Yes if the sender is in the run now; or, once it
        has gone already (reaped before we read: nothing can be done to it any more), if we knew
        it, or if it is a new child saying hello from a parent we know."""
        if self.member(sender):
            return True
        if read_stat(sender) is not None:
            return False  # alive, and not one of ours
        if sender in self.procs:
            return True
        return kind == wire.MSG_HELLO and rest[0].isdigit() and int(rest[0]) in self.procs

    def vouch(self, pid: int) -> bool:
        """May a report name *pid* as one of the run's processes? Yes if we know it, if it is gone
        already (nothing can be done to it), or if it is in the run now."""
        known = self.procs.get(pid)
        if known is not None and not known.reaped:
            return True
        return pid > 0 and (read_stat(pid) is None or self.member(pid))

    def handle(self, data: bytes, fds: list[int], sender: int = -1) -> list[int]:
        """One datagram from a run process; returns the fds it took ownership of.

        *sender* is the pid the kernel says sent it (-1: not checked, in doctests); a datagram
        from outside the run, or claiming another process's pid, is ignored and noted."""
        kind = data.partition(b"\0")[0].decode("ascii", "replace")
        msg = wire.unpack_msg(data, 2 + _SPECIFIC.get(kind, 1))
        if msg is None:
            return []
        kind, pid, _when, f = msg
        if not f[0].isdigit():
            return []
        if sender != -1 and (pid != sender or not self.sent_by_run(sender, kind, f[2:])):
            self.forged(f"{kind} from pid {sender}, which is not the run's process {pid}")
            return []
        named = _NAMED.get(kind)
        if named is not None and f[named].lstrip("-").isdigit() and not self.vouch(int(f[named])):
            self.forged(f"{kind} naming pid {f[named]}, which is not in the run")
            return []
        seq, needs, rest = int(f[0]), f[1], f[2:]
        taken: list[int] = []
        if kind == wire.MSG_HELLO:
            ppid = int(rest[0]) if rest[0].lstrip("-").isdigit() else -1
            child = self.register(pid, ppid, rest[1], hooked=True)
            child.hooked = True
            for fd, letter in zip(fds, rest[2]):
                self.attach(child, fd, letter)
                taken.append(fd)
            if ppid not in self.procs:
                self.announce(child, "appear")
            return taken
        proc = self.procs.get(pid) or self.discover(pid)
        proc.last_seq = max(proc.last_seq, seq)
        if kind in (wire.MSG_FORK, wire.MSG_SPAWN) and rest[0].isdigit():
            child = self.register(int(rest[0]), pid, rest[1], hooked=kind == wire.MSG_FORK)
            if kind == wire.MSG_SPAWN:
                for fd, letter in zip(fds, rest[3]):
                    self.attach(child, fd, letter)
                    taken.append(fd)
        proc.queue.append(Pending(seq, needs, kind, rest))
        self.advance(proc)
        return taken

    def _pending(self, proc: Proc, seq: int) -> bool:
        return seq > proc.last_seq or any(q.seq == seq for q in proc.queue)

    def advance(self, proc: Proc) -> None:
        """Emit *proc*'s events whose markers have all been read, and the output between them."""
        if not proc.announced or proc.busy:
            return  # busy: an outer call on this process is already moving it along
        proc.busy = True
        try:
            self._advance(proc)
        finally:
            proc.busy = False

    def _advance(self, proc: Proc) -> None:
        progress = True
        while progress:
            progress = False
            while proc.queue:
                head = proc.queue[0]
                if head.seq and head.needs:
                    got = proc.reached.get(head.seq, "")
                    # a stream closed and fully read can bring no marker any more: do not wait for it
                    live = {_LETTER[s.kind] for s in proc.streams if not (s.closed and not s.raw)}
                    if any(c in live and c not in got for c in head.needs):
                        break
                proc.queue.pop(0)
                proc.reached.pop(head.seq, None)
                self.fire(proc, head)
                progress = True
            for s in list(proc.streams):
                if s.blocked and not self._pending(proc, s.blocked):
                    s.blocked = 0
                if not s.blocked and s.raw and self.consume(proc, s):
                    progress = True
                if s.closed and not s.raw and not s.blocked:
                    rest = relay.finish(s)
                    if rest:
                        self.line(proc, s.kind, rest)
                    proc.streams.remove(s)
                    progress = True
                else:
                    self.set_poll(proc, s)

    def consume(self, proc: Proc, s: relay.Stream) -> bool:
        """Relay *s*'s lines up to its next marker of a pending event; True if it met a marker."""
        hit = False
        while s.raw and not s.blocked:
            lines, seq = relay.consume(s, self.mark)
            for data in lines:
                self.line(proc, s.kind, data)
            if seq is None:
                break
            hit = True
            if self._pending(proc, seq):
                proc.reached[seq] = proc.reached.get(seq, "") + _LETTER[s.kind]
                s.blocked = seq
                s.blocked_since = time.monotonic()
        return hit

    def force(self, proc: Proc, count: int | None = None) -> None:
        """Emit *proc*'s first *count* (all) pending events without waiting for their markers."""
        if proc.busy:
            return  # inside this process's own advance: it emits in order by itself
        n = len(proc.queue) if count is None else count
        proc.busy = True
        try:
            for _ in range(min(n, len(proc.queue))):
                self.fire(proc, proc.queue.pop(0))
        finally:
            proc.busy = False
        self.advance(proc)

    def fire(self, proc: Proc, ev: Pending) -> None:
        f = ev.fields
        if ev.kind in (wire.MSG_FORK, wire.MSG_SPAWN):
            child = self.procs.get(int(f[0]))
            if child is not None and not child.announced:
                self.announce(child, ev.kind, f[2] if ev.kind == wire.MSG_SPAWN else "")
        elif ev.kind == wire.MSG_REAP:
            self.reaped(int(f[0]), int(f[1]), proc.pid)
        elif ev.kind == wire.MSG_REFUSED:
            if f[0].split(" ", 1)[0] in (
                "fork",
                "forkpty",
                "fork_exec",
                "posix_spawn",
                "posix_spawnp",
                "system",
            ):
                self.refusals += 1
                proc.refusals += 1
                if proc.refusals > 3:  # a loop that shrugs refusals off: count them, say it thrice
                    return
            self.emit("refused", proc.pid, proc.name, text=f[0])
        elif ev.kind in (wire.MSG_EXEC, wire.MSG_EXEC_ERROR):
            if ev.kind == wire.MSG_EXEC:
                proc.hooked = False  # until we hear otherwise (the exec may yet fail)
            else:
                proc.hooked = True
            self.emit(ev.kind, proc.pid, proc.name, text=f[0])

    def expire(self, now: float) -> None:
        """Stop waiting for markers and reports that should have come long ago."""
        for proc in list(self.procs.values()):
            if not proc.announced and not self.waiting(proc):
                self.announce_now(proc)
            if proc.queue and now - proc.queue[0].since > EXPIRE:
                self.force(proc, 1)
            for s in proc.streams:
                if s.blocked and now - s.blocked_since > EXPIRE:
                    s.blocked = 0
                    self.advance(proc)

    # -- exits and reaps --------------------------------------------------------------------------

    def exited(self, proc: Proc, status: int) -> None:
        """*proc* has exited: everything it wrote and reported comes out first, then ``exit``."""
        if proc.exited:
            return
        if self.waiting(proc):
            if not any(reaper == 0 for _, reaper in proc.deferred):
                proc.deferred.append((status, 0))
            return
        self.announce_now(proc)
        self.drain(proc)
        self.force(proc)
        proc.exited = True
        proc.status = status
        self.emit("exit", proc.pid, proc.name, status=status)
        for child in list(self.procs.values()):  # its forks it never reported: made up now
            if child.origin == proc.pid and not child.announced:
                self.announce_now(child)

    def check_gone(self, proc: Proc) -> None:
        """Look at an unreaped process in /proc: a zombie has exited, a missing one was reaped.

        A missing one is left alone while its reaper's report is queued (it comes in its order,
        with the status), or for :data:`GRACE` seconds, for a report still on its way."""
        st = read_stat(proc.pid)
        if st is None:
            if any(
                q.kind == wire.MSG_REAP and q.fields[0] == str(proc.pid)
                for p in self.procs.values()
                for q in p.queue
            ):
                return
            now = time.monotonic()
            if not proc.gone_since:
                proc.gone_since = now
            if now - proc.gone_since < GRACE and not self.final:
                return
            self.reaped(proc.pid, -1, -1)
        elif st.state in "ZX":
            proc.ppid = st.ppid
            self.exited(proc, st.exit_code)

    def reaped(self, pid: int, status: int, reaper: int) -> None:
        """*pid* was reaped by *reaper* (-1: by whom we do not know; its last parent)."""
        proc = self.procs.get(pid) or self.register(pid, reaper, None)
        if proc.reaped:
            return
        if self.waiting(proc):
            if not any(r for _, r in proc.deferred):
                proc.deferred.append((status, reaper or -1))
            return
        if not proc.exited:
            self.exited(proc, status)
        if status == -1:
            status = proc.status
        proc.reaped = True
        self.unwatch(proc)
        if pid == self.parent_pid:
            self.parent_status = status
        if reaper == -1:
            reaper = proc.ppid
        if reaper == self.own:
            name = "supervisor"
        else:
            known = self.procs.get(reaper)
            name = known.name if known is not None else "?"
        self.emit("reap", reaper, name, pid, proc.name, status=status)

    def unwatch(self, proc: Proc) -> None:
        """Stop watching *proc* for its exit."""


def _exists(pid: int) -> bool:
    """True while the kernel has the process, zombie or not (a reaped pid is gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
