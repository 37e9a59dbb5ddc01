"""Demo 2, two forks in a row: the facts each run must show, read from the run itself."""

from __future__ import annotations

import pytest

from fork110.demos import nested_forks
from fork110.demos._base import c_build_dir
from fork110.demos._c import compile_c

LANGS = ["python", "c"] if compile_c("nested_forks", c_build_dir()) is not None else ["python"]


@pytest.mark.parametrize("language", LANGS)
def test_broken_makes_four_processes_and_runs_proc1_twice(language: str) -> None:
    r = nested_forks.run(language=language)
    f = r.facts
    assert r.language == language
    # four processes: the parent, its two children, and child-1's child
    assert f["processes"] == 4 and f["main"] == "parent"
    assert sorted(f["children"]) == ["child-1", "child-2"]
    assert f["grandchildren"] == ["child-1.1"]
    assert f["parent_of"]["child-1.1"] == "child-1"
    # do_stuff_proc1 twice: in child-1 and in the grandchild, whose pid1 is 0 as well
    assert f["proc1"] == 2 and sorted(f["proc1_in"]) == ["child-1", "child-1.1"]
    assert f["proc2"] == 1 and f["proc2_in"] == ["child-2"]
    assert r.stdout.count("do_stuff_proc1 in pid") == 3  # two runs, plus the orphan's report
    assert "ran twice (in child-1" in r.explanation or "ran twice (in child-1.1" in r.explanation
    assert r.run.status.success() and not r.run.timed_out and r.run.leaked == 0


@pytest.mark.parametrize("language", LANGS)
def test_broken_orphans_the_grandchild_and_the_supervisor_adopts_it(language: str) -> None:
    r = nested_forks.run(language=language)
    f = r.facts
    assert f["orphans"] == ["child-1.1"]
    # its own report: its parent is now the run's supervisor (a subreaper), not child-1
    assert f["new_parent"] == {"child-1.1": "supervisor"}
    supervisor = next(e.pid for e in r.events if e.process == "supervisor")
    assert f"my parent is now {supervisor} (orphan)" in r.stdout
    # the tree over time: first under child-1, then under the supervisor
    assert f["parents_over_time"]["child-1.1"][-1] == "supervisor"
    assert "child-1.1" in f["reparented_seen"]
    # reaped by the supervisor, not by the parent; main's waitpid never returned it
    assert f["reaped_by"]["child-1.1"] == "supervisor"
    assert f["statuses"]["child-1.1"] == "exit status: 0"
    assert f["reaped_by"]["child-1"] == f["reaped_by"]["child-2"] == "parent"
    assert f["waited"] == ["child-1", "child-2"]
    assert "became an orphan" in r.explanation and "supervisor reaped it" in r.explanation
    assert "parent never learned about child-1.1" in r.explanation
    assert r.run.leaked == 0


@pytest.mark.parametrize("language", LANGS)
def test_fixed_makes_three_processes_each_task_once_all_reaped_by_the_parent(
    language: str,
) -> None:
    r = nested_forks.run(fixed=True, language=language)
    f = r.facts
    assert f["processes"] == 3 and f["names"] == ["parent", "child-1", "child-2"]
    assert f["grandchildren"] == [] and f["orphans"] == [] and f["reparented_seen"] == []
    assert (f["proc1"], f["proc1_in"], f["proc2"], f["proc2_in"]) == (
        1,
        ["child-1"],
        1,
        ["child-2"],
    )
    assert f["waited"] == ["child-1", "child-2"]
    assert f["reaped_by"] == {"child-1": "parent", "child-2": "parent", "parent": "supervisor"}
    assert "parent reaped all of its children (child-1 and child-2)" in r.explanation
    assert "No process was orphaned." in r.explanation
    assert r.run.status.success() and not r.run.timed_out and r.run.leaked == 0


@pytest.mark.parametrize("language", LANGS)
def test_explanation_follows_a_budget_too_small_for_the_grandchild(language: str) -> None:
    # two processes: the first fork works, both second forks are refused
    r = nested_forks.run(language=language, max_processes=2)
    f = r.facts
    assert f["processes"] == 2 and f["grandchildren"] == [] and f["refused"] >= 1
    assert "no grandchild this time" in r.explanation
    assert "budget of 2 processes refused" in r.explanation
    assert "ran twice" not in r.explanation and "not the three" not in r.explanation
    if language == "python":  # the refused fork raised in both processes: no task ran
        assert f["proc1"] == 0 and "BlockingIOError" in r.explanation
    else:  # C's fork returned -1, unchecked: child-1 still took the pid1 == 0 branch
        assert f["proc1"] == 1 and "returned -1" in r.explanation
    assert r.run.leaked == 0


def test_explanation_follows_a_watchdog_that_kills_the_orphan() -> None:
    r = nested_forks.run(timeout=0.25)
    f = r.facts
    assert r.run.timed_out and f["new_parent"] == {}
    assert "it printed its new parent" not in r.explanation
    assert "The watchdog ended the run after 0.25 s" in r.explanation
    assert r.run.leaked == 0
