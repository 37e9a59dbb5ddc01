"""The public face of the package: a curated, sorted __all__, and a light import."""

from __future__ import annotations

from conftest import PY

import fork110
from fork110 import Command


def test_all_is_sorted_and_complete() -> None:
    assert fork110.__all__ == sorted(fork110.__all__)
    for name in fork110.__all__:
        assert getattr(fork110, name).__module__.startswith("fork110.")
    public = {n for n in vars(fork110) if not n.startswith("_") and n[0].isupper()}
    assert public == set(fork110.__all__)


def test_import_stays_light() -> None:
    code = "import sys, fork110; print(sorted(m for m in ('ipywidgets', 'psutil', 'IPython') if m in sys.modules))"
    assert Command(PY).args(["-c", code]).output().stdout == b"[]\n"
