"""Becoming a contained run's first process ("parent"): limits, fds, a title, then the user's code.

The supervisor forks once, while it is a fresh single-threaded interpreter; the child calls
:func:`become_parent`, which, before any user code runs:

1. leaves the supervisor's process group for its own (so ``kill(0, ...)`` in the run cannot reach
   the supervisor); the supervisor moves it into the run's cgroups (the kernel's fork budget)
   meanwhile (a first migration waits for an RCU grace period: milliseconds, spent in parallel
   with the imports below), and says "go" on a pipe, which is awaited before any user code;
2. where the user is not root, sets RLIMIT_NPROC (what the user already runs plus the budget);
3. installs a seccomp filter that makes ``kill(-1, ...)``, and signals to the supervisor and to
   the caller, fail with EPERM, for every descendant and every program they exec (as root,
   ``kill(-1, SIGKILL)`` would take down the machine);
4. puts /dev/null (or the run's ``stdin`` text) on stdin and its relay pipes on stdout and stderr, closes every other fd;
5. retitles itself (``ps`` shows ``python <contained>``, not the supervisor's command line);
6. runs the code as ``python -c`` would, with the caller's ``sys.path``: uncaught exceptions are
   printed and exit 1, ``sys.exit`` works, atexit handlers and non-daemon threads are honoured.

>>> callable(become_parent)
True
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import struct
import sys
from types import TracebackType

from fork110._sandbox.inside import hooks

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fork110._sandbox.inside.wire import Config

__all__ = ["become_parent", "become_program", "protect", "set_title"]

_HERE = os.path.dirname(os.path.abspath(__file__))  # our frames, hidden from tracebacks

_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
# For the little-endian machines we know: (audit arch, numbers of kill, tkill, tgkill,
# rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_send_signal)
_ARCH = {
    "x86_64": (0xC000003E, 62, 200, 234, 129, 297, 424),
    "aarch64": (0xC00000B7, 129, 130, 131, 138, 240, 424),
}
_PR_SET_DUMPABLE = 4
_PR_CAPBSET_DROP = 24
_CAP_VERSION_3 = 0x20080522
# CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_SYS_PTRACE
_DROPPED_CAPS = (0, 1, 2, 3, 19)
# the same for (ptrace, prlimit64, process_vm_readv, process_vm_writev, fcntl, ioctl)
_ARCH_MORE = {
    "x86_64": (101, 302, 310, 311, 72, 16),
    "aarch64": (117, 261, 270, 271, 25, 29),
}
_F_SETOWN, _F_SETOWN_EX = 8, 15
_FIOSETOWN, _SIOCSPGRP = 0x8901, 0x8902
# pids and tids named in the filter: a BPF jump reaches at most 255 instructions ahead
_MAX_PROTECTED = 48


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _assemble(program: list[tuple[str, int, str, str]]) -> bytes:
    """Classic BPF from ``(op, k, label if true, label if false)``; a leading ``name:`` labels an op."""
    ops = {"ld": 0x20, "jeq": 0x15, "ret": 0x06}  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_RET|K
    labels = {op.partition(":")[0]: i for i, (op, *_rest) in enumerate(program) if ":" in op}
    out = []
    for i, (op, k, if_true, if_false) in enumerate(program):
        name = op.rpartition(":")[2]
        jt = labels[if_true] - i - 1 if if_true else 0
        jf = labels[if_false] - i - 1 if if_false else 0
        out.append(struct.pack("=HBBI", ops[name], jt, jf, k & 0xFFFFFFFF))
    return b"".join(out)


def protect(pids: tuple[int, ...], groups: tuple[int, ...]) -> bool:
    """Install a seccomp filter, inherited by every descendant and kept across exec, that makes
    these fail with EPERM whatever language the code is in:

    * ``kill(-1)``; ``kill`` (and ``rt_sigqueueinfo``) of any of *pids* (the supervisor, the caller
      and their threads) or of any process group in *groups*; ``tkill``/``tgkill``/
      ``rt_tgsigqueueinfo`` of *pids*; every ``pidfd_send_signal``;
    * ``ptrace`` (attach, seize, ...), ``prlimit`` and ``process_vm_readv``/``writev`` on *pids*;
    * making *pids* or *groups* the owner of a file (``fcntl(F_SETOWN)``), which would have the
      kernel send them SIGIO; ``F_SETOWN_EX``, ``FIOSETOWN`` and ``SIOCSPGRP`` (whose target the
      filter cannot read) are refused outright.

    As root, ``kill(-1, SIGKILL)`` would take the whole machine down; C code could kill, stop or
    cripple the notebook kernel or the supervisor by pid. Other pids stay reachable from C code
    (only a pid namespace could hide them), and so do threads the caller starts later; Python
    code is held to the run's own processes by :mod:`fork110._sandbox.inside.hooks`. Returns False where
    no filter could be installed (another architecture, no seccomp).

    >>> callable(protect)
    True
    """
    arch = _ARCH.get(os.uname().machine)
    if arch is None or sys.byteorder != "little":
        return False
    audit, nr_kill, nr_tkill, nr_tgkill, nr_sigqueue, nr_tgsigqueue, nr_pidfd_signal = arch
    nr_ptrace, nr_prlimit, nr_vm_read, nr_vm_write, nr_fcntl, nr_ioctl = _ARCH_MORE[
        os.uname().machine
    ]
    pids = pids[:_MAX_PROTECTED]
    groups = groups[:8]
    allow, deny = 0x7FFF0000, 0x00050000 | errno.EPERM
    arg = [16, 24, 32]  # the low halves of args[0], args[1], args[2]

    def section(name: str, offset: int, targets: list[int]) -> list[tuple[str, int, str, str]]:
        """Load an argument; deny if it is one of *targets* (a local deny: jumps are short)."""
        ops = [(f"{name}:ld", offset, "", "")]
        ops += [("jeq", t, f"{name}_deny", "") for t in targets]
        return [*ops, ("ret", allow, "", ""), (f"{name}_deny:ret", deny, "", "")]

    program: list[tuple[str, int, str, str]] = [
        ("ld", 4, "", ""),  # the architecture
        ("jeq", audit, "", "allow"),
        ("ld", 0, "", ""),  # the system call
        ("jeq", nr_pidfd_signal, "deny", ""),  # its target is an fd, which no filter can check
        ("jeq", nr_kill, "kill", ""),
        ("jeq", nr_sigqueue, "kill", ""),  # rt_sigqueueinfo(tgid, ...): a kill with data
        ("jeq", nr_tkill, "first", ""),
        ("jeq", nr_tgsigqueue, "first", ""),  # rt_tgsigqueueinfo(tgid, tid, ...)
        ("jeq", nr_tgkill, "first", ""),
        ("jeq", nr_prlimit, "first", ""),  # prlimit64(pid, ...)
        ("jeq", nr_vm_read, "first", ""),
        ("jeq", nr_vm_write, "first", ""),
        ("jeq", nr_ptrace, "second", ""),  # ptrace(request, pid, ...)
        ("jeq", nr_fcntl, "fcntl", ""),
        ("jeq", nr_ioctl, "ioctl", "allow"),
        ("fcntl:ld", arg[1], "", ""),
        ("jeq", _F_SETOWN_EX, "deny", ""),
        ("jeq", _F_SETOWN, "owner", "allow"),
        ("ioctl:ld", arg[1], "", ""),
        ("jeq", _FIOSETOWN, "deny", ""),
        ("jeq", _SIOCSPGRP, "deny", "allow"),
    ]
    program += section("kill", arg[0], [-1, *pids, *(-g for g in groups)])
    program += section("first", arg[0], list(pids))
    program += section("second", arg[1], list(pids))
    program += section("owner", arg[2], [*pids, *(-g for g in groups)])
    program += [("deny:ret", deny, "", ""), ("allow:ret", allow, "", "")]
    code = _assemble(program)
    buf = ctypes.create_string_buffer(code, len(code))
    prog = struct.pack("@HP", len(program), ctypes.addressof(buf))  # struct sock_fprog
    prog_buf = ctypes.create_string_buffer(prog, len(prog))
    prctl = _libc().prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    if prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(prog_buf), 0, 0) == 0:
        return True
    if ctypes.get_errno() != errno.EACCES:
        return False
    # Without CAP_SYS_ADMIN a filter needs no_new_privs (setuid programs then gain nothing).
    if prctl(_PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0:
        return False
    return bool(prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(prog_buf), 0, 0) == 0)


def drop_caps() -> bool:
    """As root, give up for good (effective, permitted, inheritable, and the bounding set, so no
    program exec'd later gets them back) the capabilities that reach past the run:
    CAP_SYS_PTRACE (the non-dumpable supervisor's ``/proc/PID/fd``, its pipes to the caller),
    CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER and CAP_CHOWN (the run's cgroup files,
    which the supervisor gives to another owner: ``pids.max`` and the memory limit stay as set).
    True if done (or not root).

    >>> callable(drop_caps)
    True
    """
    if os.geteuid() != 0:
        return True
    libc = _libc()
    for cap in _DROPPED_CAPS:
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            return False
    header = struct.pack("=Ii", _CAP_VERSION_3, 0)
    data = ctypes.create_string_buffer(24)
    if libc.capget(header, data) != 0:
        return False
    words = list(struct.unpack("=6I", data.raw))  # (effective, permitted, inheritable) x 2
    for cap in _DROPPED_CAPS:
        for i in range(3):
            words[i + 3 * (cap // 32)] &= ~(1 << (cap % 32))
    new = ctypes.create_string_buffer(struct.pack("=6I", *words), 24)
    return bool(libc.capset(header, new) == 0)


def set_title(title: str) -> bool:
    """Make ``/proc/self/cmdline`` (what ``ps`` shows) read *title*, as setproctitle does.

    The original argument strings are overwritten in place (CPython copied them at start-up),
    so the title can be no longer than the command line was. Returns False if it cannot.

    >>> callable(set_title)
    True
    """
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rpartition(b")")[2].split()
        start, end = int(fields[45]), int(fields[46])
    except (OSError, IndexError, ValueError):
        return False
    size = end - start
    data = title.encode("utf-8", "replace")[: max(size - 2, 0)]
    if not data or size < 2:
        return False
    # A NUL after the title, and a last byte that is not NUL: the kernel then shows the title only.
    buf = data + b"\0" + b" " * (size - len(data) - 1)
    ctypes.memmove(start, buf, size)
    return True


def _limit_nproc(budget: int) -> None:
    """Where we are not root: RLIMIT_NPROC = the user's tasks now + the budget (soft and hard)."""
    import resource

    uid = os.getuid()
    used = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    used += len(os.listdir(f"/proc/{name}/task"))
            except OSError:
                pass
    _soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
    want = used + budget
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NPROC, (want, want))
    except (OSError, ValueError):
        pass


def _stdin_fd(data: bytes | None) -> int:
    """/dev/null, or an in-memory file holding ``data`` (read as if typed, then end of file)."""
    if data is None:
        return os.open(os.devnull, os.O_RDONLY)
    fd = os.memfd_create("fork110-stdin")
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _stdio(
    out_w: int, err_w: int, keep: int, stdin: bytes | None = None, stdin_file: int = -1
) -> None:
    null = stdin_file if stdin_file >= 0 else _stdin_fd(stdin)
    for fd, target in ((null, 0), (out_w, 1), (err_w, 2)):
        if fd != target:
            os.dup2(fd, target)
    for fd in {null, out_w, err_w}:
        if fd > 2:
            os.close(fd)
    if keep >= 0:
        os.closerange(3, keep)
        os.closerange(keep + 1, 1 << 20)
    else:
        os.closerange(3, 1 << 20)


def _text_streams(line_buffered: bool) -> None:
    """New sys.stdout/sys.stderr on fds 1 and 2: stdout line- or block-buffered as asked (whatever
    PYTHONUNBUFFERED says), stderr line-buffered, as Python makes them for a terminal or a pipe."""
    import io

    for name, fd, line in (("stdout", 1, line_buffered), ("stderr", 2, True)):
        old = getattr(sys, name)
        raw = io.FileIO(fd, "w", closefd=False)
        stream = io.TextIOWrapper(
            io.BufferedWriter(raw),
            encoding=getattr(old, "encoding", None) or "utf-8",
            errors=getattr(old, "errors", None) or "strict",
            line_buffering=line,
        )
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def _wait_go(go_fd: int) -> None:
    """Block until the supervisor has put us in the run's cgroups; leave if it is gone."""
    try:
        ok = os.read(go_fd, 1) == b"g"
    except OSError:
        ok = False
    os.close(go_fd)
    if not ok:
        os._exit(125)


def _tids(pid: int) -> list[int]:
    """The thread ids of *pid* now (threads it starts later are not known to the filter)."""
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task") if int(t) != pid]
    except OSError:
        return []


def _prepare(cfg: Config, out_w: int, err_w: int, go_fd: int, wake_fd: int) -> None:
    """Everything common to Python and program runs, up to (not including) running anything."""
    os.setpgid(0, 0)
    host_root = int(cfg.get("host_uid", os.geteuid())) == 0  # (set before any user namespace)
    in_namespace = bool(cfg.get("in_namespace"))
    if in_namespace:  # hide the kernel's files and cgroups, then give up every host capability
        from fork110._sandbox.inside import ns

        failed = ns.seal_run(
            [str(d) for d in cfg.get("hide", [])], [str(p) for p in cfg.get("share", [])]
        )
        if failed:
            os.write(2, f"fork110: could not seal the run's namespaces: {failed}\n".encode())
            os._exit(125)
    _libc().prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0)  # the supervisor is not dumpable; we may be
    if not drop_caps():
        os.write(2, b"fork110: could not drop the capabilities that reach past the run\n")
        os._exit(125)
    budget = int(cfg["max_processes"])
    if not host_root:  # (root in the run's user namespace is still this user to the kernel)
        _limit_nproc(budget)
    max_memory = cfg.get("max_memory")
    if max_memory and cfg.get("memory_mode") == "rlimit":  # no memory cgroup: per process
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (int(max_memory), int(max_memory)))
    supervisor, caller = os.getppid(), cfg["caller"]
    groups = {supervisor}
    protected = [supervisor, *_tids(supervisor)]
    if not in_namespace:  # (in the run's own pid namespace the caller has no pid at all)
        try:
            groups.add(os.getpgid(caller))
        except OSError:
            pass
        # kill(tid) of any thread signals its whole process: name every thread of the caller (a
        # notebook kernel runs several) and of the supervisor, besides their pids
        protected += [caller, *_tids(caller)]
    protect(tuple(dict.fromkeys(protected)), tuple(sorted(groups)))
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD, signal.SIGIO):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if wake_fd >= 0:
        signal.set_wakeup_fd(-1)
    _stdio(out_w, err_w, go_fd, cfg.get("stdin"), int(cfg.get("stdin_file", -1)))
    set_title(str(cfg["title"]))


