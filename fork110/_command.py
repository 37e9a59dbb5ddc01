"""Command: a process builder with Rust's ``std::process::Command`` semantics, in Python spelling.

Setters return the Command so calls chain; a Command can be spawned many times and changed between
spawns. Nothing is checked against the OS until a spawn: a missing program, a bad directory or a NUL
byte is reported then, as the matching exception naming what failed.
"""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Literal, NoReturn, TypeVar, Union

from . import _engine
from ._child import Child, _abandoned, reap_abandoned
from ._errors import ThreadedForkWarning, nul_error, os_error
from ._status import ExitStatus, Output
from ._stdio import Stdio, StdioLike

__all__ = ["Command", "StrOrBytes"]

StrOrBytes = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
_C = TypeVar("_C", bound="Command")
_STREAMS = ("stdin", "stdout", "stderr")


def _encode(value: StrOrBytes, what: str) -> tuple[str | bytes, bytes]:
    try:
        given = os.fspath(value)
    except TypeError:
        raise TypeError(
            f"{what}: expected str, bytes or os.PathLike, not {type(value).__name__}"
        ) from None
    return given, os.fsencode(given)


_Default = Literal["inherit", "null", "piped"]  # the stream kinds a run method defaults to


class Command:
    """A process builder. ``Command(program)`` runs ``program`` with no arguments, inheriting the parent's
    environment and working directory; a bare name is looked up on the child's PATH.

    >>> import os
    >>> from fork110 import Command
    >>> out = Command("ps").args(["--pid", str(os.getpid()), "-o", "pid= ppid= command="]).output()
    >>> out.status.success(), int(out.stdout.split()[0]) == os.getpid()
    (True, True)
    >>> Command("sh").args(["-c", "exit 7"]).status()
    <ExitStatus exit status: 7>
    """

    def __init__(self, program: StrOrBytes) -> None:
        self._program, self._program_b = _encode(program, "Command() program")
        self._args: list[str | bytes] = []
        self._argv: list[bytes] = []
        self._arg0: bytes | None = None
        self._env: dict[bytes, tuple[str | bytes, str | bytes | None, bytes | None]] = {}
        self._env_clear = False
        self._cwd: str | bytes | None = None
        self._stdio: dict[str, Stdio] = {}
        self._hooks: list[Callable[[], object]] = []
        self._uid: int | None = None
        self._gid: int | None = None
        self._groups: list[int] | None = None
        self._pgid = -1

    # -- building ---------------------------------------------------------------------------------

    def arg(self: _C, arg: StrOrBytes) -> _C:
        """Add one argument (one argv element: no shell, no splitting, no globbing).

        >>> Command("echo").arg("two words").arg("*").output().stdout
        b'two words *\\n'
        """
        given, raw = _encode(arg, "arg()")
        self._args.append(given)
        self._argv.append(raw)
        return self

    def args(self: _C, args: Iterable[StrOrBytes]) -> _C:
        """Add several arguments, in order.

        >>> Command("echo").args(["-n", "a", b"b"]).output().stdout
        b'a b'
        """
        if isinstance(args, (str, bytes)):
            raise TypeError(
                f"args() takes an iterable of arguments, not a single {type(args).__name__} "
                f"(that would add one argument per character); use arg({args!r})"
            )
        try:
            items = list(args)
        except TypeError:
            raise TypeError(
                f"args() takes an iterable of arguments, not {type(args).__name__}"
            ) from None
        for i, item in enumerate(items):
            given, raw = _encode(item, f"args() item {i}")
            self._args.append(given)
            self._argv.append(raw)
        return self

    def env(self: _C, key: StrOrBytes, val: StrOrBytes) -> _C:
        """Set an environment variable for the child (the rest is inherited unless ``env_clear``).

        >>> Command("sh").args(["-c", "echo $GREETING"]).env("GREETING", "hi").output().stdout
        b'hi\\n'
        """
        k, kb = _encode(key, "env() key")
        v, vb = _encode(val, f"env() value of {k!r}")
        self._env[kb] = (k, v, vb)
        return self

    def envs(
        self: _C, vars: Mapping[StrOrBytes, StrOrBytes] | Iterable[tuple[StrOrBytes, StrOrBytes]]
    ) -> _C:
        """Set several environment variables, from a mapping or (key, value) pairs.

        >>> Command("sh").args(["-c", "echo $A$B"]).envs({"A": "1", "B": "2"}).output().stdout
        b'12\\n'
        """
        if isinstance(vars, Mapping):
            pairs = list(vars.items())
        else:
            try:
                pairs = list(vars)
            except TypeError:
                raise TypeError(
                    f"envs() takes a mapping or (key, value) pairs, not {type(vars).__name__}"
                ) from None
        for pair in pairs:
            if isinstance(pair, (str, bytes)) or len(pair) != 2:
                raise TypeError(f"envs() takes (key, value) pairs; got {pair!r}")
            self.env(pair[0], pair[1])
        return self

    def env_remove(self: _C, key: StrOrBytes) -> _C:
        """Remove a variable from the child's environment (an explicit ``env`` for it is forgotten).

        >>> import os
        >>> os.environ["FORK110_DEMO"] = "x"
        >>> Command("sh").args(["-c", "echo ${FORK110_DEMO-unset}"]).env_remove("FORK110_DEMO").output().stdout
        b'unset\\n'
        >>> del os.environ["FORK110_DEMO"]
        """
        k, kb = _encode(key, "env_remove() key")
        if self._env_clear:
            self._env.pop(kb, None)  # nothing to remove from an empty environment (as Rust)
        else:
            self._env[kb] = (k, None, None)
        return self

    def env_clear(self: _C) -> _C:
        """Start the child with an empty environment (and forget earlier ``env`` calls).

        >>> Command("/usr/bin/env").env_clear().env("ONLY", "me").output().stdout
        b'ONLY=me\\n'
        """
        self._env.clear()
        self._env_clear = True
        return self

    def current_dir(self: _C, dir: StrOrBytes) -> _C:
        """Run the child in ``dir``. A relative program path is then resolved from there, as in Rust.

        >>> Command("pwd").current_dir("/").output().stdout
        b'/\\n'
        """
        self._cwd, _ = _encode(dir, "current_dir()")
        return self

    def stdin(self: _C, cfg: StdioLike) -> _C:
        """Where the child's stdin comes from: a :class:`Stdio`, an int fd, a file, or another child's pipe.

        >>> from fork110 import Stdio
        >>> child = Command("cat").stdin(Stdio.piped()).stdout(Stdio.piped()).spawn()
        >>> _ = child.stdin.write(b"through a pipe")
        >>> child.wait_with_output().stdout
        b'through a pipe'
        """
        self._stdio["stdin"] = Stdio.coerce(cfg, "stdin")
        return self

    def stdout(self: _C, cfg: StdioLike) -> _C:
        """Where the child's stdout goes. Passing another child's ``stdout`` here builds a pipeline.

        >>> from fork110 import Stdio
        >>> first = Command("echo").arg("b\\na").stdout(Stdio.piped()).spawn()
        >>> print(Command("sort").stdin(first.stdout).output().stdout.decode(), end="")
        a
        b
        >>> first.wait().success()
        True
        """
        self._stdio["stdout"] = Stdio.coerce(cfg, "stdout")
        return self

    def stderr(self: _C, cfg: StdioLike) -> _C:
        """Where the child's stderr goes.

        >>> from fork110 import Stdio
        >>> Command("ls").arg("/nonexistent").stderr(Stdio.null()).status().success()
        False
        """
        self._stdio["stderr"] = Stdio.coerce(cfg, "stderr")
        return self

    # -- unix extensions (Rust's CommandExt) --------------------------------------------------------

    def pre_exec(self: _C, f: Callable[[], object]) -> _C:
        """Run ``f`` in the child after fork and before exec (after the cwd and ids are set); hooks run in
        the order added. An ``OSError`` it raises fails the spawn with the same errno.

        Keep it small, as the slides warn: only the forking thread exists in the child, so a lock held by
        another thread stays held forever. Spawning with hooks from a multi-threaded process warns.

        >>> import os, warnings
        >>> cmd = Command("sh").args(["-c", "echo $$; ps -o pgid= -p $$"]).pre_exec(lambda: os.setpgid(0, 0))
        >>> with warnings.catch_warnings():  # under pytest a watchdog thread runs: hooks then warn
        ...     warnings.simplefilter("ignore", ThreadedForkWarning)
        ...     pid, pgid = cmd.output().stdout.split()
        >>> pid == pgid  # the hook made the child lead a new process group
        True
        """
        if not callable(f):
            raise TypeError(f"pre_exec() takes a callable, not {type(f).__name__}")
        self._hooks.append(f)
        return self

    def uid(self: _C, id: int) -> _C:
        """Run the child as user ``id`` (root dropping to another uid also drops supplementary groups).

        >>> Command("id").arg("-u").uid(os.getuid()).output().stdout.strip() == str(os.getuid()).encode()
        True
        """
        self._uid = _check_id(id, "uid")
        return self

    def gid(self: _C, id: int) -> _C:
        """Run the child with group ``id``.

        >>> Command("id").arg("-g").gid(os.getgid()).output().stdout.strip() == str(os.getgid()).encode()
        True
        """
        self._gid = _check_id(id, "gid")
        return self

    def groups(self: _C, groups: Iterable[int]) -> _C:
        """Set the child's supplementary groups (needs privilege).

        >>> Command("true").groups([os.getgid()]).get_program()
        'true'
        """
        if isinstance(groups, (str, bytes)) or not hasattr(groups, "__iter__"):
            raise TypeError(f"groups() takes an iterable of group ids, not {type(groups).__name__}")
        self._groups = [_check_id(g, "groups() item") for g in groups]
        return self

    def process_group(self: _C, pgroup: int) -> _C:
        """Put the child in process group ``pgroup``; 0 makes a new group led by the child (pgid = pid).

        >>> child = Command("sleep").arg("10").process_group(0).spawn()
        >>> os.getpgid(child.id()) == child.id()
        True
        >>> child.kill_process_group(); _ = child.wait()
        """
        self._pgid = _check_id(pgroup, "process_group")
        return self

    def arg0(self: _C, arg: StrOrBytes) -> _C:
        """Set argv[0], the name the program sees for itself, without changing which program runs.

        >>> Command("sh").args(["-c", "echo $0"]).arg0("not-sh").output().stdout
        b'not-sh\\n'
        """
        self._arg0 = _encode(arg, "arg0()")[1]
        return self

    # -- inspecting ---------------------------------------------------------------------------------

    def get_program(self) -> str | bytes:
        """The program, as given.

        >>> Command("ls").get_program()
        'ls'
        """
        return self._program

    def get_args(self) -> list[str | bytes]:
        """The arguments (without the program), as given.

        >>> Command("ls").args(["-l", b"/"]).get_args()
        ['-l', b'/']
        """
        return list(self._args)

    def get_envs(self) -> list[tuple[str | bytes, str | bytes | None]]:
        """The explicit environment changes, sorted by name; a removed variable maps to None.

        >>> Command("ls").env("B", "2").env_remove("A").get_envs()
        [('A', None), ('B', '2')]
        """
        return [(k, v) for _, (k, v, _vb) in sorted(self._env.items())]

    def get_current_dir(self) -> str | bytes | None:
        """The directory set with ``current_dir``, or None.

        >>> Command("ls").current_dir("/tmp").get_current_dir()
        '/tmp'
        """
        return self._cwd

    # -- running ------------------------------------------------------------------------------------

    def spawn(self) -> Child:
        """Start the program and return its :class:`Child` at once; all three streams are inherited
        unless set. Wait for it later (or use ``with``).

        >>> child = Command("sleep").arg("0.01").spawn()
        >>> child.wait().success()
        True
        """
        pid, fds, leader = self._start("inherit", "inherit", "inherit")
        return Child._spawned(pid, *fds, leader=leader)

    def status(self) -> ExitStatus:
        """Run the program to completion (streams inherited unless set) and return its exit status.

        >>> Command("false").status()
        <ExitStatus exit status: 1>
        """
        pid, fds, _ = self._start("inherit", "inherit", "inherit")
        try:  # a piped stream set explicitly: keep our end open until the child is done, as Rust
            return _wait(pid)
        finally:
            for fd in fds:
                if fd != -1:
                    os.close(fd)

    def output(self) -> Output:
        """Run the program to completion with stdin from /dev/null and stdout and stderr captured (read
        at the same time, so no amount of output deadlocks), unless set otherwise.

        >>> Command("sh").args(["-c", "echo out; echo err >&2; exit 2"]).output()
        Output(status=<ExitStatus exit status: 2>, stdout=b'out\\n', stderr=b'err\\n')
        """
        pid, (fd_in, fd_out, fd_err), _ = self._start("null", "piped", "piped")
        if fd_in != -1:
            os.close(fd_in)
        try:
            out, err = _engine.read_both(fd_out, fd_err)
        except BaseException:
            _engine._kill_and_reap(pid)
            raise
        return Output(_wait(pid), out, err)

    def exec(self) -> NoReturn:
        """Replace the current process with the program (no fork). Returns only by raising the error.

        >>> import sys
        >>> code = "from fork110 import Command; Command('echo').arg('replaced').exec()"
        >>> Command(sys.executable).args(["-c", code]).output().stdout
        b'replaced\\n'
        """
        argv, exes, cwd, env = self._plan()
        plan: list[tuple[int, Stdio]] = []
        for target, stream in enumerate(_STREAMS):
            cfg = self._stdio.get(stream)
            if cfg is None or cfg.kind == "inherit":
                continue
            if cfg.kind == "piped":
                raise ValueError(
                    f"exec(): {stream} cannot be Stdio.piped(): no parent will be there to read it"
                )
            plan.append((target, cfg))
        sys.stdout.flush()
        sys.stderr.flush()
        _redirect_stdio(plan)
        sys.stdout.flush()
        sys.stderr.flush()
        if cwd is not None:
            try:
                os.chdir(cwd)
            except OSError as exc:
                raise os_error(exc.errno or 0, "current_dir", os.fsdecode(cwd)) from None
        if self._groups is not None or (self._uid is not None and os.getuid() == 0):
            os.setgroups(self._groups or [])
        if self._gid is not None:
            os.setgid(self._gid)
        if self._uid is not None:
            os.setuid(self._uid)
        if self._pgid != -1:
            os.setpgid(0, self._pgid)
        for hook in self._hooks:
            hook()
        for sig in (
            "SIGPIPE",
            "SIGXFSZ",
        ):  # Python ignores these; a new program starts with defaults
            if hasattr(signal, sig):
                signal.signal(getattr(signal, sig), signal.SIG_DFL)
        signal.pthread_sigmask(
            signal.SIG_SETMASK, ()
        )  # as Rust: the program starts with none blocked
        first = 0
        for exe in exes:
            try:
                if env is None:
                    os.execv(exe, argv)
                else:
                    os.execve(exe, argv, dict(_split_env(env)))
            except OSError as exc:
                if exc.errno not in (errno.ENOENT, errno.ENOTDIR) and not first:
                    first = exc.errno or errno.EINVAL
        # worded as spawn() words it (the chdir already happened: a relative path is from here)
        raise _engine._child_error(b"OSError:%x:" % (first or errno.ENOENT), b"", exes, None)

    # -- internals ----------------------------------------------------------------------------------

    def _plan(self) -> tuple[list[bytes], tuple[bytes, ...], bytes | None, list[bytes] | None]:
        """Check everything that can be checked without the OS and build argv, candidates, cwd, env."""
        program = self._program_b
        if not program:
            raise os_error(errno.ENOENT, "empty program name", "")
        if b"\0" in program:
            raise nul_error("the program name", self._program)
        argv = [self._arg0 if self._arg0 is not None else program, *self._argv]
        for i, a in enumerate(argv):
            if b"\0" in a:
                raise nul_error(
                    "arg0" if i == 0 else f"argument {i}", a if i == 0 else self._args[i - 1]
                )
        cwd: bytes | None = None
        if self._cwd is not None:
            cwd = os.fsencode(self._cwd)
            if b"\0" in cwd:
                raise nul_error("current_dir", self._cwd)
        env: list[bytes] | None = None
        if self._env or self._env_clear:
            merged = {} if self._env_clear else dict(os.environb)
            for kb, (k, _v, vb) in self._env.items():
                if not kb or b"=" in kb or b"\0" in kb:
                    what = (
                        "contains '='"
                        if b"=" in kb
                        else ("is empty" if not kb else "contains a NUL byte")
                    )
                    raise ValueError(f"environment variable name {k!r} {what}")
                if vb is None:
                    merged.pop(kb, None)
                elif b"\0" in vb:
                    raise nul_error(f"the value of environment variable {k!r}", _v or b"")
                else:
                    merged[kb] = vb
            env = [k + b"=" + v for k, v in merged.items()]
        if b"/" in program:
            return argv, (program,), cwd, env
        path = os.environb.get(b"PATH") if env is None else merged.get(b"PATH")
        return argv, _engine.resolve(program, path), cwd, env

    def _start(
        self, d_in: _Default, d_out: _Default, d_err: _Default
    ) -> tuple[int, tuple[int, int, int], bool]:
        """Spawn with the given default stream kinds; return (pid, our pipe ends or -1, leads a group)."""
        if _abandoned:
            reap_abandoned()
        argv, exes, cwd, env = self._plan()
        if self._hooks and _threads() > 1:
            warnings.warn(
                f"pre_exec: this process runs {_threads()} threads; the hook runs in a forked child where "
                "only this thread exists, so a lock another thread held at the fork (malloc's, an "
                "import lock, a logging lock) can never be released there. Keep the hook to plain syscalls.",
                ThreadedForkWarning,
                stacklevel=3,
            )
        child_fds = [-1, -1, -1]
        ours = [-1, -1, -1]
        to_close: list[int] = []
        used: list[Stdio] = []
        devnull = -1
        try:
            for i, (stream, default) in enumerate(zip(_STREAMS, (d_in, d_out, d_err))):
                cfg = self._stdio.get(stream)
                kind = default if cfg is None else cfg.kind
                if kind == "piped":
                    r, w = _engine.make_pipe()
                    child_fds[i], ours[i] = (r, w) if i == 0 else (w, r)
                    to_close.append(child_fds[i])
                elif kind == "null":
                    if devnull == -1:
                        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
                        to_close.append(devnull)
                    child_fds[i] = devnull
                elif kind != "inherit" and cfg is not None:
                    child_fds[i] = cfg.child_fd(stream)
                    used.append(cfg)
            pid = _engine.fork_exec(
                argv, exes, cwd, env, child_fds[0], child_fds[1], child_fds[2],
                pgid=self._pgid, uid=self._uid, gid=self._gid, groups=self._groups,
                hooks=self._hooks, hook_names=[_name(h) for h in self._hooks],
            )  # fmt: skip
        except BaseException:
            for fd in ours:
                if fd != -1:
                    os.close(fd)
            raise
        finally:
            for fd in to_close:
                os.close(fd)
        for cfg in used:
            cfg.after_spawn()
        return pid, (ours[0], ours[1], ours[2]), self._pgid == 0

    def to_rust(self) -> str:
        """The Rust ``std::process::Command`` builder that does what this Command does (a teaching aid).

        >>> print(Command("ps").args(["--pid", "42"]).env("LC_ALL", "C").to_rust())
        Command::new("ps")
            .args(["--pid", "42"])
            .env("LC_ALL", "C")
        """
        from ._rust import to_rust

        return to_rust(self)

    def __repr__(self) -> str:
        """Like Rust's ``Debug`` for Command: ``cd "/tmp" && env -u B A="1" "ls" "-l"``."""
        from ._rust import debug_str as rust_str

        parts: list[str] = []
        if self._cwd is not None:
            parts.append(f"cd {rust_str(self._cwd)} &&")
        envs = self.get_envs()
        if self._env_clear or any(v is None for _, v in envs):
            parts.append("env" + (" -i" if self._env_clear else ""))
            parts += [f"-u {rust_str(k)[1:-1]}" for k, v in envs if v is None]
        parts += [f"{rust_str(k)[1:-1]}={rust_str(v)}" for k, v in envs if v is not None]
        if self._arg0 is not None:
            parts.append(f"[{rust_str(self._program)}] {rust_str(self._arg0)}")
        else:
            parts.append(rust_str(self._program))
        parts += [rust_str(a) for a in self._args]
        return f"<Command {' '.join(parts)}>"


