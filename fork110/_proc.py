"""The ``/proc`` edge every part of fork110 reads process facts through: one ``stat`` parser, one
table of state words and one naming rule.

``/proc/PID/stat`` puts the command name (``comm``, up to 15 bytes the process may choose freely,
spaces and parentheses included) in parentheses as its second field; the other fields are counted
from the *last* ``)``. A process that has gone reads as None, never as an error: it may exit between
a directory listing and the read.

Both sides of a contained run use this module: the caller (:mod:`fork110.ps`, :mod:`fork110.testing`,
:class:`fork110.Child`) and the supervisor, which loads it under ``python -S``. So it imports ``os``
and nothing else, not even ``typing``.

>>> st = read_stat(os.getpid())
>>> st.pid == os.getpid(), st.ppid == os.getppid(), st.state
(True, True, 'R')
>>> state_word("Z"), state_phrase("Z"), child_name("parent", 2), child_name("child-2", 1)
('zombie', 'a zombie', 'child-2', 'child-2.1')
"""

from __future__ import annotations

import os

__all__ = [
    "STATES",
    "ProcStat",
    "child_name",
    "child_number",
    "parse_stat",
    "read_stat",
    "state_phrase",
    "state_word",
]

#: letter -> (the kernel's word, as ``/proc/PID/status`` prints it; the words in a sentence:
#: "still alive: child-1 (a zombie)"). The letters and words of ``fs/proc/array.c``, plus the
#: letters older kernels used (``x``, ``K``, ``W``).
STATES: dict[str, tuple[str, str]] = {
    "R": ("running", "running"),
    "S": ("sleeping", "sleeping"),
    "D": ("disk sleep", "in disk sleep"),
    "Z": ("zombie", "a zombie"),
    "T": ("stopped", "stopped"),
    "t": ("tracing stop", "traced"),
    "X": ("dead", "dead"),
    "x": ("dead", "dead"),
    "I": ("idle", "idle"),
    "P": ("parked", "parked"),
    "W": ("paging", "paging"),
    "K": ("wakekill", "wakekill"),
}


def state_word(letter: str) -> str:
    """The kernel's word for a state letter (the letter itself if unknown).

    >>> state_word("S"), state_word("t"), state_word("?")
    ('sleeping', 'tracing stop', '?')
    """
    entry = STATES.get(letter)
    return letter if entry is None else entry[0]


def state_phrase(letter: str) -> str:
    """The state as words that fit a sentence ("child-1 is *a zombie*"; the letter if unknown).

    >>> state_phrase("D"), state_phrase("t"), state_phrase("R")
    ('in disk sleep', 'traced', 'running')
    """
    entry = STATES.get(letter)
    return letter if entry is None else entry[1]


def child_name(parent: str, number: int, *, root: bool | None = None) -> str:
    """The name of the *number*-th child of the process named *parent*: the root process's
    children are ``child-1``, ``child-2``, ...; any other process ``P``'s are ``P.1``, ``P.2``...

    *root* says whether *parent* is the run's first process (by default: whether it is named
    ``parent``, as a contained run names it).

    >>> child_name("parent", 3), child_name("child-3", 1), child_name("child-3.1", 2)
    ('child-3', 'child-3.1', 'child-3.1.2')
    >>> child_name("shell", 1, root=True), child_name("parent", 1, root=False)
    ('child-1', 'parent.1')
    """
    if root is None:
        root = parent == "parent"
    return f"child-{number}" if root else f"{parent}.{number}"


def child_number(name: str, parent: str, *, root: bool | None = None) -> int | None:
    """The number *n* for which ``child_name(parent, n, root=root) == name``, or None.

    >>> child_number("child-12", "parent"), child_number("child-1.3", "child-1")
    (12, 3)
    >>> child_number("orphan-1", "parent"), child_number("child-2.1", "child-1")
    (None, None)
    """
    if root is None:
        root = parent == "parent"
    prefix = "child-" if root else parent + "."
    tail = name[len(prefix) :] if name.startswith(prefix) else ""
    return int(tail) if tail.isdigit() and tail.isascii() else None


