"""fork110._proc: the one /proc/PID/stat parser, state words and naming rule, on real processes."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest
from conftest import PY

from fork110 import Child, Command, Stdio, ps, testing
from fork110._proc import (
    STATES,
    child_name,
    child_number,
    parse_stat,
    read_stat,
    state_phrase,
    state_word,
)

# A comm the kernel keeps as it is (15 bytes at most) that breaks a parser splitting on spaces or
# on the first ")": the fields after it would shift by three.
TRICKY = "a) (b c) S 9 9"


def status_state(pid: int) -> str:
    """The state line of /proc/PID/status ("S (sleeping)"), an independent oracle."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("State:"):
                return line.split(":", 1)[1].strip()
    raise AssertionError(f"no State line for {pid}")


def until(what: str, check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def spawn(code: str) -> Child:
    """A Python child that runs *code*, says "ready" on stdout, then sleeps until killed."""
    full = f"{code}\nimport sys, time\nsys.stdout.write('ready\\n'); sys.stdout.flush()\ntime.sleep(60)"
    child = Command(PY).args(["-c", full]).stdout(Stdio.piped()).spawn()
    assert child.stdout is not None
    assert child.stdout.readline() == b"ready\n"
    until("its sleep", lambda: (st := read_stat(child.id())) is not None and st.state == "S")
    return child


@pytest.fixture
def tricky() -> Iterator[Child]:
    child = spawn(f"open('/proc/self/comm', 'w').write({TRICKY!r})")
    try:
        yield child
    finally:
        child.kill()
        child.wait(timeout=10)
        assert child.stdout is not None
        child.stdout.close()


def test_a_comm_with_parens_and_spaces_does_not_shift_the_fields(tricky: Child) -> None:
    with open(f"/proc/{tricky.id()}/comm") as f:
        assert f.read() == TRICKY + "\n"  # the kernel kept it whole
    st = read_stat(tricky.id())
    assert st is not None
    assert st.comm == TRICKY
    assert (st.pid, st.ppid, st.state, st.threads) == (tricky.id(), os.getpid(), "S", 1)
    assert st.sid == os.getsid(tricky.id()) and st.pgrp == os.getpgid(tricky.id())
    assert st.exit_code == 0
    # every user of the parser sees the same process
    snap = ps.snapshot(os.getpid(), include_root=False)
    (info,) = [p for p in snap if p.pid == tricky.id()]
    assert (info.comm, info.ppid, info.state) == (TRICKY, os.getpid(), "S")
    assert info.stat.startswith("S")
    (leak,) = [p for p in testing.live_descendants() if p.pid == tricky.id()]
    assert (leak.name, leak.ppid, leak.state_name) == (TRICKY, os.getpid(), "sleeping")
    assert repr(tricky) == f"<Child pid={tricky.id()} running>"


def test_a_stopped_process_reads_as_the_kernel_says(tricky: Child) -> None:
    os.kill(tricky.id(), signal.SIGSTOP)
    until("the stop", lambda: (st := read_stat(tricky.id())) is not None and st.state == "T")
    assert status_state(tricky.id()) == f"T ({state_word('T')})"
    assert repr(tricky) == f"<Child pid={tricky.id()} stopped>"


def test_a_zombie_reads_as_a_zombie_with_its_exit_status() -> None:
    child = Command(PY).args(["-c", "raise SystemExit(3)"]).spawn()
    pid = child.id()
    until("the zombie", lambda: (st := read_stat(pid)) is not None and st.state == "Z")
    st = read_stat(pid)
    assert st is not None and st.ppid == os.getpid()
    assert st.exit_code == 3 << 8  # the raw wait status the parent will collect
    assert os.waitstatus_to_exitcode(st.exit_code) == 3
    assert status_state(pid) == f"Z ({state_word('Z')})"
    assert state_phrase(st.state) == "a zombie"
    assert repr(child) == f"<Child pid={pid} exited, not yet waited for (a zombie)>"
    (leak,) = [p for p in testing.live_descendants() if p.pid == pid]
    assert leak.state_name == "zombie"
    assert leak.describe() == f"pid {pid} (Z zombie, parent {os.getpid()}): [{st.comm}] <defunct>"
    assert child.wait(timeout=10).code() == 3


def test_a_vanished_pid_reads_as_none() -> None:
    child = Command(PY).args(["-c", "pass"]).spawn()
    pid = child.id()
    before = read_stat(pid)
    assert before is not None and before.pid == pid
    child.wait(timeout=10)  # reaped: the pid names nothing now
    assert read_stat(pid) is None
    assert read_stat(0) is None and read_stat(-1) is None


def test_the_state_words_are_the_kernels() -> None:
    """For the states a process can be put in from here, /proc/PID/status prints our word."""
    me = os.getpid()
    assert status_state(me) == f"R ({state_word('R')})"
    for letter, (word, phrase) in STATES.items():
        assert state_word(letter) == word and state_phrase(letter) == phrase
    assert state_word("?") == "?" and state_phrase("?") == "?"


def test_parse_stat_counts_fields_from_the_last_paren() -> None:
    tail = b" ".join(str(i).encode() for i in range(4, 53))  # fields 4..52
    st = parse_stat(5, b"5 (x) (y)) Z " + tail)
    assert st is not None
    assert (st.comm, st.state, st.ppid, st.pgrp, st.sid, st.tpgid) == ("x) (y)", "Z", 4, 5, 6, 8)
    assert (st.nice, st.threads, st.start_ticks, st.exit_code) == (19, 20, 22, 52)
    assert st.key == (5, 22)
    alive = parse_stat(5, b"5 (x) S " + tail)  # exit_code is a dead process's only
    assert alive is not None and (alive.start_ticks, alive.exit_code) == (22, 0)
    assert parse_stat(5, b"5 (no closing paren S 1 2 3") is None
    assert parse_stat(5, b"5 (x) S " + b" ".join([b"1"] * 18)) is None  # cut short
    short = parse_stat(5, b"5 (x) S " + b" ".join([b"1"] * 19))  # an old kernel: no exit_code
    assert short is not None and short.exit_code == 0


def test_the_naming_rule_and_its_inverse() -> None:
    assert [child_name("parent", n) for n in (1, 2, 10)] == ["child-1", "child-2", "child-10"]
    assert child_name("child-2", 1) == "child-2.1" and child_name("orphan-1", 4) == "orphan-1.4"
    assert child_name("shell", 2, root=True) == "child-2"
    for parent in ("parent", "child-3", "child-3.1", "orphan-2"):
        for n in (1, 7, 12):
            assert child_number(child_name(parent, n), parent) == n
    assert child_number("child-1.1", "child-1.1") is None
    assert child_number("child-x", "parent") is None
    assert child_number("child-٣", "parent") is None  # a non-ASCII digit is not a number here
    assert child_number("child-2", "shell", root=True) == 2
