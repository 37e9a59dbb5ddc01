"""The course notebooks as files: nbval (make nbval) re-runs them and compares outputs; these checks
make sure there is something to compare, and that the course covers every demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from fork110 import demos

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_the_course_is_there_in_lecture_order() -> None:
    names = [p.stem for p in NOTEBOOKS]
    assert names[0] == "00-start-here"
    assert [n[:2] for n in names] == [f"{i:02d}" for i in range(len(names))]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_code_cell_was_run_and_stored(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a notebook without code"
    assert all(c.execution_count is not None for c in code), "re-run it: make notebooks"
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "run top to bottom"
    with_output = sum(1 for c in code if c.outputs)
    assert with_output >= len(code) // 2, "most cells show something: were the outputs stored?"


def test_every_demo_is_taught_in_a_notebook() -> None:
    imported: set[str] = set()
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
        for cell in nb.cells:
            lines = cell.source.splitlines() if cell.cell_type == "code" else []
            for line in lines:
                if line.startswith("from fork110.demos import "):
                    names = line.split(" import ", 1)[1].split("#")[0]
                    imported |= {n.split(" as ")[0].strip() for n in names.split(",")}
    assert set(demos.names()) <= imported


_KERNEL_SCRIPT = """
import json
from jupyter_client.manager import start_new_kernel
seen = []
def hook(msg):
    if msg["msg_type"] == "stream":
        seen.append([msg["parent_header"].get("msg_id", ""), msg["content"]["name"], msg["content"]["text"]])
km, kc = start_new_kernel(kernel_name="python3", startup_timeout=60)
try:
    first = kc.execute_interactive(
        "from fork110 import Command\\n"
        "print(Command('echo').arg('from a child, through fd 1').status())",
        output_hook=hook, timeout=60)
    second = kc.execute_interactive("import time; time.sleep(0.5)", output_hook=hook, timeout=60)
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
cells = [first["parent_header"]["msg_id"], second["parent_header"]["msg_id"]]
status = [first["content"]["status"], second["content"]["status"]]
print(json.dumps({"seen": seen, "cells": cells, "status": status}))
"""


def test_the_kernel_forwards_a_child_s_inherited_output_to_the_cell() -> None:
    # notebook 00: status() lets the child write to the kernel's fd 1; ipykernel 6+ reads that fd
    # and forwards it to the notebook (late: it may land in a later cell). Under pytest it does not,
    # so the kernel is started, from a separate process, without PYTEST_CURRENT_TEST, as JupyterLab
    # starts it.
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    done = subprocess.run(
        [sys.executable, "-c", _KERNEL_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["status"] == ["ok", "ok"]
    text = "".join(t for _, name, t in got["seen"] if name == "stdout")
    assert "from a child, through fd 1" in text  # the child's write reached the notebook
    assert "exit status: 0" in text
    assert {c for c, _, t in got["seen"] if "from a child" in t} <= set(got["cells"])