class ProcStat:
    """The fields of ``/proc/PID/stat`` fork110 uses (field numbers as in ``man 5 proc``).

    ``start_ticks`` (field 22) is in clock ticks after boot: ``(pid, start_ticks)``, the
    :attr:`key`, names one process for its whole life, whatever reuses its pid later.
    ``exit_code`` (field 52) is the raw wait status of a zombie (read only for ``Z`` and ``X``), 0
    otherwise.

    >>> ProcStat(7, "sh", "S", 1, 7, 7, 7, 0, 1, 250)
    <ProcStat pid=7 (sh) S ppid=1 sid=7>
    """

    __slots__ = (
        "comm",
        "exit_code",
        "nice",
        "pgrp",
        "pid",
        "ppid",
        "sid",
        "start_ticks",
        "state",
        "threads",
        "tpgid",
    )

    def __init__(
        self,
        pid: int,
        comm: str,
        state: str,
        ppid: int,
        pgrp: int,
        sid: int,
        tpgid: int,
        nice: int,
        threads: int,
        start_ticks: int,
        exit_code: int = 0,
    ) -> None:
        self.pid = pid
        self.comm = comm
        self.state = state
        self.ppid = ppid
        self.pgrp = pgrp
        self.sid = sid
        self.tpgid = tpgid
        self.nice = nice
        self.threads = threads
        self.start_ticks = start_ticks
        self.exit_code = exit_code

    def __repr__(self) -> str:
        return (
            f"<ProcStat pid={self.pid} ({self.comm}) {self.state} ppid={self.ppid} sid={self.sid}>"
        )

    @property
    def key(self) -> tuple[int, int]:
        """``(pid, start_ticks)``: one process, never another that reused its pid.

        >>> ProcStat(7, "sh", "S", 1, 7, 7, 7, 0, 1, 250).key
        (7, 250)
        """
        return (self.pid, self.start_ticks)

    def ps_stat(self) -> str:
        """The STAT column as ``ps`` builds it (all but ``L``, which needs another file).

        >>> ProcStat(7, "sh", "S", 1, 7, 7, 7, 0, 1, 0).ps_stat()
        'Ss+'
        >>> ProcStat(8, "kworker/0:0H", "I", 2, 0, 0, -1, -20, 1, 0).ps_stat()
        'I<'
        """
        flags = self.state
        if self.nice < 0:
            flags += "<"
        elif self.nice > 0:
            flags += "N"
        if self.sid == self.pid:
            flags += "s"
        if self.threads > 1:
            flags += "l"
        if self.pgrp == self.tpgid:
            flags += "+"
        return flags


def parse_stat(pid: int, data: bytes) -> ProcStat | None:
    """Parse the text of ``/proc/PID/stat``; None if it is cut short.

    The command name is whatever lies between the first ``(`` and the last ``)``, so a name
    with spaces, ``)`` or ``) (`` in it does not shift the fields.

    >>> st = parse_stat(9, b"9 (a) (b c) S 1 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 77 0 0")
    >>> st.comm, st.state, st.ppid, st.start_ticks, st.exit_code
    ('a) (b c', 'S', 1, 77, 0)
    >>> parse_stat(9, b"9 (a) S 1") is None
    True
    """
    head, paren, tail = data.rpartition(b")")
    f = tail.split(None, 20)  # fields 3 to 22 one by one, the rest in one piece: a third faster
    if not paren or len(f) < 20:
        return None
    exit_code = 0
    if f[0] in (b"Z", b"X") and len(f) > 20:  # the exit status is only a dead process's
        rest = f[20].split()
        if len(rest) > 29:
            exit_code = int(rest[29])  # field 52
    return ProcStat(
        pid,
        head.partition(b"(")[2].decode("utf-8", "replace"),
        f[0].decode("ascii", "replace"),
        int(f[1]),
        int(f[2]),
        int(f[3]),
        int(f[5]),
        int(f[16]),
        int(f[17]),
        int(f[19]),
        exit_code,
    )


def read_stat(pid: int) -> ProcStat | None:
    """Read and parse ``/proc/PID/stat``; None once the process is gone (reaped).

    >>> read_stat(os.getpid()).ppid == os.getppid()
    True
    >>> read_stat(-1) is None
    True
    """
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        data = os.read(fd, 4096)
    except OSError:  # ESRCH: it was reaped after the open
        return None
    finally:
        os.close(fd)
    return parse_stat(pid, data)
