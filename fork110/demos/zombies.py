"""Demo 6 · zombies: children that exit while their parent is not waiting for them.

A process that exits stays in the process table, state ``Z`` (``<defunct>`` in ``ps``), holding its
pid and exit status until its parent waits for it. The recap slide: "Failure to clean up (zombie
processes). Still a thing! You could implement a struct with a Drop trait that calls wait()?"

Variants: ``broken`` (3 zombies, visible in the tree, reaped late by ``waitpid``, as ``zombies.c``
does), ``fixed-sigchld`` (a SIGCHLD handler reaps each child as it exits), ``fixed-with``
(``fork110.Command(...).spawn()`` in a ``with`` block: leaving the block waits, the Drop that calls
wait; in Rust a guard type ``Reaped(Child)`` whose Drop waits), ``dropped`` (handles dropped without
wait: in Rust, ``drop(child)``, since std's ``Child`` has no Drop; zombies until the parent exits),
``sigchld-ignored`` (the kernel reaps, nobody gets a status), ``handler-steals`` (``waitpid(-1)`` in
a SIGCHLD handler reaps the child ``Command`` waits for) and ``full-table`` (a parent makes zombies
until fork fails at the run's process budget: zombies count against the process limit; Python
only).

>>> r = run()
>>> r.facts["zombies_asleep"], r.facts["reaped"]
(3, [1, 2, 3])
>>> f = run(fixed="fixed-with")
>>> f.facts["zombies_asleep"], f.facts["reaped"], f.facts["gone"]
(0, [1, 2, 3], 3)
"""

from __future__ import annotations

import re
from typing import Any

from fork110.sandbox import ContainedRun

from ._base import Demo, DemoResult, Facts, Variant
from ._c import C_SOURCES
from ._words import adopter, count, join

__all__ = [
    "DEMO",
    "PYTHON",
    "PYTHON_DROPPED",
    "PYTHON_FIXED",
    "PYTHON_FIXED_SIGCHLD",
    "PYTHON_FIXED_WITH",
    "PYTHON_FULL_TABLE",
    "PYTHON_HANDLER_STEALS",
    "PYTHON_SIGCHLD_IGNORED",
    "SLIDE",
    "run",
]

SLIDE = C_SOURCES["zombies"].slide
"""The recap slide's lines about zombies (there is no code on the slide)."""

_STATE_OF = '''
def state_of(pid):
    """The State: line of /proc/<pid>/status ("Z (zombie)"), or "gone" if there is no such process."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("State:"):
                    return line.split(":", 1)[1].strip()
    except FileNotFoundError:
        pass
    return "gone"
'''

PYTHON = (
    """\
# zombies.c in Python (no code on the slide): children exit, the parent waits for them 1 s late
import os, sys, time

N = 3
"""
    + _STATE_OF
    + """
print(f"parent {os.getpid()} forks {N} children and does not wait for them yet")
kids = []
for i in range(N):
    try:
        pid = os.fork()
    except OSError as e:                # C: perror("fork"); return 1;
        print(f"fork: {e.strerror}", file=sys.stderr)
        sys.exit(1)
    if pid == 0:
        print(f"child {os.getpid()} exits with status {i + 1}")
        os._exit(i + 1)
    kids.append(pid)
for pid in kids:                        # WNOWAIT: wait until it has exited, but do not reap it
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
for pid in kids:
    print(f"child {pid} has exited; state {state_of(pid)}")
print(f"parent {os.getpid()} sleeps 1 s; zombies: {' '.join(map(str, kids))}")
time.sleep(1)
for pid in kids:
    _, status = os.waitpid(pid, 0)      # the late wait: now each zombie is reaped
    print(f"reaped {pid}: exit status {os.waitstatus_to_exitcode(status)}; state now {state_of(pid)}")
"""
)
"""``zombies.c`` in Python: three children exit at once and stay zombies for 1 s."""

