"""Child: waiting, reaping, signalling and the states it reports, with real children."""

from __future__ import annotations

import gc
import os
import signal
import threading
import time
from pathlib import Path

import psutil
import pytest
from conftest import PY, quiet_hooks

from fork110 import Child, Command, Stdio, WaitTimeout

SLEEP = [PY, "-c", "import time; time.sleep(60)"]


def sleeper(**kw: object) -> Child:
    cmd = Command(SLEEP[0]).args(SLEEP[1:])
    if kw.get("group"):
        cmd.process_group(0)
    return cmd.spawn()


def proc_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat", "rb") as f:
        return f.read().rpartition(b")")[2].split()[0].decode()


def wait_for_state(pid: int, states: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while proc_state(pid) not in states:
        assert time.monotonic() < deadline, f"{pid} never reached {states}"
        time.sleep(0.005)


def test_id_is_the_real_pid() -> None:
    with sleeper() as child:
        assert psutil.Process(child.id()).cmdline() == SLEEP
        child.kill()


def test_wait_reaps_and_caches() -> None:
    child = Command("sh").args(["-c", "exit 5"]).spawn()
    first = child.wait()
    assert first.code() == 5
    assert child.wait() is first  # cached: the pid is never waited on twice
    assert child.try_wait() is first
    assert not psutil.pid_exists(child.id()) or psutil.Process(child.id()).ppid() != os.getpid()


def test_wait_closes_stdin_first() -> None:
    child = Command("cat").stdin(Stdio.piped()).stdout(Stdio.null()).spawn()
    assert child.stdin is not None
    child.stdin.write(b"data")
    assert child.wait().success()  # cat only exits because wait closed its stdin
    assert child.stdin is None


def test_try_wait_does_not_close_stdin_and_reaps() -> None:
    child = Command("cat").stdin(Stdio.piped()).spawn()
    assert child.try_wait() is None
    assert child.stdin is not None and not child.stdin.closed
    child.stdin.close()
    deadline = time.monotonic() + 10
    while (status := child.try_wait()) is None:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    assert status.success()
    assert child.wait() is status


def test_wait_timeout_raises_a_timeout_error_and_keeps_the_child() -> None:
    child = sleeper()
    with pytest.raises(WaitTimeout) as info:
        child.wait(timeout=0.05)
    assert isinstance(info.value, TimeoutError)
    assert info.value.pid == child.id() and info.value.timeout == 0.05
    assert proc_state(child.id()) in "SR"
    child.kill()
    assert child.wait(timeout=10).signal() == signal.SIGKILL


def test_wait_timeout_returns_as_soon_as_the_child_exits() -> None:
    child = Command("sh").args(["-c", "exit 3"]).spawn()
    assert child.wait(timeout=30).code() == 3


def test_kill_after_exit_and_after_reap_is_a_no_op() -> None:
    child = Command("true").spawn()
    wait_for_state(child.id(), "Z")
    child.kill()  # a zombie: signalling it is harmless and Rust returns Ok
    assert child.wait().success()  # exited normally: the kill came too late to matter
    child.kill()  # reaped: must not signal the pid (another process may own it now)
    child.send_signal(signal.SIGTERM)


def test_terminate_and_send_signal() -> None:
    child = sleeper()
    child.terminate()
    assert child.wait().signal() == signal.SIGTERM
    child = sleeper()
    child.send_signal(signal.SIGUSR1)
    assert child.wait().signal() == signal.SIGUSR1


def test_kill_process_group_reaches_grandchildren() -> None:
    child = Command("sh").args(["-c", "sleep 60 & sleep 60 & wait"]).process_group(0).spawn()
    deadline = time.monotonic() + 10
    while len(psutil.Process(child.id()).children()) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    grandchildren = psutil.Process(child.id()).children()
    child.kill_process_group()
    assert child.wait().signal() == signal.SIGKILL
    _gone, alive = psutil.wait_procs(grandchildren, timeout=10)
    assert alive == []
    child.kill_process_group()  # the group is empty now: still no error


def test_kill_process_group_refuses_a_shared_group() -> None:
    with sleeper() as child:
        with pytest.raises(ValueError, match="does not lead its own process group"):
            child.kill_process_group()
        child.kill()


def test_wait_with_output_reads_both_pipes_concurrently() -> None:
    code = "import sys\nfor _ in range(64):\n    sys.stderr.write('e' * 8192); sys.stdout.write('o' * 8192)\n"
    child = Command(PY).args(["-c", code]).stdout(Stdio.piped()).stderr(Stdio.piped()).spawn()
    out = child.wait_with_output()
    assert out.status.success()
    assert (len(out.stdout), len(out.stderr)) == (64 * 8192, 64 * 8192)
    assert child.stdout is None and child.stderr is None


def test_wait_with_output_without_pipes() -> None:
    out = Command("true").spawn().wait_with_output()
    assert (out.stdout, out.stderr, out.status.success()) == (b"", b"", True)


def test_pipes_are_file_objects_only_when_piped() -> None:
    child = Command("cat").stdin(Stdio.piped()).stdout(Stdio.piped()).spawn()
    assert child.stderr is None
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(b"echo")
    child.stdin.close()
    assert child.stdout.read() == b"echo"
    child.stdout.close()
    assert child.wait().success()


def test_context_manager_reaps_on_normal_exit() -> None:
    with Command("sh").args(["-c", "exit 2"]).spawn() as child:
        pid = child.id()
    assert child.try_wait() is not None and child.wait().code() == 2
    assert not _is_our_zombie(pid)


def test_context_manager_asks_politely_first_on_an_exception() -> None:
    with pytest.raises(KeyboardInterrupt), sleeper() as child:
        raise KeyboardInterrupt
    assert child.wait().signal() == signal.SIGTERM


def test_context_manager_lets_the_child_clean_up_after_sigterm() -> None:
    script = "trap 'echo cleaned; exit 7' TERM; echo ready; while :; do sleep 0.05; done"
    cmd = Command("sh").args(["-c", script]).stdout(Stdio.piped())
    with pytest.raises(KeyboardInterrupt), cmd.spawn() as child:
        assert child.stdout is not None
        out = child.stdout
        child.stdout = None  # keep reading our end after the block closes the Child's pipes
        assert out.readline() == b"ready\n"
        raise KeyboardInterrupt
    assert child.wait().code() == 7
    assert out.read() == b"cleaned\n"
    out.close()


def test_context_manager_kills_a_child_that_ignores_sigterm() -> None:
    script = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True); time.sleep(30)"
    )
    cmd = Command(PY).args(["-c", script]).stdout(Stdio.piped())
    with pytest.raises(KeyboardInterrupt), cmd.spawn() as child:
        child.term_grace = 0.2
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        raise KeyboardInterrupt
    assert child.wait().signal() == signal.SIGKILL


