"""Demo 7, why fork and exec are separate: the facts each run must show, read from the run itself."""

from __future__ import annotations

import os

import pytest

from fork110.demos import DemoResult, fork_exec
from fork110.demos._base import c_build_dir
from fork110.demos._c import compile_c
from fork110.demos.fork_exec import EXPECTED_ENV, cpu_list

LANGS = ["python", "c"] if compile_c("fork_exec", c_build_dir()) is not None else ["python"]

SLIDE_PARAMETERS = [
    "lpApplicationName",
    "lpCommandLine",
    "lpProcessAttributes",
    "lpThreadAttributes",
    "bInheritHandles",
    "dwCreationFlags",
    "lpEnvironment",
    "lpCurrentDirectory",
    "lpStartupInfo",
    "lpProcessInformation",
]


def _assert_four_changes_reached_the_exec_d_program(r: DemoResult) -> None:
    f = r.facts
    parent, child = f["parent"], f["child"]
    # 1. fd 1 rewired: a different file than the parent's, and the report came through the pipe
    assert child["fd"].startswith("pipe:[") and child["fd"] != parent["fd"]
    assert f["through_pipe"] == 4
    assert r.stdout.count("parent read from the pipe: exec'd program (pid ") == 4
    # 2. the environment variable set in the child
    assert parent["env"] == "" and child["env"] == EXPECTED_ENV
    # 3. SIGUSR1 blocked (SigBlk bit 9), and not in the parent
    assert "SIGUSR1" in child["blocked"] and "SIGUSR1" not in parent["blocked"]
    assert int(child["sigblk"], 16) & (1 << 9)
    # 4. pinned to one CPU, the first the parent may use
    allowed = cpu_list(parent["cpus"])
    assert cpu_list(child["cpus"]) == {min(allowed)}
    if len(allowed) > 1:
        assert f["changes"] == {"fd": True, "env": True, "signal": True, "cpu": True}
        assert "found all four" in r.explanation
    else:  # a one-CPU machine: nothing to see, and the explanation must say so
        assert "changed nothing visible" in r.explanation
    # exec kept the process: the exec'd program has the pid the parent was given
    assert f["same_pid"] and f["child_pid"] == f["started_pid"]
    # the parent's own settings are untouched
    assert f["parent_unchanged"] and f["after"] == parent
    assert f["child_status"] == 0
    assert r.run.success() and not r.run.timed_out and r.run.leaked == 0
    assert f"pid {f['child_pid']}" in r.explanation and EXPECTED_ENV in r.explanation
    assert child["fd"] in r.explanation and child["sigblk"] in r.explanation


@pytest.mark.parametrize("language", LANGS)
def test_by_hand_the_exec_d_program_shows_all_four_changes(language: str) -> None:
    r = fork_exec.run(language=language)
    assert r.language == language and r.variant == "by-hand"
    _assert_four_changes_reached_the_exec_d_program(r)
    assert "plain system calls" in r.explanation
    if language == "python":  # the contained Python run reports the fork and the exec itself
        kinds = [e.kind for e in r.events]
        assert "fork" in kinds and "exec" in kinds


def test_command_the_same_four_changes() -> None:
    r = fork_exec.run(True)
    assert r.variant == "command" and r.language == "python"
    _assert_four_changes_reached_the_exec_d_program(r)
    assert [e.kind for e in r.events].count("spawn") == 1
    assert "pre_exec hook" in r.explanation


def test_command_has_no_c_version_and_says_so() -> None:
    r = fork_exec.run("command", language="c")
    assert r.language == "python" and any("no C version" in n for n in r.notes)
    assert r.facts["changes"]["env"] and r.run.leaked == 0


@pytest.mark.parametrize("language", LANGS)
def test_explanation_follows_a_refused_fork(language: str) -> None:
    r = fork_exec.run(language=language, max_processes=1)
    assert r.facts["child"] == {} and r.facts["refused"] > 0
    assert r.facts["failed"] == ("fork", "Resource temporarily unavailable")
    assert "never started" in r.explanation and "EAGAIN" in r.explanation
    assert "found" not in r.explanation and r.run.leaked == 0


def test_explanation_follows_an_environment_that_already_had_the_value() -> None:
    env = {**os.environ, "FORK110_DEMO": EXPECTED_ENV}
    r = fork_exec.run(env=env)
    assert r.facts["parent"]["env"] == EXPECTED_ENV == r.facts["child"]["env"]
    assert r.facts["changes"]["env"] is False and r.facts["changes"]["signal"] is True
    assert "already had that value" in r.explanation and "found all four" not in r.explanation
    assert r.run.leaked == 0


def test_create_process_w_has_the_slides_ten_parameters() -> None:
    assert [p for p, _, _ in fork_exec.CREATE_PROCESS_W] == SLIDE_PARAMETERS
    assert all(meaning and unix for _, meaning, unix in fork_exec.CREATE_PROCESS_W)
    table = fork_exec.create_process_table()
    assert all(p in table for p in SLIDE_PARAMETERS)
    assert "10 parameters" in table and "sigprocmask" in table
    assert all(len(line) <= 100 for line in table.splitlines())


def test_the_table_says_what_windows_and_linux_have_beyond_the_slide() -> None:
    table = fork_exec.create_process_table(width=200)
    assert "CREATE_SUSPENDED, then ResumeThread" in table
    assert "pidfd" in table and "CreateProcessAsUserW" in table and "hToken" in table


def test_linux_has_process_handles_too() -> None:
    # a pidfd is a handle on one process: it becomes readable when that process exits
    import select

    from fork110 import Command

    child = Command("sleep").arg("0.2").spawn()
    fd = os.pidfd_open(child.id())
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        assert poller.poll(0) == []  # still running
        assert poller.poll(5000)  # readable once it has exited
    finally:
        os.close(fd)
        child.wait()