PYTHON_FIXED_SIGCHLD = (
    """\
# zombies_fixed.c in Python: a SIGCHLD handler reaps each child as it exits
import os, signal, sys, time

N = 3
reaped = []
"""
    + _STATE_OF
    + """
def on_sigchld(signum, frame):          # fixed: reap every child that has exited;
    while len(reaped) < N:              # one SIGCHLD may stand for several exits
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:       # no child left
            break
        if pid == 0:                    # children left, none exited yet
            break
        reaped.append((pid, status))

signal.signal(signal.SIGCHLD, on_sigchld)
print(f"parent {os.getpid()} forks {N} children; its SIGCHLD handler reaps them")
kids = []
for i in range(N):
    try:
        pid = os.fork()
    except OSError as e:
        print(f"fork: {e.strerror}", file=sys.stderr)
        sys.exit(1)
    if pid == 0:
        print(f"child {os.getpid()} exits with status {i + 1}")
        os._exit(i + 1)
    kids.append(pid)
print(f"parent {os.getpid()} sleeps 1 s")
time.sleep(1)
while len(reaped) < N:                  # not expected to wait: all exited during the sleep
    time.sleep(0.01)
for pid, status in reaped:
    print(f"handler reaped {pid}: exit status {os.waitstatus_to_exitcode(status)}")
for pid in kids:
    print(f"child {pid}: state {state_of(pid)}")
"""
)
"""The fix with a SIGCHLD handler, as ``zombies_fixed.c``."""

PYTHON_FIXED_WITH = (
    """\
# The recap's "Drop that calls wait()" (std's Child has none): fork110's Child is a context manager
# that reaps
import os, time
from fork110 import Command

N = 3
"""
    + _STATE_OF
    + """
print(f"parent {os.getpid()} spawns {N} children, each in a with block")
kids = []
for i in range(N):
    script = f"echo child $$ exits with status {i + 1}; exit {i + 1}"
    with Command("sh").args(["-c", script]).spawn() as child:
        kids.append(child.id())
    # leaving the with block waited for the child, as a Drop that calls wait() would
    print(f"with block reaped {child.id()}: exit status {child.wait().code()}")
print(f"parent {os.getpid()} sleeps 1 s")
time.sleep(1)
for pid in kids:
    print(f"child {pid}: state {state_of(pid)}")
"""
)
"""The fix with :class:`fork110.Command`: ``with ... .spawn() as child:`` reaps on leaving the block."""

PYTHON_FULL_TABLE = (
    """\
# What a full process table looks like, bounded by the run's budget: zombies hold their pids
import os, time

CAP = 100                               # a safety cap, should this run uncontained
"""
    + _STATE_OF
    + """
print(f"parent {os.getpid()} forks children that exit at once, and does not wait for them")
kids = []
while len(kids) < CAP:
    try:
        pid = os.fork()
    except OSError as e:
        print(f"fork number {len(kids) + 1} failed: {e.strerror}")
        break
    if pid == 0:
        os._exit(0)
    kids.append(pid)
for pid in kids:                        # wait until each has exited, without reaping it
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
zombies = [pid for pid in kids if state_of(pid).startswith("Z")]
print(f"{len(kids)} children have exited; {len(zombies)} are zombies; the parent sleeps 0.3 s")
time.sleep(0.3)
for pid in kids:
    os.waitpid(pid, 0)
print(f"reaped {len(kids)} zombies")
try:
    pid = os.fork()
except OSError as e:
    print(f"after reaping, fork still fails: {e.strerror}")
else:
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    print(f"after reaping, fork works again: child {pid} ran and was reaped")
"""
)
"""Zombies until fork fails: each one keeps a pid, and pids count against the process limit."""

PYTHON_DROPPED = (
    """\
# Rust's std::process::Child has NO Drop: dropping it neither waits nor kills. Python's nearest
# equivalent is a bare pid from os.posix_spawn: a handle nothing will ever wait for.
import os, time

N = 3
"""
    + _STATE_OF
    + """
print(f"parent {os.getpid()} spawns {N} children and drops each handle without waiting")
kids = []
for i in range(N):
    script = f"echo child $$ exits with status {i + 1}; exit {i + 1}"
    kids.append(os.posix_spawn("/bin/sh", ["sh", "-c", script], os.environ))  # a pid, nothing more
for pid in kids:                        # WNOWAIT: wait until it has exited, but do not reap it
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    print(f"child {pid} has exited; state {state_of(pid)}")
print(f"parent {os.getpid()} sleeps 1 s; zombies: {' '.join(map(str, kids))}")
time.sleep(1)
for pid in kids:
    print(f"child {pid}: state {state_of(pid)}")
print(f"parent {os.getpid()} exits without waiting for them")
"""
)
"""A handle dropped without wait (``zombies_drop.rs`` in Rust): zombies until the parent exits."""

