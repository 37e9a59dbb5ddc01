"""Every demo, as a whole: what each module holds, the time bound, the no-compiler path, and the
machine's process table before and after demo runs."""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fork110 import demos
from fork110.demos import runaway, say_hello, zombies
from fork110.demos._c import C_SOURCES
from fork110.demos._rs import find_rustc

NAMES = demos.names()


def _run_processes() -> dict[int, str]:
    """Processes anywhere on the machine that belong to a contained run or a compiled demo."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if (
            "<contained>" in cmd
            or "/_sandbox/inside/supervisor.py" in cmd
            or "/fork110/c/" in cmd
            or "/fork110/rust/" in cmd
        ):
            found[int(entry)] = cmd
    return found


@pytest.fixture
def process_table() -> Iterator[None]:
    """Fail if a demo run leaves anything of a run on the machine (not only among our descendants)."""
    before = set(_run_processes())
    yield
    deadline = time.monotonic() + 2
    while (
        left := {p: c for p, c in _run_processes().items() if p not in before}
    ) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert left == {}, f"left on the machine after the demo: {left}"


def test_the_registry_lists_the_slides_in_lecture_order() -> None:
    assert NAMES == [
        "runaway", "nested_forks", "say_hello", "exceptions", "threads_lock",
        "zombies", "fork_exec", "subprocess", "ptrace",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="no demo called 'fork'; the demos are: runaway"):
        demos.get("fork")


@pytest.mark.parametrize("name", NAMES)
def test_each_demo_holds_what_the_issue_names(name: str) -> None:
    module = importlib.import_module(f"fork110.demos.{name}")
    demo = demos.get(name)
    assert (
        module.SLIDE.strip() and demo.slide == module.SLIDE
    )  # the C (or Rust) code as on the slide
    fixes = module.PYTHON_FIXED  # one fix, or several by name
    assert module.PYTHON.strip() and all(
        f.strip() for f in (fixes.values() if isinstance(fixes, dict) else [fixes])
    )
    assert callable(module.run) and module.DEMO is demo
    assert len(demo.variants) >= 2
    first = demo.variant(False)
    assert first.c is not None and first.c in C_SOURCES  # the completed C program of the slide
    assert C_SOURCES[first.c].added.strip()  # says what was added to the fragment
    for variant in demo.variants.values():
        compile(variant.python, f"<{name}:{variant.key}>", "exec")


@pytest.mark.parametrize("name", NAMES)
def test_default_limits_bound_every_variant_well_under_ten_seconds(name: str) -> None:
    # a contained run ends at its watchdog timeout at the latest, and is torn down within a second
    # (proved in test_sandbox); so a default timeout of at most 5 s keeps every run under 10 s
    demo = demos.get(name)
    for variant in demo.variants.values():
        timeout = {**demo.limits, **variant.limits}.get("timeout", 5.0)
        assert 0 < timeout <= 5.0, (name, variant.key, timeout)


def test_without_a_compiler_the_python_runs_and_says_so(
    monkeypatch: pytest.MonkeyPatch, process_table: None
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # no cc, no c++
    r = say_hello.run(language="c")
    assert r.language == "python"
    assert r.notes == ("no C compiler (cc) on this machine; ran the Python translation instead",)
    assert r.run.status.success() and "main continues" in r.stdout


def test_a_broken_demo_leaves_nothing_on_the_machine(process_table: None) -> None:
    r = runaway.run(max_processes=6, timeout=1.0)
    assert r.run.timed_out and r.run.leaked == 0


def test_a_c_demo_leaves_nothing_on_the_machine(process_table: None) -> None:
    r = runaway.run(language="c", max_processes=6, timeout=1.0)
    assert r.language == "c" and r.run.leaked == 0


def test_without_rustc_the_python_runs_and_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, process_table: None
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # no rustc on PATH ...
    monkeypatch.setenv("HOME", str(tmp_path))  # ... nor in ~/.cargo/bin
    r = zombies.run("dropped", language="rust")  # its Python starts /bin/sh by path: no PATH needed
    assert r.language == "python"
    assert r.notes == (
        "no Rust compiler (rustc) on this machine; ran the Python translation instead",
    )
    assert r.facts["zombie_lines"] == 3 and r.facts["exited_without_wait"]


def test_a_variant_without_rust_runs_the_python_and_says_so(process_table: None) -> None:
    r = say_hello.run(language="rust")
    assert r.language == "python"
    assert r.notes == ("the broken variant has no Rust version; ran the Python translation",)


@pytest.mark.skipif(find_rustc() is None, reason="no rustc on this machine")
def test_a_rust_demo_leaves_nothing_on_the_machine(process_table: None) -> None:
    r = zombies.run("dropped", language="rust")
    assert r.language == "rust" and r.run.leaked == 0


def test_language_must_be_known() -> None:
    with pytest.raises(ValueError, match=r"language must be one of \('python', 'c', 'rust'\)"):
        say_hello.run(language="go")
