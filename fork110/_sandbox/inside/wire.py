"""The three small protocols of a contained run, and nothing else (imported by every side).

* caller -> supervisor, on the supervisor's stdin: one frame holding the run's configuration, then
  single command bytes (:data:`KILL`); end of file means the caller has gone (the lifeline).
* run process -> supervisor: one datagram per event on an abstract unix socket, text fields
  separated by NUL (:func:`pack_msg` / :func:`unpack_msg`): kind, pid, time, sequence number,
  the relay pipes it marked (see :mod:`fork110._sandbox.inside.relay`), then the kind's own fields;
  file descriptors passed alongside. Datagrams are atomic whatever their size, so processes
  writing at once never interleave.
* supervisor -> caller, on the supervisor's stdout: frames of :mod:`marshal`-encoded tuples
  (:func:`frame` / :class:`Unframer`). Both ends run the same interpreter, so marshal is exact
  and costs nothing to import, which matters: the supervisor's start-up is on the clock.

Only builtin modules are imported here (the supervisor runs with ``python -S``).

>>> u = Unframer()
>>> u.feed(frame(("fork", 1.5, 42)) + frame(("exit",))[:3])
[('fork', 1.5, 42)]
>>> u.feed(frame(("exit",))[3:])
[('exit',)]
"""

from __future__ import annotations

import marshal

TYPE_CHECKING = False  # typing costs milliseconds to import, and the supervisor is on the clock
if TYPE_CHECKING:
    from typing import TypedDict

    class Config(TypedDict):
        """What the caller sends the supervisor (a plain dict at run time)."""

        mode: str  # "python" or "program"
        code: str
        argv: list[str]
        filename: str
        title: str
        line_buffered: bool
        path: list[str]
        max_processes: int
        timeout: float
        scan: float
        max_events: int
        max_output: int
        enforce: str  # "auto", "wrapper" or "none"
        caller: int
        t0: float
        stdin: bytes | None  # what the first process reads on fd 0; None: /dev/null
        stdin_file: int  # or, for large input, the caller's fd of a memfd holding it (-1: none)
        max_memory: int | None  # bytes for the whole run (None: no limit)
        memory_mode: str  # set by the supervisor before the fork: "cgroup", "rlimit" or ""
        namespaces: bool  # run in its own pid, mount and user namespaces where the kernel allows
        hide: list[str]  # directories the run must not see (Jupyter's runtime dirs): empty tmpfs
        share: list[str]  # host paths in /tmp, /var/tmp, /dev/shm the run sees as they are
        in_namespace: bool  # set by the supervisor: it is pid 1 of the run's pid namespace
        host_uid: int  # set by the supervisor: its uid before any user namespace

    class Info(TypedDict):
        """The supervisor's first frame: who is who, and how the budget is enforced."""

        supervisor: int
        sid: int
        parent: int
        mode: str
        cgroups: list[str]
        lock: str
        namespace: bool  # the run has its own pid namespace; pids are as the run sees them
        host: int  # the supervisor's pid as the caller sees it (the tree's root)
        shared: str  # why the run shares the host's namespaces, when it does

    class Summary(TypedDict):
        """The supervisor's last frame."""

        status: int
        timed_out: bool
        killed: str
        peak: int
        refusals: int
        forks: int
        left: int
        cgroups_removed: bool
        mode: str
        dropped: int
        truncated: bool
        oom_kills: int
        memory: str
        cpu: str
        namespace: bool

    # (kind, monotonic time, pid, name, other pid, other name, raw status or -1, text, extra)
    Record = tuple[str, float, int, str, int, str, int, str, object]
    # a watchdog survivor: (pid, ppid, name, state, wchan, command, threads, pgrp, sid)
    Survivor = tuple[int, int, str, str, str, str, int, int, int]

__all__ = [
    "KILL",
    "MSG_EXEC",
    "MSG_EXEC_ERROR",
    "MSG_FORK",
    "MSG_HELLO",
    "MSG_REAP",
    "MSG_REFUSED",
    "MSG_SPAWN",
    "FrameError",
    "Unframer",
    "frame",
    "pack_msg",
    "unpack_msg",
]

KILL = b"k"
"""The command byte asking the supervisor to kill the run now."""