PYTHON_SIGCHLD_IGNORED = (
    """\
# SIGCHLD set to SIG_IGN: the kernel reaps children itself (POSIX; also SA_NOCLDWAIT), no zombies,
# and no exit status for anybody: waitpid fails with ECHILD
import os, signal, time

N = 3
"""
    + _STATE_OF
    + """
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
print(f"parent {os.getpid()} ignores SIGCHLD and forks {N} children")
kids = []
for i in range(N):
    pid = os.fork()
    if pid == 0:
        print(f"child {os.getpid()} exits with status {i + 1}")
        os._exit(i + 1)
    kids.append(pid)
print(f"parent {os.getpid()} sleeps 1 s")
time.sleep(1)
for pid in kids:
    print(f"child {pid}: state {state_of(pid)}")
try:
    os.waitpid(kids[0], 0)
except ChildProcessError as e:
    print(f"waitpid({kids[0]}): {e.strerror} (ECHILD): the kernel reaped it, its status is gone")
"""
)
"""SIGCHLD ignored: the kernel reaps, nobody gets a status."""

PYTHON_HANDLER_STEALS = """\
# A SIGCHLD handler that reaps with waitpid(-1) reaps EVERY child: also one that a library
# (subprocess, fork110.Command) started and is about to wait for itself
import os, signal, time
from fork110 import Command

stolen = []

def on_sigchld(signum, frame):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        stolen.append((pid, os.waitstatus_to_exitcode(status)))

signal.signal(signal.SIGCHLD, on_sigchld)
child = Command("sh").args(["-c", "exit 3"]).spawn()
print(f"parent {os.getpid()} spawned child {child.id()} with Command; its handler reaps any child")
time.sleep(0.5)                         # the child exits; SIGCHLD runs the handler meanwhile
try:
    print(f"child.wait(): {child.wait()}")
except ChildProcessError as e:
    print(f"child.wait() failed: {e.strerror}")
for pid, code in stolen:
    print(f"handler reaped {pid}: exit status {code}")
"""
"""``waitpid(-1)`` in a SIGCHLD handler steals the child that ``Command`` waits for."""

PYTHON_FIXED = {"fixed-sigchld": PYTHON_FIXED_SIGCHLD, "fixed-with": PYTHON_FIXED_WITH}
"""Both fixes, by variant."""

_EXITS = re.compile(r"^child (\d+) exits with status (\d+)$", re.M)
_HAS_EXITED = re.compile(r"^child (\d+) has exited; state (.+)$", re.M)
_REAPED = re.compile(
    r"^(?:reaped|handler reaped|with block reaped|Drop reaped) (\d+): exit status (\d+)(?:; state now (.+))?$",
    re.M,
)
_STATE = re.compile(r"^child (\d+): state (.+)$", re.M)
_FORK_FAILED = re.compile(r"^(?:fork number (\d+) failed|fork): (.+)$", re.M)
_TABLE = re.compile(r"^(\d+) children have exited; (\d+) are zombies", re.M)
_REAPED_ALL = re.compile(r"^reaped (\d+) zombies$", re.M)
_AGAIN = re.compile(r"^after reaping, fork (works again|still fails)", re.M)
_ECHILD = re.compile(r"^waitpid\(\d+\): .* \(ECHILD\)", re.M)
_WAIT_FAILED = re.compile(r"^child\.wait\(\) failed: (.+)$", re.M)
_EXITS_WITHOUT = re.compile(r"^parent \d+ exits without waiting", re.M)


def _asleep(state: str, wchan: str | None, wchan_readable: bool) -> bool:
    """The parent is in its long sleep: sleeping in a *sleep* wait channel. Where this kernel shows
    wait channels, a sample without one (read a moment apart from the state) does not count."""
    if not wchan_readable:
        return state == "S"
    return state == "S" and wchan is not None and "sleep" in wchan


