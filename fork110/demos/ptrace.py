"""Demo 9 · ``pre_exec`` and ptrace: how a debugger starts the program it debugs.

The slide's Rust ``cmd.pre_exec(f)`` runs ``f`` in the child between fork and exec. A debugger's
``f`` calls ``ptrace(PTRACE_TRACEME)``: the exec then stops the child with SIGTRAP before the new
program runs one instruction, the parent's ``waitpid`` sees the stop, the tree shows the child in
state ``t`` (tracing stop), and the parent lets it go with ``PTRACE_CONT``. :class:`Inferior` wraps
those steps with the states ``Stopped``/``Exited``/``Signaled`` of the CS110L debugger project
(deet). Where ptrace is not permitted (some containers), the run says so.

>>> _doctest_setup()  # skips this example where ptrace is not permitted
>>> r = run()
>>> r.facts["signal"], r.facts["state"], "t" in r.facts["tree_states"], r.facts["exit_code"]
('SIGTRAP', 't (tracing stop)', True, 0)
>>> run(fixed=True).facts["inferior"]  # doctest: +ELLIPSIS
['Stopped(signal=5, ip=0x...)', 'Exited(code=0)']
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import platform
import re
import signal
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from fork110 import Child, Command, ThreadedForkWarning, sandbox
from fork110._stdio import StdioLike
from fork110.sandbox import ContainedRun

from ._base import Demo, DemoResult, Facts, Variant
from ._c import C_SOURCES

__all__ = [
    "DEMO",
    "PYTHON",
    "PYTHON_FIXED",
    "PYTHON_INFERIOR",
    "SLIDE",
    "Exited",
    "Inferior",
    "Signaled",
    "Status",
    "Stopped",
    "mapped_file",
    "ptrace_available",
    "read_ip",
    "run",
    "traceme",
]

SLIDE = C_SOURCES["ptrace"].slide
"""The snippet as on the slide (Rust's ``pre_exec``)."""

# -- ptrace through ctypes --------------------------------------------------------------------------

PTRACE_TRACEME, PTRACE_CONT, PTRACE_GETREGS = 0, 7, 12
PTRACE_SETOPTIONS, PTRACE_GETREGSET = 0x4200, 0x4204
PTRACE_O_EXITKILL = 0x100000
NT_PRSTATUS = 1


class _UserRegsX86_64(ctypes.Structure):  # struct user_regs_struct, <sys/user.h> on x86_64
    _fields_ = [
        (name, ctypes.c_ulonglong)
        for name in (
            "r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags "
            "rsp ss fs_base gs_base ds es fs gs"
        ).split()
    ]


class _UserPtRegsArm64(ctypes.Structure):  # struct user_pt_regs, <asm/ptrace.h> on aarch64
    _fields_ = [
        ("regs", ctypes.c_ulonglong * 31),
        ("sp", ctypes.c_ulonglong),
        ("pc", ctypes.c_ulonglong),
        ("pstate", ctypes.c_ulonglong),
    ]


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def _load_ptrace() -> Any:
    try:
        fn = ctypes.CDLL(None, use_errno=True).ptrace
    except (AttributeError, OSError):
        return None
    fn.restype = ctypes.c_long
    fn.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    return fn


# looked up at import, in the parent: a dlsym in a forked child of a threaded process could hang
_LIBC_PTRACE = _load_ptrace()


def _ptrace(request: int, pid: int, addr: int | None = None, data: int | None = None) -> int:
    if _LIBC_PTRACE is None:
        raise OSError(errno.ENOSYS, "ptrace is not available here")
    result: int = _LIBC_PTRACE(request, pid, addr, data)
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def traceme() -> None:
    """Ask to be traced by the parent (``PTRACE_TRACEME``): the function to give ``pre_exec``.

    Raises OSError (EPERM where ptrace is not permitted), which fails the spawn with that errno.

    >>> _doctest_setup()  # quiets pytest's threaded-fork warning; skips where ptrace is forbidden
    >>> with Inferior.spawn(["true"]) as inf:  # spawn uses Command(...).pre_exec(traceme)
    ...     inf.status
    Stopped(signal=5, ip=...)
    """
    _ptrace(PTRACE_TRACEME, 0)


def read_ip(pid: int) -> int | None:
    """The instruction pointer of the stopped tracee ``pid`` (rip on x86_64, pc on aarch64).

    None on other machines; OSError if ``pid`` is not a tracee of this process in a stop.

    >>> _doctest_setup()
    >>> with Inferior.spawn(["true"]) as inf:
    ...     ip = read_ip(inf.pid)
    >>> ip is None or ip > 0
    True
    """
    if ctypes.sizeof(ctypes.c_void_p) != 8:
        return None
    machine = platform.machine()
    if machine == "x86_64":
        x86 = _UserRegsX86_64()
        _ptrace(PTRACE_GETREGS, pid, None, ctypes.addressof(x86))
        return int(x86.rip)
    if machine in ("aarch64", "arm64"):
        arm = _UserPtRegsArm64()
        iov = _Iovec(ctypes.addressof(arm), ctypes.sizeof(arm))
        _ptrace(PTRACE_GETREGSET, pid, NT_PRSTATUS, ctypes.addressof(iov))
        return int(arm.pc)
    return None


def mapped_file(pid: int, address: int) -> str | None:
    """The file mapped at ``address`` in process ``pid`` (from ``/proc/<pid>/maps``), if any.

    >>> import ctypes
    >>> "libc" in (mapped_file(os.getpid(), ctypes.cast(ctypes.CDLL(None).getpid, ctypes.c_void_p).value) or "")
    True
    """
    try:
        with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                span, _, rest = line.partition(" ")
                lo, _, hi = span.partition("-")
                if int(lo, 16) <= address < int(hi, 16):
                    slash = rest.find("/")
                    return rest[slash:].rstrip("\n") if slash != -1 else None
    except (OSError, ValueError):
        pass
    return None


def _proc_state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith("State:"):
                    return line[6:].strip()
    except OSError:
        pass
    return ""


def _signame(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


# -- the inferior: a traced child and its states ------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Stopped:
    """The inferior is stopped (by ``signal``; SIGTRAP at exec), at instruction pointer ``ip``.

    >>> s = Stopped(signal.SIGTRAP, 0x401000)
    >>> s, str(s)
    (Stopped(signal=5, ip=0x401000), 'stopped by SIGTRAP at 0x401000')
    """

    signal: int
    ip: int | None

    def __repr__(self) -> str:
        ip = "None" if self.ip is None else f"0x{self.ip:x}"
        return f"Stopped(signal={int(self.signal)}, ip={ip})"

    def __str__(self) -> str:
        at = "(ip unavailable)" if self.ip is None else f"at 0x{self.ip:x}"
        return f"stopped by {_signame(self.signal)} {at}"


@dataclass(frozen=True)
class Exited:
    """The inferior exited with status ``code``.

    >>> Exited(0), str(Exited(3))
    (Exited(code=0), 'exited with status 3')
    """

    code: int

    def __str__(self) -> str:
        return f"exited with status {self.code}"


@dataclass(frozen=True)
class Signaled:
    """The inferior was killed by ``signal``.

    >>> Signaled(9), str(Signaled(9))
    (Signaled(signal=9), 'killed by SIGKILL')
    """

    signal: int

    def __str__(self) -> str:
        return f"killed by {_signame(self.signal)}"


Status = Stopped | Exited | Signaled
"""What :meth:`Inferior.wait` returns: as deet's ``Status`` enum."""


class Inferior:
    """A program run under ptrace, as a debugger runs it (CS110L's deet ``Inferior``, in Python).

    :meth:`spawn` starts it with ``Command(...).pre_exec(traceme)`` and returns it stopped at exec;
    :meth:`cont` lets it run, :meth:`wait` says what it did next (:class:`Stopped`,
    :class:`Exited`, :class:`Signaled`), :meth:`kill` ends it. As a context manager it kills and
    reaps whatever is left. It uses ``waitpid`` itself, not :meth:`fork110.Child.wait`: a tracer's
    waitpid reports the tracee's stops too, which Child.wait would take for the end.

    >>> _doctest_setup()
    >>> with Inferior.spawn(["sh", "-c", "exit 3"]) as inf:
    ...     print(inf.status)
    ...     inf.cont()
    ...     inf.wait()
    stopped by SIGTRAP at 0x...
    Exited(code=3)
    """

    pid: int
    """The inferior's process id."""
    child: Child
    """The :class:`fork110.Child` behind it (for its pipes, when spawned with ``Stdio.piped()``)."""
    status: Status | None
    """What the last :meth:`wait` returned."""

    def __init__(self, child: Child) -> None:
        self.child = child
        self.pid = child.id()
        self.status = None
        self._stopped = False  # in a stop we already reported: only cont() or kill() may follow

    @classmethod
    def spawn(
        cls,
        argv: Sequence[str],
        *,
        stdin: StdioLike | None = None,
        stdout: StdioLike | None = None,
        stderr: StdioLike | None = None,
    ) -> Inferior:
        """Start ``argv`` traced and wait until its exec stops it; return it stopped there.

        Raises PermissionError where ptrace is not permitted (the pre_exec hook's errno), and
        RuntimeError if the child did not stop at exec. The inferior is killed if its tracer
        (this process) dies (``PTRACE_O_EXITKILL``).

        >>> _doctest_setup()
        >>> with Inferior.spawn(["echo", "hi"]) as inf:
        ...     inf.status.signal == signal.SIGTRAP, inf.state()
        (True, 't (tracing stop)')
        """
        if isinstance(argv, (str, bytes)) or not argv:
            raise TypeError("argv must be a non-empty sequence: the program, then its arguments")
        cmd = Command(argv[0]).args(argv[1:]).pre_exec(traceme)
        for name, cfg in (("stdin", stdin), ("stdout", stdout), ("stderr", stderr)):
            if cfg is not None:
                getattr(cmd, name)(cfg)
        inferior = cls(cmd.spawn())
        try:
            first = inferior.wait()
            if not (isinstance(first, Stopped) and first.signal == signal.SIGTRAP):
                raise RuntimeError(f"{argv[0]} did not stop at exec: it {first}")
            _ptrace(PTRACE_SETOPTIONS, inferior.pid, None, PTRACE_O_EXITKILL)
        except BaseException:
            inferior.kill()
            raise
        return inferior

    def wait(self) -> Status:
        """Wait until the inferior stops or ends; an ended one returns its final status again.

        >>> _doctest_setup()
        >>> with Inferior.spawn(["sh", "-c", "kill -SEGV $$"]) as inf:
        ...     inf.cont(); print(inf.wait())                 # the signal stops it first
        ...     inf.cont(signal.SIGSEGV); print(inf.wait())   # delivered: it dies of it
        stopped by SIGSEGV at 0x...
        killed by SIGSEGV
        """
        if self.status is not None and not isinstance(self.status, Stopped):
            return self.status
        if self._stopped:
            raise RuntimeError(
                f"inferior {self.pid} is already {self.status}; cont() it before waiting again"
            )
        return self._wait()

    def _wait(self) -> Status:
        status: Status
        info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOWAIT)  # a look, no reaping
        if info is not None and info.si_code in (os.CLD_TRAPPED, os.CLD_STOPPED):
            _, raw = os.waitpid(self.pid, 0)  # consume the stop
            try:
                ip = read_ip(self.pid)
            except OSError:
                ip = None
            status, self._stopped = Stopped(os.WSTOPSIG(raw), ip), True
        else:
            final = self.child.wait()  # the end: the Child reaps it and keeps its status
            code = final.code()
            status = Exited(code) if code is not None else Signaled(final.signal() or 0)
            self._stopped = False
        self.status = status
        return status

    def cont(self, signal: int = 0) -> None:
        """Let the stopped inferior run on (``PTRACE_CONT``), delivering ``signal`` if not 0.

        >>> _doctest_setup()
        >>> with Inferior.spawn(["true"]) as inf:
        ...     inf.cont(); inf.wait()
        Exited(code=0)
        """
        if self.status is not None and not isinstance(self.status, Stopped):
            raise ProcessLookupError(f"inferior {self.pid} has {self.status}: it cannot continue")
        _ptrace(PTRACE_CONT, self.pid, None, signal)
        self._stopped = False

    def kill(self) -> Status:
        """Kill the inferior (SIGKILL) and reap it; return its final status (no-op once ended).

        >>> _doctest_setup()
        >>> inf = Inferior.spawn(["sleep", "10"])
        >>> inf.kill(), inf.kill()
        (Signaled(signal=9), Signaled(signal=9))
        """
        if self.status is None or isinstance(self.status, Stopped):
            self.child.kill()
            status = self._wait()
            while isinstance(status, Stopped):  # a stop reported before the kill landed
                status = self._wait()
        assert self.status is not None
        return self.status

    def state(self) -> str:
        """Its state as ``/proc/<pid>/status`` says (``'t (tracing stop)'``); ``''`` once reaped.

        >>> _doctest_setup()
        >>> with Inferior.spawn(["true"]) as inf:
        ...     inf.state()
        't (tracing stop)'
        >>> inf.state()
        ''
        """
        if self.status is not None and not isinstance(self.status, Stopped):
            return ""
        return _proc_state(self.pid)

    def __enter__(self) -> Inferior:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kill()
        self.child.__exit__(None, None, None)  # closes its pipes; the status is already known

    def __repr__(self) -> str:
        return f"<Inferior pid={self.pid} {self.status or 'running'}>"


# -- is ptrace permitted here? ----------------------------------------------------------------------

_PROBE = """\
import os, sys
from fork110.demos.ptrace import Inferior
try:
    inferior = Inferior.spawn(["true"])
except PermissionError as e:
    print("denied:", os.strerror(e.errno or 0))
    sys.exit(2)
with inferior:
    inferior.cont()
    print("ok:", inferior.wait())
"""


def _yama_scope() -> int | None:
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope", encoding="ascii") as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


@functools.lru_cache(maxsize=1)
def ptrace_available() -> tuple[bool, str]:
    """Can a child ask to be traced here? ``(True, how it went)`` or ``(False, why not)``.

    A tiny contained check (cached): ``Inferior.spawn(["true"])``, continue, wait.

    >>> ok, why = ptrace_available()
    >>> ok == why.startswith("ptrace works here")
    True
    """
    if not sys.platform.startswith("linux"):
        return False, f"ptrace is not available here: this demo needs Linux, not {sys.platform}"
    probe = sandbox.run(_PROBE, max_processes=4, timeout=10.0)
    if probe.status.success() and "ok: exited with status 0" in probe.stdout:
        return (
            True,
            "ptrace works here: PTRACE_TRACEME stopped `true` at exec and PTRACE_CONT let it exit",
        )
    denied = re.search(r"^denied: (.+)$", probe.stdout, re.M)
    if denied:
        yama = _yama_scope()
        hint = f"Yama ptrace_scope is {yama}" if yama is not None else "no Yama"
        return False, (
            f"ptrace is not permitted here: PTRACE_TRACEME failed ({denied.group(1)}); "
            f"a container's seccomp profile or Yama ptrace_scope=3 forbids it ({hint})"
        )
    last = (probe.stderr.strip().splitlines() or [str(probe.status)])[-1]
    return False, f"ptrace could not be checked here: {last}"


def _doctest_setup() -> None:
    """For this module's examples: quiet pytest's threaded-fork warning, skip without ptrace."""
    warnings.simplefilter("ignore", ThreadedForkWarning)
    ok, why = ptrace_available()
    if not ok and "pytest" in sys.modules:
        import pytest

        pytest.skip(why)


# -- the demo ----------------------------------------------------------------------------------------

PYTHON = """\
import ctypes, os, signal, sys, time
from fork110 import Command
from fork110.demos.ptrace import mapped_file, read_ip  # added: registers are a ctypes struct per CPU

PTRACE_TRACEME, PTRACE_CONT, PTRACE_SETOPTIONS, PTRACE_O_EXITKILL = 0, 7, 0x4200, 0x100000
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]

def traceme():                                     # function_to_run: runs in the child before exec
    if libc.ptrace(PTRACE_TRACEME, 0, None, None) == -1:
        err = ctypes.get_errno()
        os.write(2, f"child {os.getpid()}: ptrace(PTRACE_TRACEME): {os.strerror(err)}\\n".encode())
        raise OSError(err, os.strerror(err))       # fails the spawn: the parent gets this errno

cmd = Command("echo").arg("hello from the traced child")     # let cmd = Command::new(...)
cmd.pre_exec(traceme)                                        # unsafe { cmd.pre_exec(function_to_run) }
try:
    child = cmd.spawn()                                      # let child = cmd.spawn()
except PermissionError:
    print("ptrace is not permitted here (PTRACE_TRACEME failed; common in containers)")
    sys.exit(2)
except OSError as e:                                         # the fork itself failed
    print(f"fork: {e.strerror}", file=sys.stderr)
    sys.exit(1)

pid, status = os.waitpid(child.id(), 0)   # the stop (child.wait() would take it for the end)
if not os.WIFSTOPPED(status) or os.WSTOPSIG(status) != signal.SIGTRAP:
    print(f"parent: unexpected status 0x{status:x} from child {pid}")
    sys.exit(1)
libc.ptrace(PTRACE_SETOPTIONS, pid, None, PTRACE_O_EXITKILL)  # it dies with us
print(f"parent: child {pid} stopped by SIGTRAP at exec")
with open(f"/proc/{pid}/status") as f:
    for line in f:
        if line.startswith("State:"):
            print(f"parent: child {pid} state {line[6:].strip()}")
ip = read_ip(pid)
if ip is None:
    print("parent: ip unavailable on this machine")
else:
    print(f"parent: instruction pointer 0x{ip:x} (stopped before echo's first instruction)")
    if (where := mapped_file(pid, ip)) is not None:
        print(f"parent: the ip is in {where}")
time.sleep(0.3)                           # added: hold the stop so the tree (sampled every 50 ms) shows t
libc.ptrace(PTRACE_CONT, pid, None, None)
status = child.wait()                     # no stop left to report: Child.wait() reaps the exit
if status.code() is not None:
    print(f"parent: child {pid} exited with status {status.code()}")
else:
    print(f"parent: child {pid} ended with status 0x{status.into_raw():x}")
"""
"""The slide's pattern in Python, doing what ptrace.c does (the added lines say so)."""

PYTHON_INFERIOR = """\
import os, signal, sys, time
from fork110.demos.ptrace import Exited, Inferior, mapped_file

try:
    inferior = Inferior.spawn(["echo", "hello from the traced child"])  # stopped at exec
except PermissionError as e:
    print(f"child: ptrace(PTRACE_TRACEME): {os.strerror(e.errno)}", file=sys.stderr)
    print("ptrace is not permitted here (PTRACE_TRACEME failed; common in containers)")
    sys.exit(2)
except OSError as e:
    print(f"fork: {e.strerror}", file=sys.stderr)
    sys.exit(1)
with inferior:                            # leaving the block kills and reaps it, whatever happened
    pid, stop = inferior.pid, inferior.status
    print(f"parent: spawn() -> {stop!r}")
    print(f"parent: child {pid} stopped by {signal.Signals(stop.signal).name} at exec")
    print(f"parent: child {pid} state {inferior.state()}")
    if stop.ip is None:
        print("parent: ip unavailable on this machine")
    else:
        print(f"parent: instruction pointer 0x{stop.ip:x} (stopped before echo's first instruction)")
        if (where := mapped_file(pid, stop.ip)) is not None:
            print(f"parent: the ip is in {where}")
    time.sleep(0.3)                       # hold the stop so the tree (sampled every 50 ms) shows t
    inferior.cont()
    status = inferior.wait()
    print(f"parent: wait() -> {status!r}")
    if isinstance(status, Exited):
        print(f"parent: child {pid} exited with status {status.code}")
    else:
        print(f"parent: child {pid} ended with status {status}")
"""
"""The same with :class:`Inferior`: states instead of raw wait statuses, and nothing left behind."""

PYTHON_FIXED = PYTHON_INFERIOR
"""What ``run(fixed=True)`` runs: the :class:`Inferior` version."""

_STOP = re.compile(r"^parent: child (\d+) stopped by (\w+) at exec$", re.M)
_STATE = re.compile(r"^parent: child \d+ state (.+)$", re.M)
_IP = re.compile(r"^parent: instruction pointer 0x([0-9a-f]+)", re.M)
_IP_FILE = re.compile(r"^parent: the ip is in (.+)$", re.M)
_EXITED = re.compile(r"^parent: child \d+ exited with status (\d+)$", re.M)
_ENDED = re.compile(r"^parent: child \d+ ended with status (.+)$", re.M)
_UNEXPECTED = re.compile(r"^parent: unexpected status (0x[0-9a-f]+)", re.M)
_INFERIOR = re.compile(r"^parent: (?:spawn|wait)\(\) -> (.+)$", re.M)
_TRACEME_ERROR = re.compile(r"ptrace\(PTRACE_TRACEME\): (.+)$", re.M)
_ECHO = "hello from the traced child"


def observe(run: ContainedRun, variant: Variant) -> Facts:
    """Facts from one run, from the lines both versions print and the tree sampled meanwhile."""
    out, err = run.stdout, run.stderr
    stop = _STOP.search(out)
    pid = int(stop.group(1)) if stop else None
    states: list[str] = []
    name = None
    for snap in run.snapshots:
        for p in snap:
            if p.pid == pid or (
                pid is None and p.name != "parent" and p.command.startswith("echo")
            ):
                name = p.name
                if not states or states[-1] != p.state:
                    states.append(p.state)
    ip, ip_file = _IP.search(out), _IP_FILE.search(out)
    exited, ended = _EXITED.search(out), _ENDED.search(out)
    unexpected, denied = _UNEXPECTED.search(out), _TRACEME_ERROR.search(out + err)
    start = next((e.detail for e in run.events if e.kind == "start"), "")
    return {
        "language": "python" if start.endswith("<contained>") else "c",
        "stopped": stop is not None,
        "signal": stop.group(2) if stop else None,
        "child_pid": pid,
        "child": name,
        "state": (m.group(1) if (m := _STATE.search(out)) else None),
        "tree_states": states,
        "ip": int(ip.group(1), 16) if ip else None,
        "ip_file": ip_file.group(1) if ip_file else None,
        "ip_unavailable": "ip unavailable" in out,
        "machine": platform.machine(),
        "echoed": _ECHO in out,
        "exit_code": int(exited.group(1)) if exited else None,
        "ended": ended.group(1) if ended else None,
        "unexpected": unexpected.group(1) if unexpected else None,
        "inferior": _INFERIOR.findall(out),
        "not_permitted": "ptrace is not permitted here" in out,
        "traceme_error": denied.group(1).strip() if denied else None,
        "yama": _yama_scope(),
        "refused": max(run.refusals, err.count("Resource temporarily unavailable")),
        "budget": run.max_processes,
        "status": str(run.status),
        "timed_out": run.timed_out,
        "timeout": run.timeout,
        "left": run.leaked,
    }


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 'es' if word.endswith('s') else 's'}"