def test_child_is_made_by_spawn_only() -> None:
    with pytest.raises(TypeError, match=r"made by Command.spawn\(\)"):
        Child(os.getpid())


def test_a_collection_inside_reap_abandoned_does_not_deadlock() -> None:
    # reap_abandoned() holds its lock while it reaps; a garbage collection there may finalize an
    # unwaited Child, whose __del__ must not wait for that same lock (a thread deadlocked on itself)
    code = (
        "import warnings; warnings.simplefilter('ignore')\n"
        "from fork110 import Command, _child\n"
        "c = Command('sleep').arg('0.2').spawn()\n"
        "with _child._abandoned_lock:\n"
        "    del c\n"
        "print(len(_child._abandoned))\n"
        "import time; time.sleep(0.4); _child.reap_abandoned(); print(len(_child._abandoned))\n"
    )
    with Command(PY).args(["-c", code]).stdout(Stdio.piped()).spawn() as child:
        try:
            status = child.wait(timeout=20)
        except WaitTimeout:
            child.kill()
            raise AssertionError(
                "the Child's finalizer deadlocked on reap_abandoned's lock"
            ) from None
        assert child.stdout is not None
        assert child.stdout.read() == b"1\n0\n", status


def test_wait_with_output_kills_and_reaps_when_interrupted() -> None:
    child = Command("sleep").arg("30").stdout(Stdio.piped()).spawn()

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    try:
        with pytest.raises(KeyboardInterrupt):
            child.wait_with_output()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    status = child.try_wait()  # reaped by the interrupted call, not left running
    assert status is not None and status.signal() == signal.SIGKILL


