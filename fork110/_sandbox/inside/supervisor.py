"""The supervisor of a contained run: a fresh interpreter between the caller and the user's code.

Started by the caller (through :class:`fork110.Command`) as ``python -S <this file>``, it reads
its configuration from stdin, then: makes itself a session leader and a child subreaper (so
every orphan of the run is adopted by it, not by init), makes the run's cgroups, forks the run's
first process ("parent", see :mod:`fork110._sandbox.inside.child`) and supervises until the run is over:

* it relays every process's output, line by line, and the events the processes report
  (:mod:`fork110._sandbox.inside.hooks`), as frames on its stdout, in causal order per process;
* it watches each process with a pidfd (exit), reaps whatever it adopts, and finds processes
  started by C code by walking its descendants every ``scan`` seconds;
* the watchdog: at ``timeout`` it records who is still alive and in what state, then kills all;
* the lifeline: end of file on stdin, or its parent changing, means the caller has gone (even
  by SIGKILL): it kills the whole run and exits. A ``KILL`` byte asks for the same.

Killing is ``cgroup.kill`` where there is one, then SIGKILL to every descendant, round after
round, reaping as it goes, until none is left. Only builtin and ``ctypes`` modules are loaded
before the first event is sent: start-up is on the clock.

>>> Supervisor  # doctest: +ELLIPSIS
<class '...Supervisor'>
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__" and "fork110" not in sys.modules:
    # Run by path: make the package importable without executing its __init__ (the Command API
    # and more, which the supervisor does not need), and drop this directory from sys.path.
    del sys.path[0]
    _pkg = type(sys)("fork110")
    _pkg.__path__ = [os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))]
    sys.modules["fork110"] = _pkg

import _socket
import select
import signal
import time

from fork110._proc import state_phrase
from fork110._sandbox.inside import wire
from fork110._sandbox.inside.cgroup import PREFIX, RunCgroup, remove_stale
from fork110._sandbox.inside.procs import (
    descendants,
    kill_until_gone,
    read_cmdline,
    read_stat,
    read_wchan,
    reap_all,
)
from fork110._sandbox.inside.tracker import Proc, Tracker

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import cast

    from fork110._sandbox.inside.wire import Config
else:

    def cast(_type: object, value: object) -> object:
        return value


__all__ = ["Supervisor", "main"]

_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_DUMPABLE = 4
_IN = select.POLLIN | select.POLLHUP | select.POLLERR


_CMSG_ROOM = _socket.CMSG_SPACE(16) + _socket.CMSG_SPACE(12)  # 4 fds, and the sender's ucred
_LISTED = 12  # processes named in a watchdog report; the rest are counted (see survivors)


class Supervisor(Tracker):
    """One run, from set-up to the final ``done`` frame."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        pid = os.getpid()
        self.token = os.urandom(6).hex()
        super().__init__(
            self.token,
            select.poll(),
            int(cfg["max_events"]),
            int(cfg["max_output"]),
            pid,
        )
        self.pid = pid
        self.caller = int(cfg["caller"])
        self.budget = int(cfg["max_processes"])
        self.timeout = float(cfg["timeout"])
        self.scan_every = float(cfg["scan"])
        self.pidfds: dict[int, int] = {}
        self.killing = ""
        self.timed_out = self.caller_gone = self.term = self.kill_asked = False
        self.cgroup: RunCgroup | None = None
        self.mode = "wrapper"
        self.memory = ""  # how max_memory is held: "cgroup", "rlimit" (RLIMIT_AS), "" (not at all)
        self.cpu = ""  # "cgroup" where a CPU quota (one CPU) holds
        self.lock_path = ""
        self.addr = ""
        self.sid = pid
        self.start = time.monotonic()
        self.deadline = self.start + self.timeout
        self.next_scan = self.start
        self.settled = 0.0
        self.receiving = False
        self.sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
        self.wake_r = self.wake_w = -1
        self.namespace = False  # pid 1 of the run's own pid namespace (see .ns)
        self.host_pid = pid  # our pid as the caller sees it
        self.why_shared = ""  # why the run shares the host's namespaces, when it does

    # -- output to the caller ---------------------------------------------------------------------

    def flush(self) -> None:
        while self.out and not self.caller_gone:
            try:
                n = os.write(1, self.out[:262144])
            except BlockingIOError:
                return
            except OSError:  # EPIPE: the caller closed its end
                self.lost_caller()
                return
            del self.out[:n]

    # -- set-up -----------------------------------------------------------------------------------

    def setup(self) -> None:
        try:
            os.setsid()
        except OSError:
            pass
        self.sid = os.getsid(0)
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        # Not dumpable: /proc/<supervisor>/fd (its pipes to the caller), mem and environ are closed
        # to the run's processes (same uid, and no CAP_SYS_PTRACE: the run drops it as root).
        libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        signal.signal(signal.SIGCHLD, self._on_sigchld)  # wakes the poll through the wakeup fd
        signal.signal(signal.SIGIO, signal.SIG_IGN)  # no file owner trick ends the supervisor
        signal.set_wakeup_fd(self.wake_w)
        tag = f"{PREFIX}{self.pid}-{self.ticks(self.pid)}"
        enforce = self.cfg["enforce"]
        if enforce != "none":
            remove_stale()
            self.cgroup = RunCgroup.create(tag, self.budget, limit=enforce == "auto")
        # memory and CPU are limited whatever the budget's enforcement (a cgroup, else rlimits)
        group = self.cgroup if self.cgroup is not None else RunCgroup(None, None)
        max_memory = self.cfg.get("max_memory")
        if max_memory and group.limit_memory(tag, int(max_memory)):
            self.memory = "cgroup"
        elif max_memory:
            self.memory = "rlimit"
        if group.limit_cpu(tag, 1.0):
            self.cpu = "cgroup"
        if enforce != "none":
            group.add_freezer(tag)  # kill: freeze the whole run, kill, thaw
        if self.cgroup is None and group.dirs():
            self.cgroup = group
        if self.cgroup is not None:
            self.cgroup.seal()
        self.cfg["memory_mode"] = self.memory
        self.cfg["host_uid"] = os.geteuid()
        if self.cgroup is not None and self.cgroup.limit_dir is not None:
            self.mode = "cgroup"
        elif os.geteuid() != 0:
            self.mode = "rlimit"
        if self.mode != "cgroup":
            base = "/dev/shm" if os.path.isdir("/dev/shm") else "/tmp"
            self.lock_path = f"{base}/{tag}.lock"
            os.close(os.open(self.lock_path, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600))
        self.addr = f"\0{tag}"
        self.sock.bind(self.addr)
        self.sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_RCVBUF, 1 << 20)
        # The kernel attaches the true sender's pid to every datagram: reports are checked with it.
        self.sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_PASSCRED, 1)
        self.sock.setblocking(False)
        os.set_blocking(1, False)
        for fd in (0, self.sock.fileno(), self.wake_r):
            self.poller.register(fd, _IN)  # type: ignore[union-attr]

    def enter_namespace(self) -> None:
        """Become pid 1 of the run's own pid (and mount, and user) namespace, where the kernel
        allows it; the process that called this stays behind as a stub and never returns from
        here. Otherwise (or when the caller asked for none) carry on in the host's namespaces."""
        if not self.cfg.get("namespaces", False):
            self.why_shared = "not asked for (FORK110_SANDBOX_NAMESPACES=0)"
            return
        from fork110._sandbox.inside import ns

        child = ns.enter()
        if child < 0:
            self.why_shared = "the kernel refused new namespaces"
            return
        if child > 0:
            _stub(child, self)
        host = ns.become_init()
        if host < 0:
            os.write(2, b"fork110 supervisor: could not mount the run's own /proc\n")
            os._exit(71)
        self.namespace = True
        self.host_pid = host
        self.pid = self.own = os.getpid()  # 1
        try:
            os.setsid()
        except OSError:
            pass
        self.sid = os.getsid(0)
        self.cfg["in_namespace"] = True

    def _on_signal(self, signum: int, frame: object) -> None:
        self.term = True

    def _on_sigchld(self, signum: int, frame: object) -> None:
        pass

    # -- the first process ------------------------------------------------------------------------

    def start_parent(self) -> int:
        """Fork the run's first process; in the child this never returns (it raises SystemExit)."""
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        go_r, go_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            from fork110._sandbox.inside import child

            self.sock.detach()  # its fd is closed with the others; the object must not own it
            if self.cfg["mode"] == "program":
                child.become_program(self.cfg, out_w, err_w, go_r, self.wake_w)
            run = (self.addr, self.mode != "cgroup", self.lock_path, self.pid, self.sid, self.token)
            child.become_parent(self.cfg, out_w, err_w, go_r, self.wake_w, run)
            os._exit(125)  # not reached
        os.close(out_w)
        os.close(err_w)
        os.close(go_r)
        self.parent_pid = pid
        info = {
            "supervisor": self.pid,
            "sid": self.sid,
            "parent": pid,
            "mode": self.mode,
            "cgroups": self.cgroup.dirs() if self.cgroup is not None else [],
            "lock": self.lock_path,
            "namespace": self.namespace,
            "host": self.host_pid,
            "shared": self.why_shared,
        }
        self.emit("info", self.pid, "supervisor", extra=info)
        proc = self.register(pid, self.pid, "parent", hooked=self.cfg["mode"] == "python")
        argv = self.cfg["argv"]
        text = " ".join(map(str, argv)) if self.cfg["mode"] == "program" else str(self.cfg["title"])
        self.emit("start", pid, proc.name, pid, proc.name, text=text, extra=self.ticks(pid))
        self.flush()
        if self.cgroup is not None:  # while the child imports: it waits for "go" to run anything
            self.cgroup.join(pid)
        try:
            os.write(go_w, b"g")
        except OSError:
            pass
        os.close(go_w)
        self.forks += 1
        self.attach(proc, out_r, "o")
        self.attach(proc, err_r, "e")
        self.announce(proc)
        if self.kill_asked:
            self.kill_run("killed")
        return pid

    def watch(self, proc: Proc) -> None:
        try:
            proc.pidfd = os.pidfd_open(proc.pid)
        except OSError:
            proc.scan_only = True  # gone already (or no pidfds): the scan will see to it
        else:
            self.pidfds[proc.pidfd] = proc.pid
            self.poller.register(proc.pidfd, select.POLLIN)  # type: ignore[union-attr]

    def unwatch(self, proc: Proc) -> None:
        if proc.pidfd != -1:
            del self.pidfds[proc.pidfd]
            self.poller.unregister(proc.pidfd)  # type: ignore[union-attr]
            os.close(proc.pidfd)
            proc.pidfd = -1

    # -- events from the run ----------------------------------------------------------------------

    def receive(self, limit: int = 512) -> None:
        if self.receiving:
            return
        self.receiving = True
        try:
            for _ in range(limit):
                try:
                    data, anc, _flags, _addr = self.sock.recvmsg(
                        65536, _CMSG_ROOM, _socket.MSG_CMSG_CLOEXEC
                    )
                except (BlockingIOError, InterruptedError):
                    return
                fds: list[int] = []
                sender = 0
                for level, typ, payload in anc:
                    if level != _socket.SOL_SOCKET:
                        continue
                    if typ == _socket.SCM_RIGHTS:
                        usable = len(payload) - len(payload) % 4
                        fds.extend(
                            int.from_bytes(payload[i : i + 4], sys.byteorder, signed=True)
                            for i in range(0, usable, 4)
                        )
                    elif typ == _socket.SCM_CREDENTIALS and len(payload) >= 4:
                        sender = int.from_bytes(payload[:4], sys.byteorder, signed=True)
                taken: list[int] = []
                try:
                    taken = self.handle(data, fds, sender)
                finally:
                    for fd in fds:
                        if fd not in taken:
                            os.close(fd)
        finally:
            self.receiving = False

    def read_stream(self, fd: int) -> None:
        self.receive()  # what a process reported before writing comes before its marker
        if fd in self.streams:
            super().read_stream(fd)

    def on_pidfd(self, fd: int) -> None:
        pid = self.pidfds[fd]
        proc = self.procs[pid]
        self.unwatch(proc)
        self.receive()  # a reap report may be waiting: it carries the status
        if proc.exited:
            return
        st = read_stat(pid)
        if st is None or st.state in "ZX":
            self.check_gone(proc)
        else:  # a leader gone while its threads live on: watch it by scanning
            proc.scan_only = True

    def member(self, pid: int) -> bool:
        """Is *pid* one of the run's processes now? Below the supervisor (its chain of parents
        reaches it), in the run's own session, or in the run's cgroup. Checked at the moment of
        acting on a pid that came from the run, never taken on trust."""
        if pid <= 0 or pid == self.pid:
            return False
        p = pid
        for _ in range(4096):
            st = read_stat(p)
            if st is None:
                break
            if st.ppid == self.pid or (self.sid == self.pid and st.sid == self.sid):
                return True
            if st.ppid <= 1:
                break
            p = st.ppid
        return self.cgroup is not None and pid in self.cgroup.procs()

    def vouch(self, pid: int) -> bool:
        """As :meth:`Tracker.vouch`; in the run's own pid namespace a pid not allocated there yet
        (above ``ns_last_pid``) is no process of the run, gone or not: a pid from outside."""
        if self.namespace and pid > _last_pid() and pid not in self.procs:
            return False
        return super().vouch(pid)

    def reap(self) -> None:
        for pid, status in reap_all():
            self.reaped(pid, status, self.pid)

    # -- scanning, watchdog, killing --------------------------------------------------------------

    def alive(self) -> set[int]:
        found = descendants(self.pid)
        if self.cgroup is not None:
            found |= self.cgroup.procs()
        found.discard(self.pid)
        return found

    def scan(self) -> set[int]:
        alive = self.alive()
        for pid in sorted(alive):
            if pid not in self.procs:
                self.discover(pid)
        for proc in list(self.procs.values()):
            if not proc.reaped and (proc.scan_only or proc.exited or proc.pid not in alive):
                self.check_gone(proc)
        self.peak = max(self.peak, len(alive))
        self.expire(time.monotonic())
        # in every mode: a process can slip past the enforcement (forks the fork wrapper did not see,
        # or, as root, a process that moved itself out of the run's cgroup), never past this count
        if len(alive) > self.budget and not self.killing:
            self.emit(
                "note",
                self.pid,
                "supervisor",
                text=f"{len(alive)} processes, over the budget of {self.budget} (forks its "
                "enforcement did not see): killing the run",
            )
            self.kill_run("over budget")
        return alive

    def watchdog(self) -> None:
        alive = self.scan()
        survivors = []
        words = []
        for pid in sorted(alive):
            st = read_stat(pid)
            proc = self.procs.get(pid)
            if st is None or proc is None:
                continue
            wchan = read_wchan(pid)
            survivors.append(
                (
                    pid,
                    st.ppid,
                    proc.name,
                    st.state,
                    wchan,
                    read_cmdline(pid),
                    st.threads,
                    st.pgrp,
                    st.sid,
                )
            )
            how = state_phrase(st.state)
            where = f" in {wchan}" if wchan and st.state in "SD" else ""
            words.append(f"{proc.name} ({how}{where})")
        self.timed_out = True
        shown = (
            words
            if len(words) <= _LISTED
            else [*words[:_LISTED], f"and {len(words) - _LISTED} more"]
        )
        text = f"timed out after {self.timeout:g} s; still alive: {', '.join(shown) or 'none'}"
        self.emit("watchdog", self.pid, "supervisor", text=text, extra=survivors)
        self.kill_run("timeout")

    def kill_run(self, reason: str) -> None:
        if self.killing:
            return
        self.killing = reason
        cg = self.cgroup
        count, reaped = kill_until_gone(
            self.alive,
            deadline=time.monotonic() + 0.9,
            reap=True,
            cgroup_kill=cg.kill if cg else None,
        )
        self.receive()
        for proc in list(self.procs.values()):
            self.drain(proc)
        plural = "es" if count != 1 else ""
        self.emit("kill", self.pid, "supervisor", text=f"{reason}: killed {count} process{plural}")
        for pid, status in reaped:
            self.reaped(pid, status, self.pid)

    def lost_caller(self) -> None:
        """The caller died (its end of a pipe closed, or we were adopted): kill, drop output."""
        if not self.caller_gone:
            self.caller_gone = True
            self.out.clear()
            self.kill_run("caller gone")

    # -- the loop ---------------------------------------------------------------------------------

    def finished(self, now: float) -> bool:
        """True when no process of the run is left and their pipes are drained."""
        if any(not p.reaped for p in self.procs.values()) or self.alive():
            self.settled = 0.0
            return False
        self.receive()  # late reports from the dead (a hello may still carry pipes)
        for proc in list(self.procs.values()):
            self.drain(proc)  # every writer is gone: the pipes reach end of file now
        if any(not p.reaped for p in self.procs.values()):
            return False
        if not self.settled:
            self.settled = now + 0.5
        return not self.streams or now > self.settled

    def run(self) -> None:
        poller = self.poller
        assert poller is not None
        while True:
            now = time.monotonic()
            self.flush()
            if self.term:
                self.term = False
                self.kill_run("supervisor signalled")
            if not self.namespace and os.getppid() != self.caller:
                self.lost_caller()  # (pid 1 of a namespace dies with its stub: PR_SET_PDEATHSIG)
            if not self.killing and now >= self.deadline:
                self.watchdog()
            if now >= self.next_scan:
                self.scan()
                self.next_scan = now + self.scan_every
            if self.finished(now):
                break
            wait = min(self.next_scan, self.deadline if not self.killing else now + 0.05) - now
            writing = bool(self.out) and not self.caller_gone
            if writing:
                poller.register(1, select.POLLOUT)
            ready = poller.poll(max(0.0, min(wait, 0.05)) * 1000 + 1)
            if writing:
                poller.unregister(1)
            for fd, mask in sorted(ready, key=self._order):
                self.dispatch(fd, mask)
            self.reap()
        self.finish()

    def _order(self, item: tuple[int, int]) -> int:
        """The socket first (reports precede markers), pidfds last (exits follow output)."""
        fd = item[0]
        return 0 if fd == self.sock.fileno() else 2 if fd in self.pidfds else 1

    def dispatch(self, fd: int, mask: int) -> None:
        if fd == 1:
            if mask & (select.POLLERR | select.POLLHUP):
                self.lost_caller()
            else:
                self.flush()
        elif fd == 0:
            try:
                data = os.read(0, 4096)
            except OSError:
                data = b""
            if not data:  # the lifeline: the caller closed it, or died; it may still read
                self.poller.unregister(0)  # type: ignore[union-attr]
                self.kill_run("caller gone")
            elif wire.KILL in data:
                self.kill_run("killed")
        elif fd == self.wake_r:
            try:
                os.read(fd, 4096)
            except OSError:
                pass
        elif fd == self.sock.fileno():
            self.receive()
        elif fd in self.pidfds:
            self.on_pidfd(fd)
        elif fd in self.streams:
            self.read_stream(fd)

    def finish(self) -> None:
        self.final = True
        self.receive()
        for proc in list(self.procs.values()):
            self.announce_now(proc)
            self.drain(proc)
            self.force(proc)
        left = self.alive()
        if left:  # cannot happen short of a kernel refusing SIGKILL; say so rather than hide it
            self.kill_run("left over")
            left = self.alive()
        refusals = max(self.refusals, self.cgroup.refusals() if self.cgroup else 0)
        oom = self.cgroup.oom_kills() if self.cgroup else 0
        if oom:
            limit = int(self.cfg.get("max_memory") or 0)
            self.emit(
                "note",
                self.pid,
                "supervisor",
                text=f"out of memory: the kernel killed {oom} process{'es' if oom != 1 else ''} "
                f"of the run, over its memory limit of {_size(limit)} (max_memory)",
            )
        removed = self.cgroup.remove(time.monotonic() + 0.5) if self.cgroup else True
        if self.lock_path:
            try:
                os.unlink(self.lock_path)
            except OSError:
                pass
        if self.dropped:
            text = f"{self.dropped} more events were dropped (limit {self.max_events})"
            self.emit("note", self.pid, "supervisor", text=text)
        summary = {
            "status": self.parent_status,
            "timed_out": self.timed_out,
            "killed": self.killing,
            "peak": self.peak,
            "refusals": refusals,
            "forks": self.forks,
            "left": len(left),
            "cgroups_removed": removed,
            "mode": self.mode,
            "dropped": self.dropped,
            "truncated": self.truncated,
            "oom_kills": oom,
            "memory": self.memory,
            "cpu": self.cpu,
            "namespace": self.namespace,
        }
        self.emit("done", self.pid, "supervisor", extra=summary)
        # Hand over what is left, but do not outlive the run by more than a moment for a caller
        # that does not read (it may be blocked, or gone without our noticing yet).
        deadline = time.monotonic() + 2.0
        out = select.poll()
        out.register(1, select.POLLOUT)
        while self.out and not self.caller_gone and time.monotonic() < deadline:
            if out.poll(max(0.0, deadline - time.monotonic()) * 1000):
                self.flush()


