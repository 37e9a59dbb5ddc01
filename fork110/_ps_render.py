"""Text and HTML renderings of a snapshot: ``ps --forest`` style, a ``├──/└──`` tree, a table.

The functions take the snapshot's processes in pre-order (each with its depth) and know nothing
else about them; :class:`fork110.ps.Snapshot` calls them from ``forest``, ``tree`` and
``_repr_html_``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from fork110._ps_proc import pid_width

if TYPE_CHECKING:
    from fork110.ps import ProcessInfo

__all__ = ["command_shown", "forest", "html_table", "mark", "tree"]

_MARKS = {"T": " (stopped)", "t": " (traced)"}
_ROW_CLASS = {"Z": "zombie", "T": "stopped", "t": "stopped", "R": "running", "D": "disk"}
_STYLE = (
    "<style>"
    ".fork110-ps{border-collapse:collapse;font-family:monospace;font-size:90%}"
    ".fork110-ps th,.fork110-ps td{padding:1px 8px;text-align:left;vertical-align:top}"
    ".fork110-ps td.n{text-align:right}"
    ".fork110-ps td.tree{white-space:pre}"
    ".fork110-ps tr.zombie td{color:#a00;background:#fdd}"
    ".fork110-ps tr.stopped td{color:#850;background:#ffd}"
    "</style>"
)


# A demo program compiled into the per-user build cache (~/.cache/fork110/c/zombies-<16 hex>)
_BUILT = re.compile(r"^\S*/fork110(?:-\d+)?/(?:c|rust)/([^/\s]+?)-[0-9a-f]{16}(?=\s|$)")


def command_shown(command: str) -> str:
    """The command line as the trees show it: a demo program compiled into the build cache by its
    name (its path and hash say nothing to a reader); everything else as ``ps`` shows it.

    >>> command_shown("/root/.cache/fork110/c/zombies-0123456789abcdef 3")
    'zombies 3'
    >>> command_shown("/bin/sleep 5")
    '/bin/sleep 5'
    """
    return _BUILT.sub(r"\1", command)


def mark(p: ProcessInfo) -> str:
    """What follows a process's command in the tree: `` (stopped)``, `` (traced)`` or nothing.

    Zombies need no mark: their command already ends in ``<defunct>``, as in ``ps``.

    >>> from fork110.ps import ProcessInfo
    >>> mark(ProcessInfo(5, 1, "T", "sleep 9", 1, None, 0.0, "parent", 0))
    ' (stopped)'
    """
    return _MARKS.get(p.state, "")


def _later_siblings(processes: Sequence[ProcessInfo]) -> list[bool]:
    """For each process in pre-order: does a sibling follow it (same parent, same depth)?"""
    result = [False] * len(processes)
    following: list[bool] = []  # following[d]: a process at depth d comes later in this subtree
    for i in range(len(processes) - 1, -1, -1):
        d = processes[i].depth
        result[i] = len(following) > d and following[d]
        del following[d + 1 :]
        following.extend([False] * (d + 1 - len(following)))
        following[d] = True
    return result


def _prefixes(processes: Sequence[ProcessInfo], bar: str, tee: str, elbow: str) -> list[str]:
    """The drawing in front of each line: one 4-column cell per level below the top."""
    siblings = _later_siblings(processes)
    open_levels: list[bool] = []  # open_levels[d]: the ancestor at depth d has a later sibling
    out = []
    for p, more in zip(processes, siblings):
        del open_levels[p.depth :]
        open_levels.extend([False] * (p.depth - len(open_levels)))
        cells = [bar if open_levels[level] else "    " for level in range(1, p.depth)]
        if p.depth:
            cells.append(tee if more else elbow)
        out.append("".join(cells))
        open_levels.append(more)
    return out


def _clip(line: str, width: int | None) -> str:
    if width is None or len(line) <= width:
        return line
    return line[: max(width - 1, 0)] + "…"


def forest(processes: Sequence[ProcessInfo], width: int | None = None) -> str:
    r"""Lines like ``ps -o pid,ppid,stat,command --forest``, header included.

    >>> from fork110.ps import ProcessInfo
    >>> ps = [
    ...     ProcessInfo(10, 1, "S", "sh run.sh", 1, None, 0.0, "parent", 0),
    ...     ProcessInfo(11, 10, "S", "sh run.sh", 1, None, 0.0, "child-1", 1),
    ...     ProcessInfo(13, 11, "Z", "[true] <defunct>", 1, None, 0.0, "child-1.1", 2),
    ...     ProcessInfo(12, 10, "T", "sleep 9", 1, None, 0.0, "child-2", 1),
    ... ]
    >>> print(forest(ps))  # doctest: +NORMALIZE_WHITESPACE
      PID  PPID STAT COMMAND
       10     1 S    sh run.sh
       11    10 S     \_ sh run.sh
       13    11 Z     |   \_ [true] <defunct>
       12    10 T     \_ sleep 9
    """
    w = max([pid_width()] + [len(str(p.pid)) for p in processes])
    lines = [f"{'PID':>{w}} {'PPID':>{w}} STAT COMMAND"]
    for p, prefix in zip(processes, _prefixes(processes, " |  ", " \\_ ", " \\_ ")):
        stat = p.stat or p.state
        lines.append(_clip(f"{p.pid:>{w}} {p.ppid:>{w}} {stat:<4} {prefix}{p.command}", width))
    return "\n".join(lines)


def tree(processes: Sequence[ProcessInfo], width: int | None = None) -> str:
    """Lines ``name (pid) STATE command``, drawn with ``├──``, ``│`` and ``└──``.

    >>> from fork110.ps import ProcessInfo
    >>> ps = [
    ...     ProcessInfo(10, 1, "S", "sh run.sh", 1, None, 0.0, "parent", 0),
    ...     ProcessInfo(11, 10, "S", "sh run.sh", 1, None, 0.0, "child-1", 1),
    ...     ProcessInfo(13, 11, "Z", "[true] <defunct>", 1, None, 0.0, "child-1.1", 2),
    ...     ProcessInfo(12, 10, "T", "sleep 9", 1, None, 0.0, "child-2", 1),
    ... ]
    >>> print(tree(ps))
    parent (10) S sh run.sh
    ├── child-1 (11) S sh run.sh
    │   └── child-1.1 (13) Z [true] <defunct>
    └── child-2 (12) T sleep 9 (stopped)
    >>> print(tree(ps, width=20))
    parent (10) S sh ru…
    ├── child-1 (11) S …
    │   └── child-1.1 (…
    └── child-2 (12) T …
    """
    if not processes:
        return "(no processes)"
    lines = []
    for p, prefix in zip(processes, _prefixes(processes, "│   ", "├── ", "└── ")):
        line = f"{prefix}{p.name} ({p.pid}) {p.state} {command_shown(p.command)}{mark(p)}"
        lines.append(_clip(line, width))
    return "\n".join(lines)


def html_table(processes: Sequence[ProcessInfo]) -> str:
    """An HTML table for notebooks: the tree in the first column, everything escaped.

    >>> from fork110.ps import ProcessInfo
    >>> p = ProcessInfo(10, 1, "Z", "[a<b>] <defunct>", 1, None, 0.0, "parent", 0)
    >>> out = html_table([p])
    >>> "&lt;defunct&gt;" in out and "<defunct>" not in out and 'class="zombie"' in out
    True
    """
    e = html.escape
    rows = []
    for p, prefix in zip(processes, _prefixes(processes, "│   ", "├── ", "└── ")):
        css = _ROW_CLASS.get(p.state)
        rows.append(
            (f'<tr class="{css}">' if css else "<tr>")
            + f'<td class="tree">{e(prefix + p.name)}</td>'
            f'<td class="n">{p.pid}</td><td class="n">{p.ppid}</td>'
            f"<td>{e(p.stat or p.state)}</td>"
            f'<td class="n">{p.threads}</td>'
            f"<td>{e(p.wchan or '-')}</td>"
            f"<td>{e(command_shown(p.command) + mark(p))}</td></tr>"
        )
    head = (
        "<tr><th>name</th><th>PID</th><th>PPID</th><th>STAT</th>"
        "<th>threads</th><th>WCHAN</th><th>command</th></tr>"
    )
    count = f"{len(processes)} process{'es' if len(processes) != 1 else ''}"
    return (
        f'{_STYLE}<table class="fork110-ps"><caption>{count}</caption>'
        f"<thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
    )
