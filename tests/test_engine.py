"""The spawn engine: PATH resolution, low-fd safety, concurrent pipe reading, the vfork path."""

from __future__ import annotations

import os

from conftest import PY

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
