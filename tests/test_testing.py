"""Tests for fork110.testing, the leak-checking pytest plugin.

Inner pytest runs (in a subprocess, through ``pytester``) leak on purpose; the outer tests check that
each leak is reported with its pid or fd, and that nothing the inner run made is left on the machine.
The outer tests run under the plugin too, so they must themselves leave nothing.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest

from fork110.testing import LeakError, assert_no_leaks, live_descendants, open_fds

pytest_plugins = ["pytester"]

# Helpers the inner test files share: they record what they leak in leaked.txt, one
# "kind pid-or-fd detail" line each, for the outer test to check against the report and /proc.
INNER_PRELUDE = """
import os, signal, subprocess, sys, time
from pathlib import Path

import pytest

from fork110.testing import live_descendants, open_fds

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def stat_fields(pid):
    data = Path(f"/proc/{pid}/stat").read_bytes()
    return data[data.rfind(b")") + 2 :].split()


def wait_until(condition, what):
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def cmdline(pid):
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def record(kind, number, detail):
    with open("leaked.txt", "a") as f:
        f.write(f"{kind} {number} {detail}\\n")


def record_process(kind, pid):
    record(kind, pid, int(stat_fields(pid)[19]))  # the start time: (pid, start) names it
"""


@pytest.fixture(autouse=True)
def _no_plugin_autoload(monkeypatch: pytest.MonkeyPatch) -> None:
    # Inner runs load only the plugin under test: entry-point plugins (nbval, hypothesis) would
    # cost seconds of imports per run.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


def run_inner(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    """Run ``source`` as an inner test file under the plugin, in a separate pytest process."""
    pytester.makepyfile(test_inner=INNER_PRELUDE + textwrap.dedent(source))
    return pytester.runpytest_subprocess(
        "-p", "fork110.testing", "-p", "no:cacheprovider", *args, timeout=60
    )


def recorded(pytester: pytest.Pytester) -> list[tuple[str, int, str]]:
    """What the inner run recorded in leaked.txt."""
    path = pytester.path / "leaked.txt"
    rows = [line.split(" ", 2) for line in path.read_text().splitlines()]
    return [(kind, int(number), detail) for kind, number, detail in rows]


def start_time(pid: int) -> int | None:
    """The start time of process ``pid``, or None if there is no such process."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    return int(data[data.rfind(b")") + 2 :].split()[19])


def assert_gone(pytester: pytest.Pytester) -> None:
    """No process the inner run recorded is left on the machine (alive or zombie)."""
    for kind, pid, start in recorded(pytester):
        if kind != "fd":
            assert start_time(pid) != int(start), f"{kind} {pid} is still there"


def test_running_child_is_reported_and_killed(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
        KEPT = []

        def test_leaks_running_child():
            child = subprocess.Popen(SLEEPER)  # never waited
            KEPT.append(child)
            record_process("child", child.pid)
            wait_until(lambda: b"sleep(60)" in cmdline(child.pid), "exec")

        def test_next_starts_clean():
            assert [p.pid for p in live_descendants()] == []
            # The Popen object was told how its child ended: it never waits on the pid again.
            assert KEPT[0].returncode == -signal.SIGKILL
            assert KEPT[0].wait(timeout=1) == -signal.SIGKILL
        """,
    )
    [(_, pid, _)] = recorded(pytester)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_leaks_running_child*",
            "the test leaked 1 process (killed and reaped it):",
            f"  pid {pid} (? *, parent *): *python* -c 'import time; time.sleep(60)'",
        ]
    )
    assert_gone(pytester)


def test_zombie_is_reported_and_reaped(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
        def test_leaks_zombie():
            pid = os.posix_spawn(sys.executable, [sys.executable, "-c", "pass"], os.environ)
            record_process("zombie", pid)
            wait_until(lambda: stat_fields(pid)[0] == b"Z", "the child to exit")

        def test_next_starts_clean():
            [(_, pid, _)] = [line.split() for line in Path("leaked.txt").read_text().splitlines()]
            with pytest.raises(ChildProcessError):  # reaped already
                os.waitpid(int(pid), os.WNOHANG)
        """,
    )
    [(_, pid, _)] = recorded(pytester)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_leaks_zombie*",
            "the test leaked 1 process (killed and reaped it):",
            f"  pid {pid} (Z zombie, parent *): [[]python*] <defunct>",
        ]
    )
    assert_gone(pytester)


