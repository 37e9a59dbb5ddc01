"""ExitStatus and Output, read from real children."""

from __future__ import annotations

import os
import resource
import signal
import tempfile

import pytest
from conftest import PY, quiet_hooks

from fork110 import Command, ExitStatus, ExitStatusError, Output, Stdio


@pytest.mark.parametrize("code", [0, 1, 2, 127, 255])
def test_exit_codes(code: int) -> None:
    st = Command(PY).args(["-c", f"raise SystemExit({code})"]).status()
    assert st.code() == code
    assert st.success() is (code == 0)
    assert st.signal() is None
    assert str(st) == f"exit status: {code}"


def test_exit_code_is_eight_bits() -> None:
    st = Command("sh").args(["-c", "exit 300"]).status()
    assert st.code() == 300 % 256


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_killed_by_signal(sig: int) -> None:
    child = Command("sleep").arg("30").spawn()
    child.send_signal(sig)
    st = child.wait()
    assert st.code() is None
    assert not st.success()
    assert st.signal() == sig
    assert str(st) == f"signal: {int(sig)} ({signal.Signals(sig).name})"


def _abort_in(cwd: str, core_limit: int) -> ExitStatus:
    def set_core_limit() -> None:
        resource.setrlimit(resource.RLIMIT_CORE, (core_limit, core_limit))

    with quiet_hooks():
        return (
            Command(PY)
            .args(["-c", "import os; os.abort()"])
            .current_dir(cwd)
            .stderr(Stdio.null())
            .pre_exec(set_core_limit)
            .status()
        )


def test_core_dumped_follows_the_real_status() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for limit in (1, resource.RLIM_INFINITY):  # 1 byte: no core, whatever core_pattern says
            st = _abort_in(tmp, limit)
            assert st.signal() == signal.SIGABRT
            assert st.core_dumped() is bool(os.WCOREDUMP(st.into_raw()))
            expected = "signal: 6 (SIGABRT)" + (" (core dumped)" if st.core_dumped() else "")
            assert str(st) == expected


def test_stopped_and_continued_statuses_from_waitpid() -> None:
    child = Command("sleep").arg("30").spawn()
    try:
        os.kill(child.id(), signal.SIGSTOP)
        _, raw = os.waitpid(child.id(), os.WUNTRACED)
        stopped = ExitStatus.from_raw(raw)
        assert stopped.stopped_signal() == signal.SIGSTOP
        assert stopped.code() is None and stopped.signal() is None and not stopped.success()
        assert str(stopped) == "stopped (not terminated) by signal: 19 (SIGSTOP)"
        os.kill(child.id(), signal.SIGCONT)
        _, raw = os.waitpid(child.id(), os.WCONTINUED)
        cont = ExitStatus.from_raw(raw)
        assert cont.continued()
        assert str(cont) == "continued (WIFCONTINUED)"
    finally:
        child.kill()
        child.wait()


def test_raw_round_trip_and_equality() -> None:
    st = Command("false").status()
    assert ExitStatus.from_raw(st.into_raw()) == st
    assert hash(ExitStatus.from_raw(st.into_raw())) == hash(st)
    with pytest.raises(TypeError, match="int wait status"):
        ExitStatus.from_raw("0")  # type: ignore[arg-type]
    assert str(ExitStatus.from_raw(0xFF)) == "unrecognised wait status: 255 0xff"


def test_exit_ok() -> None:
    Command("true").status().exit_ok()
    with pytest.raises(ExitStatusError) as info:
        Command("sh").args(["-c", "exit 4"]).status().exit_ok()
    assert info.value.code() == 4
    assert str(info.value) == "process exited unsuccessfully: exit status: 4"
    assert info.value.into_status().code() == 4


def test_output_exit_ok_carries_the_output() -> None:
    out = Command("sh").args(["-c", "echo partial; echo why >&2; exit 1"]).output()
    assert isinstance(out, Output)
    with pytest.raises(ExitStatusError) as info:
        out.exit_ok()
    assert info.value.output is out
    assert info.value.output.stderr == b"why\n"
    ok = Command("true").output()
    assert ok.exit_ok() is ok


def test_display_names_signals_as_rust_does() -> None:
    assert str(ExitStatus.from_raw(34)) == "signal: 34"  # real-time: Rust prints no name
    assert str(ExitStatus.from_raw(16)) == "signal: 16 (SIGSTKFLT)"
    assert str(ExitStatus.from_raw(30)) == "signal: 30 (SIGPWR)"
    assert not ExitStatus.from_raw(0x10000).success()  # only the all-zero status is a success
    with pytest.raises(ValueError, match="not a C int"):
        ExitStatus.from_raw(1 << 40)


def test_errors_survive_pickling() -> None:
    import pickle

    from fork110 import PreExecError, WaitTimeout

    err = pickle.loads(pickle.dumps(ExitStatusError(ExitStatus.from_raw(256))))
    assert err.status == ExitStatus.from_raw(256) and str(err).endswith("exit status: 1")
    timeout = pickle.loads(pickle.dumps(WaitTimeout(5, 0.5)))
    assert (timeout.pid, timeout.timeout, str(timeout)) == (
        5,
        0.5,
        "child 5 still running after 0.5 s",
    )
    pre = pickle.loads(pickle.dumps(PreExecError("h", "ValueError", "m")))
    assert (pre.hook, pre.exc_type, pre.message) == ("h", "ValueError", "m")


def test_exit_status_equality_leaves_other_types_to_themselves() -> None:
    class AnyStatus:
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = object.__hash__

    status = ExitStatus.from_raw(0)
    assert status.__eq__(0) is NotImplemented
    assert status == AnyStatus()  # Python asks the other side once ExitStatus declines
    assert status != 0 and status == ExitStatus.from_raw(0)
