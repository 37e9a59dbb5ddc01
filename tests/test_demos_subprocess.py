"""Demo 8, a subprocess abstraction by hand and with Command: the facts each run must show."""

from __future__ import annotations

import errno
import importlib
import sys

import pytest

from fork110 import Command
from fork110.demos import DemoResult, get
from fork110.demos import subprocess as subprocess_demo
from fork110.demos._base import c_build_dir
from fork110.demos._c import compile_c
from fork110.demos._rs import find_rustc

LANGS = ["python", "c"] if compile_c("subprocess", c_build_dir()) is not None else ["python"]


def _parent_commands(r: DemoResult) -> set[str]:
    """What main's command line was: as sampled, and, for C, the program we ran (a run of ~15 ms
    may end before any sample after its exec)."""
    seen = {p.command for snap in r.snapshots for p in snap if p.name == "parent"}
    if r.language == "c":
        exe = compile_c("subprocess", c_build_dir())
        assert exe is not None
        seen.add(str(exe))
    return seen


def _assert_ps_reported_the_run_s_process(r: DemoResult, times: int) -> None:
    f = r.facts
    assert f["main_pid"] is not None and len(f["ps"]) == times
    for line in f["ps"]:
        assert line["pid"] == f["main_pid"]  # ps --pid <main's pid> found main
        assert line["ppid"] == f["supervisor_pid"] == f["parent_ppid"]  # main's parent
        assert line["command"] in _parent_commands(r)  # what /proc shows as main's command
    assert f"pid {f['main_pid']} (main itself)" in r.explanation
    said = (
        "(pid 1, the run's init: its supervisor)" if r.run.namespace else "(the run's supervisor)"
    )
    assert f"ppid {f['supervisor_pid']} {said}" in r.explanation


@pytest.mark.parametrize("language", LANGS)
def test_by_hand_ps_output_comes_through_the_pipe_and_enoent_through_the_error_pipe(
    language: str,
) -> None:
    r = subprocess_demo.run(language=language)
    assert r.language == language and r.variant == "by-hand"
    f = r.facts
    _assert_ps_reported_the_run_s_process(r, times=1)
    assert f["ps"][0]["via"] == "subprocess()" and f["ps"][0]["by"] == "parent"
    assert [s["status"] for s in f["statuses"]] == ["exit status: 0"]
    [failure] = f["failed"]
    assert failure["program"] == "no-such-program" and failure["exception"] is None
    assert (failure["errno"], failure["errname"]) == (errno.ENOENT, "ENOENT")
    assert "ENOENT (errno 2" in r.explanation and "error pipe" in r.explanation
    assert f["left_to_supervisor"] == 0
    if language == "python":  # every fork reported, and every child reaped by the parent
        assert f["children"] == f["reaped"] == 2
        assert f["reaped_statuses"] == ["exit status: 0", "exit status: 127"]
        assert any("no-such-program" in e for e in f["exec_errors"])
        assert "reaped all of them" in r.explanation
    assert r.run.success() and r.run.leaked == 0


def test_command_output_status_spawn_and_file_not_found() -> None:
    r = subprocess_demo.run(True)
    assert r.variant == "command" and r.language == "python"
    f = r.facts
    _assert_ps_reported_the_run_s_process(r, times=3)
    assert [p["via"] for p in f["ps"]] == ["output()", "status()", "spawn()"]
    assert f["ps"][1]["by"] != "parent"  # status(): ps wrote to the inherited stdout itself
    assert [(s["via"], s["status"]) for s in f["statuses"]] == [
        ("output()", "exit status: 0"),
        ("status()", "exit status: 0"),
        ("spawn()", "exit status: 0"),
    ]
    [failure] = f["failed"]
    assert failure["exception"] == "FileNotFoundError"
    assert failure["filename"] == failure["program"] == "no-such-program"
    assert failure["errname"] == "ENOENT"
    # ps three times, readlink, tr, no-such-program
    assert [e.kind for e in r.events].count("spawn") == 6
    assert f["children"] == f["reaped"] == 6 and f["left_to_supervisor"] == 0
    assert f["output_stdin"] == "/dev/null" and "stdin to be /dev/null" in r.explanation
    assert f["read_back"] == [{"via": "stdin pipe", "text": "HELLO THROUGH A PIPE"}]
    # the defaults of each way, said from the run: output() null/piped, status() inherited
    assert "output() (stdin null, stdout and stderr piped" in r.explanation
    assert "status() (all three inherited" in r.explanation
    assert "FileNotFoundError" in r.explanation and "'no-such-program'" in r.explanation
    assert "reaped all of them" in r.explanation
    assert r.run.success() and r.run.leaked == 0


