"""ptrace from Python (ctypes) and :class:`Inferior`, a traced child with a debugger's states.

The machinery behind the ptrace demo (:mod:`fork110.demos.ptrace`, which re-exports these names):
``PTRACE_TRACEME`` for a ``pre_exec`` hook, the instruction pointer of a stopped tracee, and
``Inferior`` with the states ``Stopped``/``Exited``/``Signaled`` of the CS110L debugger project.
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

__all__ = [
    "Exited",
    "Inferior",
    "Signaled",
    "Status",
    "Stopped",
    "mapped_file",
    "ptrace_available",
    "read_ip",
    "traceme",
]


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
