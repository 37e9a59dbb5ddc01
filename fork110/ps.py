"""Snapshots of a process tree, the way ``ps`` sees it, with stable names for teaching.

A :class:`Snapshot` is one moment of the tree under a root pid: for every process its pid, ppid,
state letter (``R S D Z T t I X``, exactly as ``/proc/PID/stat`` and ``ps`` show it), command
line, thread count, wait channel and start time, plus a symbolic name (``parent``, ``child-1``,
``child-1.1``, ...) that stays with the process for the whole run (see :class:`Namer`).

>>> import os
>>> snap = snapshot(os.getpid())
>>> me = snap.find(os.getpid())
>>> me.name, me.depth, me.state in "RS"
('parent', 0, True)

The facts are read straight from ``/proc`` (a few microseconds per file), not through psutil,
which costs about 2 ms per walk plus 0.08 ms per process (``bench/snapshot.py`` compares) and
gives status words where ``ps`` shows letters.
A process that exits while the tree is read is left out, never an exception.  An
:class:`Inspector` refreshes one tree repeatedly and only reads the ``/proc`` entries that can
belong to it, which is what a live view wants.

Renderings: :meth:`Snapshot.forest` (``ps -o pid,ppid,stat,command --forest``),
:meth:`Snapshot.tree` (``├──``/``└──``, also ``str()``), and ``_repr_html_`` for notebooks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fork110 import _ps_render
from fork110._proc import state_word
from fork110._ps_names import Namer
from fork110._ps_proc import (
    ProcStat,
    display_args,
    list_pids,
    read_cmdline,
    read_stat,
    read_wchan,
    start_time,
)

__all__ = ["Inspector", "Namer", "ProcessInfo", "Snapshot", "snapshot"]


@dataclass(frozen=True)
class ProcessInfo:
    """One process at the moment of a snapshot.

    ``state`` is the one letter ``ps`` shows first in STAT; ``stat`` the whole STAT column as
    ``ps`` builds it (``Ss``, ``Sl+``, ``I<``, ...; without ``L``). ``command`` is the command
    line as ``ps -o args`` shows it: arguments joined by spaces, newlines as spaces, other
    control characters as ``?``, ``[comm]`` when there is no command line (kernel threads) and
    ``[comm] <defunct>`` for a zombie; ``argv`` keeps the arguments as they are.

    >>> p = ProcessInfo(42, 1, "Z", "[python] <defunct>", 1, None, 0.0, "child-1", 1)
    >>> p.name, p.state, p.stat
    ('child-1', 'Z', '')
    """

    pid: int
    ppid: int
    state: str
    command: str
    threads: int
    wchan: str | None
    start_time: float
    name: str
    depth: int
    stat: str = ""
    pgid: int = 0
    sid: int = 0
    comm: str = ""
    argv: tuple[str, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    """One moment of a process tree; immutable.

    ``processes`` are in pre-order: a parent before its children, siblings by start time then
    pid. ``time`` is when the snapshot was taken (epoch seconds), ``root`` the pid it was taken
    under (present in ``processes`` only if the root was included).

    >>> snap = Snapshot(0.0, 10, (
    ...     ProcessInfo(10, 1, "S", "python demo.py", 1, None, 0.0, "parent", 0),
    ...     ProcessInfo(11, 10, "Z", "[python] <defunct>", 1, None, 0.0, "child-1", 1),
    ...     ProcessInfo(12, 10, "T", "python demo.py", 1, None, 0.0, "child-2", 1),
    ... ))
    >>> print(snap)
    parent (10) S python demo.py
    ├── child-1 (11) Z [python] <defunct>
    └── child-2 (12) T python demo.py (stopped)
    >>> snap
    <Snapshot of 3 processes under pid 10: 1 zombie, 1 stopped>
    """

    time: float
    root: int
    processes: tuple[ProcessInfo, ...]
    _by_pid: dict[int, ProcessInfo] = field(init=False, repr=False, compare=False)
    _kids: dict[int, list[ProcessInfo]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        kids: dict[int, list[ProcessInfo]] = {}
        for p in self.processes:
            kids.setdefault(p.ppid, []).append(p)
        object.__setattr__(self, "_by_pid", {p.pid: p for p in self.processes})
        object.__setattr__(self, "_kids", kids)

    def __len__(self) -> int:
        """The number of processes.

        >>> len(Snapshot(0.0, 1, ()))
        0
        """
        return len(self.processes)

    def __iter__(self) -> Iterator[ProcessInfo]:
        """The processes in pre-order.

        >>> import os
        >>> [p.name for p in snapshot(os.getpid())][0]
        'parent'
        """
        return iter(self.processes)

    def __repr__(self) -> str:
        n = len(self.processes)
        counts = []
        for letters, word in (("Z", state_word("Z")), ("Tt", state_word("T"))):
            k = sum(p.state in letters for p in self.processes)
            if k:
                counts.append(f"{k} {word}")
        extra = f": {', '.join(counts)}" if counts else ""
        return f"<Snapshot of {n} process{'es' if n != 1 else ''} under pid {self.root}{extra}>"

    def __str__(self) -> str:
        """The :meth:`tree` rendering.

        >>> str(Snapshot(0.0, 1, ()))
        '(no processes)'
        """
        return self.tree()

    def find(self, pid: int) -> ProcessInfo | None:
        """The process with this pid, or None.

        >>> import os
        >>> snapshot(os.getpid()).find(os.getpid()).pid == os.getpid()
        True
        >>> snapshot(os.getpid()).find(-1) is None
        True
        """
        return self._by_pid.get(pid)

    def children(self, pid: int) -> list[ProcessInfo]:
        """The children of *pid* present in the snapshot, oldest first.

        >>> snap = Snapshot(0.0, 1, (
        ...     ProcessInfo(1, 0, "S", "init", 1, None, 0.0, "parent", 0),
        ...     ProcessInfo(2, 1, "S", "sh", 1, None, 0.0, "child-1", 1),
        ... ))
        >>> [p.name for p in snap.children(1)], snap.children(2)
        (['child-1'], [])
        """
        return list(self._kids.get(pid, ()))

    def by_name(self, name: str) -> ProcessInfo | None:
        """The process with this symbolic name, or None.

        >>> import os
        >>> snapshot(os.getpid()).by_name("parent").pid == os.getpid()
        True
        """
        for p in self.processes:
            if p.name == name:
                return p
        return None

    def forest(self, width: int | None = None) -> str:
        r"""Text like ``ps -o pid,ppid,stat,command --forest`` (lines clipped to *width*).

        >>> snap = Snapshot(0.0, 10, (
        ...     ProcessInfo(10, 1, "S", "python demo.py", 1, None, 0.0, "parent", 0, "Ss"),
        ...     ProcessInfo(11, 10, "Z", "[python] <defunct>", 1, None, 0.0, "child-1", 1, "Z"),
        ... ))
        >>> print(snap.forest())  # doctest: +NORMALIZE_WHITESPACE
          PID  PPID STAT COMMAND
           10     1 Ss   python demo.py
           11    10 Z     \_ [python] <defunct>
        """
        return _ps_render.forest(self.processes, width)

    def tree(self, width: int | None = None) -> str:
        """Text drawn with ``├──``/``└──``: ``name (pid) STATE command`` per line.

        Zombies show ``<defunct>``, stopped processes ``(stopped)``, traced ones ``(traced)``.

        >>> snap = Snapshot(0.0, 10, (
        ...     ProcessInfo(10, 1, "S", "python demo.py", 1, None, 0.0, "parent", 0),
        ...     ProcessInfo(11, 10, "t", "python demo.py", 1, None, 0.0, "child-1", 1),
        ... ))
        >>> print(snap.tree())
        parent (10) S python demo.py
        └── child-1 (11) t python demo.py (traced)
        """
        return _ps_render.tree(self.processes, width)

    def _repr_html_(self) -> str:
        """An HTML table for notebooks (command lines escaped).

        >>> snap = Snapshot(0.0, 1, (
        ...     ProcessInfo(1, 0, "S", "echo <script>", 1, None, 0.0, "parent", 0),))
        >>> "&lt;script&gt;" in snap._repr_html_()
        True
        """
        return _ps_render.html_table(self.processes)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython's plain-text display: the tree."""
        printer.text(self.tree())


