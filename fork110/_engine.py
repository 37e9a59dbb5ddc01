"""The spawn engine: the one place that asks the OS to start a program.

It drives CPython's own C engine (``_posixsubprocess.fork_exec``, the one ``subprocess`` uses), which
starts the child with ``vfork`` + ``execve`` when no Python code has to run in the child, so a spawn
costs what the standard library's does and stays flat however much memory the parent holds. Python
code runs in the child (``pre_exec`` hooks) only on the slower fork path, as in Rust and CPython.

Failures in the child come back through an error pipe (errno and the step that failed) and are raised
here as the matching ``OSError`` subclass; the failed child is reaped before the error is raised.
"""

from __future__ import annotations

import _posixsubprocess
import errno
import fcntl
import os
import select
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ._errors import PreExecError, os_error

__all__ = ["DEFAULT_PATH", "Hooks", "fork_exec", "make_pipe", "read_both", "resolve"]

DEFAULT_PATH = b"/bin:/usr/bin"  # what execvp uses when the child's environment has no PATH
_fork_exec: Any = _posixsubprocess.fork_exec  # typeshed's stub lags the real signature
_NEW_LAYOUT = sys.version_info >= (3, 11)  # 3.11 added process_group and allow_vfork to fork_exec
_F_SETPIPE_SZ = 1031
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
    order, after the cwd and ids are set and before exec.

    >>> pid = fork_exec([b"true"], (b"/bin/true",), None, None, -1, -1, -1)
    >>> os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    0
    >>> fork_exec([b"x"], (b"/nonexistent/x",), None, None, -1, -1, -1)
    Traceback (most recent call last):
    ...
    FileNotFoundError: [Errno 2] No such file or directory (the program): '/nonexistent/x'
    """
    preexec: Callable[[], None] | None = None
    hooks, hook_names = list(hooks), list(hook_names)
    if cwd is not None and (uid is not None or gid is not None or groups is not None):
        # Rust sets the ids first and then changes directory, as the new user; CPython's engine does
        # it the other way round, so do the chdir from the child, after the ids (the fork path)
        new_dir = cwd
        hooks.insert(0, lambda: os.chdir(new_dir))
        hook_names.insert(0, _CHDIR)
        cwd = None
    if pgid != -1 and not _NEW_LAYOUT:  # Python 3.10: no pgid argument; set it from the child
        hooks.insert(0, lambda: os.setpgid(0, pgid))
        hook_names.insert(0, "process_group")
    if uid is not None and groups is None and os.getuid() == 0:
        groups = []  # as Rust: root dropping to another uid also drops its supplementary groups
    settings = [n for n, v in (("process_group", pgid != -1), ("uid", uid is not None),
                               ("gid", gid is not None), ("groups", groups is not None)) if v]  # fmt: skip
    fds: list[int] = []
    try:
        err_r, err_w = make_pipe()
        fds += (err_r, err_w)
        report_r = report_w = -1
        if hooks:
            report_r, report_w = make_pipe()
            fds += (report_r, report_w)
            preexec = _child_runner(hooks, hook_names, report_w)
        if _NEW_LAYOUT:
            pid: int = _fork_exec(
                argv, executables, False, (), cwd, env,
                stdin, -1, -1, stdout, -1, stderr,
                err_r, err_w, True, False, pgid, gid, groups, uid, -1, preexec, True,
            )  # fmt: skip
        else:
            pid = _fork_exec(
                argv, executables, False, (), cwd, env,
                stdin, -1, -1, stdout, -1, stderr,
                err_r, err_w, True, False, gid, groups, uid, -1, preexec,
            )  # fmt: skip
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
            raise _child_error(data, report, executables, cwd, settings)
        return pid
    finally:
        for fd in fds:
            os.close(fd)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass  # SIGCHLD is ignored: the kernel reaped it already


def _kill_and_reap(pid: int) -> None:
    try:
        os.kill(pid, 9)
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
) -> Exception:
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
    elif err == errno.EACCES and len(executables) == 1 and os.path.isdir(target):
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