def observe(run: ContainedRun, variant: Variant) -> Facts:
    """Facts from one run: the children's exit statuses, who was a zombie when, who reaped them.

    From the output lines (the same for Python and C): exits, the ``/proc`` states the parent read,
    reaped statuses. From the tree: the most zombies in one sample (``most_zombies``), and the most
    while the parent slept (``zombies_asleep``, None if no sample caught it asleep), the time when
    only a reaping mechanism, not the program's own late wait, can have removed them.
    """
    out = run.stdout + run.stderr
    exits = {int(p): int(s) for p, s in _EXITS.findall(out)}
    reaped = [(int(m[1]), int(m[2]), m[3]) for m in _REAPED.finditer(out)]
    states = {int(p): s for p, s in _STATE.findall(out)}
    for pid, _, state in reaped:
        if state:
            states[pid] = state
    most = 0
    asleep: int | None = None
    defunct = ""
    wchan_readable = any(p.wchan for snap in run.snapshots for p in snap)
    for snap in run.snapshots:
        parent = snap.by_name("parent")
        zombies = [p for p in snap if p.state == "Z" and p is not parent]
        most = max(most, len(zombies))
        if zombies and not defunct:
            defunct = zombies[0].command
        if parent is not None and _asleep(parent.state, parent.wchan, wchan_readable):
            asleep = max(asleep or 0, len(zombies))
    failed = [(int(m[1]) if m[1] else None, m[2]) for m in _FORK_FAILED.finditer(out)]
    table = _TABLE.search(out)
    reaped_all = _REAPED_ALL.search(out)
    again = _AGAIN.search(out)
    return {
        "children": len(exits) if exits else (int(table[1]) if table else 0),
        "exits": sorted(exits.values()),
        "zombie_lines": sum(s.startswith("Z") for _, s in _HAS_EXITED.findall(out)),
        "most_zombies": most,
        "zombies_asleep": asleep,
        "defunct": defunct,
        "reaped": sorted(s for _, s, _ in reaped),
        "reaped_by": _reaper(out),
        "gone": sum(s == "gone" for s in states.values()),
        "fork_failed": failed,
        "table_zombies": int(table[2]) if table else None,
        "table_reaped": int(reaped_all[1]) if reaped_all else None,
        "fork_again": None if again is None else again[1] == "works again",
        "still_zombies": sum(s.startswith("Z") for s in states.values()),
        "echild": bool(_ECHILD.search(out)),
        "wait_failed": (m[1] if (m := _WAIT_FAILED.search(out)) else None),
        "exited_without_wait": bool(_EXITS_WITHOUT.search(out)),
        "adopted": sum(
            1
            for e in run.events
            if e.kind == "reap" and e.process == "supervisor" and e.other not in (None, "parent")
        ),
        "budget": run.max_processes,
        "peak": run.peak_processes,
        "refused": run.refusals,
        "status": run.status.code(),
        "timed_out": run.timed_out,
        "timeout": run.timeout,
        "left": run.leaked,
        "namespace": run.namespace,
    }


def _reaper(out: str) -> str:
    if "handler reaped" in out:
        return "handler"
    if "with block reaped" in out:
        return "with"
    if "Drop reaped" in out:
        return "drop"
    if _REAPED.search(out) or _REAPED_ALL.search(out):
        return "wait"
    return ""


def _during_sleep(facts: Facts) -> str:
    asleep = facts["zombies_asleep"]
    if asleep is None:
        return "No sample of the tree caught the parent asleep."
    if asleep == 0:
        return "While the parent slept, the tree showed no zombie."
    return (
        f"While the parent slept the tree showed {count(asleep, 'process')} in state Z"
        + (f" ({facts['defunct']} in ps)" if facts["defunct"] else "")
        + "."
    )


def _tail(facts: Facts) -> list[str]:
    out = []
    if facts["timed_out"]:
        out.append(f"The watchdog ended the run after {facts['timeout']:g} s.")
    return out


def _full_table(facts: Facts) -> str:
    n = facts["children"]
    zombies = (
        facts["table_zombies"] if facts["table_zombies"] is not None else facts["most_zombies"]
    )
    parts = [
        f"The parent forked {count(n, 'child')} that exited at once and did not wait for "
        f"{'it' if n == 1 else 'them'}: "
        + (
            ("it was a zombie." if n == 1 else f"all {n} were zombies at once.")
            if zombies == n
            else f"{zombies} of them were zombies at once."
        )
    ]
    refused = [f for f in facts["fork_failed"] if f[0] is not None]
    if refused:
        number, why = refused[0]
        parts.append(
            f"With the parent that made {count(n + 1, 'process')}, the run's budget of "
            f"{facts['budget']}, and fork number {number} failed: {why!r} "
            "(EAGAIN). A zombie runs nothing and has no memory of its own, but the kernel keeps its task "
            "entry and its pid, and pids "
            "count against the process limit (RLIMIT_NPROC, a pids cgroup, the kernel's pid_max): "
            "enough zombies and nobody can fork."
        )
    else:
        parts.append(
            f"Every fork worked: the run's budget of {facts['budget']} processes was never reached "
            "(the program stops at its own cap), so this run does not show the table filling up."
        )
    if facts["table_reaped"] is not None:
        parts.append(f"Then the parent reaped {count(facts['table_reaped'], 'zombie')}")
        if facts["fork_again"] is True:
            parts[-1] += ", and fork worked again."
        elif facts["fork_again"] is False:
            parts[-1] += ", and fork still failed."
        else:
            parts[-1] += "."
    return " ".join(parts + _tail(facts))