class Inspector:
    """Takes snapshots of one tree, again and again, cheaply.

    The first snapshot (and any taken more than :attr:`full_scan_after` seconds after the
    previous one) reads ``/proc/PID/stat`` for every process; later ones read only the tree's
    members and pids that are new since the last snapshot. That is exact because a process
    outside the tree never moves into it (an orphan is adopted by an *ancestor's* subreaper);
    the one exception, pid reuse, needs the whole pid space to wrap around between two
    snapshots, hence the time limit.

    With ``include_root=False`` the root itself is left out and its children are the top level
    (the view a contained run's supervisor wants): the first top-level process is named
    *root_name*, later never-seen ones ``orphan-1``, ``orphan-2``, ... (see :class:`Namer`).

    >>> import os
    >>> inspector = Inspector(os.getpid(), root_name="kernel")
    >>> [inspector.snapshot().find(os.getpid()).name for _ in range(2)]
    ['kernel', 'kernel']
    """

    full_scan_after: float = 1.0

    def __init__(
        self,
        root: int,
        *,
        namer: Namer | None = None,
        include_root: bool = True,
        root_name: str = "parent",
    ) -> None:
        """Inspect the tree under *root*; names come from *namer* (a new one by default).

        >>> Inspector(1, include_root=False)
        <Inspector root=1 include_root=False>
        """
        self.root = root
        self.namer = Namer() if namer is None else namer
        self.include_root = include_root
        self.root_name = root_name
        self._outside: set[int] = set()
        self._last = -math.inf

    def __repr__(self) -> str:
        return f"<Inspector root={self.root} include_root={self.include_root}>"

    def snapshot(self) -> Snapshot:
        """The tree as it is now.

        >>> import os
        >>> len(Inspector(os.getpid()).snapshot()) >= 1
        True
        """
        started = time.monotonic()
        now = time.time()
        pids = list_pids()
        if started - self._last > self.full_scan_after:
            outside: set[int] = set()
            candidates = pids
        else:
            outside = self._outside.intersection(pids)
            candidates = [pid for pid in pids if pid not in outside]
        stats: dict[int, ProcStat] = {}
        for pid in candidates:
            s = read_stat(pid)
            if s is not None:
                stats[pid] = s
        processes = self._walk(stats)
        members = {p.pid for p in processes}
        members.add(self.root)
        self._outside = outside | _settled_outside(stats, members, outside)
        self._last = started
        return Snapshot(now, self.root, tuple(processes))

    def _walk(self, stats: dict[int, ProcStat]) -> list[ProcessInfo]:
        """Pre-order walk from the root over the stats read; reads cmdline and wchan."""
        kids: dict[int, list[ProcStat]] = {}
        for s in stats.values():
            kids.setdefault(s.ppid, []).append(s)
        if self.include_root:
            top = stats.get(self.root)
            tops = [] if top is None else [top]
        else:
            tops = kids.get(self.root, [])
        order = _oldest_first(tops)
        stack: list[tuple[ProcStat, int, tuple[int, float] | None]] = [
            (s, 0, None) for s in reversed(order)
        ]
        seen: set[int] = set()
        out: list[ProcessInfo] = []
        while stack:
            s, depth, parent = stack.pop()
            if s.pid in seen:  # only a pid reused mid-walk could make a cycle
                continue
            seen.add(s.pid)
            start = start_time(s)
            name = self.namer.name(s.pid, start, parent, root_name=self.root_name)
            argv, command = display_args(read_cmdline(s.pid), s.comm, s.state)
            out.append(
                ProcessInfo(
                    s.pid,
                    s.ppid,
                    s.state,
                    command,
                    s.threads,
                    read_wchan(s.pid),
                    start,
                    name,
                    depth,
                    s.ps_stat(),
                    s.pgrp,
                    s.sid,
                    s.comm,
                    argv,
                )
            )
            children = kids.get(s.pid)
            if children:
                key = (s.pid, start)
                stack.extend((c, depth + 1, key) for c in reversed(_oldest_first(children)))
        return out