def test_context_manager_closes_pipes_so_the_wait_cannot_hang() -> None:
    with Command("yes").stdout(Stdio.piped()).spawn() as child:
        assert child.stdout is not None
        assert child.stdout.read(2) == b"y\n"
    # yes was blocked on a full pipe; closing our end first gave it SIGPIPE instead of a deadlock
    assert child.wait().signal() == signal.SIGPIPE


def test_an_unwaited_child_warns_and_leaves_no_zombie() -> None:
    child = Command("true").spawn()
    pid = child.id()
    wait_for_state(pid, "Z")
    with pytest.warns(ResourceWarning, match=f"child process {pid} was never waited for"):
        del child
        gc.collect()
    assert not _is_our_zombie(pid)


def test_an_unwaited_running_child_is_reaped_on_a_later_spawn() -> None:
    child = sleeper()
    pid = child.id()
    with pytest.warns(ResourceWarning):
        del child
        gc.collect()
    os.kill(pid, signal.SIGKILL)
    wait_for_state(pid, "Z")
    Command("true").status()  # the next spawn reaps what was abandoned
    assert not _is_our_zombie(pid)


def test_repr_states() -> None:
    child = sleeper()
    assert repr(child) == f"<Child pid={child.id()} running>"
    os.kill(child.id(), signal.SIGSTOP)
    wait_for_state(child.id(), "T")
    assert repr(child) == f"<Child pid={child.id()} stopped>"
    child.kill()
    wait_for_state(child.id(), "Z")
    assert repr(child) == f"<Child pid={child.id()} exited, not yet waited for (a zombie)>"
    child.wait()
    assert repr(child) == f"<Child pid={child.id()} exited (signal: 9 (SIGKILL))>"


def test_wait_from_two_threads() -> None:
    child = Command("sleep").arg("0.2").spawn()
    results = []
    threads = [threading.Thread(target=lambda: results.append(child.wait())) for _ in range(3)]
    for t in threads:
        t.start()
    assert (
        child.try_wait() is None or child.try_wait() is not None
    )  # never raises while others wait
    for t in threads:
        t.join()
    assert len(results) == 3 and all(r is results[0] for r in results)


def test_someone_else_reaping_is_reported_clearly() -> None:
    child = Command("true").spawn()
    os.waitpid(child.id(), 0)  # reaped behind the Child's back
    with pytest.raises(ChildProcessError, match="already reaped by someone else"):
        child.wait()
    child.kill()  # the pid may belong to another process now: no signal is sent
    with pytest.raises(ChildProcessError):
        child.try_wait()


def _is_our_zombie(pid: int) -> bool:
    try:
        p = psutil.Process(pid)
        return p.ppid() == os.getpid() and p.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_kill_from_another_thread_while_waiting() -> None:
    child = sleeper()
    timer = threading.Timer(0.2, child.kill)
    timer.start()
    try:
        assert child.wait().signal() == signal.SIGKILL  # kill() did not queue behind wait()
    finally:
        timer.cancel()
        timer.join()


