"""Demo 5, fork while another thread holds a lock: the facts each run must show, read from the run."""

from __future__ import annotations

import glob
import os
import sys

import pytest

from fork110.demos import threads_lock
from fork110.demos._base import DemoResult, c_build_dir
from fork110.demos._c import compile_c

LANGS = ["python", "c"] if compile_c("threads_lock", c_build_dir()) is not None else ["python"]
FIXES = [
    (fix, lang)
    for fix in ("fixed-exec", "fixed-spawn", "fixed-atfork")
    for lang in LANGS
    if not (fix == "fixed-spawn" and lang == "c")
]
WARNING = (
    "DeprecationWarning: This process (pid=N) is multi-threaded, "
    "use of fork() may lead to deadlocks in the child."
)


def _new_python_dir() -> str | None:
    """A bin folder holding a real python3.12+ (pyenv's versions, not its shims), if any."""
    for d in sorted(glob.glob("/root/.pyenv/versions/3.1[2-9]*/bin")):
        if any(os.access(os.path.join(d, f"python3.{m}"), os.X_OK) for m in (12, 13, 14)):
            return d
    return None


def _wchan_seen(r: DemoResult) -> bool:
    return any(p.wchan for snap in r.snapshots for p in snap)


@pytest.mark.parametrize("language", LANGS)
def test_broken_child_sleeps_forever_on_the_copied_lock(
    language: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no Python 3.12 here: keep the side check quick
    r = threads_lock.run(language=language)
    f = r.facts
    assert r.language == language and r.run.leaked == 0
    assert (f["threads"], f["child_threads"]) == (2, 1)  # only the forking thread is copied
    assert f["asked_for_lock"] and not f["got_lock"] and f["deadlock"]
    assert "child: got the lock" not in r.stdout
    # the tree shows the child asleep, in a futex wait where /proc lets us read it
    assert f["child"] == "child-1" and f["child_state"] == "S" and "S" in f["child_states"]
    if _wchan_seen(r):
        assert "futex" in f["child_wchan"]
    assert f["child_signal"] == 9
    assert "state S (sleeping)" in r.explanation and "does not exist in the child" in r.explanation
    if language == "python":  # nothing ends the wait but the watchdog
        assert r.run.timed_out and f["killed_by"] == "watchdog"
        assert f["watchdog_state"] == "S" and "child-1 (sleeping in" in r.run.watchdog
        status = r.run.status_of("child-1")
        assert status is not None and status.signal() == 9
        assert "the watchdog found" in r.explanation and "deadlock" in r.explanation
    else:  # threads_lock.c bounds itself: it kills the child after 1 s
        assert not r.run.timed_out and f["killed_by"] == "parent" and f["reported_stuck"]
        assert f["reported_state"] == "S" and "futex" in f["reported_wchan"]
        assert f["waited"] is not None  # measured from the run: the child's line to "stuck"
        assert "gave up waiting" in r.explanation and "signal 9" in r.explanation


@pytest.mark.parametrize(("fix", "language"), FIXES)
def test_fixes_finish_at_once(fix: str, language: str) -> None:
    r = threads_lock.run(fixed=fix, language=language)
    f = r.facts
    assert r.language == language and r.run.leaked == 0
    assert not r.run.timed_out and r.run.status.success() and r.run.duration < 3.0
    assert not f["deadlock"] and f["child_status"] == 0
    assert "nothing hung" in r.explanation and "exited with status 0" in r.explanation
    if fix == "fixed-atfork":
        assert f["fork_after_release"] is True and f["got_lock"]  # fork waited for B, then malloc
        assert "child: my_malloc worked, exec'd echo" in r.stdout
        assert "fork waited" in r.explanation
    else:  # the child never touched the lock, and B still held it when the child exited
        assert f["clean_child"] and not f["got_lock"]
        assert (
            f"child {f['child_pid']} exited with status 0 while thread B still held the lock"
            in (r.stdout)
        )
    if fix == "fixed-exec" and language == "python":
        assert any(e.kind == "exec" and "/bin/sh" in e.detail for e in r.events)
    if fix == "fixed-spawn":  # no fork of the Python process at all
        assert f["started_by"] == "spawn" and not any(e.kind == "fork" for e in r.events)


def test_spawn_has_no_c_version_and_says_so() -> None:
    r = threads_lock.run(fixed="fixed-spawn", language="c")
    assert r.language == "python" and any("no C version" in n for n in r.notes)
    assert not r.run.timed_out and r.facts["child_status"] == 0


def test_python312_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    new = _new_python_dir()
    if new is None:
        pytest.skip("no Python 3.12+ under /root/.pyenv/versions")
    monkeypatch.setenv("PATH", f"{new}:{os.environ.get('PATH', '')}")
    check = threads_lock.check_python312()
    assert check.warning == WARNING and check.version is not None
    assert check.python is not None and check.python.startswith(new)
    assert threads_lock.python312_warning() == WARNING


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="sys.executable itself warns")
def test_python312_warning_none_without_such_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(threads_lock, "_beside", lambda: [])
    check = threads_lock.check_python312()
    assert check.warning is None and check.python is None
    assert "python3.12 is not on PATH" in check.reason and "this kernel's Python is 3." in (
        check.reason
    )
    assert "/" not in check.reason  # shown in notebooks and stored: no machine paths


