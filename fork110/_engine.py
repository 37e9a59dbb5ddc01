"""The spawn engine: the one place that asks the OS to start a program.

Two engines, one behaviour (:func:`engine` says which is in use):

* **fast**: CPython's own C engine (``_posixsubprocess.fork_exec``, the one ``subprocess`` uses),
  which starts the child with ``vfork`` + ``execve`` when no Python code has to run in the child, so
  a spawn costs what the standard library's does and stays flat however much memory the parent
  holds. Its arguments are private and positional: their layout per Python version is in
  :mod:`fork110._layouts`, checked once at first use.
* **portable**: public APIs only, for a Python whose layout is not known (or
  ``FORK110_ENGINE=portable``): ``os.posix_spawn`` (also vfork-based in glibc) when it can express
  the request, else ``os.fork`` and the same child steps in Python.

Python code runs in the child (``pre_exec`` hooks) only on a fork path, as in Rust and CPython.

Failures in the child come back through an error pipe (errno and the step that failed) and are raised
here as the matching ``OSError`` subclass; the failed child is reaped before the error is raised.
"""

from __future__ import annotations

import _posixsubprocess
import errno
import fcntl
import os
import select
import signal
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal

from . import _layouts
from ._errors import PreExecError, os_error

__all__ = ["DEFAULT_PATH", "Hooks", "engine", "fork_exec", "make_pipe", "read_both", "resolve"]

DEFAULT_PATH = b"/bin:/usr/bin"  # what execvp uses when the child's environment has no PATH
_fork_exec: Any = _posixsubprocess.fork_exec  # typeshed's stub lags the real signature
_F_SETPIPE_SZ = fcntl.F_SETPIPE_SZ
_BIG_PIPE = 1 << 20
_ID_ERRORS = (errno.EPERM, errno.EINVAL)
_CHDIR = "current_dir"  # the name of the internal hook that changes directory after the ids

Hooks = Sequence[Callable[[], object]]


def make_pipe() -> tuple[int, int]:
    """A close-on-exec pipe whose ends are never fds 0-2 (the child's stdio slots).

    >>> r, w = make_pipe(); r > 2 and w > 2
    True
    >>> os.close(r); os.close(w)
    """
    r, w = os.pipe()
    if r > 2 and w > 2:
        return r, w
    return _above_stdio(r), _above_stdio(w)


def _above_stdio(fd: int) -> int:
    if fd > 2:
        return fd
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    os.close(fd)
    return new


def resolve(program: bytes, path: bytes | None) -> tuple[bytes, ...]:
    """The candidate files to exec for ``program``, in order, with execvp's PATH semantics.

    A name with a slash is used as is; a bare name is tried in each PATH directory (an empty entry is
    the current directory); ``path=None`` means the child has no PATH, so the default is searched.

    >>> resolve(b"./run.sh", b"/usr/bin")
    (b'./run.sh',)
    >>> resolve(b"ls", b"/usr/local/bin::/bin")
    (b'/usr/local/bin/ls', b'./ls', b'/bin/ls')
    >>> resolve(b"ls", None)
    (b'/bin/ls', b'/usr/bin/ls')
    """
    if b"/" in program:
        return (program,)
    dirs = (DEFAULT_PATH if path is None else path).split(b":")
    return tuple((d or b".") + b"/" + program for d in dirs)


