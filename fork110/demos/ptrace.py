"""Demo 9 · ``pre_exec`` and ptrace: how a debugger starts the program it debugs.

The slide's Rust ``cmd.pre_exec(f)`` runs ``f`` in the child between fork and exec. A debugger's
``f`` calls ``ptrace(PTRACE_TRACEME)``: the exec then stops the child with SIGTRAP before the new
program runs one instruction, the parent's ``waitpid`` sees the stop, the tree shows the child in
state ``t`` (tracing stop), and the parent lets it go with ``PTRACE_CONT``. :class:`Inferior` wraps
those steps with the states ``Stopped``/``Exited``/``Signaled`` of the CS110L debugger project
(deet). Where ptrace is not permitted (some containers), the run says so.

>>> _doctest_setup()  # skips this example where ptrace is not permitted
>>> r = run()
>>> r.facts["signal"], r.facts["state"], "t" in r.facts["tree_states"], r.facts["exit_code"]
('SIGTRAP', 't (tracing stop)', True, 0)
>>> run(fixed=True).facts["inferior"]  # doctest: +ELLIPSIS
['Stopped(signal=5, ip=0x...)', 'Exited(code=0)']
"""

from __future__ import annotations

import os
import platform
import re
from typing import Any

from fork110.sandbox import ContainedRun

from ._base import Demo, DemoResult, Facts, Variant, language_of
from ._c import C_SOURCES
from ._inferior import (  # noqa: F401  (the private names serve this module's doctests)
    Exited,
    Inferior,
    Signaled,
    Status,
    Stopped,
    _doctest_setup,
    _yama_scope,
    mapped_file,
    ptrace_available,
    read_ip,
    traceme,
)
from ._words import count

__all__ = [
    "DEMO",
    "PYTHON",
    "PYTHON_FIXED",
    "PYTHON_INFERIOR",
    "SLIDE",
    "SLIDE_CORRECTED",
    "Exited",
    "Inferior",
    "Signaled",
    "Status",
    "Stopped",
    "mapped_file",
    "ptrace_available",
    "read_ip",
    "run",
    "traceme",
]

SLIDE = C_SOURCES["ptrace"].slide
"""The snippet as on the slide (Rust's ``pre_exec``)."""

SLIDE_CORRECTED = """\
use std::os::unix::process::CommandExt;
use std::process::Command;
// Initialize Command
let mut cmd = Command::new("ls");   // mut: pre_exec and spawn take &mut self
// Add pre-exec function
unsafe {
    cmd.pre_exec(function_to_run);
}
// Spawn child process
let child = cmd.spawn()?;           // the missing `;`, and `?` to take the Child out of the Result
"""
"""The slide's code corrected so that it compiles (inside a function returning ``io::Result``, with
``function_to_run`` a ``FnMut() -> io::Result<()>``): ``let mut cmd``, ``pre_exec`` (the slide's
``pre exec`` is an OCR slip), the closing brace, and the ``;``."""

# -- the demo ----------------------------------------------------------------------------------------

