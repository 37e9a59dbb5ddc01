"""Demo 1 · runaway children: ``fork()`` in a ``while (true)`` loop whose child never exits.

The child falls back into the loop and forks too, so the processes double every round: a fork bomb.
Contained, the fork budget stops the growth and the kernel refuses further forks with EAGAIN, exactly
what a real fork does at the user's process limit. The fix: the child ``_exit``\\ s after its work,
and the parent makes a fixed number of children and waits for every one.

>>> r = run()
>>> r.facts["peak"] == r.facts["budget"], r.facts["refused"] > 0
(True, True)
>>> f = run(fixed=True)
>>> f.facts["children"], f.facts["reaped"], f.facts["refused"]
(5, 5, 0)
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from fork110.sandbox import ContainedRun

from ._base import Demo, DemoResult, Facts, Variant
from ._c import C_SOURCES

__all__ = [
    "DEMO",
    "ENFORCEMENT",
    "PYTHON",
    "PYTHON_FIXED",
    "SLIDE",
    "enforcement_meaning",
    "run",
]

SLIDE = C_SOURCES["runaway"].slide
"""The snippet as on the slide."""

PYTHON = """\
import os, signal, sys, time

def do_stuff():
    print(f"do_stuff in pid {os.getpid()} (parent {os.getppid()})")

while True:
    time.sleep(0.1)                 # added: one round every 0.1 s, so the doubling can be watched
    try:
        pid = os.fork()
    except OSError as e:            # C's fork() returns -1 and sets errno; Python raises
        print(f"pid {os.getpid()}: fork: {e.strerror}", file=sys.stderr)
        while True:                 # added: stop forking and wait to be killed, as runaway.c does
            signal.pause()
    if pid == 0:
        do_stuff()
    # the child does not exit here: it goes round the loop again and forks too
"""
"""The slide's loop in Python, line for line (the added lines say so)."""

PYTHON_FIXED = """\
import os

N = 5

def do_stuff():
    print(f"do_stuff in pid {os.getpid()} (parent {os.getppid()})")

for _ in range(N):                  # fixed: N children, not while True
    pid = os.fork()
    if pid == 0:
        do_stuff()
        os._exit(0)                 # fixed: the child ends here and never returns to the loop

while True:                         # fixed: the parent waits for every child
    try:
        pid, status = os.wait()
    except ChildProcessError:
        break
    print(f"parent {os.getpid()} reaped child {pid}: exit status {os.waitstatus_to_exitcode(status)}")
print(f"parent {os.getpid()}: all children reaped")
"""
"""The fix: the child ``_exit``\\ s; the parent makes N children and reaps them all."""

#: What enforced the run's fork budget (``ContainedRun.enforcement``), and what that means for what a
#: student sees: who refuses the fork past the budget, and whether it holds for root and for C.
ENFORCEMENT = {
    "cgroup": "a pids cgroup: the kernel itself refuses every fork past the budget with EAGAIN, "
    "for Python and C alike, and for root too, which ignores RLIMIT_NPROC but not a pids cgroup",
    "rlimit": "a Python-level fork wrapper plus RLIMIT_NPROC: a Python fork past the budget is "
    "refused by the wrapper before the kernel is asked; C code is held back by the kernel's "
    "RLIMIT_NPROC, loosely, since it counts all of this user's processes",
    "wrapper": "a Python-level fork wrapper only (root without a usable pids cgroup): a Python "
    "fork past the budget is refused by the wrapper, not the kernel; C code is not held back by "
    "the kernel, and the supervisor kills the whole run when it sees more processes than the "
    "budget",
}


def enforcement_meaning(mode: str) -> str:
    """What the run's budget enforcement ``mode`` means (see :data:`ENFORCEMENT`).

    >>> enforcement_meaning("cgroup").startswith("a pids cgroup: the kernel itself refuses")
    True
    >>> enforcement_meaning("???")
    "'???': a mode this course does not describe; see fork110.sandbox"
    """
    return ENFORCEMENT.get(
        mode, f"{mode!r}: a mode this course does not describe; see fork110.sandbox"
    )


_REFUSED = re.compile(r"fork: Resource temporarily unavailable")
_DO_STUFF = re.compile(r"^do_stuff in pid (\d+)", re.M)
_REAPED = re.compile(r"^parent \d+ reaped child (\d+)", re.M)


