"""Demo 9, pre_exec and ptrace: the facts each run must show, read from the run itself."""

from __future__ import annotations

import os
import platform
import re
import signal
import sys

import pytest
from conftest import quiet_hooks

from fork110 import Command, Stdio, sandbox
from fork110.demos import ptrace
from fork110.demos._base import DemoResult, c_build_dir
from fork110.demos._c import compile_c
from fork110.demos._rs import find_rustc
from fork110.demos.ptrace import Exited, Inferior, Signaled, Stopped

EXE = compile_c("ptrace", c_build_dir())
LANGS = ["python", "c"] if EXE is not None else ["python"]
OK, WHY = ptrace.ptrace_available()
needs_ptrace = pytest.mark.skipif(not OK, reason=WHY)
IP_READABLE = platform.machine() in ("x86_64", "aarch64", "arm64")

# A seccomp filter that makes every ptrace call fail with EPERM, as a container's profile can: the
# way to see the "not permitted" path on a machine where ptrace works. Installed in the run's first
# process, it holds for its children too (and across exec).
_NR_PTRACE = {"x86_64": 101, "aarch64": 117, "arm64": 117}.get(platform.machine())
FORBID_PTRACE = f"""\
import ctypes, struct
_libc = ctypes.CDLL(None, use_errno=True)
_prog = b"".join(struct.pack("HBBI", *insn) for insn in [
    (0x20, 0, 0, 0),                    # load the syscall number
    (0x15, 0, 1, {_NR_PTRACE or 0}),    # ptrace?
    (0x06, 0, 0, 0x00050000 | 1),       # yes: fail with EPERM
    (0x06, 0, 0, 0x7FFF0000),           # no: allow
])
_buf = ctypes.create_string_buffer(_prog, len(_prog))
class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
_fprog = _Fprog(4, ctypes.addressof(_buf))
assert _libc.prctl(38, 1, 0, 0, 0) == 0                                        # PR_SET_NO_NEW_PRIVS
assert _libc.prctl(22, 2, ctypes.byref(_fprog), 0, 0) == 0, ctypes.get_errno()  # SECCOMP_MODE_FILTER
"""


@needs_ptrace
@pytest.mark.parametrize("language", LANGS)
def test_the_child_stops_with_sigtrap_at_exec_and_is_continued_to_its_exit(language: str) -> None:
    r = ptrace.run(language=language)
    f = r.facts
    assert r.language == language and r.run.success() and r.run.leaked == 0
    assert f["stopped"] and f["signal"] == "SIGTRAP"
    assert f["state"] == "t (tracing stop)"  # read from /proc while it was stopped
    if IP_READABLE:
        assert f["ip"] and f["ip_file"] and os.path.basename(f["ip_file"]).startswith("ld")
        assert f"0x{f['ip']:x}" in r.explanation and f["ip_file"] in r.explanation
    assert f["echoed"] and f["exit_code"] == 0
    assert "hello from the traced child" in r.run.stdout
    pid = f["child_pid"]
    assert f"child {pid} stopped" in r.explanation and "SIGTRAP" in r.explanation
    assert "exited with status 0" in r.explanation
    assert not f["not_permitted"] and not f["refused"] and not f["timed_out"]


@needs_ptrace
def test_the_tree_shows_the_python_child_traced_stopped() -> None:
    r = ptrace.run()
    assert "t" in r.facts["tree_states"], r.facts["tree_states"]
    stopped = [p for snap in r.snapshots for p in snap if p.state == "t"]
    assert stopped and {p.name for p in stopped} == {r.facts["child"]} == {"child-1"}
    assert all(p.pid == r.facts["child_pid"] and p.command.startswith("echo") for p in stopped)
    status = r.run.status_of("child-1")
    assert status is not None and status.success()
    assert "child-1 in state t" in r.explanation
    # the contained interpreter has one thread: pre_exec does not warn there
    assert "ThreadedForkWarning" not in r.run.stderr and r.run.stderr == ""