def test_orphaned_grandchild_is_caught(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
        SPAWNER = (
            "import subprocess, sys; "
            "print(subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL,"
            " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).pid)"
        )

        def test_leaks_orphan():
            # The child starts a sleeper and exits at once (it is waited): the sleeper is orphaned.
            out = subprocess.run(
                [sys.executable, "-c", SPAWNER, *SLEEPER],
                capture_output=True, text=True, check=True, timeout=30,
            )
            pid = int(out.stdout)
            record_process("orphan", pid)
            record_process("pytest", os.getpid())  # gone after the run too
            # Reparented to this pytest (the subreaper), not to init.
            wait_until(lambda: int(stat_fields(pid)[1]) == os.getpid(), "reparenting")
            wait_until(lambda: b"sleep(60)" in cmdline(pid), "exec")
        """,
    )
    [(_, pid, _), (_, pytest_pid, _)] = recorded(pytester)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_leaks_orphan*",
            "the test leaked 1 process (killed and reaped it):",
            f"  pid {pid} (? *, parent {pytest_pid}): *python* -c 'import time; time.sleep(60)'",
        ]
    )
    assert_gone(pytester)


def test_process_tree_is_killed_whole(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
        def test_leaks_tree():
            shell = subprocess.Popen(["/bin/sh", "-c", "sleep 60 & sleep 60 & wait"])
            record_process("shell", shell.pid)
            wait_until(lambda: len(live_descendants()) == 3, "the shell's two sleepers")
            for p in live_descendants()[1:]:
                record_process("sleeper", p.pid)
        """,
    )
    leaked = recorded(pytester)
    assert [kind for kind, _, _ in leaked] == ["shell", "sleeper", "sleeper"]
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["the test leaked 3 processes (killed and reaped them):"])
    for _, pid, _ in leaked:
        result.stdout.fnmatch_lines([f"  pid {pid} (? *, parent *): *sleep*"])
    assert_gone(pytester)


def test_leaked_pipe_fds_are_reported_and_closed(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
        def test_leaks_pipe():
            r, w = os.pipe()
            inode = os.fstat(r).st_ino
            record("fd", r, f"pipe:[{inode}]")
            record("fd", w, f"pipe:[{inode}]")

        def test_next_starts_clean():
            for line in Path("leaked.txt").read_text().splitlines():
                _, fd, target = line.split()
                assert open_fds().get(int(fd)) != target
        """,
    )
    [(_, r, target), (_, w, _)] = recorded(pytester)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        ["*ERROR at teardown of test_leaks_pipe*", "the test leaked 2 fds (closed them):"]
    )
    assert f"  fd {r} -> {target}" in result.stdout.lines
    assert f"  fd {w} -> {target}" in result.stdout.lines


def test_leak_from_a_function_fixture_is_reported(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
        @pytest.fixture
        def sleeper():
            child = subprocess.Popen(SLEEPER)
            record_process("child", child.pid)
            yield child  # and no teardown

        def test_uses_leaky_fixture(sleeper):
            pass
        """,
    )
    [(_, pid, _)] = recorded(pytester)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([f"  pid {pid} (*): *"])
    assert_gone(pytester)


def test_clean_tests_pass(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
        @pytest.fixture(scope="session")
        def server():
            # A session-long child and pipe, set up before the first test's leak snapshot and
            # torn down after the last one's check: no test is blamed for them.
            r, w = os.pipe()
            child = subprocess.Popen(SLEEPER, stdin=r)
            yield child
            child.kill()
            child.wait()
            os.close(r)
            os.close(w)

        def test_run_and_wait(tmp_path, capfd):
            subprocess.run([sys.executable, "-c", "print('hi')"], check=True, timeout=30)
            assert capfd.readouterr().out == "hi\\n"
            with subprocess.Popen(SLEEPER, stdout=subprocess.PIPE) as child:
                child.kill()
            r, w = os.pipe()
            os.close(r)
            os.close(w)
            (tmp_path / "f").write_text("x")
            # A grandchild the shell waits for.
            subprocess.run(["/bin/sh", "-c", "sleep 0.01 & wait"], check=True, timeout=30)

        def test_uses_server(server, capsys):
            assert server.poll() is None
            print("out")
            assert capsys.readouterr().out == "out\\n"

        def test_uses_server_again(server):
            assert server.poll() is None

        def test_dropped_file_is_collected():
            f = open(os.devnull)
            f.self_reference = f  # only the cycle collector frees it: the check collects first
            del f
        """,
        "-W",
        "ignore::ResourceWarning",
    )
    result.assert_outcomes(passed=4)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.no_fnmatch_line("*leak*")


def test_process_left_at_session_end_fails_the_run(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
        @pytest.fixture(scope="session")
        def server():
            child = subprocess.Popen(SLEEPER)
            record_process("child", child.pid)
            wait_until(lambda: b"sleep(60)" in cmdline(child.pid), "exec")
            yield child  # and no teardown

        def test_uses_server(server):
            pass
        """,
    )
    [(_, pid, _)] = recorded(pytester)
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*fork110 leak check: left at the end of the session*",
            "the session leaked 1 process (killed and reaped it):",
            f"  pid {pid} (? *, parent *): *sleep(60)*",
        ]
    )
    assert_gone(pytester)