def fork_exec(
    argv: list[bytes],
    executables: tuple[bytes, ...],
    cwd: bytes | None,
    env: list[bytes] | None,
    stdin: int,
    stdout: int,
    stderr: int,
    *,
    pgid: int = -1,
    uid: int | None = None,
    gid: int | None = None,
    groups: list[int] | None = None,
    hooks: Hooks = (),
    hook_names: Sequence[str] = (),
) -> int:
    """Start ``argv`` and return its pid; or raise the OSError for what failed (the child is reaped).

    ``stdin/stdout/stderr`` are the fds the child gets (-1: inherit). ``hooks`` run in the child, in
    order, after the cwd and ids are set and before exec. The child starts with an empty signal mask
    and SIGPIPE/SIGXFSZ at their defaults, as in Rust. Which engine starts it is :func:`engine`'s
    choice; both behave the same.

    >>> pid = fork_exec([b"true"], (b"/bin/true",), None, None, -1, -1, -1)
    >>> os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    0
    >>> fork_exec([b"x"], (b"/nonexistent/x",), None, None, -1, -1, -1)
    Traceback (most recent call last):
    ...
    FileNotFoundError: [Errno 2] No such file or directory (the program): '/nonexistent/x'
    """
    fast = engine() == "fast"
    hooks, hook_names = list(hooks), list(hook_names)
    run_dir = cwd  # where a relative program path is looked up, even when the chdir becomes a hook
    if cwd is not None and (uid is not None or gid is not None or groups is not None):
        # Rust sets the ids first and then changes directory, as the new user; CPython's engine does
        # it the other way round, so do the chdir from the child, after the ids (the fork path)
        new_dir = cwd
        hooks.insert(0, lambda: os.chdir(new_dir))
        hook_names.insert(0, _CHDIR)
        cwd = None
    simple = not hooks and cwd is None and uid is None and gid is None and groups is None
    if fast and _blocked_signals():
        # CPython's vfork path hands the child the parent's signal mask; Rust empties it. Only a
        # parent that blocks something pays: posix_spawn (vfork in glibc) empties it where it can
        # express the request; otherwise a hook on the fork path does
        if simple:
            return _posix_spawn(argv, executables, env, (stdin, stdout, stderr), pgid, ())
        hooks.insert(0, _empty_sigmask)
        hook_names.insert(0, "the signal mask reset")
    if fast and pgid != -1 and "pgid_to_set" not in _layout():  # 3.10: no pgid argument
        hooks.insert(0, lambda: os.setpgid(0, pgid))
        hook_names.insert(0, "process_group")
    if uid is not None and groups is None and os.getuid() == 0:
        groups = []  # as Rust: root dropping to another uid also drops its supplementary groups
    settings = [n for n, v in (("process_group", pgid != -1), ("uid", uid is not None),
                               ("gid", gid is not None), ("groups", groups is not None)) if v]  # fmt: skip
    if not fast and simple:
        return _posix_spawn(argv, executables, env, (stdin, stdout, stderr), pgid, settings)
    fds: list[int] = []
    try:
        err_r, err_w = make_pipe()
        fds += (err_r, err_w)
        report_r = report_w = -1
        preexec: Callable[[], None] | None = None
        if hooks:
            report_r, report_w = make_pipe()
            fds += (report_r, report_w)
            preexec = _child_runner(hooks, hook_names, report_w)
        if fast:
            values = {
                "args": argv, "executable_list": executables, "close_fds": False, "pass_fds": (),
                "cwd": cwd, "env": env, "p2cread": stdin, "p2cwrite": -1, "c2pread": -1,
                "c2pwrite": stdout, "errread": -1, "errwrite": stderr, "errpipe_read": err_r,
                "errpipe_write": err_w, "restore_signals": True, "call_setsid": False,
                "pgid_to_set": pgid, "gid": gid, "extra_groups": groups, "uid": uid,
                "child_umask": -1, "preexec_fn": preexec, "allow_vfork": True,
            }  # fmt: skip
            pid: int = _fork_exec(*[values[name] for name in _layout()])
        else:
            pid = _fork_child(argv, executables, cwd, env, (stdin, stdout, stderr), pgid,
                              uid, gid, groups, preexec, err_w)  # fmt: skip
        for fd in (err_w, report_w):  # the child has its copies; EOF on err_r now means exec'd
            if fd != -1:
                fds.remove(fd)
                os.close(fd)
        try:
            data = _read_all(err_r)
            report = _read_all(report_r) if data and report_r != -1 else b""
        except BaseException:  # interrupted while the child sets up: it must not outlive us unseen
            _kill_and_reap(pid)
            raise
        if data:
            _reap(pid)  # the child failed before or at exec and exits 255: reap it now
            raise _child_error(data, report, executables, cwd, settings, run_dir)
        return pid
    finally:
        for fd in fds:
            os.close(fd)


# -- choosing the engine ------------------------------------------------------------------------

_chosen: list[str] = []  # the engine, decided at first use