PYTHON = """\
import ctypes, os, signal, sys, time
from fork110 import Command
from fork110.demos.ptrace import mapped_file, read_ip  # added: registers are a ctypes struct per CPU

PTRACE_TRACEME, PTRACE_CONT, PTRACE_SETOPTIONS, PTRACE_O_EXITKILL = 0, 7, 0x4200, 0x100000
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]

# function_to_run: runs in the child before exec. This Python allocates (the call, the f-string on
# failure), which is only safe because this contained parent has a single thread (notebook 04).
def traceme():
    if libc.ptrace(PTRACE_TRACEME, 0, None, None) == -1:
        err = ctypes.get_errno()
        os.write(2, f"child {os.getpid()}: ptrace(PTRACE_TRACEME): {os.strerror(err)}\\n".encode())
        raise OSError(err, os.strerror(err))       # fails the spawn: the parent gets this errno

cmd = Command("echo").arg("hello from the traced child")     # let cmd = Command::new(...)
cmd.pre_exec(traceme)                                        # unsafe { cmd.pre_exec(function_to_run) }
try:
    child = cmd.spawn()                                      # let child = cmd.spawn()
except PermissionError:
    print("ptrace is not permitted here (PTRACE_TRACEME failed; common in containers)")
    sys.exit(2)
except OSError as e:                                         # the fork itself failed
    print(f"fork: {e.strerror}", file=sys.stderr)
    sys.exit(1)

pid, status = os.waitpid(child.id(), 0)   # the tracer's own wait: it reports the stop, raw
if not os.WIFSTOPPED(status) or os.WSTOPSIG(status) != signal.SIGTRAP:
    print(f"parent: unexpected status 0x{status:x} from child {pid}")
    sys.exit(1)
libc.ptrace(PTRACE_SETOPTIONS, pid, None, PTRACE_O_EXITKILL)  # it dies with us
print(f"parent: child {pid} stopped by SIGTRAP at exec")
with open(f"/proc/{pid}/status") as f:
    for line in f:
        if line.startswith("State:"):
            print(f"parent: child {pid} state {line[6:].strip()}")
ip = read_ip(pid)
if ip is None:
    print("parent: ip unavailable on this machine")
else:
    print(f"parent: instruction pointer 0x{ip:x} (stopped before echo's first instruction)")
    if (where := mapped_file(pid, ip)) is not None:
        print(f"parent: the ip is in {where}")
time.sleep(0.3)                           # added: hold the stop so the tree (sampled every 50 ms) shows t
libc.ptrace(PTRACE_CONT, pid, None, None)
status = child.wait()                     # past the stop: now Child.wait() only sees the exit
if status.code() is not None:
    print(f"parent: child {pid} exited with status {status.code()}")
else:
    print(f"parent: child {pid} ended with status 0x{status.into_raw():x}")
"""
"""The slide's pattern in Python, doing what ptrace.c does (the added lines say so)."""

PYTHON_INFERIOR = """\
import os, signal, sys, time
from fork110.demos.ptrace import Exited, Inferior, mapped_file

try:
    inferior = Inferior.spawn(["echo", "hello from the traced child"])  # stopped at exec
except PermissionError as e:
    print(f"child: ptrace(PTRACE_TRACEME): {os.strerror(e.errno)}", file=sys.stderr)
    print("ptrace is not permitted here (PTRACE_TRACEME failed; common in containers)")
    sys.exit(2)
except OSError as e:
    print(f"fork: {e.strerror}", file=sys.stderr)
    sys.exit(1)
with inferior:                            # leaving the block kills and reaps it, whatever happened
    pid, stop = inferior.pid, inferior.status
    print(f"parent: spawn() -> {stop!r}")
    print(f"parent: child {pid} stopped by {signal.Signals(stop.signal).name} at exec")
    print(f"parent: child {pid} state {inferior.state()}")
    if stop.ip is None:
        print("parent: ip unavailable on this machine")
    else:
        print(f"parent: instruction pointer 0x{stop.ip:x} (stopped before echo's first instruction)")
        if (where := mapped_file(pid, stop.ip)) is not None:
            print(f"parent: the ip is in {where}")
    time.sleep(0.3)                       # hold the stop so the tree (sampled every 50 ms) shows t
    inferior.cont()
    status = inferior.wait()
    print(f"parent: wait() -> {status!r}")
    if isinstance(status, Exited):
        print(f"parent: child {pid} exited with status {status.code}")
    else:
        print(f"parent: child {pid} ended with status {status}")
"""
"""The same with :class:`Inferior`: states instead of raw wait statuses, and nothing left behind."""

PYTHON_FIXED = PYTHON_INFERIOR
"""What ``run(fixed=True)`` runs: the :class:`Inferior` version."""

_STOP = re.compile(r"^parent: child (\d+) stopped by (\w+) at exec$", re.M)
_STATE = re.compile(r"^parent: child \d+ state (.+)$", re.M)
_IP = re.compile(r"^parent: instruction pointer 0x([0-9a-f]+)", re.M)
_IP_FILE = re.compile(r"^parent: the ip is in (.+)$", re.M)
_EXITED = re.compile(r"^parent: child \d+ exited with status (\d+)$", re.M)
_ENDED = re.compile(r"^parent: child \d+ ended with status (.+)$", re.M)
_UNEXPECTED = re.compile(r"^parent: unexpected status (0x[0-9a-f]+)", re.M)
_INFERIOR = re.compile(r"^parent: (?:spawn|wait)\(\) -> (.+)$", re.M)
_TRACEME_ERROR = re.compile(r"ptrace\(PTRACE_TRACEME\): (.+)$", re.M)
_RUST_WAIT = re.compile(
    r"^parent: Child::wait\(\) -> code\(\) (\w+), stopped_signal\(\) (?:Some\((\d+)\)|None)", re.M
)
_RUST_AGAIN = re.compile(
    r"^parent: Child::wait\(\) again -> stopped_signal\(\) Some\((\d+)\)", re.M
)
_ECHO = "hello from the traced child"


