"""Demo 4, an exception in the child caught by the shell's loop: the facts each run must show.

The runs read their commands on stdin (``Variant.stdin``, given to the contained run as ``stdin=``).
"""

from __future__ import annotations

import re

import pytest

from fork110.demos import exceptions
from fork110.demos._base import c_build_dir
from fork110.demos._c import compile_c

LANGS = ["python", "c"] if compile_c("exceptions", c_build_dir()) is not None else ["python"]


def test_every_variant_reads_the_same_input_in_both_languages() -> None:
    assert set(exceptions.DEMO.variants) == {"broken", "fixed-pid", "fixed-exit"}
    for key, variant in exceptions.DEMO.variants.items():
        assert variant.stdin == exceptions.INPUT == "no-such-program\necho hello\n"
        assert variant.c_program is not None, key
        # the Python reads fd 0 a byte at a time, like the C++ program's read(2) loop
        assert "os.read(0, 1)" in variant.python
    assert exceptions.PYTHON_FIXED == {
        "fixed-pid": exceptions.PYTHON_FIXED_PID,
        "fixed-exit": exceptions.PYTHON_FIXED_EXIT,
    }
    assert 'raise ShellError("Call to execvp failed.")' in exceptions.PYTHON
    assert "except ShellError as e:" in exceptions.PYTHON
    assert "if os.getpid() != stshpid:" in exceptions.PYTHON_FIXED_PID
    assert "os._exit(127)" in exceptions.PYTHON_FIXED_EXIT
    assert "Call to execvp failed." not in exceptions.PYTHON_FIXED_EXIT
    assert "if (getpid() != stshpid) exit(0);" in exceptions.SLIDE_STSH


@pytest.mark.parametrize("language", LANGS)
def test_broken_the_child_becomes_a_second_shell_that_reads_input(language: str) -> None:
    r = exceptions.run(language=language)
    f = r.facts
    assert r.language == language
    assert f["shells"] == 2 and f["shell_names"] == ["parent", "child-1"]
    assert len(set(f["shell_pids"])) == 2
    assert f["read"] == [("parent", "no-such-program"), ("child-1", "echo hello")]
    assert f["read_by_others"] == ["echo hello"]
    assert f["caught"] == [("child-1", "Call to execvp failed.")]
    assert f["child_failed"] == []
    # the second shell ran echo as its own job; the first saw its "job" end only at end of input
    assert f["jobs"] == [("child-1", "child-1.1", "0"), ("parent", "child-1", "0")]
    assert f["ran_for"] == {"child-1": "no-such-program", "child-1.1": "echo hello"}
    assert f["output"] == ["hello"]
    assert f["ended"] == ["child-1", "parent"]
    assert r.run.status.success() and not r.run.timed_out and r.run.leaked == 0
    second = f["shell_pids"][1]
    assert f"stsh[{second}]> echo hello" in r.stdout.splitlines()
    if language == "python":  # the run itself says who printed the second prompt: the child
        assert "parent forked child-1" in r.run.transcript(output=False)
        assert re.search(r"^stsh\[\d+\]> echo hello$", r.run.output("child-1"), re.M)
        assert "Call to execvp failed." in r.run.output("child-1", "stderr")
    assert "child-1 became a second shell" in r.explanation
    assert "child-1 read 'echo hello'" in r.explanation
    assert "with exit status 0" in r.explanation


@pytest.mark.parametrize("language", LANGS)
def test_fixed_pid_the_child_exits_in_the_catch_block(language: str) -> None:
    r = exceptions.run(fixed="fixed-pid", language=language)
    f = r.facts
    assert f["shells"] == 1 and f["shell_names"] == ["parent"]
    assert f["read_by_first"] == ["no-such-program", "echo hello"] and f["read_by_others"] == []
    assert f["caught"] == [("child-1", "Call to execvp failed.")]  # still thrown and caught...
    assert f["jobs"] == [("parent", "child-1", "0"), ("parent", "child-2", "0")]  # ...then exit(0)
    assert f["output"] == ["hello"] and f["ended"] == ["parent"]
    assert r.run.status.success() and r.run.leaked == 0
    assert "called exit(0)" in r.explanation and "only one shell (parent)" in r.explanation
    assert "second shell" not in r.explanation


@pytest.mark.parametrize("language", LANGS)
def test_fixed_exit_the_child_never_throws(language: str) -> None:
    r = exceptions.run(fixed="fixed-exit", language=language)
    f = r.facts
    assert f["shells"] == 1
    assert f["caught"] == []
    assert f["child_failed"] == [
        ("child-1", "execvp", "no-such-program", "No such file or directory")
    ]
    assert f["jobs"] == [("parent", "child-1", "127"), ("parent", "child-2", "0")]
    assert f["read_by_first"] == ["no-such-program", "echo hello"]
    assert f["output"] == ["hello"]
    assert r.run.status.success() and r.run.leaked == 0
    assert "_exit(127)" in r.explanation and "exit with status 127" in r.explanation


def test_explanation_follows_the_observations() -> None:
    # nothing fails to exec: no exception, one shell, and the explanation must not claim two
    ok = exceptions.run(stdin="echo hello\n")
    assert ok.facts["shells"] == 1 and ok.facts["caught"] == [] and ok.run.leaked == 0
    assert "No exec failed" in ok.explanation and "second shell" not in ok.explanation
    # two failing commands: each failure adds a shell
    three = exceptions.run(stdin="nope1\nnope2\necho hi\n")
    assert three.facts["shells"] == 3 and three.run.leaked == 0
    assert three.facts["shell_names"] == ["parent", "child-1", "child-1.1"]
    assert "3 shells" in three.explanation and "child-1.1 read 'echo hi'" in three.explanation
    # no fork possible: the exception is thrown in the shell itself, which is harmless
    none = exceptions.run(max_processes=1)
    assert none.facts["shells"] == 1 and none.run.refusals > 0 and none.run.leaked == 0
    assert all(msg == "Call to fork process failed." for _, msg in none.facts["caught"])
    assert "fork itself failed" in none.explanation and "second shell" not in none.explanation