def engine() -> Literal["fast", "portable"]:
    """The engine this process spawns with: ``"fast"`` (CPython's C ``fork_exec``, vfork + exec) or
    ``"portable"`` (public APIs only: ``os.posix_spawn``, or ``os.fork`` + exec when Python code or a
    setting posix_spawn cannot express must run in the child).

    The fast engine is used when this Python's ``fork_exec`` layout is known
    (:mod:`fork110._layouts`) and the function really takes that many arguments (checked once, at
    first use, without starting anything); otherwise the portable one. ``FORK110_ENGINE=portable``
    (or ``fast``) in the environment forces the choice.

    >>> engine() in ("fast", "portable")
    True
    """
    if not _chosen:
        forced = os.environ.get("FORK110_ENGINE", "")
        if forced not in ("", "fast", "portable"):
            raise ValueError(f"FORK110_ENGINE={forced!r}: expected 'fast' or 'portable'")
        _chosen.append(forced or ("fast" if _signature_ok() else "portable"))
    return "fast" if _chosen[0] == "fast" else "portable"


def _layout() -> tuple[str, ...]:
    names = _layouts.layout()
    if names is None:
        raise RuntimeError(f"no fork_exec layout is known for Python {sys.version.split()[0]}")
    return names


def _signature_ok() -> bool:
    """Does this Python's ``fork_exec`` take the arguments the table says? Asked without spawning:
    a call with no arguments fails with the count it expects; argument clinic (3.12+) also names them.
    """
    import re  # once per process, and kept out of `import fork110`

    names = _layouts.layout()
    if names is None:
        return False
    if type(_fork_exec).__name__ != "builtin_function_or_method":
        # wrapped in Python (a contained run's hooks, which count spawns): never call it to probe.
        # The run's interpreter is the caller's, whose own check already passed.
        return True
    try:
        _fork_exec()
    except TypeError as exc:
        counts = [int(n) for n in re.findall(r"\d+", str(exc))]
    else:  # pragma: no cover - cannot happen: the C function requires its arguments
        return False
    if len(names) not in counts:
        return False
    text = getattr(_fork_exec, "__text_signature__", None)
    if text:
        got = [p.strip() for p in text.strip("()").split(",")]
        got = [p for p in got if p and p not in ("$module", "/")]
        key = ("c2pwrite", "errwrite", "errpipe_write", "preexec_fn")
        if len(got) != len(names) or any(got[names.index(k)] != k for k in key):
            return False
    return True


# -- the portable engine ------------------------------------------------------------------------


def _posix_spawn(
    argv: list[bytes],
    executables: tuple[bytes, ...],
    env: list[bytes] | None,
    stdio: tuple[int, int, int],
    pgid: int,
    settings: Sequence[str],
) -> int:
    """posix_spawn each candidate in turn (glibc reaps a candidate that fails to exec), keeping the
    first error that is not ENOENT/ENOTDIR, as execvp and CPython's child do."""
    moved: list[int] = []
    try:
        actions: list[tuple[int, int, int]] = []
        for target, fd in enumerate(stdio):
            if fd == -1:
                continue
            if fd <= 2 and fd != target:  # a source in 0-2 could be overwritten by an earlier dup2
                fd = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
                moved.append(fd)
            actions.append((os.POSIX_SPAWN_DUP2, fd, target))
        environ = _split_env(env) if env is not None else os.environb
        extra: dict[str, Any] = {} if pgid == -1 else {"setpgroup": pgid}
        first = 0
        last = errno.ENOENT
        for exe in executables:
            try:
                os.stat(exe)  # a missing candidate costs a stat, not a clone that fails to exec
            except OSError as exc:
                if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                    last = exc.errno
                    continue
            try:
                return os.posix_spawn(
                    exe, argv, environ, file_actions=actions, setsigmask=(),
                    setsigdef=_DEFAULT_SIGNALS, **extra,
                )  # fmt: skip
            except OSError as exc:
                last = exc.errno or errno.EINVAL
                if last not in (errno.ENOENT, errno.ENOTDIR) and not first:
                    first = last
        data = b"OSError:%x:" % (first or last)
        raise _child_error(data, b"", executables, None, settings)
    finally:
        for fd in moved:
            os.close(fd)