def observe(run: ContainedRun, variant: Variant) -> Facts:
    """Facts from one run, from the lines both versions print and the tree sampled meanwhile."""
    out, err = run.stdout, run.stderr
    stop = _STOP.search(out)
    pid = int(stop.group(1)) if stop else None
    states: list[str] = []
    name = None
    for snap in run.snapshots:
        for p in snap:
            if p.pid == pid or (
                pid is None and p.name != "parent" and p.command.startswith("echo")
            ):
                name = p.name
                if not states or states[-1] != p.state:
                    states.append(p.state)
    ip, ip_file = _IP.search(out), _IP_FILE.search(out)
    exited, ended = _EXITED.search(out), _ENDED.search(out)
    unexpected, denied = _UNEXPECTED.search(out), _TRACEME_ERROR.search(out + err)
    rust_wait, rust_again = _RUST_WAIT.search(out), _RUST_AGAIN.search(out)
    return {
        "language": language_of(run),
        "rust_wait_code": rust_wait.group(1) if rust_wait else None,
        "rust_wait_stopped": int(rust_wait.group(2)) if rust_wait and rust_wait.group(2) else None,
        "rust_wait_cached": int(rust_again.group(1)) if rust_again else None,
        "stopped": stop is not None,
        "signal": stop.group(2) if stop else None,
        "child_pid": pid,
        "child": name,
        "state": (m.group(1) if (m := _STATE.search(out)) else None),
        "tree_states": states,
        "ip": int(ip.group(1), 16) if ip else None,
        "ip_file": ip_file.group(1) if ip_file else None,
        "ip_unavailable": "ip unavailable" in out,
        "machine": platform.machine(),
        "echoed": _ECHO in out,
        "exit_code": int(exited.group(1)) if exited else None,
        "ended": ended.group(1) if ended else None,
        "unexpected": unexpected.group(1) if unexpected else None,
        "inferior": _INFERIOR.findall(out),
        "not_permitted": "ptrace is not permitted here" in out,
        "traceme_error": denied.group(1).strip() if denied else None,
        "yama": _yama_scope(),
        "refused": max(run.refusals, err.count("Resource temporarily unavailable")),
        "budget": run.max_processes,
        "status": str(run.status),
        "timed_out": run.timed_out,
        "timeout": run.timeout,
        "left": run.leaked,
    }