def _oldest_first(stats: list[ProcStat]) -> list[ProcStat]:
    return sorted(stats, key=lambda s: (s.start_ticks, s.pid))


def _settled_outside(stats: dict[int, ProcStat], members: set[int], known: set[int]) -> set[int]:
    """The processes read that are surely not in the tree and never will be.

    One is if its chain of parents climbs, through processes read, to the top (ppid 0) or to a
    process already known to be outside. One whose chain meets a parent not read (it exited
    mid-scan, and its children are being adopted, maybe by a subreaper in the tree) is not
    settled: it is read again next time.
    """
    settled: dict[int, bool] = {}
    for pid in stats:
        if pid in members or pid in settled:
            continue
        chain: list[int] = []
        on_chain: set[int] = set()
        p = pid
        while True:
            if p in settled:
                verdict = settled[p]
                break
            if p == 0 or p in known:
                verdict = True
                break
            s = stats.get(p)
            if s is None or p in members or p in on_chain:
                verdict = False
                break
            chain.append(p)
            on_chain.add(p)
            p = s.ppid
        for c in chain:
            settled[c] = verdict
    return {pid for pid, ok in settled.items() if ok}


def snapshot(
    root: int,
    *,
    namer: Namer | None = None,
    include_root: bool = True,
    root_name: str = "parent",
) -> Snapshot:
    """One snapshot of the tree under *root* (a full read of ``/proc``).

    Pass the same *namer* to successive calls to keep names stable across them (an
    :class:`Inspector` does that, and reads less). A root that does not exist gives an empty
    snapshot.

    >>> import os
    >>> snapshot(os.getpid()).find(os.getpid()).name
    'parent'
    >>> len(snapshot(-1))
    0
    """
    return Inspector(root, namer=namer, include_root=include_root, root_name=root_name).snapshot()
