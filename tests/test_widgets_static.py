"""What a notebook saved with widget outputs holds: a stable text/plain (what nbval compares) and a
static HTML copy of the final tree and transcript (what GitHub and nbviewer show)."""

from __future__ import annotations

import asyncio

import nbformat
import pytest
from jupyter_core.utils import ensure_event_loop
from nbclient import NotebookClient

CELLS = [
    "%load_ext fork110\nfrom fork110.widgets import DemoPanel",
    'panel = DemoPanel("zombies")\npanel',
    "panel.run().wait(30).facts['zombies_asleep']",
    "%%contained --budget 4\nprint('hello from a contained run')",
]


@pytest.mark.slow
def test_saved_notebook_has_static_copies_and_stable_text() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    client = NotebookClient(nb, timeout=120, kernel_name="python3")
    try:
        client.execute()
    finally:  # nbclient's sync API ran on an event loop of its own
        ensure_event_loop().close()
        asyncio.set_event_loop(None)
    panel_outputs = nb.cells[1].outputs
    plain = [o["data"]["text/plain"] for o in panel_outputs if "data" in o]
    assert plain[0] == "DemoPanel('zombies')"
    assert plain[1] == "[DemoPanel('zombies'): a static copy for readers without a kernel]"
    static = panel_outputs[1]["data"]["text/html"]
    # the run in a later cell updated the copy in place: the final tree, transcript, explanation
    assert "fork110-static" in static and "What happened" in static and "<svg" in static
    assert "child-1 exited" in static
    assert nb.cells[2].outputs[0]["data"]["text/plain"] == "3"
    cell = nb.cells[3].outputs
    texts = [o.get("text", "") for o in cell if o["output_type"] == "stream"]
    assert "hello from a contained run\n" in texts
    html = [o["data"]["text/html"] for o in cell if "data" in o and "text/html" in o["data"]]
    assert html and "exit status: 0" in html[-1]
    plain = [o["data"]["text/plain"] for o in cell if "data" in o]
    assert plain[0] == "TreeView(a contained run: %%contained)"
