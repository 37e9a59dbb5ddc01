"""Relaying a process's output, line by line, in exact order with the events it reports.

A process of the run has its own stdout and stderr pipes, read by the supervisor, and reports
events (fork, exec, reap, ...) on a separate socket. Two channels have no common order, so
each reported event also leaves a *marker* in the process's own pipes: the datagram is sent
first, then ``\\0\\x1b<token>:<seq>\\0`` (under ``PIPE_BUF`` bytes, so written atomically) goes to
each of its relay pipes still on fd 1 or 2. The supervisor emits the event exactly when every
such pipe has been read up to its marker: output written before the event comes out before it,
output written after comes after, and a pipe that reached a marker early waits for the other.
The token is random per run, so no real output is ever taken for a marker.

Only builtins are used (this module is loaded by the supervisor before its first event).

>>> s = Stream(-1, "stdout")
>>> s.raw += marker(b"T", 3) + b"after\\n"
>>> s.raw[:0] = b"line one\\nhalf"
>>> consume(s, b"\\0\\x1bT:")
([b'line one\\n'], 3)
>>> consume(s, b"\\0\\x1bT:"), bytes(s.partial)
(([b'halfafter\\n'], None), b'')
"""

from __future__ import annotations

__all__ = ["LINE_MAX", "Stream", "consume", "finish", "marker", "prefix"]

LINE_MAX = 65536
"""Longer lines are relayed in pieces of this many bytes."""


def prefix(token: str) -> bytes:
    """The marker prefix of a run.

    >>> prefix("ab12")
    b'\\x00\\x1bab12:'
    """
    return b"\0\x1b" + token.encode("ascii") + b":"


def marker(token: bytes, seq: int) -> bytes:
    """The marker for event *seq* (*token* as bytes).

    >>> marker(b"ab12", 7)
    b'\\x00\\x1bab12:7\\x00'
    """
    return b"\0\x1b" + token + b":" + str(seq).encode() + b"\0"


class Stream:
    """One relay pipe as the supervisor reads it.

    ``raw`` holds bytes read but not yet consumed (they may hold markers), ``partial`` the start
    of a line not yet ended. ``blocked`` is the seq of a marker this stream stopped at, waiting
    for the event to be emitted (0: not blocked).

    >>> Stream(5, "stderr")
    <Stream fd=5 stderr>
    """

    __slots__ = ("blocked", "blocked_since", "closed", "fd", "kind", "partial", "polled", "raw")

    def __init__(self, fd: int, kind: str) -> None:
        self.fd = fd
        self.kind = kind
        self.raw = bytearray()
        self.partial = bytearray()
        self.blocked = 0
        self.blocked_since = 0.0
        self.closed = False
        self.polled = False

    def __repr__(self) -> str:
        return f"<Stream fd={self.fd} {self.kind}{' blocked' if self.blocked else ''}>"


def _lines(s: Stream, text: bytes) -> list[bytes]:
    if not text:
        return []
    s.partial += text
    out: list[bytes] = []
    if b"\n" in text:
        *done, rest = bytes(s.partial).split(b"\n")
        out.extend(line + b"\n" for line in done)
        s.partial[:] = rest
    while len(s.partial) > LINE_MAX:
        out.append(bytes(s.partial[:LINE_MAX]))
        del s.partial[:LINE_MAX]
    return out


def consume(s: Stream, mark: bytes) -> tuple[list[bytes], int | None]:
    """Consume ``s.raw`` up to and including the first marker: (complete lines, its seq or None).

    Bytes that might be the start of a marker cut by a read stay in ``raw``.

    >>> s = Stream(-1, "stdout"); s.raw += b"abc\\0\\x1bT"
    >>> consume(s, b"\\0\\x1bT:"), bytes(s.raw)
    (([], None), b'\\x00\\x1bT')
    """
    raw = s.raw
    at = raw.find(mark)
    if at >= 0:
        end = raw.find(b"\0", at + len(mark))
        digits = bytes(raw[at + len(mark) : end]) if end >= 0 else b""
        if end >= 0 and digits.isdigit():
            lines = _lines(s, bytes(raw[:at]))
            del raw[: end + 1]
            return lines, int(digits)
        if end < 0 and len(raw) - at < len(mark) + 24:
            lines = _lines(s, bytes(raw[:at]))  # a marker cut short by the read: wait for the rest
            del raw[:at]
            return lines, None
        at = -1  # not a marker after all (cannot happen with a random token): plain output
    keep = 0
    for k in range(min(len(mark) - 1, len(raw)), 0, -1):
        if raw.endswith(mark[:k]):
            keep = k
            break
    lines = _lines(s, bytes(raw[: len(raw) - keep]))
    del raw[: len(raw) - keep]
    return lines, None


def finish(s: Stream) -> bytes:
    """At end of file: whatever is left (a last line without newline), emptied from *s*.

    >>> s = Stream(-1, "stdout"); s.partial += b"no newline"; finish(s)
    b'no newline'
    """
    rest = bytes(s.partial) + bytes(s.raw)
    s.partial.clear()
    s.raw.clear()
    return rest