# ------------------------------------------------------------------------------------------------
# assert_no_leaks and the helpers, in this process


SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_assert_no_leaks_passes_when_clean() -> None:
    with assert_no_leaks():
        subprocess.run([sys.executable, "-c", "pass"], check=True, timeout=30)
        r, w = os.pipe()
        os.close(r)
        os.close(w)


def test_assert_no_leaks_closes_a_pipe() -> None:
    with pytest.raises(LeakError) as caught, assert_no_leaks():
        r, w = os.pipe()
    [(fd1, target1), (fd2, target2)] = caught.value.fds
    assert (fd1, fd2) == (r, w)
    assert target1 == target2
    assert target1.startswith("pipe:[")
    assert caught.value.processes == ()
    assert r not in open_fds()
    assert w not in open_fds()


def test_assert_no_leaks_closes_file_and_socket_through_their_objects() -> None:
    with pytest.raises(LeakError) as caught, assert_no_leaks():
        f = open(os.devnull, "w")  # noqa: SIM115
        a, b = socket.socketpair()
    assert len(caught.value.fds) == 3
    # Closed through the objects: they know it, and never close the fd numbers again.
    assert f.closed
    assert a.fileno() == -1
    assert b.fileno() == -1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f.close()
        a.close()
        b.close()


def test_assert_no_leaks_kills_and_reaps_a_child() -> None:
    with pytest.raises(LeakError) as caught, assert_no_leaks():
        child = subprocess.Popen(SLEEPER)
    [info] = caught.value.processes
    assert info.pid == child.pid
    assert info.ppid == os.getpid()
    assert caught.value.survivors == ()
    assert child.returncode == -signal.SIGKILL  # told by the cleanup: it will not waitpid again
    assert child.pid not in [p.pid for p in live_descendants()]


def test_assert_no_leaks_reaps_a_zombie() -> None:
    with pytest.raises(LeakError) as caught, assert_no_leaks():
        pid = os.posix_spawn(sys.executable, [sys.executable, "-c", "pass"], os.environ)
        deadline = time.monotonic() + 10
        while [p.state for p in live_descendants() if p.pid == pid] != ["Z"]:
            assert time.monotonic() < deadline
            time.sleep(0.005)
    [info] = caught.value.processes
    assert (info.pid, info.state, info.cmdline) == (pid, "Z", ())
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_assert_no_leaks_catches_an_orphan() -> None:
    # This pytest is a subreaper (the plugin made it one): the orphan is reparented here.
    spawner = (
        "import subprocess, sys; print(subprocess.Popen(sys.argv[1:],"
        " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).pid)"
    )
    with pytest.raises(LeakError) as caught, assert_no_leaks():
        out = subprocess.run(
            [sys.executable, "-c", spawner, *SLEEPER],
            capture_output=True,
            check=True,
            timeout=30,
        )
    [info] = caught.value.processes
    assert info.pid == int(out.stdout)
    assert info.ppid == os.getpid()
    assert start_time(info.pid) != info.starttime


def test_assert_no_leaks_does_not_blame_older_processes() -> None:
    with subprocess.Popen(SLEEPER) as older:
        with assert_no_leaks():
            assert older.pid in [p.pid for p in live_descendants()]
        older.kill()


def test_assert_no_leaks_cleans_up_when_the_block_raises() -> None:
    with pytest.raises(ZeroDivisionError), assert_no_leaks():
        child = subprocess.Popen(SLEEPER)
        r, w = os.pipe()
        1 / 0  # noqa: B018
    assert child.returncode == -signal.SIGKILL
    assert r not in open_fds()
    assert w not in open_fds()


def test_leak_error_message_names_everything() -> None:
    with pytest.raises(LeakError) as caught, assert_no_leaks():
        child = subprocess.Popen(["/bin/sleep", "60"])
        r, w = os.pipe()
    message = str(caught.value)
    assert message.startswith("leaked 1 process and 2 fds (killed and reaped it, closed them):")
    assert f"pid {child.pid} (" in message
    assert f"parent {os.getpid()})" in message
    assert f"fd {r} -> pipe:[" in message
    assert f"fd {w} -> pipe:[" in message


def test_replaced_standard_stream_is_reported_but_left_open() -> None:
    saved = os.dup(0)
    try:
        with pytest.raises(LeakError) as caught, assert_no_leaks():
            r, w = os.pipe()
            os.dup2(r, 0)
            os.close(r)
            os.close(w)
        [(fd, target)] = caught.value.fds
        assert (fd, target[:6]) == (0, "pipe:[")
        assert "(a standard stream: left open)" in str(caught.value)
        assert open_fds()[0] == target  # closing it would let the next open() become stdin
    finally:
        os.dup2(saved, 0)
        os.close(saved)
