"""Stable symbolic names for the processes of one run: ``parent``, ``child-1``, ``child-1.1``, ...

A pid is not a name a student can follow from one run to the next, and it can be reused within
a run; a process is therefore identified by ``(pid, start_time)`` and keeps the name it was first
given for as long as the :class:`Namer` lives, whatever happens to its siblings or its parent.
"""

from __future__ import annotations

from fork110._proc import child_name

__all__ = ["Namer"]

Key = tuple[int, float]


class Namer:
    """Give each process of a run a name once, and keep it for the whole run.

    The rules:

    * the first top-level process named gets the root name (``"parent"`` unless told otherwise);
      every later, never-seen top-level process is ``orphan-1``, ``orphan-2``, ... (under a
      contained run's supervisor, the only extra top-level processes are adopted orphans);
    * the children of the root-named process are ``child-1``, ``child-2``, ...; the children of
      any other process ``P`` are ``P.1``, ``P.2``, ... (so ``child-1.1`` is a grandchild);
    * children are numbered in the order they are first seen (a snapshot offers them by start
      time, then pid); a number is never given twice, so a process keeps its name after a
      sibling exits, and a process reparented elsewhere (an orphan) keeps its old name;
    * a process is ``(pid, start_time)``: a reused pid is a new process with a new name.

    >>> namer = Namer()
    >>> namer.name(100, 5.0)
    'parent'
    >>> namer.name(101, 5.1, parent=(100, 5.0)), namer.name(102, 5.2, parent=(100, 5.0))
    ('child-1', 'child-2')
    >>> namer.name(103, 5.3, parent=(101, 5.1))
    'child-1.1'
    >>> namer.name(101, 5.1), namer.name(104, 6.0)  # known; a second top-level process
    ('child-1', 'orphan-1')
    >>> namer.name(101, 9.9, parent=(100, 5.0))  # pid 101 reused: a new process
    'child-3'
    """

    __slots__ = ("_counters", "_names", "_orphans", "_top", "_used")

    def __init__(self) -> None:
        """Start a run with no names given.

        >>> len(Namer())
        0
        """
        self._names: dict[Key, str] = {}
        self._counters: dict[Key, int] = {}
        self._used: set[str] = set()  # every name given or pinned: a name is never given twice
        self._top: Key | None = None
        self._orphans = 0

    def __len__(self) -> int:
        """How many processes have been named.

        >>> n = Namer(); _ = n.name(1, 0.0); len(n)
        1
        """
        return len(self._names)

    def __repr__(self) -> str:
        return f"<Namer: {len(self._names)} names>"

    def get(self, pid: int, start_time: float) -> str | None:
        """The name already given to this process, or None.

        >>> n = Namer(); _ = n.name(1, 0.0)
        >>> n.get(1, 0.0), n.get(1, 1.0)
        ('parent', None)
        """
        return self._names.get((pid, start_time))

    def pin(self, pid: int, start_time: float, name: str) -> None:
        """Give a process a name of your choosing (its children are then ``name.1``, ...).

        Pinning the first process with a custom name makes it the root for child numbering.

        >>> n = Namer(); n.pin(1, 0.0, "shell")
        >>> n.name(1, 0.0), n.name(2, 0.5, parent=(1, 0.0))
        ('shell', 'child-1')
        >>> n.pin(4, 0.7, "child-2")  # named by an event before a snapshot saw its sibling
        >>> n.name(3, 0.6, parent=(1, 0.0))  # the next free number, never a duplicate
        'child-3'

        """
        key = (pid, start_time)
        if self._top is None:
            self._top = key
        self._names[key] = name
        self._used.add(name)

    def name(
        self,
        pid: int,
        start_time: float,
        parent: Key | None = None,
        *,
        root_name: str = "parent",
    ) -> str:
        """The process's name, giving it the next one if it is new.

        *parent* is the parent's ``(pid, start_time)``, or None for a top-level process; a new
        child of a parent never named is named as a top-level process.

        >>> n = Namer()
        >>> n.name(10, 0.0, root_name="shell"), n.name(11, 0.0, parent=(10, 0.0))
        ('shell', 'child-1')
        """
        key = (pid, start_time)
        known = self._names.get(key)
        if known is not None:
            return known
        parent_name = None if parent is None else self._names.get(parent)
        if parent is None or parent_name is None:
            if self._top is None:
                self._top = key
                new = root_name
            else:
                self._orphans += 1
                new = f"orphan-{self._orphans}"
        else:
            number = self._counters.get(parent, 0)
            while True:  # skip numbers already pinned (a fork reported before a sibling was seen)
                number += 1
                new = child_name(parent_name, number, root=parent == self._top)
                if new not in self._used:
                    break
            self._counters[parent] = number
        self._names[key] = new
        self._used.add(new)
        return new