def explain(facts: Facts, variant: Variant) -> str:
    """What the facts of a run say, in plain words."""
    inferior = variant.key == "inferior"
    if facts["not_permitted"]:
        why = facts["traceme_error"] or "an error"
        how = (
            "the pre_exec function's OSError came back from spawn() in the parent as a "
            "PermissionError with the same errno, as Rust's spawn() returns it"
            if facts["language"] == "python"
            else "the child exited before exec and the parent said so"
        )
        yama = facts["yama"]
        where = (
            f"Yama's ptrace_scope is {yama} here" if yama is not None else "there is no Yama here"
        )
        return (
            f"ptrace is not permitted here: PTRACE_TRACEME failed in the child with '{why}', so "
            f"the child never ran traced ({how}). Nothing stopped at exec and nothing could be "
            f"continued. Usual causes: a container's seccomp profile or Yama's ptrace_scope=3 "
            f"({where}); outside such a sandbox, or with ptrace allowed, the demo runs."
        )
    if facts["refused"] and not facts["stopped"]:
        return (
            f"The run's budget of {count(facts['budget'], 'process')} left no room for a child: "
            "the fork was refused with EAGAIN ('Resource temporarily unavailable'), so there was "
            "nothing to trace. Give the run a budget of at least 2 processes."
        )
    if not facts["stopped"]:
        parts = ["The child was never seen stopped at exec."]
        if facts["unexpected"]:
            parts.append(
                f"waitpid returned the status {facts['unexpected']} instead of a SIGTRAP stop."
            )
        if facts["timed_out"]:
            parts.append(f"The watchdog ended the run after {facts['timeout']:g} s.")
        else:
            parts.append(f"The parent ended with {facts['status']}.")
        return " ".join(parts)
    pid, sig = facts["child_pid"], facts["signal"]
    if facts["language"] == "c":
        hook = "The child called ptrace(PTRACE_TRACEME) between fork and exec (a pre_exec function's job)"
    elif facts["language"] == "rust":
        hook = (
            "The Rust program's pre_exec closure called ptrace(PTRACE_TRACEME) (declared with "
            'extern "C", std only) in the child between fork and exec'
        )
    else:
        hook = (
            "Inferior.spawn's" if inferior else "The"
        ) + " pre_exec function called ptrace(PTRACE_TRACEME) in the child between fork and exec"
    waiter = "Child::wait()" if facts["language"] == "rust" else "waitpid"
    parts = [
        f"{hook}, so its exec of echo stopped it with {sig} before echo ran an instruction: the "
        f"parent's {waiter} reported child {pid} stopped, not exited."
    ]
    if facts["rust_wait_stopped"] is not None:
        cached = (
            f"; a second wait() returned the same stop (stopped_signal() Some("
            f"{facts['rust_wait_cached']})): Child caches the first status it gets, so the program "
            "collected the exit after PTRACE_CONT with its own waitpid, as a debugger must"
            if facts["rust_wait_cached"] is not None
            else ""
        )
        parts.append(
            "std's Child::wait() is waitpid(pid, 0): it returned at the stop with code() "
            f"{facts['rust_wait_code']} and stopped_signal() Some({facts['rust_wait_stopped']})"
            f"{cached}."
        )
    seen = facts["state"]
    tree = " → ".join(facts["tree_states"])
    if "t" in facts["tree_states"]:
        parts.append(
            f"/proc gave its state as '{seen}', and the tree sampled meanwhile shows "
            f"{facts['child']} in state t, a tracing stop (its samples: {tree})."
        )
    elif seen:
        parts.append(
            f"/proc gave its state as '{seen}'; no sample of the tree caught it in that stop"
            + (f" (the samples show {tree})." if tree else ".")
        )
    if facts["ip"] is not None:
        where = ""
        if facts["ip_file"]:
            base = os.path.basename(facts["ip_file"])
            loader = base.startswith("ld-") or base.startswith("ld.so")
            where = f", inside {facts['ip_file']}" + (
                ": the dynamic loader, which runs before echo's own code" if loader else ""
            )
        parts.append(f"Its instruction pointer was 0x{facts['ip']:x}{where}.")
    elif facts["ip_unavailable"]:
        parts.append(f"Its instruction pointer cannot be read this way on {facts['machine']}.")
    said = f", it printed '{_ECHO}'" if facts["echoed"] else ""
    if facts["exit_code"] is not None:
        parts.append(
            f"The parent let it go with PTRACE_CONT{said} and it exited with status "
            f"{facts['exit_code']}."
        )
    elif facts["ended"]:
        parts.append(
            f"The parent let it go with PTRACE_CONT{said}; it ended with status {facts['ended']}."
        )
    elif facts["timed_out"]:
        parts.append(
            f"It was not seen to exit: the watchdog ended the run after {facts['timeout']:g} s "
            "and killed what was left."
        )
    if inferior and facts["inferior"]:
        parts.append(
            "Inferior gave these steps a debugger's states: "
            + ", then ".join(facts["inferior"])
            + " (deet's "
            + ", ".join(dict.fromkeys(f"Status::{s.partition('(')[0]}" for s in facts["inferior"]))
            + ")."
        )
    return " ".join(parts)


DEMO = Demo(
    name="ptrace",
    title="pre_exec and ptrace: the child stops at exec, the parent continues it",
    slide=SLIDE,
    variants={
        "broken": Variant(
            "broken",
            "as on the slide: PTRACE_TRACEME in pre_exec, raw waitpid",
            PYTHON,
            c="ptrace",
            rust="ptrace",
        ),
        "inferior": Variant(
            "inferior",
            "the same through Inferior: Stopped, Exited, Signaled",
            PYTHON_INFERIOR,
        ),
    },
    observe=observe,
    explain=explain,
    limits={"max_processes": 4, "timeout": 5.0},
    lesson="pre_exec runs code in the child before exec: PTRACE_TRACEME there is how a debugger starts.",
)


def run(fixed: bool | str = False, **limits: Any) -> DemoResult:
    """Run the demo contained: ``fixed=True`` for the :class:`Inferior` version, ``language="c"``
    for ptrace.c.

    >>> _doctest_setup()
    >>> print(run().explanation)  # doctest: +ELLIPSIS
    The pre_exec function called ptrace(PTRACE_TRACEME) in the child ... it exited with status 0.
    """
    return DEMO.run(fixed, **limits)
