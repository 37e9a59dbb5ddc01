"""Pictures of a process tree for the widgets: SVG boxes and edges, a process-count chart, a legend,
the ``ps`` command line, a run's summary. Pure functions of a :class:`~fork110.ps.Snapshot` (no
ipywidgets), so the same HTML is the live view and the static rendering a saved notebook keeps.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from fork110._ps_render import command_shown
from fork110.ps import ProcessInfo, Snapshot
from fork110.sandbox import ContainedRun

__all__ = ["chart_svg", "kind", "legend_html", "ps_command", "summary_html", "tree_svg"]

# state kind -> (fill, stroke, words for the legend)
_KINDS: dict[str, tuple[str, str, str]] = {
    "running": ("#e3f6e3", "#2e7d32", "R running (on a CPU or ready to run)"),
    "sleeping": ("#f4f4f4", "#777777", "S sleeping (waiting for something ordinary)"),
    "blocked": ("#fff3c4", "#b08900", "S blocked on a lock (futex wait): maybe a deadlock"),
    "zombie": ("#fde0e0", "#c62828", "Z zombie: exited, not yet waited for by its parent"),
    "stopped": ("#ffe6cc", "#e65100", "T stopped (by a signal such as SIGSTOP)"),
    "traced": ("#ece0fb", "#6a1b9a", "t traced (stopped by a debugger, ptrace)"),
    "disk": ("#e0ecfb", "#1565c0", "D in the kernel, uninterruptible (disk or I/O)"),
}
_SVG_STYLE = (
    "<style>.fork110-tree .proc rect{stroke-width:1.5}.fork110-tree .proc text{fill:#111}"
    + "".join(f".fork110-tree .{k} rect{{fill:{f};stroke:{s}}}" for k, (f, s, _) in _KINDS.items())
    + "</style>"
)
_ROW = 26
_INDENT = 26
_BOX_W = 430
_MAX_ROWS = 60


def kind(p: ProcessInfo) -> str:
    """The colour class of a process: running, sleeping, blocked, zombie, stopped, traced or disk.

    >>> kind(ProcessInfo(7, 1, "S", "python", 1, "futex_wait_queue", 0.0, "child-1", 1))
    'blocked'
    >>> kind(ProcessInfo(7, 1, "Z", "[python] <defunct>", 1, None, 0.0, "child-1", 1))
    'zombie'
    """
    if p.state == "Z" or p.state == "X":
        return "zombie"
    if p.state == "T":
        return "stopped"
    if p.state == "t":
        return "traced"
    if p.state == "D":
        return "disk"
    if p.state == "R":
        return "running"
    if p.wchan and "futex" in p.wchan:
        return "blocked"
    return "sleeping"


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def tree_svg(snap: Snapshot, *, title: str = "") -> str:
    """The tree as an SVG picture: one box per process (name, pid, state, command), edges from
    each parent to its children, colours by state (see :func:`legend_html`).

    >>> snap = Snapshot(0.0, 1, (
    ...     ProcessInfo(10, 1, "S", "python <contained>", 1, "do_wait", 0.0, "parent", 0),
    ...     ProcessInfo(11, 10, "Z", "[python] <defunct>", 1, None, 0.0, "child-1", 1)))
    >>> svg = tree_svg(snap)
    >>> svg.startswith("<svg"), "child-1" in svg, 'data-state="Z"' in svg
    (True, True, True)
    """
    procs = list(snap.processes)
    hidden = max(0, len(procs) - _MAX_ROWS)
    procs = procs[:_MAX_ROWS]
    depth = max((p.depth for p in procs), default=0)
    width = depth * _INDENT + _BOX_W + 10
    rows = len(procs) + (1 if hidden else 0) + (1 if not procs else 0)
    height = rows * _ROW + 6
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="fork110-tree" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" '
        'style="font-family:monospace;font-size:12px">'
    ]
    if title:
        out.append(f"<title>{html.escape(title)}</title>")
    out.append(_SVG_STYLE)
    row_of: dict[int, int] = {}
    for i, p in enumerate(procs):
        row_of[p.pid] = i
    for i, p in enumerate(procs):  # edges first, under the boxes
        j = row_of.get(p.ppid)
        if j is None or p.depth == 0:
            continue
        x0 = (p.depth - 1) * _INDENT + 12
        y0 = j * _ROW + _ROW - 4
        y1 = i * _ROW + _ROW // 2 + 3
        x1 = p.depth * _INDENT + 4
        out.append(
            f'<path d="M{x0} {y0} V{y1} H{x1}" fill="none" stroke="#999" stroke-width="1.2"/>'
        )
    for i, p in enumerate(procs):
        k = kind(p)
        x = p.depth * _INDENT + 4
        y = i * _ROW + 4
        cmd = _short(command_shown(p.command), 38)
        label = f"{p.name}  {p.pid}  {p.state}  {cmd}"
        wait = f" in {html.escape(p.wchan)}" if p.wchan else ""
        out.append(
            f'<g class="proc {k}" data-state="{html.escape(p.state)}">'
            f"<title>ppid {p.ppid}, {html.escape(p.stat or p.state)}{wait}</title>"
            f'<rect x="{x}" y="{y}" width="{_BOX_W}" height="{_ROW - 6}" rx="4"/>'
            f'<text x="{x + 6}" y="{y + 14}">{html.escape(label)}</text></g>'
        )
    if hidden:
        y = len(procs) * _ROW + 16
        out.append(f'<text x="4" y="{y}" fill="#555">… and {hidden} more processes</text>')
    if not snap.processes:
        out.append('<text x="4" y="18" fill="#555">(no process)</text>')
    out.append("</svg>")
    return "".join(out)


def chart_svg(
    points: Sequence[tuple[float, int]], budget: int | None, *, width: int = 260, height: int = 70
) -> str:
    """A small line chart of the number of processes over time, with the budget as a dashed line.

    >>> svg = chart_svg([(0.0, 1), (0.5, 4), (1.0, 8)], 8)
    >>> "budget 8" in svg, "polyline" in svg
    (True, True)
    """
    top = max([budget or 0] + [n for _, n in points] + [1])
    t_start = min((t for t, _ in points), default=0.0)
    t_end = max((t - t_start for t, _ in points), default=1.0) or 1.0
    left, right, up, down = 28, 8, 8, 16
    w, h = width - left - right, height - up - down

    def xy(t: float, n: int) -> str:
        return f"{left + w * (t - t_start) / t_end:.1f},{up + h - h * n / top:.1f}"

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="fork110-chart" width="{width}" '
        f'height="{height}" style="font-family:sans-serif;font-size:10px">',
        f'<rect x="{left}" y="{up}" width="{w}" height="{h}" fill="#fafafa" stroke="#ccc"/>',
        f'<text x="{left - 4}" y="{up + 8}" text-anchor="end">{top}</text>',
        f'<text x="{left - 4}" y="{up + h}" text-anchor="end">0</text>',
        f'<text x="{left + w}" y="{height - 3}" text-anchor="end">{t_end:.1f} s</text>',
        f'<text x="{left}" y="{height - 3}">processes over time</text>',
    ]
    if budget:
        y = up + h - h * budget / top
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + w}" y2="{y:.1f}" stroke="#c62828" '
            f'stroke-dasharray="4 3"/><text x="{left + 3}" y="{y + 10:.1f}" fill="#c62828">'
            f"budget {budget}</text>"
        )
    if points:
        pts: list[str] = []
        last = None
        for t, n in points:  # steps: the count holds until it changes
            if last is not None:
                pts.append(xy(t, last))
            pts.append(xy(t, n))
            last = n
        out.append(
            f'<polyline points="{" ".join(pts)}" fill="none" stroke="#1565c0" stroke-width="1.5"/>'
        )
    out.append("</svg>")
    return "".join(out)


def legend_html() -> str:
    """The colours in words.

    >>> "zombie" in legend_html()
    True
    """
    items = [
        f'<span style="display:inline-block;margin:1px 10px 1px 0">'
        f'<span style="display:inline-block;width:11px;height:11px;background:{fill};'
        f'border:1.5px solid {stroke};vertical-align:middle"></span> {html.escape(words)}</span>'
        for fill, stroke, words in _KINDS.values()
    ]
    return f'<div class="fork110-legend" style="font-size:11px">{"".join(items)}</div>'


def ps_command(snap: Snapshot, *, namespace_of: int = 0, host_session: int = 0) -> str:
    """The ``ps`` command a student can type in a terminal to see the same processes.

    For a run in its own pid namespace, as root (*namespace_of*: the host pid of one of its
    processes), ``nsenter`` makes ``ps`` read that namespace's ``/proc``, so it shows the pids
    of the tree; an ordinary user may not enter it, and sees the run's session by its host id
    (*host_session*), with the host's pids.

    >>> ps_command(Snapshot(0.0, 1, (
    ...     ProcessInfo(10, 1, "S", "python", 1, None, 0.0, "parent", 0, sid=10),)))
    'ps -o pid,ppid,stat,wchan:22,args --forest -s 10'
    >>> ps_command(Snapshot(0.0, 1, (
    ...     ProcessInfo(2, 1, "S", "python", 1, None, 0.0, "parent", 0, sid=1),)), namespace_of=4242)
    'nsenter -t 4242 -p -m ps -o pid,ppid,stat,wchan:22,args --forest -s 1'
    """
    cols = "ps -o pid,ppid,stat,wchan:22,args --forest"
    if namespace_of:
        cols = f"nsenter -t {namespace_of} -p -m {cols}"
    elif host_session:
        return f"{cols} -s {host_session}"
    sids = {p.sid for p in snap.processes if p.sid}
    if len(sids) == 1:
        return f"{cols} -s {sids.pop()}"
    pids = ",".join(str(p.pid) for p in snap.processes[:20])
    return f"{cols} -p {pids}" if pids else cols


def summary_html(run: ContainedRun, *, what: str = "") -> str:
    """How a run ended, in words: status, peak against the budget, each process's exit status,
    what the watchdog killed, what was refused, what was left.

    >>> from fork110 import ExitStatus
    >>> "peak 0 of 32" in summary_html(ContainedRun((), "", "", ExitStatus(0)))
    True
    """
    lines: list[str] = []
    if run.timed_out:
        lines.append(
            f"<b>The watchdog killed the run</b> after {run.timeout:g} s"
            + (f": {html.escape(run.watchdog)}" if run.watchdog else ".")
        )
    elif run.killed == "killed":
        lines.append("<b>Killed</b> on request (the Kill button, or the view was closed).")
    elif run.killed:
        lines.append(f"<b>Killed</b>: {html.escape(run.killed)}.")
    lines.append(html.escape(run.summary()))
    statuses = []
    for name in run.processes():
        st = run.status_of(name)
        statuses.append(f"{html.escape(name)}: {html.escape(str(st)) if st else 'no exit seen'}")
    if statuses:
        lines.append("Exit statuses: " + "; ".join(statuses))
    if run.refusals:
        lines.append(
            f"{run.refusals} fork{'s were' if run.refusals != 1 else ' was'} refused "
            f"(EAGAIN: the budget of {run.max_processes} processes was reached)."
        )
    lines += [html.escape(n) for n in run.notes]
    head = f"<b>{html.escape(what)}</b>: " if what else ""
    return f'<div class="fork110-summary">{head}' + "<br>".join(lines) + "</div>"
