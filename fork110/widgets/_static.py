"""The static rendering that sits beside a widget in a saved notebook.

A notebook opened without a kernel (GitHub, nbviewer, JupyterLab before a kernel runs) cannot
draw a widget. So each widget, when displayed, also displays an HTML output of what it shows
(the final tree, the transcript), updated when a run ends. While the widget is live it hides
that copy with a style rule naming it, so nobody sees the picture twice.
"""

from __future__ import annotations

import uuid
import weakref
from typing import Any

__all__ = ["Static", "StaticCopy", "display", "replace_in_cell"]

# cell id -> (the execution that made them, the widgets it made)
_by_cell: dict[str, tuple[str, list[weakref.ref[Any]]]] = {}


def _execution() -> tuple[str, str] | None:
    """(cell id, message id) of the cell being executed, where the front end says (JupyterLab and
    nbclient send the cell's id with each execution); None elsewhere."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return None
    kernel = getattr(get_ipython(), "kernel", None)
    if kernel is None:
        return None
    parent = kernel.get_parent("shell") or {}
    cell = (parent.get("metadata") or {}).get("cellId")
    msg = (parent.get("header") or {}).get("msg_id")
    if parent.get("msg_type") != "execute_request" or not cell or not msg:
        return None
    return str(cell), str(msg)


def replace_in_cell(widget: Any) -> None:
    """Re-running a cell replaces its widgets: close (and so kill the runs of) the widgets an
    earlier execution of the same cell made. Outside a kernel, nothing happens.

    >>> replace_in_cell(object())
    """
    where = _execution()
    if where is None:
        return
    cell, msg = where
    made_by, widgets = _by_cell.get(cell, ("", []))
    if made_by != msg:
        for ref in widgets:
            old = ref()
            if old is not None and old is not widget:
                old.close()
        widgets = []
    widgets.append(weakref.ref(widget))
    _by_cell[cell] = (msg, widgets)


def display(obj: Any, **kwargs: Any) -> Any:
    """IPython's ``display`` (typed for mypy); returns the display handle when asked for one.

    >>> display("outside IPython it prints")
    outside IPython it prints
    """
    from IPython.display import display as ipython_display

    return ipython_display(obj, **kwargs)  # type: ignore[no-untyped-call]


class Static:
    """One widget's static copy: an HTML display output with an id, updated in place.

    >>> s = Static("TreeView(a contained run)")
    >>> s.bundle("<b>tree</b>")["text/plain"]
    '[TreeView(a contained run): a static copy for readers without a kernel]'
    >>> s.css_class in s.hide_style()
    True
    """

    def __init__(self, label: str) -> None:
        """A static copy for the widget described by *label* (its stable text/plain)."""
        self.label = label
        self.css_class = f"fork110-static-{uuid.uuid4().hex[:12]}"
        self._handle: Any = None

    def hide_style(self) -> str:
        """The style rule the live widget carries to hide its static copy."""
        return f"<style>.{self.css_class}{{display:none}}</style>"

    def bundle(self, html: str) -> dict[str, str]:
        """The output's MIME bundle: the HTML, and a stable text/plain (what nbval compares)."""
        return {
            "text/html": f'<div class="fork110-static {self.css_class}">{html}</div>',
            "text/plain": f"[{self.label}: a static copy for readers without a kernel]",
        }

    def show(self, html: str) -> None:
        """Display the copy (in IPython only; elsewhere nothing happens)."""
        self._handle = display(self.bundle(html), raw=True, display_id=True)

    def update(self, html: str) -> None:
        """Replace the displayed copy (if it was displayed)."""
        if self._handle is not None:
            self._handle.update(self.bundle(html), raw=True)


class StaticCopy:
    """Mixin for a widget with a static copy: put it before the ipywidgets base class. The widget's
    text/plain becomes its ``repr`` (stable, for nbval) and displaying it also shows the copy.
    The widget sets ``self._static`` and defines ``static_html()``.

    >>> class Shown(StaticCopy):
    ...     def static_html(self) -> str:
    ...         return "<b>final tree</b>"
    >>> Shown()._repr_mimebundle_() is None
    True
    """

    _static: Static

    def static_html(self) -> str:
        """The HTML of the static copy (each widget says what it shows)."""
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        base = getattr(super(), "_repr_mimebundle_", None)
        bundle: dict[str, Any] | None = base(**kwargs) if base is not None else None
        if bundle is not None:
            bundle["text/plain"] = repr(self)
        return bundle

    def _ipython_display_(self) -> None:
        display(self._repr_mimebundle_(), raw=True)
        self._static.show(self.static_html())