def test_python312_found_beside_this_python(monkeypatch: pytest.MonkeyPatch) -> None:
    beside = threads_lock._beside()
    if not beside:
        pytest.skip("no Python 3.12+ installed beside this one")
    monkeypatch.setenv("PATH", "/nonexistent")
    check = threads_lock.check_python312()
    assert check.warning == WARNING  # shown with the default warning filters: forked in __main__
    assert check.reason.endswith("beside this one)") and "/" not in check.reason


def test_explanation_follows_the_python312_check(monkeypatch: pytest.MonkeyPatch) -> None:
    new = _new_python_dir()
    if new is None:
        pytest.skip("no Python 3.12+ under /root/.pyenv/versions")
    monkeypatch.setenv("PATH", f"{new}:/usr/bin:/bin")
    r = threads_lock.run(timeout=1.0)
    assert r.facts["py312_warning"] == WARNING and WARNING in r.explanation
    if sys.version_info < (3, 12):
        monkeypatch.setenv("PATH", "/usr/bin:/bin")
        monkeypatch.setattr(threads_lock, "_beside", lambda: [])
        r = threads_lock.run(timeout=1.0)
        assert r.facts["py312_warning"] is None and "DeprecationWarning" not in r.explanation
        assert "could not be shown here" in r.explanation


@pytest.mark.skipif("c" not in LANGS, reason="no C compiler")
def test_explanation_follows_who_ended_the_c_deadlock(monkeypatch: pytest.MonkeyPatch) -> None:
    # the C parent gives up after 1 s; with a shorter timeout the watchdog gets there first
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    r = threads_lock.run(language="c", timeout=0.6)
    f = r.facts
    assert r.run.timed_out and r.run.leaked == 0
    assert not f["reported_stuck"] and f["killed_by"] == "watchdog" and f["deadlock"]
    assert "the watchdog found" in r.explanation and "gave up" not in r.explanation


@pytest.mark.parametrize("language", LANGS)
def test_glibc_malloc_is_reinitialised_in_the_child(language: str) -> None:
    r = threads_lock.run("glibc-malloc", language=language)
    f = r.facts
    assert r.language == language
    assert f["malloc_children"] == f["malloc_ok"] == 20 and f["malloc_stuck"] == 0
    assert "re-initialises them in the child" in r.explanation and "none got stuck" in r.explanation
    assert not r.run.timed_out and r.run.leaked == 0


def test_fix_texts_say_what_python_still_runs_in_the_child() -> None:
    e = threads_lock.run("fixed-exec")
    assert "after-fork handlers" in e.explanation and "allocates" in e.explanation
    a = threads_lock.run("fixed-atfork")
    assert "re-initialises them rather than unlocking" in a.explanation
    assert "not for a fork made in C" in a.explanation