def _redirect_stdio(plan: list[tuple[int, Stdio]]) -> None:
    """Point fds 0-2 at their sources for exec(): sources are first moved above 2, so a swap
    (stdout to fd 2, stderr to fd 1) or a source that is itself 0-2 cannot clobber another."""
    moved: list[tuple[int, int]] = []
    try:
        for target, cfg in plan:
            if cfg.kind == "null":
                src = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
                if src <= 2:
                    src = _engine._above_stdio(src)
            else:
                src = fcntl.fcntl(cfg.child_fd(_STREAMS[target]), fcntl.F_DUPFD_CLOEXEC, 3)
            moved.append((target, src))
        for target, src in moved:
            os.dup2(src, target)  # dup2 clears close-on-exec on the target
    finally:
        for _target, src in moved:
            os.close(src)


def _name(hook: Callable[[], object]) -> str:
    return getattr(hook, "__qualname__", None) or repr(hook)


def _check_id(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what}: expected an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{what}: {value} is negative")
    if value >= 2**32 - 1:
        raise ValueError(f"{what}: {value} is too large for an id (at most {2**32 - 2})")
    return value


def _threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _wait(pid: int) -> ExitStatus:
    try:
        return ExitStatus(os.waitpid(pid, 0)[1])
    except ChildProcessError:
        raise ChildProcessError(
            errno.ECHILD,
            f"child {pid} was reaped by someone else (is SIGCHLD ignored?); its exit status is lost",
        ) from None
    except BaseException:  # interrupted: the child must not outlive the call unseen
        _engine._kill_and_reap(pid)
        raise


def _split_env(env: list[bytes]) -> Iterable[tuple[bytes, bytes]]:
    for item in env:
        k, _, v = item.partition(b"=")
        yield k, v