def become_program(cfg: Config, out_w: int, err_w: int, go_fd: int, wake_fd: int) -> None:
    """Exec ``cfg["argv"]`` as the run's parent (a program run); never returns.

    >>> callable(become_program)
    True
    """
    code = 127
    try:
        _prepare(cfg, out_w, err_w, go_fd, wake_fd)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # as subprocess does for the programs it runs
        argv = [str(a) for a in cfg["argv"]]
        _wait_go(go_fd)
        os.execvp(argv[0], argv)
    except OSError as exc:
        code = 126 if exc.errno in (errno.EACCES, errno.ENOEXEC) else 127
        os.write(2, f"fork110: cannot run {cfg['argv'][0]!r}: {exc.strerror}\n".encode())
    except BaseException:
        pass
    os._exit(code)


def become_parent(
    cfg: Config,
    out_w: int,
    err_w: int,
    go_fd: int,
    wake_fd: int,
    run: tuple[str, bool, str, int, int, str],
) -> None:
    """Turn this freshly forked supervisor into the run's parent and run the user's code.

    *run* is ``(socket address, count forks ourselves, lock path, supervisor pid, session id,
    marker token)``.
    Returns only by raising SystemExit (the interpreter then finishes as ``python -c`` would).

    >>> callable(become_parent)
    True
    """
    try:
        _prepare(cfg, out_w, err_w, go_fd, wake_fd)
        for name in [n for n in sys.modules if n == "fork110" or n.startswith("fork110.")]:
            del sys.modules[
                name
            ]  # the supervisor's stub package: let `import fork110` load the real one
        import site

        site.main()
        sys.path[:] = [str(p) for p in cfg["path"]]
        main = type(sys)("__main__")
        sys.modules["__main__"] = main
        sys.argv[:] = ["-c"]
        _text_streams(cfg["line_buffered"])
        addr, check, lock_path, supervisor, sid, token = run
        budget = int(cfg["max_processes"])
        hooks.install(
            hooks.RunState(addr, "parent", budget, check, lock_path, supervisor, sid, token)
        )
        import atexit

        atexit.register(_die_by_sigint)  # the first registered runs last, after the user's own
        source, filename = str(cfg["code"]), str(cfg["filename"])
        import linecache

        lines = source.splitlines(keepends=True)
        linecache.cache[filename] = (len(source), None, lines, filename)
        code = compile(source, filename, "exec")
        _wait_go(go_fd)
    except BaseException as exc:  # our set-up failed: say so and leave as a failed run
        try:
            os.write(2, f"fork110: the contained run could not start: {exc!r}\n".encode())
        finally:
            os._exit(125)
    global _interrupted
    try:
        exec(code, main.__dict__)
    except SystemExit:
        raise
    except KeyboardInterrupt as exc:
        _report(exc)
        _interrupted = True
        raise SystemExit(130) from None
    except BaseException as exc:
        _report(exc)
        raise SystemExit(1) from None
    raise SystemExit(0)


_interrupted = False


def _report(exc: BaseException) -> None:
    """Print an uncaught exception as the interpreter would, showing only the user's frames: neither
    the runner above the user's code nor the fork wrapper a refused fork was raised in."""
    exc = exc.with_traceback(_user_frames(exc.__traceback__))
    if sys.excepthook is sys.__excepthook__:
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__)  # shows the lines (linecache)
    else:
        sys.excepthook(type(exc), exc, exc.__traceback__)


def _user_frames(tb: TracebackType | None) -> TracebackType | None:
    """The traceback without the frames of fork110's own sandbox modules."""
    kept: list[TracebackType] = []
    while tb is not None:
        if os.path.dirname(tb.tb_frame.f_code.co_filename) != _HERE:
            kept.append(tb)
        tb = tb.tb_next
    new: TracebackType | None = None
    for entry in reversed(kept):
        new = TracebackType(new, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return new


def _die_by_sigint() -> None:
    """Exit by SIGINT after an uncaught KeyboardInterrupt, as the interpreter itself does."""
    if not _interrupted:
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)
