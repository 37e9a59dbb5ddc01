"""The public face of the package: a curated, sorted __all__, and a light import."""

from __future__ import annotations

from conftest import PY

import fork110
from fork110 import Command


def test_all_is_exactly_the_sorted_public_names() -> None:
    public = sorted(n for n in vars(fork110) if not n.startswith("_") and n[0].isupper())
    assert fork110.__all__ == public


def test_exported_names_show_as_fork110_x() -> None:
    for name in fork110.__all__:
        obj = getattr(fork110, name)
        assert obj.__module__ == "fork110", name
        assert repr(obj) == f"<class 'fork110.{name}'>"


def test_import_stays_light() -> None:
    code = "import sys, fork110; print(sorted(m for m in ('ipywidgets', 'psutil', 'IPython') if m in sys.modules))"
    assert Command(PY).args(["-c", code]).output().stdout == b"[]\n"
