"""``python -m fork110``: the terminal entry point, run as a user would, in a real terminal-less child."""

from __future__ import annotations

import signal

import psutil
from conftest import PY

from fork110 import Command, Stdio


def fork110(*args: str) -> tuple[int | None, str, str]:
    child = (
        Command(PY)
        .args(["-m", "fork110", *args])
        .stdout(Stdio.piped())
        .stderr(Stdio.piped())
        .spawn()
    )
    out = child.wait_with_output()
    return out.status.code(), out.stdout.decode(), out.stderr.decode()


def test_list_names_every_demo_and_its_variants() -> None:
    code, out, _ = fork110("demo", "--list")
    assert code == 0
    assert out.splitlines()[0].startswith("runaway ")
    assert "variants: broken, fixed" in out


def test_a_demo_prints_the_tree_as_it_changes_then_the_explanation() -> None:
    code, out, err = fork110("demo", "runaway", "--max-processes", "6", "--timeout", "1.5")
    assert code == 0, err
    assert "process tree (" in out and "├── child-1" in out
    assert "fork refused by the kernel" in out
    assert "It hit the run's budget of 6 processes" in out
    assert out.rstrip().endswith("nothing left running")


def test_fixed_and_c_flags() -> None:
    code, out, _ = fork110("demo", "runaway", "--fixed", "--c", "--quiet")
    assert code == 0
    assert "made 5 children" in out and "(fixed, c)" not in out  # --quiet: explanation only
    assert "exit status: 0" in out


def test_rust_flag() -> None:
    from fork110.demos._rs import find_rustc

    code, out, _ = fork110("demo", "zombies", "--fixed", "fixed-with", "--rust")
    assert code == 0
    if find_rustc() is not None:
        assert "(Command(...).spawn() in a with block: the Drop that calls wait(), rust)" in out
        assert "Reaped(Child)" in out
    else:
        assert "no Rust compiler (rustc)" in out


def test_bad_names_say_what_exists() -> None:
    code, _, err = fork110("demo", "no-such-demo")
    assert code == 2 and "no demo called 'no-such-demo'; the demos are: runaway" in err
    code, _, err = fork110("demo", "runaway", "--fixed", "no-such-fix")
    assert code == 2 and "has no variant 'no-such-fix'" in err


def test_interrupting_the_terminal_run_kills_the_whole_run() -> None:
    cli = Command(PY).args(["-m", "fork110", "demo", "runaway", "--timeout", "30"])
    child = cli.stdout(Stdio.piped()).stderr(Stdio.piped()).spawn()
    assert child.stdout is not None
    line = b""
    while b"forked child-1" not in line:  # the bomb is going
        line = child.stdout.readline()
        assert line, "the demo ended before it forked"
    run = psutil.Process(child.id()).children(recursive=True)
    assert run
    child.send_signal(signal.SIGINT)
    out = child.wait_with_output()
    assert out.status.code() == 130
    assert b"interrupted: the run was killed and reaped" in out.stderr
    gone, alive = psutil.wait_procs(run, timeout=5)
    assert alive == [] and len(gone) == len(run)