def test_kill_from_a_signal_handler_while_waiting() -> None:
    child = sleeper()
    old = signal.signal(signal.SIGALRM, lambda *_: child.kill())
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        assert child.wait().signal() == signal.SIGKILL
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_dropping_a_child_closes_its_pipes_at_once() -> None:
    gc.disable()
    try:
        child = Command("cat").stdin(Stdio.piped()).stdout(Stdio.null()).spawn()
        pid = child.id()
        with pytest.warns(ResourceWarning):
            del child  # no reference cycle: freed now, so cat sees EOF on stdin and exits
        wait_for_state(pid, "Z")
    finally:
        gc.enable()
    Command("true").status()  # reaps what was abandoned
    assert not _is_our_zombie(pid)


@pytest.mark.filterwarnings("ignore::ResourceWarning")  # catch_warnings is not thread-safe
def test_concurrent_spawns_from_threads() -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(30):
                Command("true").spawn()  # abandoned at once (it warns): reaped by later spawns
                gc.collect()
                assert Command("true").output().status.success()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    deadline = time.monotonic() + 10
    while any(_is_our_zombie(p.pid) for p in psutil.Process().children()):
        assert time.monotonic() < deadline
        Command("true").status()
        time.sleep(0.01)


def test_sigchld_ignored_is_reported_and_never_signals() -> None:
    code = (
        "import signal\n"
        "from fork110 import Command\n"
        "signal.signal(signal.SIGCHLD, signal.SIG_IGN)\n"
        "try:\n    Command('true').status()\nexcept ChildProcessError as e:\n    print('status:', e)\n"
        "try:\n    Command('fork110-nope').status()\nexcept FileNotFoundError as e:\n    print('missing:', type(e).__name__)\n"
    )
    out = Command(PY).args(["-c", code]).output()
    lines = out.stdout.decode().splitlines()
    assert lines[0].startswith("status: [Errno 10]") and "SIGCHLD ignored" in lines[0], out
    assert lines[1] == "missing: FileNotFoundError"


def test_a_stop_is_not_an_exit() -> None:
    child = sleeper()
    os.kill(child.id(), signal.SIGSTOP)
    wait_for_state(child.id(), "T")
    assert child.try_wait() is None  # stopped, not exited: nothing is reaped or cached
    os.kill(child.id(), signal.SIGCONT)
    child.kill()
    assert child.wait().signal() == signal.SIGKILL


def test_core_dump_status_through_wait(tmp_path: Path) -> None:
    import resource

    def cores() -> None:
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    with quiet_hooks():
        child = (
            Command(PY)
            .args(["-c", "import os; os.abort()"])
            .current_dir(tmp_path)
            .stderr(Stdio.null())
            .pre_exec(cores)
            .spawn()
        )
    st = child.wait()
    assert st.signal() == signal.SIGABRT
    assert str(st).startswith("signal: 6 (SIGABRT)")


def test_a_tracer_s_wait_returns_the_stop_and_does_not_cache_it() -> None:
    """PTRACE_TRACEME in pre_exec: wait() returns the SIGTRAP stop at exec (as Rust's Child::wait
    does), then, once the child is killed, the real end: the stop was never cached."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def trace_me() -> None:
        if libc.ptrace(0, 0, None, None) != 0:  # PTRACE_TRACEME
            raise OSError(ctypes.get_errno(), "ptrace(PTRACE_TRACEME)")

    try:
        with quiet_hooks():
            child = Command(PY).args(["-c", "pass"]).pre_exec(trace_me).spawn()
    except PermissionError:  # a container that forbids ptrace: the kernel fact cannot be shown
        pytest.fail("ptrace(PTRACE_TRACEME) is not permitted on this machine")
    stop = child.wait()
    assert (stop.stopped_signal(), stop.code(), stop.success()) == (signal.SIGTRAP, None, False)
    assert child.try_wait() is None  # stopped, not ended, and not cached
    child.kill()
    end = child.wait()
    assert end.signal() == signal.SIGKILL
    assert child.wait() is end  # the end is cached