def _fork_child(
    argv: list[bytes],
    executables: tuple[bytes, ...],
    cwd: bytes | None,
    env: list[bytes] | None,
    stdio: tuple[int, int, int],
    pgid: int,
    uid: int | None,
    gid: int | None,
    groups: list[int] | None,
    preexec: Callable[[], None] | None,
    err_w: int,
) -> int:
    """os.fork, then in the child the steps of CPython's ``child_exec`` in its order, reporting a
    failure on ``err_w`` in its format (``OSError:<hex errno>:<step>``)."""
    environ = _split_env(env) if env is not None else None
    with warnings.catch_warnings():  # 3.12+ warns of a fork in a threaded parent: Command warns
        warnings.simplefilter("ignore", DeprecationWarning)  # itself when Python runs in the child
        pid = os.fork()
    if pid:
        return pid
    step = b"noexec"  # pragma: no cover - from here on, the child (coverage cannot see it)
    try:  # pragma: no cover
        srcs = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3) if 0 <= fd <= 2 else fd for fd in stdio]
        for target, fd in enumerate(srcs):
            if fd != -1:
                os.dup2(fd, target)
        if cwd is not None:
            step = b"noexec:chdir"
            os.chdir(cwd)
            step = b"noexec"
        for sig in _DEFAULT_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, ())
        if pgid != -1:
            os.setpgid(0, pgid)
        if groups is not None:
            os.setgroups(groups)
        if gid is not None:
            os.setregid(gid, gid)
        if uid is not None:
            os.setreuid(uid, uid)
        if preexec is not None:
            try:
                preexec()
            except BaseException:
                os.write(err_w, b"SubprocessError:0:Exception occurred in preexec_fn.")
                raise
        step = b""
        first, last = 0, errno.ENOENT
        for exe in executables:
            try:
                if environ is None:
                    os.execv(exe, argv)
                else:
                    os.execve(exe, argv, environ)
            except OSError as exc:
                last = exc.errno or errno.EINVAL
                if last not in (errno.ENOENT, errno.ENOTDIR) and not first:
                    first = last
        os.write(err_w, b"OSError:%x:" % (first or last))
    except OSError as exc:  # pragma: no cover
        os.write(err_w, b"OSError:%x:%s" % (exc.errno or errno.EINVAL, step))
    except BaseException:  # pragma: no cover
        pass
    finally:
        os._exit(255)
    return -1  # pragma: no cover - unreachable


_DEFAULT_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGPIPE", "SIGXFSZ") if hasattr(signal, name)
)  # Python ignores these; CPython's restore_signals (and Rust) give a new program the defaults


def _blocked_signals() -> bool:
    return bool(signal.pthread_sigmask(signal.SIG_BLOCK, ()))


def _empty_sigmask() -> None:
    signal.pthread_sigmask(signal.SIG_SETMASK, ())


def _split_env(env: list[bytes]) -> dict[bytes, bytes]:
    return dict(item.partition(b"=")[::2] for item in env)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass  # SIGCHLD is ignored: the kernel reaped it already


def _kill_and_reap(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _reap(pid)


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 50_000):
        chunks.append(chunk)
    return b"".join(chunks)


def _child_runner(hooks: Hooks, names: Sequence[str], report_w: int) -> Callable[[], None]:
    def run_hooks() -> None:  # runs in the child, between fork and exec
        for hook, name in zip(hooks, names):
            try:
                hook()
            except OSError as exc:
                detail = exc.filename if name == _CHDIR else str(exc)
                _report(report_w, f"O{exc.errno or 0}\0{name}\0{detail}")
                raise
            except BaseException as exc:
                import traceback  # only in a failing child: kept out of `import fork110`

                text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                _report(report_w, f"X{type(exc).__name__}\0{name}\0{text}")
                raise

    return run_hooks


def _report(fd: int, text: str) -> None:
    try:
        os.write(fd, text.encode("utf-8", "backslashreplace")[:4000])
    except OSError:
        pass