def _dropped(facts: Facts) -> str:
    n = facts["children"] or facts["zombie_lines"]
    parts = [
        f"The parent started {count(n, 'child')} and dropped each handle without waiting (in Rust, "
        "drop(child): std's Child has no Drop, so dropping it neither waits nor kills)."
    ]
    if facts["zombie_lines"]:
        parts.append(
            f'Each exited and stayed a zombie: /proc said "Z (zombie)" for {facts["zombie_lines"]}'
            f" of them, and {facts['still_zombies']} were still zombies after the 1 s sleep."
        )
    parts.append(_during_sleep(facts))
    if facts["exited_without_wait"]:
        k = facts["adopted"]
        parts.append(
            "Nothing in the program ever waited for them: the parent exited, and only then "
            + (
                f"{'was' if k == 1 else 'were'} {count(k, 'zombie')} adopted and reaped by "
                + (
                    f"{adopter(True)}."
                    if facts.get("namespace")
                    else "the run's supervisor, which reaps orphans here as init does outside."
                )
                if k
                else "could anybody else reap them."
            )
            + " A long-running parent would keep them for as long as it runs."
        )
    return " ".join(parts + _tail(facts))


def _ignored(facts: Facts) -> str:
    n = facts["children"]
    parts = [
        f"The parent set SIGCHLD to SIG_IGN and forked {count(n, 'child')}: the kernel reaped "
        f"each as it exited, so none became a zombie ({facts['gone']} of {n} had no /proc entry "
        f"after the sleep; the most zombies in one sample: {facts['most_zombies']})."
    ]
    if facts["echild"]:
        parts.append(
            "The price: no exit status for anybody. waitpid failed with ECHILD, 'No child "
            "processes'. SA_NOCLDWAIT on a SIGCHLD handler does the same."
        )
    return " ".join(parts + _tail(facts))


def _stolen(facts: Facts) -> str:
    parts = []
    reaped = facts["reaped"]
    if reaped:
        parts.append(
            f"The SIGCHLD handler's waitpid(-1, WNOHANG) reaped the child Command had spawned "
            f"(exit status {join(reaped)})"
        )
    else:
        parts.append("The handler reaped nothing this run")
    if facts["wait_failed"]:
        parts[-1] += (
            f", so Command's own wait() found no child to wait for: {facts['wait_failed']!r}. "
            "waitpid(-1) takes every child of the process, also those a library (subprocess, "
            "Command, a thread pool) is about to wait for: reap by pid, or let one owner reap."
        )
    else:
        parts[-1] += "; Command's wait() still got the status this time."
    return " ".join(parts + _tail(facts))


