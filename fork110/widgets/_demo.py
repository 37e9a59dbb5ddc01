"""A panel per slide demo: its code, buttons to run it contained, the live tree, the explanation."""

from __future__ import annotations

import html
import shutil
import threading
from typing import Any

import ipywidgets as w

from fork110 import demos
from fork110.demos import Demo, DemoResult
from fork110.sandbox import ContainedRun, Event

from ._static import Static, StaticCopy, replace_in_cell
from ._tree import TreeView

__all__ = ["DemoPanel"]

_MAX_LINES = 400
_PRE = "margin:0;font-size:12px;white-space:pre-wrap"


def _pre(text: str) -> w.HTML:
    return w.HTML(f"<pre style='{_PRE}'>{html.escape(text)}</pre>")


class DemoPanel(StaticCopy, w.VBox):  # type: ignore[misc]
    """One slide demo, live: tabs with the slide's C, the Python translation and each fix; Run,
    Run fixed, Run C and Kill; sliders for the fork budget and the timeout; the live
    :class:`TreeView`; the output as it streams; the explanation once the run is over.

    In a notebook cell: ``DemoPanel("zombies")``. The buttons have twins for tests and scripts:
    :meth:`run`, :meth:`kill`, :meth:`wait`, and :attr:`tree` is the current view.

    >>> panel = DemoPanel("runaway")
    >>> panel.budget.value = 4
    >>> r = panel.run().wait(20)
    >>> r.run.peak_processes, panel.tree.peak <= 4
    (4, True)
    >>> panel.close()
    """

    def __init__(
        self, name: str, *, budget: int | None = None, timeout: float | None = None
    ) -> None:
        """The panel for the demo called *name* (see :func:`fork110.demos.names`)."""
        self.demo: Demo = demos.get(name)
        self.result: DemoResult | None = None
        self.error: str = ""
        self.runs = 0
        self._run: Any = None  # the DemoRun going now
        self._done = threading.Event()
        self._done.set()
        self._lines: list[str] = []
        self._static = Static(repr(self))
        d = self.demo
        keys = list(d.variants)
        fixes = keys[1:]
        tabs = [_pre(d.slide)] + [_pre(d.variants[k].python) for k in keys]
        self.code = w.Tab(children=tabs)
        titles = ["slide (C)", "Python"] + [f"fix: {k}" for k in fixes]
        for i, t in enumerate(titles):
            self.code.set_title(i, t)
        self.run_button = w.Button(description="Run", button_style="primary", icon="play")
        self.run_button.tooltip = "run the code as on the slide (in Python), contained"
        self.fixed_button = w.Button(description="Run fixed", button_style="success", icon="wrench")
        self.fix_choice = w.Dropdown(
            options=[(d.variants[k].title[:60], k) for k in fixes],
            layout=w.Layout(width="260px", display=None if len(fixes) > 1 else "none"),
            description="",
        )
        self.fixed_button.disabled = not fixes
        has_c = d.variants[keys[0]].c is not None
        compiler = shutil.which("cc") is not None
        self.c_button = w.Button(
            description="Run C", icon="cogs", disabled=not (has_c and compiler)
        )
        self.c_button.tooltip = (
            "compile the completed C program and run it, contained"
            if has_c and compiler
            else "no C version of this demo"
            if not has_c
            else "no C compiler (cc) on this machine: install gcc to run the C"
        )
        self.kill_button = w.Button(description="Kill", button_style="danger", icon="stop")
        self.kill_button.disabled = True
        self.kill_button.tooltip = "kill the whole run now"
        limits = dict(d.limits)
        self.budget = w.IntSlider(
            value=budget or int(limits.get("max_processes", 32)),
            min=1,
            max=64,
            description="fork budget",
            style={"description_width": "80px"},
        )
        self.timeout = w.FloatSlider(
            value=timeout or float(limits.get("timeout", 5.0)),
            min=0.5,
            max=30.0,
            step=0.5,
            description="timeout (s)",
            style={"description_width": "80px"},
        )
        self.run_button.on_click(lambda _b: self.run(False))
        self.fixed_button.on_click(lambda _b: self.run(self.fix_choice.value or True))
        self.c_button.on_click(lambda _b: self.run(False, language="c"))
        self.kill_button.on_click(lambda _b: self.kill())
        self.tree_box = w.VBox()
        self.output = w.HTML(layout=w.Layout(max_height="240px", overflow="auto"))
        self.explanation = w.HTML()
        self.tree: TreeView | None = None
        super().__init__(
            [
                w.HTML(
                    self._static.hide_style()
                    + f"<h4 style='margin:2px 0'>{html.escape(d.title)}</h4>"
                ),
                self.code,
                w.HBox(
                    [
                        self.run_button,
                        self.fixed_button,
                        self.fix_choice,
                        self.c_button,
                        self.kill_button,
                    ]
                ),
                w.HBox([self.budget, self.timeout]),
                self.tree_box,
                self.output,
                self.explanation,
            ]
        )
        replace_in_cell(self)
        self.add_class("fork110-demopanel")

    # -- the buttons' twins -----------------------------------------------------------------------

    def run(self, fixed: bool | str = False, language: str = "python") -> DemoPanel:
        """Start a run of the demo (killing the one going, if any) and return at once.

        *fixed* chooses the variant as :meth:`fork110.demos.Demo.variant` does; *language* is any
        language the demo accepts ("python", "c", ...).
        """
        self._stop_current()
        self.result, self.error = None, ""
        self._lines = []
        self._done.clear()
        self.output.value = ""
        self.explanation.value = "<i>running…</i>"
        try:
            drun = self.demo.start(
                fixed,
                language=language,
                max_processes=int(self.budget.value),
                timeout=float(self.timeout.value),
            )
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            self.explanation.value = (
                f"<b style='color:#c62828'>Could not run</b>: {html.escape(self.error)}"
            )
            self._done.set()
            return self
        self._run = drun
        self.runs += 1
        what = f"{drun.variant.key}, {drun.language}"
        tree = TreeView(
            drun.live, budget=int(self.budget.value), title=f"{self.demo.name} ({what})"
        )
        self.tree = tree
        self.tree_box.children = (tree,)
        self.kill_button.disabled = False
        for note in drun.notes:
            self._lines.append(f"note: {note}")
        tree.on_events(self._on_events)
        tree.on_end(lambda run: self._on_end(drun, run))
        return self

    def kill(self) -> None:
        """Kill the run going now (nothing happens if none is)."""
        if self.tree is not None:
            self.tree.kill()

    def wait(self, timeout: float | None = None) -> DemoResult:
        """Wait for the run to end and be explained; its :class:`~fork110.demos.DemoResult`.

        Raises TimeoutError after *timeout* seconds, RuntimeError if the run could not be made.
        """
        if not self._done.wait(timeout):
            raise TimeoutError(f"the {self.demo.name} demo was still running after {timeout} s")
        if self.result is None:
            raise RuntimeError(self.error or "nothing was run yet: call run() first")
        return self.result

    def close(self) -> None:
        """Kill the run going now, stop its view, close the panel."""
        self._stop_current()
        super().close()

    def static_html(self) -> str:
        """What a notebook saved with this panel shows without a kernel: the final tree, the
        transcript and the explanation of the last run."""
        parts = [f"<h4>{html.escape(self.demo.title)}</h4>"]
        if self.tree is not None:
            parts.append(self.tree.static_html())
        parts.append(self.output.value)
        parts.append(self.explanation.value)
        return "".join(parts)

    def __repr__(self) -> str:
        return f"DemoPanel({self.demo.name!r})"

    # -- on the tree's refresh thread -------------------------------------------------------------

    def _on_events(self, events: list[Event]) -> None:
        for e in events:
            if e.kind in ("stdout", "stderr"):
                for line in e.detail.splitlines():
                    self._lines.append(
                        f"{e.process} | {line}" if e.kind == "stdout" else f"{e.process} ! {line}"
                    )
            elif e.kind != "end":
                self._lines.append(e.describe())
        del self._lines[:-_MAX_LINES]
        text = html.escape("\n".join(self._lines))
        self.output.value = f"<pre style='{_PRE}'>{text}</pre>"

    def _on_end(self, drun: Any, run: ContainedRun | None) -> None:
        try:
            if run is None:
                self.error = "the contained run could not be started"
                self.explanation.value = f"<b style='color:#c62828'>{self.error}</b>"
                return
            try:
                result: DemoResult = drun.result()
            except Exception as exc:  # observing a cut-short run: say so rather than fail
                self.error = f"{type(exc).__name__}: {exc}"
                self.explanation.value = f"<b>The run ended</b> ({html.escape(run.summary())})."
                return
            if drun is self._run:
                self.result = result
            head = ""
            if run.timed_out:
                head = "<b style='color:#c62828'>The watchdog killed this run</b> (it outlived its timeout).<br>"
            elif run.killed == "killed":
                head = "<b style='color:#c62828'>You killed this run.</b><br>"
            notes = "".join(f"<br><i>note: {html.escape(n)}</i>" for n in result.notes)
            self.explanation.value = (
                f"<div class='fork110-explanation' style='border-left:3px solid #1565c0;"
                f"padding:4px 8px;background:#f5f9ff'>{head}<b>What happened:</b> "
                f"{html.escape(result.explanation)}{notes}</div>"
            )
        finally:
            if drun is self._run:
                self.kill_button.disabled = True
                self._static.update(self.static_html())
                self._done.set()

    def _stop_current(self) -> None:
        tree = self.tree
        if tree is not None:
            tree.close()  # kills the run if it still lives; the thread is gone when this returns
            self._done.wait(5.0)