def explain(facts: Facts, variant: Variant) -> str:
    """What the facts of a run say, in plain words."""
    inferior = variant.key == "inferior"
    if facts["not_permitted"]:
        why = facts["traceme_error"] or "an error"
        how = (
            "the pre_exec function's OSError came back from spawn() in the parent as a "
            "PermissionError with the same errno, as Rust's spawn() returns it"
            if facts["language"] == "python"
            else "the child exited before exec and the parent said so"
        )
        yama = facts["yama"]
        where = (
            f"Yama's ptrace_scope is {yama} here" if yama is not None else "there is no Yama here"
        )
        return (
            f"ptrace is not permitted here: PTRACE_TRACEME failed in the child with '{why}', so "
            f"the child never ran traced ({how}). Nothing stopped at exec and nothing could be "
            f"continued. Usual causes: a container's seccomp profile or Yama's ptrace_scope=3 "
            f"({where}); outside such a sandbox, or with ptrace allowed, the demo runs."
        )
    if facts["refused"] and not facts["stopped"]:
        return (
            f"The run's budget of {_plural(facts['budget'], 'process')} left no room for a child: "
            "the fork was refused with EAGAIN ('Resource temporarily unavailable'), so there was "
            "nothing to trace. Give the run a budget of at least 2 processes."
        )
    if not facts["stopped"]:
        parts = ["The child was never seen stopped at exec."]
        if facts["unexpected"]:
            parts.append(
                f"waitpid returned the status {facts['unexpected']} instead of a SIGTRAP stop."
            )
        if facts["timed_out"]:
            parts.append(f"The watchdog ended the run after {facts['timeout']:g} s.")
        else:
            parts.append(f"The parent ended with {facts['status']}.")
        return " ".join(parts)
    pid, sig = facts["child_pid"], facts["signal"]
    if facts["language"] == "c":
        hook = "The child called ptrace(PTRACE_TRACEME) between fork and exec (a pre_exec function's job)"
    else:
        hook = (
            "Inferior.spawn's" if inferior else "The"
        ) + " pre_exec function called ptrace(PTRACE_TRACEME) in the child between fork and exec"
    parts = [
        f"{hook}, so its exec of echo stopped it with {sig} before echo ran an instruction: the "
        f"parent's waitpid reported child {pid} stopped, not exited."
    ]
    seen = facts["state"]
    tree = " → ".join(facts["tree_states"])
    if "t" in facts["tree_states"]:
        parts.append(
            f"/proc gave its state as '{seen}', and the tree sampled meanwhile shows "
            f"{facts['child']} in state t, a tracing stop (its samples: {tree})."
        )
    elif seen:
        parts.append(
            f"/proc gave its state as '{seen}'; no sample of the tree caught it in that stop"
            + (f" (the samples show {tree})." if tree else ".")
        )
    if facts["ip"] is not None:
        where = ""
        if facts["ip_file"]:
            base = os.path.basename(facts["ip_file"])
            loader = base.startswith("ld-") or base.startswith("ld.so")
            where = f", inside {facts['ip_file']}" + (
                ": the dynamic loader, which runs before echo's own code" if loader else ""
            )
        parts.append(f"Its instruction pointer was 0x{facts['ip']:x}{where}.")
    elif facts["ip_unavailable"]:
        parts.append(f"Its instruction pointer cannot be read this way on {facts['machine']}.")
    said = f", it printed '{_ECHO}'" if facts["echoed"] else ""
    if facts["exit_code"] is not None:
        parts.append(
            f"The parent let it go with PTRACE_CONT{said} and it exited with status "
            f"{facts['exit_code']}."
        )
    elif facts["ended"]:
        parts.append(
            f"The parent let it go with PTRACE_CONT{said}; it ended with status {facts['ended']}."
        )
    elif facts["timed_out"]:
        parts.append(
            f"It was not seen to exit: the watchdog ended the run after {facts['timeout']:g} s "
            "and killed what was left."
        )
    if inferior and facts["inferior"]:
        parts.append(
            "Inferior gave these steps a debugger's states: "
            + ", then ".join(facts["inferior"])
            + " (deet's "
            + ", ".join(dict.fromkeys(f"Status::{s.partition('(')[0]}" for s in facts["inferior"]))
            + ")."
        )
    return " ".join(parts)


DEMO = Demo(
    name="ptrace",
    title="pre_exec and ptrace: the child stops at exec, the parent continues it",
    slide=SLIDE,
    variants={
        "broken": Variant(
            "broken", "as on the slide: PTRACE_TRACEME in pre_exec, raw waitpid", PYTHON, c="ptrace"
        ),
        "inferior": Variant(
            "inferior",
            "the same through Inferior: Stopped, Exited, Signaled",
            PYTHON_INFERIOR,
        ),
    },
    observe=observe,
    explain=explain,
    limits={"max_processes": 4, "timeout": 5.0},
    lesson="pre_exec runs code in the child before exec: PTRACE_TRACEME there is how a debugger starts.",
)


def run(fixed: bool | str = False, **limits: Any) -> DemoResult:
    """Run the demo contained: ``fixed=True`` for the :class:`Inferior` version, ``language="c"``
    for ptrace.c.

    >>> _doctest_setup()
    >>> print(run().explanation)  # doctest: +ELLIPSIS
    The pre_exec function called ptrace(PTRACE_TRACEME) in the child ... it exited with status 0.
    """
    return DEMO.run(fixed, **limits)