@needs_ptrace
def test_the_inferior_version_reports_deets_states() -> None:
    r = ptrace.run(fixed=True)
    f = r.facts
    assert r.variant == "inferior" and r.run.success() and r.run.leaked == 0
    assert len(f["inferior"]) == 2
    assert re.fullmatch(r"Stopped\(signal=5, ip=(0x[0-9a-f]+|None)\)", f["inferior"][0])
    assert f["inferior"][1] == "Exited(code=0)"
    assert f["stopped"] and f["state"] == "t (tracing stop)" and "t" in f["tree_states"]
    assert f["exit_code"] == 0 and f["echoed"]
    assert "Stopped(signal=5" in r.explanation and "Exited(code=0)" in r.explanation
    assert r.run.stderr == ""


@needs_ptrace
def test_the_inferior_version_has_no_c_and_says_so() -> None:
    r = ptrace.run(fixed=True, language="c")
    assert r.language == "python" and any("no C version" in n for n in r.notes)


@pytest.mark.parametrize("language", LANGS)
def test_explanation_follows_the_observations(language: str) -> None:
    # a budget of one process leaves no room for the child: nothing is traced, and the text says so
    r = ptrace.run(language=language, max_processes=1)
    assert r.facts["refused"] and not r.facts["stopped"] and r.run.leaked == 0
    assert "budget of 1 process " in r.explanation and "EAGAIN" in r.explanation
    assert "SIGTRAP" not in r.explanation and "exited" not in r.explanation


def _forbidden(variant: str, language: str) -> DemoResult:
    v = ptrace.DEMO.variant(variant)
    if language == "c":
        assert EXE is not None
        code = FORBID_PTRACE + f"import os; os.execv({str(EXE)!r}, [{str(EXE)!r}])\n"
        run = sandbox.run_program([sys.executable, "-c", code], max_processes=4, timeout=5.0)
    else:
        run = sandbox.run(FORBID_PTRACE + v.python, max_processes=4, timeout=5.0)
    facts = ptrace.DEMO.observe(run, v)
    return DemoResult("ptrace", v.key, language, run, facts, ptrace.DEMO.explain(facts, v))


@pytest.mark.skipif(_NR_PTRACE is None, reason="the seccomp filter knows x86_64 and aarch64 only")
@pytest.mark.parametrize(
    ("variant", "language"), [("broken", "python"), ("inferior", "python"), ("broken", "c")]
)
def test_where_ptrace_is_not_permitted_the_run_says_so(variant: str, language: str) -> None:
    if language == "c" and EXE is None:
        pytest.skip("no C compiler")
    r = _forbidden(variant, language)
    f = r.facts
    assert r.run.status.code() == 2 and r.run.leaked == 0
    assert f["not_permitted"] and not f["stopped"] and f["exit_code"] is None
    assert f["traceme_error"] == "Operation not permitted"
    assert r.explanation.startswith("ptrace is not permitted here")
    assert "'Operation not permitted'" in r.explanation and "seccomp" in r.explanation
    assert ("PermissionError" in r.explanation) == (language == "python")
    assert "SIGTRAP" not in r.explanation


def test_the_probe_says_whether_ptrace_works() -> None:
    ok, why = ptrace.ptrace_available()
    assert (ok, why) == (OK, WHY)
    if ok:
        assert why.startswith("ptrace works here")
    else:
        assert why.startswith(("ptrace is not permitted here", "ptrace is not available"))


# -- Inferior, used directly ------------------------------------------------------------------------


@needs_ptrace
def test_inferior_spawn_stops_at_exec_then_exits() -> None:
    with quiet_hooks(), Inferior.spawn(["sh", "-c", "exit 3"]) as inf:
        assert isinstance(inf.status, Stopped) and inf.status.signal == signal.SIGTRAP
        assert inf.state() == "t (tracing stop)"
        with pytest.raises(RuntimeError, match="cont\\(\\) it before waiting"):
            inf.wait()  # already in a stop we saw: waiting again would hang
        inf.cont()
        assert inf.wait() == Exited(3) == inf.wait()
        assert inf.state() == "" and inf.child.try_wait() is not None
        with pytest.raises(ProcessLookupError):
            inf.cont()
    assert repr(inf) == f"<Inferior pid={inf.pid} exited with status 3>"