# Kinds of datagrams a run process sends to the supervisor (after kind: pid, monotonic time, ...).
MSG_HELLO = "hello"  # ppid, proposed name, streams ("o", "e", "oe" or ""); fds in that order
MSG_FORK = "fork"  # child pid, proposed child name
MSG_SPAWN = "spawn"  # child pid, proposed child name, argv text, streams; fds in that order
MSG_EXEC = "exec"  # argv text
MSG_EXEC_ERROR = "exec-error"  # error text
MSG_REFUSED = "refused"  # explanation
MSG_REAP = "reap"  # reaped pid, raw wait status

_HEADER = 4
_MAX_FRAME = 1 << 30


def frame(obj: object) -> bytes:
    """One length-prefixed marshal frame.

    >>> frame((1,))[4:] == marshal.dumps((1,)), int.from_bytes(frame((1,))[:4], "big") > 0
    (True, True)
    """
    data = marshal.dumps(obj)  # type: ignore[arg-type]
    return len(data).to_bytes(_HEADER, "big") + data


class FrameError(ValueError):
    """A frame that cannot be one the supervisor sent (too large, or not a marshal record).

    >>> Unframer(max_size=8).feed(b"\\xff\\xff\\xff\\xff")
    Traceback (most recent call last):
    ...
    fork110._sandbox.inside.wire.FrameError: a frame of 4294967295 bytes, over the cap of 8
    """


class Unframer:
    """Reassembles frames from a byte stream read in arbitrary pieces; no frame may be larger than
    *max_size* bytes (a header asking for more raises :class:`FrameError` before anything is kept).

    >>> Unframer().feed(b"")
    []
    """

    __slots__ = ("_buf", "_error", "_max")

    def __init__(self, max_size: int = _MAX_FRAME) -> None:
        self._buf = bytearray()
        self._max = max_size
        self._error: FrameError | None = None

    def feed(self, data: bytes) -> list[object]:
        """Add bytes; return the objects whose frames are now complete.

        >>> u = Unframer(); u.feed(frame("a") + frame("b"))
        ['a', 'b']
        """
        if self._error is not None:  # the frames before a bad one were handed out: now the error
            raise self._error
        buf = self._buf
        buf += data
        out: list[object] = []
        pos = 0
        while len(buf) - pos >= _HEADER:
            size = int.from_bytes(buf[pos : pos + _HEADER], "big")
            end = pos + _HEADER + size
            if size > self._max:
                self._error = FrameError(f"a frame of {size} bytes, over the cap of {self._max}")
            elif end <= len(buf):
                try:
                    out.append(marshal.loads(bytes(buf[pos + _HEADER : end])))
                except (EOFError, ValueError, TypeError) as exc:
                    self._error = FrameError(f"a frame that does not decode: {exc}")
            else:
                break
            if self._error is not None:
                buf.clear()
                if out:
                    return out
                raise self._error
            pos = end
        del buf[:pos]
        return out

    @property
    def failed(self) -> bool:
        """True once a bad frame was met (the next :meth:`feed` raises its error).

        >>> Unframer().failed
        False
        """
        return self._error is not None

    @property
    def pending(self) -> int:
        """Bytes received that do not yet make a whole frame.

        >>> u = Unframer(); _ = u.feed(b"\\0\\0"); u.pending
        2
        """
        return len(self._buf)


def pack_msg(kind: str, pid: int, when: float, *fields: object) -> bytes:
    """A datagram from a run process: ``kind``, ``pid``, ``when`` and more fields, NUL-separated.

    The last field may itself contain NULs (it is split off last).

    >>> pack_msg("fork", 7, 1.25, 8, "child-1")
    b'fork\\x007\\x001.25\\x008\\x00child-1'
    """
    parts = [kind, str(pid), repr(when)]
    parts.extend(str(f) for f in fields)
    return "\0".join(parts).encode("utf-8", "surrogateescape")


def unpack_msg(data: bytes, nfields: int) -> tuple[str, int, float, list[str]] | None:
    """Parse a datagram made by :func:`pack_msg` with *nfields* extra fields; None if malformed.

    >>> unpack_msg(pack_msg("fork", 7, 1.25, 8, "child-1"), 2)
    ('fork', 7, 1.25, ['8', 'child-1'])
    >>> unpack_msg(b"junk", 2) is None
    True
    """
    parts = data.decode("utf-8", "surrogateescape").split("\0", 2 + nfields)
    if len(parts) != 3 + nfields:
        return None
    try:
        return parts[0], int(parts[1]), float(parts[2]), parts[3:]
    except ValueError:
        return None