@pytest.mark.parametrize("language", LANGS)
def test_explanation_follows_a_refused_fork(language: str) -> None:
    r = subprocess_demo.run(language=language, max_processes=1)
    f = r.facts
    assert f["ps"] == [] and f["refused"] > 0
    assert [x["errname"] for x in f["failed"]] == ["EAGAIN", "EAGAIN"]
    assert "ps never ran" in r.explanation and "refused the fork" in r.explanation
    assert "ENOENT" not in r.explanation and "reaped all" not in r.explanation
    assert r.run.leaked == 0


def test_explanation_follows_command_refused() -> None:
    r = subprocess_demo.run("command", max_processes=1)
    assert r.facts["failed"][0]["exception"] == "BlockingIOError"
    assert "never got that far" in r.explanation and "FileNotFoundError" not in r.explanation
    assert r.run.leaked == 0


def test_the_module_does_not_shadow_the_standard_library() -> None:
    import subprocess as stdlib_subprocess

    assert hasattr(stdlib_subprocess, "Popen") and "fork110" not in stdlib_subprocess.__file__
    assert sys.modules["subprocess"] is stdlib_subprocess
    assert importlib.import_module("fork110.demos.subprocess") is subprocess_demo
    assert get("subprocess") is subprocess_demo.DEMO
    # a fresh interpreter that imports the demo first still gets the standard library's subprocess
    code = (
        "import fork110.demos.subprocess as d, subprocess\n"
        "print(d.DEMO.name, subprocess.run(['true']).returncode, 'fork110' in subprocess.__file__)"
    )
    out = Command(sys.executable).args(["-c", code]).output()
    assert out.status.success(), out.stderr
    assert out.stdout == b"subprocess 0 False\n"


def test_supplyfd_by_hand_writes_into_the_child_s_stdin() -> None:
    r = subprocess_demo.run("supplyfd")
    f = r.facts
    assert f["read_back"] == [{"via": "supplyfd", "text": "HELLO THROUGH SUPPLYFD"}]
    assert f["children"] == f["reaped"] == 1 and f["left_to_supervisor"] == 0
    assert "supplyfd (the child's stdin)" in r.explanation and "end of file" in r.explanation
    assert r.run.success() and r.run.leaked == 0


@pytest.mark.skipif(find_rustc() is None, reason="no rustc on this machine")
def test_rust_command_three_ways_a_stdin_pipe_and_not_found() -> None:
    r = subprocess_demo.run("command", language="rust")
    f = r.facts
    assert r.language == f["language"] == "rust" and r.notes == ()
    assert [p["via"] for p in f["ps"]] == ["output()", "status()", "spawn()"]
    assert {p["pid"] for p in f["ps"]} == {f["main_pid"]}
    assert [s["status"] for s in f["statuses"]] == ["exit status: 0"] * 3
    assert f["read_back"] == [{"via": "stdin pipe", "text": "HELLO THROUGH A PIPE"}]
    assert f["output_stdin"] == "/dev/null"  # Rust's output(): stdin null, not inherited
    [failure] = f["failed"]
    assert failure["exception"] == "io::Error (ErrorKind::NotFound)"
    assert failure["errname"] == "ENOENT" and failure["program"] == "no-such-program"
    assert r.explanation.startswith("Rust's std::process::Command ran ps three ways")
    assert "ErrorKind::NotFound" in r.explanation
    assert r.run.success() and r.run.leaked == 0