@needs_ptrace
def test_inferior_reports_a_signal_stop_and_delivers_it_on_cont() -> None:
    with quiet_hooks(), Inferior.spawn(["sh", "-c", "kill -USR1 $$; exit 0"]) as inf:
        inf.cont()
        stop = inf.wait()
        assert isinstance(stop, Stopped) and stop.signal == signal.SIGUSR1
        assert (stop.ip is not None) == IP_READABLE
        inf.cont(signal.SIGUSR1)  # delivered now: its default action kills
        assert inf.wait() == Signaled(signal.SIGUSR1)


@needs_ptrace
def test_inferior_kill_and_the_context_manager_leave_nothing() -> None:
    with quiet_hooks():
        inf = Inferior.spawn(["sleep", "30"])
    assert inf.kill() == Signaled(9) == inf.kill()
    with quiet_hooks(), Inferior.spawn(["sleep", "30"]) as inf2:
        inf2.cont()  # running, not stopped: leaving the block still kills and reaps it
    assert inf2.status == Signaled(9) and inf2.child.try_wait() is not None
    with pytest.raises(KeyError), quiet_hooks(), Inferior.spawn(["sleep", "30"]) as inf3:
        raise KeyError("boom")  # stopped at exec when the block fails: killed and reaped too
    assert inf3.status == Signaled(9)


@needs_ptrace
def test_inferior_pipes_its_output() -> None:
    with quiet_hooks(), Inferior.spawn(["echo", "traced"], stdout=Stdio.piped()) as inf:
        assert inf.child.stdout is not None
        inf.cont()
        assert inf.child.stdout.read() == b"traced\n"
        assert inf.wait() == Exited(0)


def test_inferior_spawn_checks_argv_and_reports_a_missing_program() -> None:
    with pytest.raises(TypeError):
        Inferior.spawn("echo hi")
    with pytest.raises(TypeError):
        Inferior.spawn([])
    with quiet_hooks(), pytest.raises(FileNotFoundError):
        Inferior.spawn(["/nonexistent/program"])


@needs_ptrace
@pytest.mark.skipif(find_rustc() is None, reason="no rustc on this machine")
def test_rust_child_wait_returns_the_sigtrap_stop() -> None:
    r = ptrace.run(language="rust")
    f = r.facts
    assert r.language == f["language"] == "rust" and r.run.success() and r.run.leaked == 0
    # std's Child::wait() is waitpid(pid, 0): it returns at the stop, and caches it
    assert f["rust_wait_code"] == "None" and f["rust_wait_stopped"] == signal.SIGTRAP
    assert f["rust_wait_cached"] == signal.SIGTRAP
    assert f["stopped"] and f["state"] == "t (tracing stop)" and f["exit_code"] == 0
    assert "code() None and stopped_signal() Some(5)" in r.explanation
    assert "caches the first status" in r.explanation


@needs_ptrace
def test_a_tracer_s_wait_sees_the_stop_whatever_its_flags() -> None:
    # Why a tracer owns its waiting: Linux reports a tracee's stops to the tracer even to a waitid
    # that asked only for exits (WEXITED), so a wait "for the end" returns at the stop.
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    libc.ptrace.restype = ctypes.c_long
    with quiet_hooks():
        child = Command("true").pre_exec(lambda: libc.ptrace(0, 0, None, None) and None).spawn()
    try:
        info = os.waitid(os.P_PID, child.id(), os.WEXITED | os.WNOWAIT)
        assert info is not None and info.si_code == os.CLD_TRAPPED and info.si_status == 5
        pid, status = os.waitpid(child.id(), 0)  # the raw wait takes the stop
        assert os.WIFSTOPPED(status) and os.WSTOPSIG(status) == signal.SIGTRAP
        libc.ptrace(7, pid, None, None)  # PTRACE_CONT
    finally:
        status2 = child.wait(timeout=10)
    assert status2.success()
