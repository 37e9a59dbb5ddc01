"""Demo 3 · ``createChildAndSayHello``: a function that forks and ``return``\\ s in the child.

``return`` leaves the function, not the process. The child returns into the caller and runs the
rest of the caller's code, code written for the parent alone: here ``main`` prints "main
continues" and "main about to return" twice, once in each process. (The slides show this snippet
twice, identically: this one demo covers both.) The fix: the child ends with ``_exit(0)`` where it
would have returned, so only the parent comes back from the function.

>>> r = run()
>>> r.facts["hello"], r.facts["continued"], r.facts["child_continued"]
(1, 2, True)
>>> f = run(fixed=True)
>>> f.facts["hello"], f.facts["continued"], f.facts["child_continued"]
(1, 1, False)
"""

from __future__ import annotations

import re
from typing import Any

from fork110.sandbox import ContainedRun

from ._base import Demo, DemoResult, Facts, Variant
from ._c import C_SOURCES
from ._words import join, times

__all__ = ["DEMO", "PYTHON", "PYTHON_FIXED", "SLIDE", "run"]

SLIDE = C_SOURCES["say_hello"].slide
"""The snippet as on the slide."""

PYTHON = """\
import os, sys                              # added: imports

def sayHello():                             # added: the slide does not show it
    print(f"hello from pid {os.getpid()} (parent {os.getppid()})")

def createChildAndSayHello():
    pid = os.fork()
    if pid == 0:
        sayHello()
        return 0
    os.waitpid(pid, 0)                      # waitpid(pid): Python needs the options argument too
    return 0                                # added: the parent returns 0 as well

def main():                                 # added: a caller (this function, all of it)
    print(f"main starts in pid {os.getpid()}")
    createChildAndSayHello()
    print(f"main continues in pid {os.getpid()}")
    print(f"main about to return in pid {os.getpid()}")
    return 0

sys.exit(main())                            # added: main's return value is the exit status
"""
"""The slide's function in Python, with a caller (the added lines say so)."""

PYTHON_FIXED = """\
import os, sys

def sayHello():
    print(f"hello from pid {os.getpid()} (parent {os.getppid()})")

def createChildAndSayHello():
    try:
        pid = os.fork()
    except OSError as e:                    # fixed: check for failure (C: fork() == -1)
        print(f"fork: {e.strerror}", file=sys.stderr)
        return -1
    if pid == 0:
        sayHello()
        os._exit(0)                         # fixed: end the child; do not return into the caller
    os.waitpid(pid, 0)
    return 0

def main():
    print(f"main starts in pid {os.getpid()}")
    createChildAndSayHello()
    print(f"main continues in pid {os.getpid()}")
    print(f"main about to return in pid {os.getpid()}")
    return 0

sys.exit(main())
"""
"""The fix: the child ``_exit``\\ s instead of returning; only the parent comes back to ``main``."""

_STARTS = re.compile(r"^main starts in pid (\d+)$", re.M)
_HELLO = re.compile(r"^hello from pid (\d+) \(parent (\d+)\)$", re.M)
_CONTINUES = re.compile(r"^main continues in pid (\d+)$", re.M)
_RETURNS = re.compile(r"^main about to return in pid (\d+)$", re.M)
_FORK_ERROR = re.compile(r"^fork: .*$", re.M)
_NAMING = ("start", "fork", "spawn", "appear", "reap")


def _names(run: ContainedRun) -> dict[int, str]:
    """The sandbox's name (``parent``, ``child-1``, ...) for each pid its events mention."""
    names: dict[int, str] = {}
    for e in run.events:
        if e.process != "supervisor" and e.pid:
            names.setdefault(e.pid, e.process)
        if e.kind in _NAMING and e.other_pid is not None and e.other:
            names.setdefault(e.other_pid, e.other)
    return names


def observe(run: ContainedRun, variant: Variant) -> Facts:
    """Facts from one run: who said hello, which processes ran the caller's code after the call."""
    names = _names(run)
    out = run.stdout
    main_pid = next((int(p) for p in _STARTS.findall(out)), 0)
    hellos = [(int(c), int(p)) for c, p in _HELLO.findall(out)]
    children = [c for c, _ in hellos]
    for e in run.events:
        if e.kind in ("fork", "spawn") and e.other_pid is not None and e.other_pid not in children:
            children.append(e.other_pid)

    unseen = [c for c in children if c not in names]

    def who(pid: int) -> str:
        if pid == main_pid:
            return names.get(pid, "parent")
        return names.get(pid, "the child" if len(unseen) == 1 else f"pid {pid}")

    continued = [int(p) for p in _CONTINUES.findall(out)]
    returned = [int(p) for p in _RETURNS.findall(out)]
    statuses = {who(c): run.status_of(who(c)) for c in [main_pid, *children]}
    reaps = [i for i, e in enumerate(run.events) if e.kind == "reap" and e.pid == main_pid]
    goes_on = [
        i
        for i, e in enumerate(run.events)
        if e.kind == "stdout" and e.detail.rstrip("\n") == f"main continues in pid {main_pid}"
    ]
    return {
        "main": who(main_pid),
        "processes": len({main_pid, *children} - {0}),
        "children": [who(c) for c in children],
        "hello": len(hellos),
        "hello_in": [who(c) for c, _ in hellos],
        "hello_parent": [who(p) for _, p in hellos],
        "continued": len(continued),
        "continued_in": [who(p) for p in continued],
        "returned": len(returned),
        "returned_in": [who(p) for p in returned],
        "child_continued": any(p != main_pid for p in continued),
        "main_continued": main_pid in continued,
        "statuses": {n: str(s) for n, s in statuses.items() if s is not None},
        "unseen": [who(c) for c in unseen],
        "reaped_by": {
            e.other: e.process for e in run.events if e.kind == "reap" and e.other is not None
        },
        "reaped_before_continuing": bool(reaps and goes_on and reaps[0] < goes_on[0]),
        "refused": run.refusals,
        "raised": "BlockingIOError" in run.stderr,
        "fork_errors": _FORK_ERROR.findall(run.stderr),
        "budget": run.max_processes,
        "timed_out": run.timed_out,
        "timeout": run.timeout,
        "left": run.leaked,
    }


