"""Facts read from a contained run's own events: who forked whom, who reaped whom, what printed.

Only the public event facts are used (``fork``/``spawn``/``appear``, ``reap``, ``stdout``), so
the answers hold whoever supervises the run: a reaper that is not one of the run's own processes
(the supervisor, a pid namespace's init) is reported as ``init``.

>>> from fork110.sandbox import Event, ContainedRun
>>> from fork110._status import ExitStatus
>>> run = ContainedRun((
...     Event(0, "start", "parent", 1),
...     Event(0, "fork", "parent", 1, other="child-1", other_pid=2),
...     Event(0, "stdout", "child-1", 2, "A\\n"),
...     Event(0, "reap", "supervisor", 9, other="child-1", status=ExitStatus(0)),
... ), "A\\n", "", ExitStatus(0))
>>> tree(run), reapers(run), counts(run)
({'child-1': 'parent'}, {'child-1': 'init'}, {'A': 1})
"""

from __future__ import annotations

from fork110._sandbox.result import ContainedRun

__all__ = ["INIT", "born_at", "counts", "ordering", "reapers", "render_tree", "tree"]

INIT = "init"
_BIRTH = ("fork", "spawn")


def tree(run: ContainedRun) -> dict[str, str]:
    """Every process the run's processes made, mapped to the process that made it."""
    return {e.other: e.process for e in run.events if e.kind in _BIRTH and e.other}


def reapers(run: ContainedRun) -> dict[str, str]:
    """Every process reaped in the run (but the first), mapped to its reaper (``init`` when the
    reaper is not one of the run's own processes)."""
    own = set(tree(run)) | {"parent"}
    out: dict[str, str] = {}
    for e in run.events:
        if e.kind == "reap" and e.other and e.other != "parent":
            out[e.other] = e.process if e.process in own else INIT
    return out


def counts(run: ContainedRun) -> dict[str, int]:
    """How many times each stdout line (markers ``@k`` left out) was printed."""
    out: dict[str, int] = {}
    for line in run.stdout.splitlines():
        if line and not line.startswith("@"):
            out[line] = out.get(line, 0) + 1
    return dict(sorted(out.items()))


def ordering(run: ContainedRun) -> str:
    """The run's stdout lines (markers left out) joined into one string: ``ABBC``."""
    return "".join(line for line in run.stdout.splitlines() if line and not line.startswith("@"))


def born_at(run: ContainedRun) -> dict[str, int]:
    """For a run with markers (every process prints ``@k`` after action ``k``), the 0-based
    action at which each process was forked: its parent's last marker before the fork."""
    last: dict[str, int] = {"parent": 0}
    out: dict[str, int] = {}
    for e in run.events:
        if e.kind == "stdout" and e.detail.startswith("@"):
            last[e.process] = int(e.detail[1:])
        elif e.kind in _BIRTH and e.other:
            out[e.other] = last.get(e.process, 0)
            last.setdefault(e.other, out[e.other] + 1)  # a bare fork's child goes on after it
    return out


def render_tree(parents: dict[str, str], root: str = "parent") -> str:
    """A child -> parent map drawn as a tree, children in order of their names' numbers.

    >>> print(render_tree({"child-1": "parent", "child-1.1": "child-1", "child-2": "parent"}))
    parent
    ├── child-1
    │   └── child-1.1
    └── child-2
    """
    kids: dict[str, list[str]] = {}
    for child, parent in parents.items():
        kids.setdefault(parent, []).append(child)
    lines = [root]

    def key(name: str) -> list[int]:
        return [int(x) for x in name.rsplit("-", 1)[-1].split(".") if x.isdigit()]

    def draw(name: str, prefix: str) -> None:
        children = sorted(kids.get(name, []), key=key)
        for i, child in enumerate(children):
            last = i == len(children) - 1
            lines.append(f"{prefix}{'└── ' if last else '├── '}{child}")
            draw(child, prefix + ("    " if last else "│   "))

    draw(root, "")
    return "\n".join(lines)
