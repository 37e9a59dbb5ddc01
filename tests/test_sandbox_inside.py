"""fork110/_sandbox/inside/: what the supervisor loads under ``python -S`` stays that small.

The supervisor is started as ``python -S .../inside/supervisor.py`` and makes ``fork110`` a bare
package (its ``__init__``, the Command API, is never run); everything in ``inside/`` is imported
there or in the run's processes it forks. Start-up is on the clock, so these modules may load only
builtin modules, ``os``, the few standard modules listed in ``ALLOWED`` and fork110's two
dependency-free leaves (``_proc``, ``_layouts``): never the caller's side.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import fork110
from fork110._sandbox import live

INSIDE = Path(fork110.__file__).resolve().parent / "_sandbox" / "inside"

#: The standard modules the inside code imports by name beyond ``os`` (each loads what it needs:
#: ``signal`` brings ``enum``, ``ctypes`` its own helpers). Anything else is a regression: typing,
#: dataclasses, collections.abc's users, a module of the caller's side...
ALLOWED = (
    "__future__",
    "_posixsubprocess",
    "_socket",
    "_thread",
    "ctypes",
    "errno",
    "fcntl",
    "marshal",
    "os",
    "posix",
    "select",
    "signal",
    "struct",
    "time",
    "types",
)
#: fork110's modules that may load there: the inside itself and two leaves that import only os/sys.
FORK110 = {"fork110", "fork110._layouts", "fork110._proc", "fork110._sandbox"}

# As the supervisor's own preamble does: fork110 as a bare package over the real directory.
STUB = """
import sys
pkg = type(sys)("fork110")
pkg.__path__ = [{pkg!r}]
sys.modules["fork110"] = pkg
"""


def modules_after(code: str) -> set[str]:
    """The names in sys.modules after *code* runs in a fresh ``python -S -I``."""
    out = subprocess.run(
        [sys.executable, "-S", "-I", "-c", f"{code}\nimport sys\nprint(sorted(sys.modules))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd="/",
    ).stdout
    names = ast.literal_eval(out.strip().splitlines()[-1])
    assert isinstance(names, list)
    return set(names)


def inside_modules() -> list[str]:
    return sorted(
        f"fork110._sandbox.inside.{p.stem}" for p in INSIDE.glob("*.py") if p.stem != "__init__"
    )


def test_every_inside_module_loads_under_python_S_with_only_the_modules_it_may_use() -> None:
    names = inside_modules()
    assert len(names) >= 9 and "fork110._sandbox.inside.supervisor" in names
    bare = modules_after("pass")
    allowed = modules_after(f"import {', '.join(ALLOWED)}")
    stub = STUB.format(pkg=str(INSIDE.parent.parent))
    loaded = modules_after(stub + "".join(f"import {n}\n" for n in names))
    ours = {n for n in loaded if n == "fork110" or n.startswith("fork110.")}
    assert ours == FORK110 | set(names) | {"fork110._sandbox.inside"}, sorted(ours)
    extra = loaded - ours - allowed
    assert not extra, f"the inside code loads more than it may: {sorted(extra)}"
    # what it loads beyond a bare interpreter is builtin modules, os, and the ALLOWED list
    beyond = sorted(loaded - ours - bare - set(sys.builtin_module_names))
    assert "os" in beyond and "typing" not in beyond and "dataclasses" not in beyond, beyond


def test_the_supervisor_started_as_the_caller_starts_it_imports_no_more() -> None:
    """The real launch: ``python -S <supervisor.py>`` with its preamble, here fed no configuration
    (it stops at once, after its imports, saying so); ``-X importtime`` lists every module it imported."""
    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-S", "-I", live.SUPERVISOR],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert r.returncode != 0 and "fork110 supervisor: " in r.stderr, r.stderr[-2000:]
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in r.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    imported.discard("imported package")  # the header line
    assert "fork110._sandbox.inside.wire" in imported, sorted(imported)
    ours = {n for n in imported if n == "fork110" or n.startswith("fork110.")}
    # the preamble made fork110 a bare package: its __init__ (the Command API) never ran
    assert "fork110._command" not in ours and "fork110" not in ours, sorted(ours)
    assert ours <= FORK110 | set(inside_modules()) | {"fork110._sandbox.inside"}, sorted(ours)
    allowed = modules_after(f"import {', '.join(ALLOWED)}")
    extra = imported - ours - allowed
    assert not extra, f"the supervisor loads more than it may: {sorted(extra)}"


def test_the_inside_imports_nothing_from_the_callers_side() -> None:
    """Statically too: no module in inside/ names a fork110 module outside inside/ but the leaves."""
    for path in INSIDE.glob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                mods = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            else:
                continue
            for mod in mods:
                if mod.startswith("fork110"):
                    ok = mod.startswith("fork110._sandbox.inside") or mod.split(".")[:2] in (
                        ["fork110", "_proc"],
                        ["fork110", "_layouts"],
                    )
                    ok = ok or mod == "fork110"  # `from fork110 import _layouts`
                    assert ok, f"{path.name}:{node.lineno} imports {mod}"
    assert Path(live.SUPERVISOR).resolve() == INSIDE / "supervisor.py"
