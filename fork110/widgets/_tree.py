"""The live process-tree view: a picture of a contained run's tree, refreshed while the run lives."""

from __future__ import annotations

import html
import os
import signal
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from fork110.ps import Inspector, Snapshot
from fork110.sandbox import ContainedRun, Event, LiveRun

from . import _render
from ._static import Static, StaticCopy, replace_in_cell

__all__ = ["TreeView"]

_STARTING = "/_sandbox/inside/supervisor.py"  # the first process, before it becomes the code
_views: weakref.WeakSet[TreeView] = weakref.WeakSet()
EventListener = Callable[[list[Event]], None]
EndListener = Callable[[ContainedRun | None], None]


class TreeView(StaticCopy, w.VBox):  # type: ignore[misc]
    """A live picture of a process tree: boxes and edges, states in colour, a chart of the number
    of processes against the budget, and the ``ps`` command that shows the same thing.

    Bound to a :class:`~fork110.sandbox.LiveRun` (it then owns the run: it polls it, shows the final
    tree and the run's summary at the end, and closing the view kills the run), or to a pid (a
    student's own process: the view refreshes until that process is gone or the view is closed).
    Refreshing happens on a thread of its own, about ``1 / interval`` times a second, which ends
    when the run ends or the view is closed, whichever comes first.

    >>> from fork110.sandbox import start
    >>> view = TreeView(start("import os; os.waitpid(os.fork() or os._exit(0), 0)"))
    >>> view.wait(10).success(), view.refreshing, view.status
    (True, False, 'over')
    >>> view.close()
    """

    def __init__(
        self,
        source: LiveRun | int,
        *,
        budget: int | None = None,
        title: str = "",
        interval: float = 0.1,
    ) -> None:
        """Show *source* (a :class:`LiveRun`, or a pid); *budget* is drawn on the chart (a run's
        own budget by default); *interval* is the time between refreshes, in seconds."""
        self.title = title
        self.interval = float(interval)
        self.snapshot: Snapshot | None = None
        self.refreshes = 0
        self.refreshing = True
        self.result: ContainedRun | None = None
        self.states_seen: set[str] = set()
        self.first_tree_after: float | None = None  # seconds from start to the first tree drawn
        self.peak = 0
        self.status = "starting"
        self._live = source if isinstance(source, LiveRun) else None
        self._inspector = Inspector(source) if isinstance(source, int) else None
        self._budget = budget
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ended = threading.Event()
        self._listeners: list[EventListener] = []
        self._end_listeners: list[EndListener] = []
        self._points: list[tuple[float, int]] = []
        self._t0 = time.monotonic()
        self._last_chart = -1.0
        self._static = Static(repr(self))
        self._picture = w.HTML(layout=w.Layout(max_height="460px", overflow="auto"))
        self._text = w.HTML(layout=w.Layout(max_height="460px", overflow="auto", display="none"))
        self._mode = w.ToggleButtons(
            options=["picture", "text (├──)"],
            value="picture",
            tooltips=["boxes and edges", "the tree as text, as ps --forest would draw it"],
            style={"button_width": "110px"},
        )
        self._mode.observe(self._on_mode, names="value")
        self._chart = w.HTML()
        self._state = w.HTML(value="<i>starting…</i>")
        self._ps = w.HTML()
        self._summary = w.HTML()
        super().__init__(
            [
                w.HTML(self._static.hide_style()),
                w.HBox([self._mode, self._state]),
                w.HBox([self._picture, self._chart]),
                self._text,
                w.HTML(_render.legend_html()),
                self._ps,
                self._summary,
            ]
        )
        self.add_class("fork110-treeview")
        replace_in_cell(self)
        _views.add(self)
        _kill_on_interrupt()
        self._thread = threading.Thread(target=self._loop, name="fork110-treeview", daemon=True)
        self._thread.start()

    # -- public ---------------------------------------------------------------------------------

    @property
    def live(self) -> LiveRun | None:
        """The run shown (None for a view of a pid)."""
        return self._live

    @property
    def budget(self) -> int | None:
        """The budget drawn on the chart."""
        if self._budget is not None:
            return self._budget
        return self.result.max_processes if self.result is not None else None

    def on_events(self, listener: EventListener) -> None:
        """Call *listener* with each batch of new events (on the refresh thread)."""
        self._listeners.append(listener)

    def on_end(self, listener: EndListener) -> None:
        """Call *listener* with the finished run once it is over (on the refresh thread; at once if
        it is already over)."""
        if self._ended.is_set():
            listener(self.result)
        else:
            self._end_listeners.append(listener)

    def kill(self) -> None:
        """Kill the run now (the view keeps refreshing until the run is over and cleaned up)."""
        if self._live is not None:
            with self._lock:
                self._live.kill()

    def wait(self, timeout: float | None = None) -> ContainedRun:
        """Wait for the run to end and the final tree to be drawn; the finished run.

        Raises TimeoutError if it is still running after *timeout* seconds, and ValueError for a
        view of a pid (there is no run to wait for).
        """
        if self._live is None:
            raise ValueError(
                "this view shows a pid, not a contained run: there is no run to wait for"
            )
        if not self._ended.wait(timeout):
            raise TimeoutError(f"the run was still going after {timeout} s")
        assert self.result is not None
        return self.result

    @property
    def ended(self) -> bool:
        """True once refreshing is over and the final tree is drawn."""
        return self._ended.is_set()

    def close(self) -> None:
        """Stop refreshing (the thread ends before this returns), kill what is left of the run,
        and close the widget. Safe to call twice."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(5.0)
        if self._live is not None and not self._ended.is_set():
            self._live.close()
        super().close()

    def static_html(self) -> str:
        """What a notebook saved with this view shows without a kernel: the tree, the summary."""
        parts = [f"<b>{html.escape(self.title)}</b>" if self.title else ""]
        if self.snapshot is not None:
            parts.append(_render.tree_svg(self.snapshot))
        parts.append(self._summary.value or self._state.value)
        return "<div>" + "".join(parts) + "</div>"

    def __repr__(self) -> str:
        what = "a contained run" if self._live is not None else "a process"
        return f"TreeView({what}{': ' + self.title if self.title else ''})"

    # -- the refresh thread ---------------------------------------------------------------------

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                if not self._tick():
                    break
                if self._live is None:  # a pid view: nothing to read between refreshes
                    self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))
            self._finish()
        finally:
            self.refreshing = False
            self._ended.set()

    def _tick(self) -> bool:
        """One refresh; False once there is nothing more to show."""
        snap: Snapshot | None = None
        events: list[Event] = []
        if self._live is not None:
            # keep reading the run's events until the next refresh is due: the run samples its
            # tree as each fork and exit arrives, so even a run faster than a refresh is seen
            due = time.monotonic() + self.interval
            done = False
            while not done and not self._stop.is_set():
                with self._lock:
                    events += self._live.poll(min(0.02, max(0.0, due - time.monotonic())))
                    done = self._live.done
                if time.monotonic() >= due:
                    break
            if not done:
                with self._lock:
                    snap = self._live.snapshot()
            if events:
                for listener in self._listeners:
                    listener(events)
            if done:
                return False
        else:
            assert self._inspector is not None
            snap = self._inspector.snapshot()
            if not len(snap):
                return False
        if snap is not None and len(snap) and not any(_STARTING in p.command for p in snap):
            self._show(snap)
        self.refreshes += 1
        return True

    def _show(self, snap: Snapshot, *, final: bool = False) -> None:
        now = time.monotonic() - self._t0
        if self.snapshot is None:
            self.first_tree_after = now
        self.snapshot = snap
        n = len(snap)
        self.peak = max(self.peak, n)
        self.states_seen.update(p.state for p in snap)
        if not self._points:
            self._points.append((0.0, 0))  # the run started with nothing to show yet
        changed = self._points[-1][1] != n
        if changed:
            self._points.append((now, n))
        if self._mode.value == "picture":
            _set(self._picture, _render.tree_svg(snap, title=self.title))
        else:
            _set(self._text, f"<pre>{html.escape(snap.tree())}</pre>")
        if final or changed or now - self._last_chart >= 0.25:
            self._last_chart = now
            self._draw_chart(now)
            live = self._live  # in a run's own pid namespace: enter it through one of its own
            inside = session = 0
            if live is not None and live.namespace and len(snap):
                if os.geteuid() == 0:
                    inside = live.host_pid(snap.processes[0].pid) or 0
                session = live.pid  # its pid 1, a session leader (seen from outside)
            command = _render.ps_command(snap, namespace_of=inside, host_session=session)
            _set(self._ps, f"In a terminal: <code>{html.escape(command)}</code>")
        if not final:
            word = "process" if n == 1 else "processes"
            _set(self._state, f"<b>running</b>: {n} {word} now, peak {self.peak}")

    def _draw_chart(self, now: float) -> None:
        points = [*self._points, (now, self._points[-1][1])] if self._points else []
        budget = self.budget
        _set(self._chart, _render.chart_svg(points, budget))

    def _on_mode(self, change: dict[str, Any]) -> None:
        picture = change["new"] == "picture"
        self._picture.layout.display = None if picture else "none"
        self._text.layout.display = "none" if picture else None
        if self.snapshot is not None:
            if picture:
                _set(self._picture, _render.tree_svg(self.snapshot, title=self.title))
            else:
                _set(self._text, f"<pre>{html.escape(self.snapshot.tree())}</pre>")

    def _finish(self) -> None:
        if self._live is None:
            _set(self._state, "<b>the process is gone</b>" if not self._stop.is_set() else "closed")
            return
        stopped_early = not self._live.done
        with self._lock:
            if stopped_early:
                self._live.close()  # the view was closed while the run lived: kill it
            try:
                self.result = self._live.result()
            except Exception as exc:  # the run could not start (SandboxError): say so
                _set(self._state, f"<b>could not run</b>: {html.escape(str(exc))}")
                self.status = "failed"
                for end in self._end_listeners:
                    end(None)
                return
            rest = self._live.poll(0.0)
        if rest:
            for listener in self._listeners:
                listener(rest)
        run = self.result
        # the final tree: the last one with the run's first process in it (after it exits,
        # what is left are orphans on their way out), else the last with anything in it
        shown = [s for s in run.snapshots if len(s) and not _exiting(s)]
        final = next((s for s in reversed(shown) if _parent_alive(s)), None) or (
            shown[-1] if shown else None
        )
        if final is not None and not any(_STARTING in p.command for p in final):
            self._show(final, final=True)
            self.refreshes += 1
        elif self.snapshot is not None:
            self._draw_chart(time.monotonic() - self._t0)
        self.peak = max(self.peak, run.peak_processes)
        if run.timed_out:
            self.status = "timed out"
        elif stopped_early:
            self.status = "closed"
        elif run.killed:
            self.status = "killed"
        else:
            self.status = "over"
        words = {
            "timed out": f"<b style='color:#c62828'>timed out: the watchdog killed the run after {run.timeout:g} s</b>",
            "closed": "<b>closed: the run was killed</b>",
            "killed": "<b style='color:#c62828'>killed</b>",
            "over": "<b>over</b>",
        }[self.status]
        _set(self._state, f"{words} · {html.escape(run.summary())}")
        _set(self._summary, _render.summary_html(run))
        self._static.update(self.static_html())
        for end in self._end_listeners:
            end(run)


def _on_idle_interrupt(signum: int, frame: Any) -> None:
    """The kernel's interrupt button while no cell runs: kill every run a view shows."""
    for view in list(_views):
        if view.refreshing:
            view.kill()


