"""Demo 6, zombies: the facts each run must show, read from the run itself."""

from __future__ import annotations

import pytest

from fork110.demos import DemoResult, zombies
from fork110.demos._base import c_build_dir
from fork110.demos._c import compile_c
from fork110.demos._rs import find_rustc

LANGS = ["python", "c"] if compile_c("zombies", c_build_dir()) is not None else ["python"]


def _zombie_samples(r: DemoResult) -> list[int]:
    return [sum(p.state == "Z" for p in snap) for snap in r.snapshots]


@pytest.mark.parametrize("language", LANGS)
def test_broken_children_stay_zombies_until_the_late_wait(language: str) -> None:
    r = zombies.run(language=language)
    f = r.facts
    assert r.language == language
    assert f["children"] == 3 and f["exits"] == [1, 2, 3]
    assert f["zombie_lines"] == 3  # /proc/<pid>/status said "Z (zombie)" for each
    assert f["zombies_asleep"] == 3 and f["most_zombies"] == 3  # and the tree showed them
    assert max(_zombie_samples(r)) == 3
    assert any(
        p.state == "Z" and p.command.endswith("<defunct>") for snap in r.snapshots for p in snap
    )
    assert f["defunct"].endswith("<defunct>")
    assert f["reaped"] == [1, 2, 3] and f["reaped_by"] == "wait" and f["gone"] == 3
    assert f["adopted"] == 0
    assert r.run.status.success() and not r.run.timed_out and r.run.leaked == 0
    assert "showed 3 processes in state Z" in r.explanation
    assert "exit status 1, 2 and 3" in r.explanation and "3 zombies were gone" in r.explanation


@pytest.mark.parametrize("language", LANGS)
def test_fixed_sigchld_handler_reaps_each_child(language: str) -> None:
    r = zombies.run(fixed="fixed-sigchld", language=language)
    f = r.facts
    assert r.language == language
    assert f["children"] == 3 and f["exits"] == [1, 2, 3]
    assert f["reaped_by"] == "handler" and f["reaped"] == [1, 2, 3]
    assert f["zombies_asleep"] == 0  # no zombie while the parent slept
    assert f["zombie_lines"] == 0 and f["gone"] == 3
    assert r.run.status.success() and r.run.leaked == 0
    assert "SIGCHLD handler" in r.explanation and "no zombie remained" in r.explanation


@pytest.mark.parametrize("language", LANGS)
def test_fixed_with_block_reaps_each_child(language: str) -> None:
    r = zombies.run(fixed="fixed-with", language=language)
    f = r.facts
    assert r.language == "python"  # there is no C version of fork110.Command
    if language == "c":
        assert any("no C version" in n for n in r.notes)
    assert f["children"] == 3 and f["exits"] == [1, 2, 3]
    assert f["reaped_by"] == "with" and f["reaped"] == [1, 2, 3]
    assert f["zombies_asleep"] == 0 and f["gone"] == 3
    spawned = [e.other for e in r.events if e.kind == "spawn" and e.process == "parent"]
    reaped = [e.other for e in r.events if e.kind == "reap" and e.process == "parent"]
    assert len(spawned) == 3 and reaped == spawned  # each reaped by its with block, in turn
    assert r.run.status.success() and r.run.leaked == 0
    assert "with block" in r.explanation and "no zombie remained" in r.explanation


def test_full_table_zombies_count_against_the_process_limit() -> None:
    r = zombies.run(fixed="full-table")
    f = r.facts
    assert f["budget"] == 16
    assert f["children"] == 15 and f["table_zombies"] == 15
    assert f["zombies_asleep"] == 15 and f["most_zombies"] == 15
    assert f["fork_failed"] == [(16, "Resource temporarily unavailable")]
    assert r.run.refusals >= 1
    assert f["table_reaped"] == 15 and f["fork_again"] is True
    assert r.run.status.success() and r.run.leaked == 0
    assert "fork number 16 failed" in r.explanation and "fork worked again" in r.explanation


def test_explanation_follows_the_observations() -> None:
    # a budget of 2: the second fork fails; the parent gives up and exits with its zombie unreaped
    r = zombies.run(max_processes=2)
    assert r.facts["children"] == 1 and r.facts["fork_failed"]
    assert r.facts["adopted"] == 1 and r.run.status.code() == 1 and r.run.leaked == 0
    assert "fork failed after 1 child" in r.explanation
    assert "adopted and reaped it" in r.explanation and "3 zombies" not in r.explanation
    # a budget the full-table program never reaches (it stops at its own cap of 100)
    big = zombies.run(fixed="full-table", max_processes=200)
    assert big.facts["children"] == 100 and big.facts["fork_failed"] == []
    assert big.run.refusals == 0 and big.run.leaked == 0
    assert "Every fork worked" in big.explanation and "failed" not in big.explanation


def test_dropped_handles_leave_zombies_until_the_parent_exits() -> None:
    r = zombies.run("dropped")
    f = r.facts
    assert f["exits"] == [1, 2, 3] and f["zombie_lines"] == 3 and f["still_zombies"] == 3
    assert f["zombies_asleep"] == 3 and f["reaped"] == []  # nobody in the program waited
    assert f["exited_without_wait"] and f["adopted"] == 3  # the supervisor reaped them after
    assert "std's Child has no Drop" in r.explanation and r.run.leaked == 0


@pytest.mark.skipif(find_rustc() is None, reason="no rustc on this machine")
def test_rust_child_dropped_without_wait_is_a_zombie() -> None:
    r = zombies.run("dropped", language="rust")
    f = r.facts
    assert r.language == "rust" and r.notes == ()
    assert f["zombie_lines"] == 3 and f["still_zombies"] == 3 and f["zombies_asleep"] == 3
    assert f["adopted"] == 3 and r.run.leaked == 0


@pytest.mark.skipif(find_rustc() is None, reason="no rustc on this machine")
def test_rust_guard_whose_drop_waits() -> None:
    r = zombies.run("fixed-with", language="rust")
    f = r.facts
    assert r.language == "rust" and f["reaped_by"] == "drop"
    assert f["reaped"] == [1, 2, 3] and f["gone"] == 3 and f["adopted"] == 0
    assert f["zombies_asleep"] == 0  # every child was reaped before the parent's sleep
    assert "Reaped(Child)" in r.explanation and r.run.leaked == 0


def test_sigchld_ignored_means_no_zombies_and_no_status() -> None:
    r = zombies.run("sigchld-ignored")
    f = r.facts
    assert f["exits"] == [1, 2, 3] and f["gone"] == 3 and f["most_zombies"] == 0
    assert f["echild"] and "ECHILD" in r.explanation and r.run.leaked == 0


def test_a_waitpid_minus_one_handler_steals_command_s_child() -> None:
    r = zombies.run("handler-steals")
    f = r.facts
    assert f["reaped"] == [3] and f["wait_failed"] and "already reaped" in f["wait_failed"]
    assert "waitpid(-1)" in r.explanation and r.run.leaked == 0
