"""What every Python process of a contained run carries: the fork budget, events, its own pipes.

:func:`install` (called once, in the run's first process) replaces the ``os``/``posix`` functions
that make, replace, reap and signal processes with thin wrappers, which forks inherit:

* ``fork``/``forkpty`` and the spawners (``_posixsubprocess.fork_exec`` behind ``subprocess``,
  ``posix_spawn[p]``, ``system``): check the budget first where the kernel does not (no pids
  cgroup): under a lock, count the run's processes (zombies too) and, at the budget, fail with
  ``BlockingIOError(EAGAIN)`` as a real fork does at RLIMIT_NPROC. Then report the fork.
* After a fork the child names itself (``child-2`` is its parent's second child, ``child-2.1``
  that one's first), makes its own stdout/stderr pipes if it was writing into its parent's,
  and passes the read ends to the supervisor (``SCM_RIGHTS``), so even fd-level writes and
  exec'd programs' output are attributed to the right process.
* ``execv``/``execve`` report the exec; ``wait*`` report each reap with its status.
* ``kill``/``killpg`` refuse (EPERM) to signal anything outside the run (the supervisor, the
  notebook kernel, ``kill(-1)``).

The reports, the budget lock and the signal guard are in :mod:`fork110._sandbox.inside.state`.
Nothing here may block on a lock another thread could hold: the child side runs right after fork.

>>> import os
>>> os.fork.__module__ == "posix"  # not inside a run: nothing is wrapped
True
"""

from __future__ import annotations

import _posixsubprocess
import os
import posix
import sys