def _kill_on_interrupt() -> None:
    """In an ipykernel, make an interrupt of the idle kernel kill the widgets' runs.

    ipykernel ignores SIGINT while idle and, around each execution, swaps in Python's default
    handler and then puts back the one it saved; we become the one it puts back. (While a cell
    runs, an interrupt is a KeyboardInterrupt in that cell as usual; ``%%contained`` kills its
    run on it.)
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return
    kernel = getattr(get_ipython(), "kernel", None)
    if kernel is None or not hasattr(kernel, "saved_sigint_handler"):
        return
    main = threading.current_thread() is threading.main_thread()
    if main and signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, _on_idle_interrupt)
    if kernel.saved_sigint_handler in (signal.SIG_IGN, None):
        kernel.saved_sigint_handler = _on_idle_interrupt


def _parent_alive(snap: Snapshot) -> bool:
    """The run's first process is in the tree and not exiting (nor a zombie of the supervisor)."""
    p = snap.by_name("parent")
    return p is not None and p.state not in "ZX"


def _exiting(snap: Snapshot) -> bool:
    """A process caught while it exits: no command line left, not yet a zombie."""
    return any(p.command.startswith("[") and p.state not in "ZX" for p in snap)


def _set(widget: w.HTML, value: str) -> None:
    """Send a value only when it changed (ipywidgets sends every assignment)."""
    if widget.value != value:
        widget.value = value
