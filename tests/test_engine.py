"""The spawn engine: PATH resolution, low-fd safety, concurrent pipe reading, the vfork path."""

from __future__ import annotations

import os
import signal
import sys

import pytest
from conftest import PY, quiet_hooks

from fork110 import Command
from fork110._engine import make_pipe, read_both, resolve


def test_resolve_follows_execvp() -> None:
    assert resolve(b"a/b", b"/x") == (b"a/b",)
    assert resolve(b"ls", b"") == (b"./ls",)
    assert resolve(b"ls", None) == (b"/bin/ls", b"/usr/bin/ls")


def test_pipes_never_land_on_stdio_slots() -> None:
    code = (
        "import os\n"
        "os.close(0)\n"  # a parent with stdin closed: a naive pipe() would return fd 0
        "from fork110._engine import make_pipe\n"
        "from fork110 import Command\n"
        "r, w = make_pipe(); print(r > 2 and w > 2)\n"
        "print(Command('echo').arg('ok').output().stdout)\n"
    )
    out = Command(PY).args(["-c", code]).output()
    assert out.stdout == b"True\nb'ok\\n'\n", out.stderr


def test_read_both_handles_one_side_only() -> None:
    r, w = make_pipe()
    os.write(w, b"only")
    os.close(w)
    assert read_both(r, -1) == (b"only", b"")


def test_a_plain_spawn_runs_no_python_in_the_child() -> None:
    # Python's at-fork hooks run around every fork that may run Python code in the child. A plain
    # spawn takes the C engine's vfork + exec path: no hook fires, the parent's memory is never copied
    # (its cost stays flat however big the parent is: see bench/spawn.py). A pre_exec hook needs a fork.
    code = (
        "import os, warnings\n"
        "from fork110 import Command\n"
        "forks = []\n"
        "os.register_at_fork(before=lambda: forks.append(1))\n"
        "Command('true').status(); Command('true').output(); Command('true').spawn().wait()\n"
        "print(len(forks))\n"
        "Command('true').pre_exec(os.getpid).status()\n"
        "print(len(forks))\n"
    )
    out = Command(PY).args(["-c", code]).output()
    assert out.stdout.split() == [b"0", b"1"], out.stderr


def test_the_layout_table_matches_this_pythons_fork_exec() -> None:
    from fork110 import _engine, _layouts

    assert _layouts.layout() is not None  # every Python this suite runs on is in the table
    assert _engine._signature_ok()  # the real function takes that many arguments, with those names


def test_a_wrong_or_missing_layout_fails_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    from fork110 import _engine, _layouts

    here = (sys.version_info[0], sys.version_info[1])
    wrong = _layouts.LAYOUTS[(3, 10)] if here != (3, 10) else _layouts.LAYOUTS[(3, 11)]
    monkeypatch.setitem(_layouts.LAYOUTS, here, wrong)
    assert not _engine._signature_ok()
    monkeypatch.delitem(_layouts.LAYOUTS, here)
    assert not _engine._signature_ok()


@pytest.mark.parametrize("forced", ["portable", "fast"])
def test_fork110_engine_forces_the_engine(forced: str) -> None:
    code = "from fork110 import _engine, Command; print(_engine.engine(), Command('true').status())"
    out = Command(PY).args(["-c", code]).env("FORK110_ENGINE", forced).output()
    assert out.stdout == f"{forced} exit status: 0\n".encode(), out.stderr


def test_an_unknown_engine_name_is_refused() -> None:
    code = "from fork110 import Command; Command('true').status()"
    out = Command(PY).args(["-c", code]).env("FORK110_ENGINE", "turbo").output()
    assert b"FORK110_ENGINE='turbo': expected 'fast' or 'portable'" in out.stderr


def blocked_in_child(cmd: Command) -> int:
    """The child's blocked-signal mask (grep reads its own status: a shell would reset the mask)."""
    line = cmd.args(["SigBlk", "/proc/self/status"]).output().stdout.decode()
    return int(line.split()[1], 16)


def test_the_child_starts_with_an_empty_signal_mask_as_in_rust() -> None:
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGTERM})
    try:
        assert blocked_in_child(Command("grep")) == 0
        assert blocked_in_child(Command("grep").current_dir("/")) == 0
        with quiet_hooks():
            assert blocked_in_child(Command("grep").pre_exec(os.getpid)) == 0
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    assert blocked_in_child(Command("grep")) == 0  # and with nothing blocked: the vfork path


def test_portable_posix_spawn_keeps_stdio_sources_in_0_to_2_apart() -> None:
    # the child's stdout goes to our fd 2 and its stderr to our fd 1: a swap, both sources in 0-2
    code = (
        "import os, sys\n"
        "from fork110 import Command, Stdio\n"
        "r, w = os.pipe(); os.dup2(w, 1); os.close(w)\n"
        "c = Command('sh').args(['-c', 'echo out; echo err >&2'])\n"
        "c.stdout(Stdio.from_fd(2)).stderr(Stdio.from_fd(1)).status()\n"
        "os.close(1); sys.stderr.write('pipe: ' + os.read(r, 100).decode())\n"
    )
    for forced in ("fast", "portable"):
        out = Command(PY).args(["-c", code]).env("FORK110_ENGINE", forced).output()
        assert out.stderr == b"out\npipe: err\n", (forced, out)


def test_a_blocked_mask_costs_no_fork_path_for_a_plain_spawn() -> None:
    # posix_spawn (vfork in glibc) empties the mask itself: no Python runs in the child, no at-fork
    # hook fires, the parent's memory is not copied
    code = (
        "import os, signal\n"
        "from fork110 import Command\n"
        "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})\n"
        "forks = []\n"
        "os.register_at_fork(before=lambda: forks.append(1))\n"
        "out = Command('grep').args(['SigBlk', '/proc/self/status']).output().stdout\n"
        "print(len(forks), int(out.split()[1], 16))\n"
    )
    for forced in ("fast", "portable"):
        out = Command(PY).args(["-c", code]).env("FORK110_ENGINE", forced).output()
        assert out.stdout == b"0 0\n", (forced, out)


def test_a_python_newer_than_the_table_falls_back_to_the_portable_engine() -> None:
    # what a Python released after this table sees: no layout for its version, so the first spawn
    # picks the portable engine by itself and everything still works
    code = (
        "from fork110 import _layouts, _engine, Command, Stdio\n"
        "_layouts.LAYOUTS.clear()\n"
        "out = Command('sh').args(['-c', 'echo hi; exit 3']).output()\n"
        "print(_engine.engine(), out.status.code(), out.stdout)\n"
        "try:\n"
        "    Command('fork110-nope').env('PATH', '/nonexistent:/also-not').status()\n"
        "except FileNotFoundError as e:\n"
        "    print(e)\n"
    )
    out = Command(PY).args(["-c", code]).env_remove("FORK110_ENGINE").output()
    assert out.stdout.decode().splitlines() == [
        "portable 3 b'hi\\n'",
        "[Errno 2] No such file or directory (program not found on PATH '/nonexistent:/also-not'): "
        "'fork110-nope'",
    ], out.stderr
