"""The spawn engine: PATH resolution, low-fd safety, concurrent pipe reading, the vfork path."""

from __future__ import annotations

import os
import sys

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


def test_spawn_memory_is_not_copied() -> None:
    # vfork path: the child shares the parent's memory until exec, so it never gets its own copy.
    code = (
        "import os\nfrom fork110 import Command\n"
        "blob = bytearray(256 << 20)\n"
        "for i in range(0, len(blob), 4096): blob[i] = 1\n"
        "print(Command('sh').args(['-c', 'grep VmRSS /proc/$$/status']).output().stdout.decode())\n"
    )
    out = Command(PY).args(["-c", code]).output()
    rss_kb = int(out.stdout.split()[1])
    assert rss_kb < 64 << 10, out.stdout  # the exec'd shell is small, not a 256 MB copy
    assert sys.executable