def _child_error(
    data: bytes,
    report: bytes,
    executables: tuple[bytes, ...],
    cwd: bytes | None,
    settings: Sequence[str] = (),
    run_dir: bytes | None = None,
) -> Exception:
    """The exception for a child that failed before or at exec (``data`` in CPython's errpipe format,
    ``report`` from a failing pre_exec hook). ``run_dir`` is the child's working directory, which a
    relative program path is relative to.

    >>> _child_error(b"OSError:d:", b"", (b"/etc",), None)
    PermissionError(13, 'Permission denied (a directory, not a program)')
    """
    if report:
        kind, name_b, text_b = [*report[1:].split(b"\0", 2), b"", b""][:3]
        name, text = name_b.decode(), text_b.decode("utf-8", "replace")
        if report[:1] == b"O":
            err = int(kind) or errno.EINVAL  # as Rust: an error without an errno is EINVAL
            if name == _CHDIR:
                return os_error(err, "current_dir", text)
            return os_error(err, f"raised by pre_exec hook {name!r}", None)
        return PreExecError(name, kind.decode(), text.split(": ", 1)[-1])
    exc_name, _, rest = data.partition(b":")
    hex_errno, _, step = rest.partition(b":")
    err = int(hex_errno or b"0", 16)
    if exc_name != b"OSError" or not err:
        return RuntimeError(f"the child could not be started: {data.decode('utf-8', 'replace')}")
    # 3.13+ says "noexec:chdir"; before, a plain "noexec" with a chdir-style errno is the cwd too
    # (the other steps before exec, setting ids and groups, fail with EPERM or EINVAL)
    if cwd is not None and (
        step == b"noexec:chdir" or (step == b"noexec" and err not in _ID_ERRORS)
    ):
        return os_error(err, "current_dir", os.fsdecode(cwd))
    if step.startswith(b"noexec"):
        what = ", ".join(settings) if settings else "the child's setup"
        return os_error(err, f"setting {what} before exec", None)
    target = executables[0] if len(executables) == 1 else executables[0].rpartition(b"/")[2]
    if err == errno.ENOENT and len(executables) > 1:
        dirs = b":".join(e.rpartition(b"/")[0] for e in executables)
        what = f"program not found on PATH {os.fsdecode(dirs)!r}"
    elif (
        err == errno.EACCES
        and len(executables) == 1
        and os.path.isdir(os.path.join(run_dir, target) if run_dir is not None else target)
    ):
        what = "a directory, not a program"
    elif err == errno.EACCES:
        what = "the program is not executable"
    elif err == errno.E2BIG:
        what = "the arguments and environment together exceed the kernel's limit (ARG_MAX)"
    elif err == errno.ENOEXEC:
        what = "not a program this system can run (no #! line, or a binary for another machine)"
    else:
        what = "the program"
    return os_error(err, what, os.fsdecode(target))


def read_both(out_fd: int, err_fd: int, *, close: bool = True) -> tuple[bytes, bytes]:
    """Read two pipes to EOF at once (one poll loop), closing both; either may be -1.

    Reading both together is what keeps a child that fills one pipe while we read the other from
    deadlocking. A pipe that delivers full 64 KiB chunks is grown to 1 MiB to cut wake-ups. The fds
    are closed when ``close`` is true (the default).

    >>> r1, w1 = make_pipe(); r2, w2 = make_pipe()
    >>> _ = os.write(w1, b"out"); _ = os.write(w2, b"err"); os.close(w1); os.close(w2)
    >>> read_both(r1, r2)
    (b'out', b'err')
    """
    chunks: dict[int, list[bytes]] = {}
    poller = select.poll()
    for fd in (out_fd, err_fd):
        if fd != -1:
            chunks[fd] = []
            poller.register(fd, select.POLLIN)
    grown: set[int] = set()
    open_fds = len(chunks)
    try:
        while open_fds:
            for fd, _event in poller.poll():
                data = os.read(fd, _BIG_PIPE)
                if data:
                    chunks[fd].append(data)
                    if len(data) >= 65536 and fd not in grown:
                        grown.add(fd)
                        _grow(fd)
                else:
                    poller.unregister(fd)
                    open_fds -= 1
    finally:
        if close:
            for fd in chunks:
                os.close(fd)
    return (
        b"".join(chunks[out_fd]) if out_fd != -1 else b"",
        b"".join(chunks[err_fd]) if err_fd != -1 else b"",
    )


def _grow(fd: int) -> None:
    try:
        fcntl.fcntl(fd, _F_SETPIPE_SZ, _BIG_PIPE)
    except OSError:
        pass  # over /proc/sys/fs/pipe-max-size for an unprivileged user: keep the default size
