"""Demo 3, createChildAndSayHello: the facts each run must show, read from the run itself."""

from __future__ import annotations

import re

import pytest

from fork110.demos import say_hello
from fork110.demos._base import c_build_dir
from fork110.demos._c import compile_c

LANGS = ["python", "c"] if compile_c("say_hello", c_build_dir()) is not None else ["python"]


def _pids(pattern: str, text: str) -> list[int]:
    return [int(p) for p in re.findall(pattern, text, re.M)]


@pytest.mark.parametrize("language", LANGS)
def test_broken_child_returns_into_main_and_runs_the_callers_code(language: str) -> None:
    r = say_hello.run(language=language)
    f = r.facts
    assert r.language == language
    main = _pids(r"^main starts in pid (\d+)$", r.stdout)
    child = _pids(r"^hello from pid (\d+)", r.stdout)
    assert len(main) == 1 and len(child) == 1 and child != main
    # the caller's code ran twice: once in the child, once in the parent
    assert sorted(_pids(r"^main continues in pid (\d+)$", r.stdout)) == sorted(main + child)
    assert sorted(_pids(r"^main about to return in pid (\d+)$", r.stdout)) == sorted(main + child)
    assert (f["hello"], f["continued"], f["returned"]) == (1, 2, 2)
    assert f["child_continued"] and f["main_continued"] and f["processes"] == 2
    assert f["continued_in"][-1] == "parent"
    if language == "python":  # the child's exit is reported; in C it can be too quick to see
        assert f["statuses"] == {"parent": "exit status: 0", "child-1": "exit status: 0"}
        assert f["reaped_by"]["child-1"] == "parent"
    assert "came back into main" in r.explanation
    assert '"main continues" was printed twice' in r.explanation
    assert r.run.status.success() and not r.run.timed_out and r.run.leaked == 0


@pytest.mark.parametrize("language", LANGS)
def test_fixed_child_exits_and_only_the_parent_continues(language: str) -> None:
    r = say_hello.run(fixed=True, language=language)
    f = r.facts
    main = _pids(r"^main starts in pid (\d+)$", r.stdout)
    assert _pids(r"^main continues in pid (\d+)$", r.stdout) == main
    assert _pids(r"^main about to return in pid (\d+)$", r.stdout) == main
    assert (f["hello"], f["continued"], f["returned"]) == (1, 1, 1)
    assert not f["child_continued"] and f["continued_in"] == ["parent"]
    if language == "python":
        assert f["statuses"]["child-1"] == "exit status: 0"
        assert f["reaped_by"]["child-1"] == "parent" and f["reaped_before_continuing"]
    assert "called _exit(0)" in r.explanation and "printed once, by parent" in r.explanation
    assert r.run.status.success() and not r.run.timed_out and r.run.leaked == 0


@pytest.mark.parametrize("language", LANGS)
def test_explanation_follows_a_refused_fork(language: str) -> None:
    r = say_hello.run(language=language, max_processes=1)
    f = r.facts
    assert f["hello"] == 0 and not f["child_continued"] and f["refused"] == 1
    assert "came back into main" not in r.explanation and "printed twice" not in r.explanation
    assert "no child was made" in r.explanation and "budget of 1 process" in r.explanation
    if language == "python":  # BlockingIOError, uncaught: main never went on
        assert f["continued"] == 0 and not r.run.status.success()
        assert '"main continues" was never printed' in r.explanation
    else:  # fork() returned -1, unchecked: the parent went on, once
        assert f["continued"] == 1 and "returned -1" in r.explanation
    assert r.run.leaked == 0
