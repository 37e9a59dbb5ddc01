"""The course notebooks as files: nbval (make nbval) re-runs them and compares outputs; these checks
make sure there is something to compare, and that the course covers every demo."""

from __future__ import annotations

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