def _cap(text: str) -> str:
    """Capitalize "the child" at a sentence's start; a process name (``child-1``) stays as it is."""
    return "T" + text[1:] if text.startswith("the ") else text


def _printed(facts: Facts) -> str:
    n = facts["continued"]
    if not n:
        return '"main continues" was never printed'
    return f'"main continues" was printed {times(n)}, by {join(facts["continued_in"])}'


def explain(facts: Facts, variant: Variant) -> str:
    """What the facts of a run say, in plain words."""
    main = facts["main"]
    parts: list[str] = []
    if facts["hello"]:
        child = join(facts["hello_in"])
        said = "" if facts["hello"] == 1 else f" {times(facts['hello'])}"
        parts.append(f"createChildAndSayHello forked {child}, which said hello{said}.")
    if facts["child_continued"]:
        kids = join(sorted({w for w in facts["continued_in"] if w != main}))
        parts.append(
            f"Then {kids} hit return 0. A return leaves the function, not the process: {kids} "
            f"came back into main and ran the caller's code as well, meant for {main} alone. "
            f'"main continues" was printed {times(facts["continued"])} '
            f'(by {join(facts["continued_in"])}) and "main about to return" '
            f"{times(facts['returned'])} (by {join(facts['returned_in'])})."
        )
    elif facts["hello"] and variant.key != "broken":
        parts.append(
            f"Then {join(facts['hello_in'])} called _exit(0) right after sayHello, so it never "
            f"returned into main: {_printed(facts)}, and the caller's code ran in one process only."
        )
    else:
        parts.append(
            _printed(facts)
            + (": nothing ran twice, because no child was made." if not facts["hello"] else ".")
        )
    reaped = [c for c in facts["children"] if facts["reaped_by"].get(c) == main]
    if reaped and facts["reaped_before_continuing"]:
        parts.append(f"{main} waited for and reaped {join(reaped)} before going on.")
    if facts["unseen"]:
        parts.append(
            f"({_cap(join(facts['unseen']))} lived too briefly for the supervisor's scan "
            "of the tree to catch it: it is known here from its own output.)"
        )
    if facts["refused"] or facts["raised"]:
        text = (
            f"The run's budget of {facts['budget']} process{'es' if facts['budget'] != 1 else ''}"
            f" refused the fork with EAGAIN"
        )
        if facts["raised"]:
            text += (
                "; in Python that raises BlockingIOError, which nothing here catches, so "
                f"{main} ended ({facts['statuses'].get(main, 'no status')}) before main could go on"
            )
        elif facts["fork_errors"]:
            text += f"; the code checked and reported it ({facts['fork_errors'][0]!r})"
        elif variant.key == "broken":
            text += (
                "; fork() returned -1, which the slide's code never checks: -1 is not 0, so "
                f"{main} took the parent's path and waited for a child that did not exist"
            )
        parts.append(text + ".")
    if facts["timed_out"]:
        parts.append(f"The watchdog ended the run after {facts['timeout']:g} s.")
    return " ".join(parts)


DEMO = Demo(
    name="say_hello",
    title="createChildAndSayHello: the child returns into its caller",
    slide=SLIDE,
    variants={
        "broken": Variant("broken", "as on the slide", PYTHON, c="say_hello"),
        "fixed": Variant(
            "fixed", "the child _exits instead of returning", PYTHON_FIXED, c="say_hello_fixed"
        ),
    },
    observe=observe,
    explain=explain,
    limits={"max_processes": 8, "timeout": 3.0},
    lesson="return ends a function, not a process: a child must _exit where its work ends.",
)


def run(fixed: bool | str = False, **limits: Any) -> DemoResult:
    """Run the demo contained: ``fixed=True`` for the fix, ``language="c"`` for the C program.

    >>> print(run().explanation)  # doctest: +ELLIPSIS
    createChildAndSayHello forked child-1, which said hello. Then child-1 hit return 0. ...
    """
    return DEMO.run(fixed, **limits)