def _stub(child: int, sup: Supervisor) -> None:
    """What stays behind in the host's namespaces: wait for pid 1 and leave with its status.
    Killing this process kills pid 1 (its parent-death signal), hence the whole namespace."""
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.set_wakeup_fd(-1)
    sup.sock.close()
    for fd in (sup.wake_r, sup.wake_w):
        os.close(fd)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)  # the lifeline and the event pipe are pid 1's alone
    os.dup2(null, 1)
    os.close(null)
    while True:
        try:
            _pid, status = os.waitpid(child, 0)
        except ChildProcessError:
            os._exit(0)
        if os.WIFEXITED(status):
            os._exit(os.WEXITSTATUS(status))
        if os.WIFSIGNALED(status):
            os._exit(128 + os.WTERMSIG(status))


def _size(n: int) -> str:
    """Bytes in words: ``512 MiB``."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):g} {unit}"
    return f"{n} bytes"


def _last_pid() -> int:
    """The last pid this pid namespace gave (a pid namespace counts from 1 up)."""
    try:
        with open("/proc/sys/kernel/ns_last_pid", "rb") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 1 << 22  # (unknown: no pid is ruled out)


def read_ppid(pid: int) -> int:
    st = read_stat(pid)
    return -1 if st is None else st.ppid


def read_config(fd: int = 0) -> tuple[Config, bool]:
    """Read the configuration frame the caller writes first on our stdin; (config, kill asked).

    Read no further than the frame (what follows are command bytes for the loop), into a buffer
    of the frame's size: linear in the size of the configuration (a 100 MiB ``stdin`` included).
    """
    head = b""
    while len(head) < 4:
        data = os.read(fd, 4 - len(head))
        if not data:
            raise SystemExit("fork110 supervisor: no configuration on stdin")
        head += data
    size = int.from_bytes(head, "big")
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = os.readv(fd, [view[got:]])
        if not n:
            raise SystemExit("fork110 supervisor: the configuration was cut short")
        got += n
    view.release()
    try:
        cfg = wire.Unframer(size + 4).feed(head + buf)[0]
    except (wire.FrameError, IndexError):
        cfg = None
    if not isinstance(cfg, dict):
        raise SystemExit("fork110 supervisor: bad configuration")
    keep = int(cfg.get("stdin_file", -1))  # large input: the caller's memfd, inherited
    try:
        if keep >= 3:
            os.lseek(keep, 0, os.SEEK_SET)
    except OSError as exc:
        raise SystemExit(f"fork110 supervisor: the run's stdin is not there: {exc}") from None
    if keep >= 3:
        os.closerange(3, keep)
        os.closerange(keep + 1, 1 << 20)
    else:
        os.closerange(3, 1 << 20)
        cfg["stdin_file"] = -1
    return cast("Config", cfg), False


def main() -> None:
    """Supervise one run, configured through stdin; exits when the run is over."""
    cfg, kill = read_config()  # then nothing the caller let us inherit stays open here
    sup = Supervisor(cfg)
    sup.kill_asked = kill
    sup.setup()
    sup.enter_namespace()
    sup.start_parent()  # the child goes on to run the user's code and never comes back here
    try:
        sup.run()
    except BaseException:  # a bug of ours: say so, and still leave nothing behind
        import traceback

        os.write(2, traceback.format_exc().encode("utf-8", "replace"))
        cg = sup.cgroup
        kill_until_gone(
            sup.alive,
            deadline=time.monotonic() + 0.9,
            reap=True,
            cgroup_kill=cg.kill if cg else None,
        )
        if cg is not None:
            cg.remove(time.monotonic() + 0.5)
        if sup.lock_path:
            try:
                os.unlink(sup.lock_path)
            except OSError:
                pass
        os._exit(70)
    os._exit(0)


if __name__ == "__main__":
    main()
