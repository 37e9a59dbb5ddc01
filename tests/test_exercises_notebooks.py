"""The course as a whole: every code snippet of the lecture's slides is walked through by a notebook;
the notebooks' stored outputs come from the package as it is now (else: ``make notebooks``); the
practice notebook checks a reference solution and shows a wrong answer's message in checked cells."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest

from fork110 import _notebooks

ROOT = Path(__file__).resolve().parent.parent
SLIDES = ROOT.parent / "shared" / "lecture-slides.md"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
COVERED = 0.8  # the share of a snippet's names a notebook must show
_KEYWORDS = set(
    "int char if else return while true false void const let use unsafe new throw for the and "
    "pid_t size_t bool auto".split()
)


def snippets(markdown: str) -> list[str]:
    """The fenced code blocks of a markdown text."""
    return re.findall(r"```[^\n]*\n(.*?)```", markdown, re.S)


def names(text: str) -> set[str]:
    """The identifiers of a text, lower-cased and split at underscores (slides are OCR'd:
    ``LPSECURITY ATTRIBUTES`` and ``LPSECURITY_ATTRIBUTES`` are the same names), keywords left out."""
    words = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text)
    parts = {p.lower() for w in words for p in w.split("_") if len(p) >= 3}
    return parts - _KEYWORDS


def notebook_text(path: Path) -> str:
    """What a student sees in a notebook: every cell's source and every stored text output."""
    nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    parts = []
    for cell in nb.cells:
        parts.append(cell.source)
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def walked_through(snippet: str, texts: dict[str, set[str]]) -> tuple[float, str]:
    """The notebook that shows most of the snippet's names, and the share it shows."""
    want = names(snippet)
    return max((len(want & have) / max(len(want), 1), name) for name, have in texts.items())


def test_every_slide_snippet_has_a_notebook_that_walks_through_it() -> None:
    assert SLIDES.is_file(), f"the lecture's slides are expected beside the repository, at {SLIDES}"
    blocks = snippets(SLIDES.read_text())
    assert len(blocks) >= 10
    texts = {p.stem: names(notebook_text(p)) for p in NOTEBOOKS}
    missing = []
    for block in blocks:
        share, best = walked_through(block, texts)
        if share < COVERED:
            first = block.strip().splitlines()[0]
            missing.append(f"{first!r}: at best {share:.0%} of its names, in {best}")
    assert not missing, "slide snippets no notebook walks through:\n" + "\n".join(missing)


def test_a_snippet_the_course_does_not_teach_is_found_missing() -> None:
    texts = {p.stem: names(notebook_text(p)) for p in NOTEBOOKS}
    share, _ = walked_through(
        "struct clone_args args = {0};\nsyscall(SYS_clone3, &args, sizeof args);", texts
    )
    assert share < COVERED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_outputs_come_from_the_package_as_it_is_now(path: Path) -> None:
    """nbval re-runs the checked cells and compares; this test says, without running anything,
    that the stored outputs were made by ``make notebooks`` against the sources as they are now
    (every source file of the package is hashed into the notebook's metadata when it runs)."""
    nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    stamp = _notebooks.stamp(nb)
    assert stamp is not None, (
        f"{path.name} was not executed by `make notebooks`: run `make notebooks`"
    )
    assert stamp == _notebooks.package_hash(), (
        f"{path.name}: the stored outputs are stale (the package changed since they were made): "
        "run `make notebooks`"
    )


def test_the_stamp_changes_with_any_source_of_the_package(tmp_path: Path) -> None:
    copy = tmp_path / "fork110"
    shutil.copytree(ROOT / "fork110", copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = _notebooks.package_hash(copy)
    assert before == _notebooks.package_hash()
    target = copy / "demos" / "_words.py"
    target.write_text(target.read_text() + "\n# a change\n")
    assert _notebooks.package_hash(copy) != before
    (copy / "notes.txt").write_text("not a source")
    target.write_text(target.read_text().removesuffix("\n# a change\n"))
    assert _notebooks.package_hash(copy) == before


def test_the_practice_notebook_checks_a_solution_and_a_wrong_answer_in_checked_cells() -> None:
    nb = nbformat.read(ROOT / "notebooks" / "09-practice.ipynb", as_version=4)  # type: ignore[no-untyped-call]
    checked = [
        c for c in nb.cells if c.cell_type == "code" and "NBVAL_IGNORE_OUTPUT" not in c.source
    ]
    shown = {
        c.source: "".join(o.get("data", {}).get("text/plain", "") for o in c.outputs)
        for c in checked
    }
    rights = [src for src, out in shown.items() if "solution()" in src and out.startswith("✓")]
    wrongs = [src for src, out in shown.items() if out.startswith("✗")]
    assert len(rights) >= 3 and len(wrongs) >= 3
    assert any("practice(" in c.source for c in nb.cells if c.cell_type == "code")
    assert any("verify()" in src and shown[src] == "True" for src in shown)