from fork110 import _layouts
from fork110._sandbox.inside import state as state_
from fork110._sandbox.inside import wire
from fork110._sandbox.inside.state import (
    RunState,
    argv_text,
    budget_lock,
    deny,
    group_in_run,
    ident,
    in_run,
    refused,
    send,
    unlock,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    StrPath = str | bytes | os.PathLike[str] | os.PathLike[bytes]

__all__ = ["RunState", "install", "send"]

_real: dict[str, Callable[..., object]] = {}
# where fork_exec takes the child's stdout and stderr fds, on this Python (the table is per version)
_LAYOUT = _layouts.layout() or _layouts.LAYOUTS[max(_layouts.LAYOUTS)]
_STDIO_POSITIONS = ((_LAYOUT.index("c2pwrite"), 1), (_LAYOUT.index("errwrite"), 2))

# -- fork ----------------------------------------------------------------------------------------


def _relay_pipes(st: RunState) -> tuple[str, list[int]]:
    """Give this new process its own pipes where it writes into its parent's; (streams, read ends)."""
    which = {}
    if st.out_id is not None:
        which[st.out_id] = "o"
    if st.err_id is not None:
        which.setdefault(st.err_id, "e")
    made: dict[str, tuple[int, int]] = {}
    for fd in (1, 2):
        stream = which.get(ident(fd))  # type: ignore[arg-type]
        if stream is None:
            continue
        if stream not in made:
            made[stream] = os.pipe()
        os.dup2(made[stream][1], fd)
    for stream, (_r, w) in made.items():
        if stream == "o":
            st.out_id = ident(w)
        else:
            st.err_id = ident(w)
        os.close(w)
    streams = "".join(sorted(made))
    return streams, [made[s][0] for s in streams]


def _after_fork_child() -> None:
    state_.renew_lock()
    st = state_.state()
    if st is None:
        return
    parent = st.pid
    st.pid = os.getpid()
    st.name = st.child_name(st.pending or st.kids + 1)
    st.kids = 0
    st.seq = 0
    st.pending = 0
    st.searching = False
    if st.in_spawn:  # a spawner's child about to exec: the parent reports it with its pipes
        st.in_spawn = False
        return
    try:
        streams, fds = _relay_pipes(st)
    except OSError:
        streams, fds = "", []
    send(wire.MSG_HELLO, parent, st.name, streams, fds=fds, mark=False)
    for fd in fds:
        os.close(fd)


def _forker(real: Callable[..., object], what: str) -> Callable[..., object]:
    def wrapper(*args: object) -> object:
        st = state_.state()
        if st is None:
            return real(*args)
        lock = budget_lock(st, what)
        number = st.kids + 1
        st.pending = number
        try:
            result = real(*args)
        except OSError as exc:
            refused(what, exc)
            raise
        finally:
            st.pending = 0
            unlock(lock)
        pid = result[0] if isinstance(result, tuple) else result
        if pid:
            st.kids = number
            send(wire.MSG_FORK, pid, st.child_name(number))
        return result

    return wrapper


# -- spawners (fork + exec in C) -------------------------------------------------------------------


def _spawner(real: Callable[..., object], what: str, kind: str) -> Callable[..., object]:
    """Wrap a C spawner; *kind* says where its stdout/stderr fds are (fork_exec or posix_spawn)."""

    def wrapper(*args: object, **kwargs: object) -> object:
        st = state_.state()
        if st is None:
            return real(*args, **kwargs)
        lock = budget_lock(st, what)
        number = st.kids + 1
        made: dict[str, tuple[int, int]] = {}
        ids = {st.out_id: "o", st.err_id: "e"}
        if st.err_id is not None and st.err_id == st.out_id:
            ids[st.err_id] = "o"

        def ours(fd: int) -> int:
            stream = ids.get(ident(fd))
            if stream is None:
                return -1
            if stream not in made:
                made[stream] = os.pipe()
            return made[stream][1]

        try:
            if kind == "fork_exec":
                argl = list(args)
                for pos, std in _STDIO_POSITIONS:
                    cur = argl[pos]
                    if isinstance(cur, int):
                        new = ours(std if cur == -1 else cur)
                        if new != -1:
                            argl[pos] = new
                args = tuple(argl)
                argv = args[0]
            else:
                actions = []
                for std in (1, 2):
                    new = ours(std)
                    if new != -1:
                        actions.append((os.POSIX_SPAWN_DUP2, new, std))
                user = kwargs.get("file_actions")
                kwargs["file_actions"] = [*actions, *(user or ())]  # type: ignore[misc]
                argv = args[1] if len(args) > 1 else kwargs.get("argv", ())
            st.pending = number
            st.in_spawn = True
            result = real(*args, **kwargs)
        except OSError as exc:
            refused(what, exc)
            for r, w in made.values():
                os.close(r)
                os.close(w)
            raise
        finally:
            st.pending = 0
            st.in_spawn = False
            unlock(lock)
        pid = int(result)  # type: ignore[call-overload]
        st.kids = number
        streams = "".join(sorted(made))
        reads = [made[s][0] for s in streams]
        for _r, w in made.values():
            os.close(w)
        send(wire.MSG_SPAWN, pid, st.child_name(number), argv_text(argv), streams, fds=reads)
        for r in reads:
            os.close(r)
        return result

    return wrapper


def _system(real: Callable[..., object]) -> Callable[..., object]:
    def system(command: object) -> object:
        st = state_.state()
        lock = -1 if st is None else budget_lock(st, "system")
        try:
            return real(command)
        finally:
            unlock(lock)

    return system


# -- exec, wait, kill ------------------------------------------------------------------------------


def _execer(real: Callable[..., object]) -> Callable[..., object]:
    def wrapper(path: StrPath, argv: object, *env: object) -> object:
        st = state_.state()
        searching = st is not None and st.searching
        if not searching or os.access(path, os.X_OK):
            send(wire.MSG_EXEC, argv_text(argv))
        try:
            return real(path, argv, *env)
        except OSError as exc:
            if not searching:
                send(wire.MSG_EXEC_ERROR, f"exec {os.fsdecode(path)!r} failed: {exc.strerror}")
            raise

    return wrapper


def _execvpe(real: Callable[..., object]) -> Callable[..., object]:
    def _execvpe(file: StrPath, args: object, env: object = None) -> object:
        st = state_.state()
        if st is None:
            return real(file, args, env)
        st.searching = True
        try:
            return real(file, args, env)
        except OSError as exc:
            send(wire.MSG_EXEC_ERROR, f"exec {os.fsdecode(file)!r} failed: {exc.strerror}")
            raise
        finally:
            st.searching = False

    return _execvpe


def _report_reap(pid: int, status: int) -> None:
    if pid > 0 and (os.WIFEXITED(status) or os.WIFSIGNALED(status)):
        send(wire.MSG_REAP, pid, status)


def _waiter(real: Callable[..., object]) -> Callable[..., object]:
    def wrapper(*args: object) -> object:
        result = real(*args)
        if isinstance(result, tuple) and len(result) >= 2:
            _report_reap(int(result[0]), int(result[1]))
        return result

    return wrapper


def _waitid(real: Callable[..., object]) -> Callable[..., object]:
    def waitid(idtype: int, id: int, options: int) -> object:
        result = real(idtype, id, options)
        if result is not None and not options & os.WNOWAIT:
            code, status = result.si_code, result.si_status  # type: ignore[attr-defined]
            raw = {
                os.CLD_EXITED: (status & 0xFF) << 8,
                os.CLD_KILLED: status,
                os.CLD_DUMPED: status | 0x80,
            }
            if code in raw:
                send(wire.MSG_REAP, result.si_pid, raw[code])  # type: ignore[attr-defined]
        return result

    return waitid


def _killer(real: Callable[..., object]) -> Callable[..., object]:
    def kill(pid: int, sig: int) -> object:
        if state_.state() is not None:
            if pid == -1:
                deny(f"kill(-1, {sig})")
            elif (pid < -1 and not group_in_run(-pid)) or (pid > 0 and not in_run(pid)):
                deny(f"kill({pid}, {sig})")
        return real(pid, sig)

    return kill


def _killpg(real: Callable[..., object]) -> Callable[..., object]:
    def killpg(pgid: int, sig: int) -> object:
        if state_.state() is not None and pgid != 0 and not group_in_run(pgid):
            deny(f"killpg({pgid}, {sig})")
        return real(pgid, sig)

    return killpg


# -- installing ------------------------------------------------------------------------------------


def _patch(
    module: object, name: str, make: Callable[[Callable[..., object]], Callable[..., object]]
) -> None:
    """Replace ``module.name`` (and the same function where ``os`` or ``subprocess`` hold it)."""
    real = getattr(module, name, None)
    if real is None:
        return
    key = f"{getattr(module, '__name__', '?')}.{name}"
    _real.setdefault(key, real)
    wrapped = make(_real[key])
    for attr in ("__name__", "__qualname__", "__doc__"):
        setattr(wrapped, attr, getattr(real, attr, None) or getattr(wrapped, attr))
    setattr(module, name, wrapped)
    if module is posix and getattr(os, name, None) is real:
        setattr(os, name, wrapped)
    subprocess = sys.modules.get("subprocess")  # imported before us (by a .pth file, say)
    if subprocess is not None and getattr(subprocess, "_fork_exec", None) is real:
        subprocess._fork_exec = wrapped  # type: ignore[attr-defined]


def install(st: RunState) -> None:
    """Make this process (and, through fork, every descendant) part of the run *st*.

    >>> callable(install)
    True
    """
    state_.install_state(st)
    _patch(posix, "fork", lambda real: _forker(real, "fork"))
    _patch(posix, "forkpty", lambda real: _forker(real, "forkpty"))
    _patch(posix, "posix_spawn", lambda real: _spawner(real, "posix_spawn", "spawn"))
    _patch(posix, "posix_spawnp", lambda real: _spawner(real, "posix_spawnp", "spawn"))
    _patch(_posixsubprocess, "fork_exec", lambda real: _spawner(real, "fork_exec", "fork_exec"))
    _patch(posix, "system", _system)
    _patch(posix, "execv", _execer)
    _patch(posix, "execve", _execer)
    _patch(os, "_execvpe", _execvpe)
    for name in ("wait", "waitpid", "wait3", "wait4"):
        _patch(posix, name, _waiter)
    _patch(posix, "waitid", _waitid)
    _patch(posix, "kill", _killer)
    _patch(posix, "killpg", _killpg)
    os.register_at_fork(after_in_child=_after_fork_child)