def explain(facts: Facts, variant: Variant) -> str:
    """What the facts of a run say, in plain words."""
    if variant.key == "full-table":
        return _full_table(facts)
    if variant.key == "dropped":
        return _dropped(facts)
    if variant.key == "sigchld-ignored":
        return _ignored(facts)
    if variant.key == "handler-steals":
        return _stolen(facts)
    n = facts["children"]
    parts: list[str] = []
    failed = [why for number, why in facts["fork_failed"] if number is None]
    if failed:
        parts.append(
            f"fork failed after {count(n, 'child')} ({failed[0]}; the run's budget is "
            f"{count(facts['budget'], 'process')}), and the parent gave up: it exited with status "
            f"{facts['status']}"
        )
        k = facts["adopted"]
        if k:
            parts[-1] += f", leaving {count(k, 'child')} it had not reaped; " + (
                f"{adopter(True)} adopted and reaped {'it' if k == 1 else 'them'}."
                if facts.get("namespace")
                else "the run's supervisor, a subreaper standing in for init, adopted and "
                f"reaped {'it' if k == 1 else 'them'}."
            )
        else:
            parts[-1] += "."
        return " ".join(parts + _tail(facts))
    if not n:
        return " ".join(["No child ran.", *_tail(facts)])
    statuses = join(facts["exits"])
    reaped = facts["reaped"]
    if variant.key == "broken":
        if facts["zombie_lines"] or facts["most_zombies"]:
            parts.append(
                f"The {count(n, 'child')} exited at once (exit status {statuses}) but the parent was "
                "not waiting for them, so each stayed in the process table as a zombie: /proc said "
                f'"Z (zombie)" for {facts["zombie_lines"]} of them.'
            )
            parts.append(_during_sleep(facts))
            parts.append(
                "A zombie runs no code and has no memory of its own left; the kernel keeps only "
                "its task entry (pid, exit status, resource usage) for the parent's wait."
            )
        if reaped:
            parts.append(
                f"When the parent finally called waitpid it got exit status {join(reaped)}, and "
                f"{'the zombie was' if len(reaped) == 1 else f'the {len(reaped)} zombies were'} "
                f"gone ({facts['gone']} of {n} had no /proc entry left)."
            )
        else:
            parts.append("The parent never waited for them.")
        return " ".join(parts + _tail(facts))
    how = {
        "handler": "The parent's SIGCHLD handler reaped each child as it exited (waitpid(-1, "
        "WNOHANG) in a loop, since one signal can stand for several exits)",
        "with": "Each child was spawned with Command(...).spawn() in a with block, and leaving the "
        "block waited for it, the Drop that calls wait() of the recap (std's Child has no such "
        "Drop; fork110's with block adds it): each was reaped right away",
        "drop": "Each child was held by a guard, Reaped(Child), whose Drop calls wait() (std's "
        "Child has no Drop; the guard adds one): each was reaped as its guard went out of scope",
        "wait": "The parent waited for its children",
    }.get(facts["reaped_by"], "Nothing reaped the children")
    parts.append(
        f"{how}: {len(reaped)} exit status{'es' if len(reaped) != 1 else ''} collected "
        f"({join(reaped) if reaped else 'none'}) for {count(n, 'child')}."
    )
    parts.append(_during_sleep(facts))
    parts.append(
        f"Afterwards {facts['gone']} of the {count(n, 'child')} had no /proc entry left: "
        + ("no zombie remained." if facts["gone"] == n else "some were still there.")
    )
    return " ".join(parts + _tail(facts))


DEMO = Demo(
    name="zombies",
    title="Zombies: children that exit while nobody waits for them",
    slide=SLIDE,
    variants={
        "broken": Variant(
            "broken", "children exit; the parent waits 1 s late", PYTHON, c="zombies"
        ),
        "fixed-sigchld": Variant(
            "fixed-sigchld",
            "a SIGCHLD handler reaps each child as it exits",
            PYTHON_FIXED_SIGCHLD,
            c="zombies_fixed",
        ),
        "fixed-with": Variant(
            "fixed-with",
            "Command(...).spawn() in a with block: the Drop that calls wait()",
            PYTHON_FIXED_WITH,
            rust="zombies_guard",
        ),
        "dropped": Variant(
            "dropped",
            "Rust's Child dropped without wait(): std's Child has no Drop",
            PYTHON_DROPPED,
            rust="zombies_drop",
        ),
        "sigchld-ignored": Variant(
            "sigchld-ignored",
            "SIGCHLD ignored: the kernel reaps, and nobody gets a status",
            PYTHON_SIGCHLD_IGNORED,
        ),
        "handler-steals": Variant(
            "handler-steals",
            "waitpid(-1) in a SIGCHLD handler steals Command's child",
            PYTHON_HANDLER_STEALS,
        ),
        "full-table": Variant(
            "full-table",
            "zombies until fork fails: they count against the process limit",
            PYTHON_FULL_TABLE,
            limits={"max_processes": 16},
        ),
    },
    observe=observe,
    explain=explain,
    limits={"max_processes": 8, "timeout": 5.0},
    lesson="Every child must be waited for: a wait, a SIGCHLD handler, or an object that waits "
    "when it goes away.",
)


def run(fixed: bool | str = False, **limits: Any) -> DemoResult:
    """Run the demo contained: ``fixed="fixed-sigchld"`` (or True), ``"fixed-with"``,
    ``"full-table"``; ``language="c"`` for the C program where there is one.

    >>> print(run(fixed="full-table").explanation)  # doctest: +ELLIPSIS
    The parent forked 15 children that exited at once ... fork number 16 failed: ...
    """
    return DEMO.run(fixed, **limits)