def observe(run: ContainedRun, variant: Variant) -> Facts:
    """Facts from one run: how far the processes grew, what the kernel refused, who was reaped."""
    counts: list[int] = []
    for snap in run.snapshots:
        n = len(snap)
        if n and (not counts or n > counts[-1]):
            counts.append(n)
    return {
        "budget": run.max_processes,
        "peak": run.peak_processes,
        "growth": counts,
        "refused": max(run.refusals, len(_REFUSED.findall(run.stderr))),
        "do_stuff": len(_DO_STUFF.findall(run.stdout)),
        "workers": len(set(_DO_STUFF.findall(run.stdout))),
        "children": len(set(_DO_STUFF.findall(run.stdout))),
        "reaped": len(_REAPED.findall(run.stdout)),
        "timed_out": run.timed_out,
        "timeout": run.timeout,
        "left": run.leaked,
        "enforcement": run.enforcement,
    }


def _growth(counts: list[int]) -> str:
    """The sizes the samples saw, and whether each step was a doubling, in plain words."""
    shown = " → ".join(map(str, counts))
    if len(counts) < 2:
        return f"the samples saw {shown or 'no process'}"
    doubled = sum(b == 2 * a for a, b in itertools.pairwise(counts))
    steps = len(counts) - 1
    how = (
        "every step a doubling"
        if doubled == steps
        else f"{doubled} of the {steps} steps {'was a doubling' if doubled == 1 else 'were doublings'}; "
        "the others caught the processes between rounds (they do not fork in step) or at the budget"
    )
    return f"the samples saw {shown}; {how}"


def _who_refused(facts: Facts) -> str:
    mode = facts.get("enforcement", "")
    if mode == "cgroup":
        return "the kernel refused the next"
    if mode in ("wrapper", "rlimit"):
        return "the run's fork wrapper refused the next"
    return "the next"


def explain(facts: Facts, variant: Variant) -> str:
    """What the facts of a run say, in plain words."""
    if variant.key == "broken":
        parts = [
            "Every child went back into the while (true) loop and forked too, so every round each "
            f"process forked once and the count could double ({_growth(facts['growth'])}).",
        ]
        if facts["refused"]:
            refused = _who_refused(facts)
            parts.append(
                f"It hit the run's budget of {facts['budget']} processes (peak {facts['peak']}), and "
                f"{refused} {facts['refused']} forks with EAGAIN, 'Resource temporarily "
                "unavailable': what fork returns when a user's process limit (RLIMIT_NPROC), a pids "
                "cgroup or the process table is full."
            )
            if facts.get("enforcement"):
                parts.append(
                    f"(This run's budget was enforced by {enforcement_meaning(facts['enforcement'])}.)"
                )
        else:
            parts.append(f"It reached {facts['peak']} processes before the run ended.")
        if facts["timed_out"]:
            parts.append(
                f"Nothing in the code ever stops, so the watchdog ended the run after {facts['timeout']:g} s "
                "and killed every process."
            )
        parts.append(
            "Outside a sandbox only the user's process limit (ulimit -u, RLIMIT_NPROC, which root "
            "ignores), a service's pids cgroup (systemd's TasksMax) or the machine's process table "
            "stops the growth: this is a fork bomb."
        )
        return " ".join(parts)
    verdict = (
        "all of them" if facts["reaped"] == facts["children"] else f"{facts['reaped']} of them"
    )
    return (
        f"Each child called _exit right after do_stuff, so none went back into the loop: the parent "
        f"made {facts['children']} children, do_stuff ran {facts['do_stuff']} times, and the parent "
        f"reaped {verdict}. The busiest sample of the tree held {facts['peak']} "
        + ("process" if facts["peak"] == 1 else "processes")
        + (
            "; no fork was refused."
            if not facts["refused"]
            else f"; {facts['refused']} forks were refused."
        )
    )


DEMO = Demo(
    name="runaway",
    title="Runaway children: fork in a loop whose child never exits",
    slide=SLIDE,
    variants={
        "broken": Variant("broken", "as on the slide", PYTHON, c="runaway"),
        "fixed": Variant(
            "fixed", "the child exits; N children, all reaped", PYTHON_FIXED, c="runaway_fixed"
        ),
    },
    observe=observe,
    explain=explain,
    limits={"max_processes": 16, "timeout": 2.0},
    lesson="A child that does not exit runs the parent's code: here, the loop that forks.",
)


def run(fixed: bool | str = False, **limits: Any) -> DemoResult:
    """Run the demo contained: ``fixed=True`` for the fix, ``language="c"`` for the C program.

    >>> print(run(fixed=True).explanation)  # doctest: +ELLIPSIS
    Each child called _exit right after do_stuff, ... the parent made 5 children, do_stuff ran 5 times, ...
    """
    return DEMO.run(fixed, **limits)
