"""Demo 2 · two forks in a row: ``pid1 = fork(); pid2 = fork();``, meant to make two children.

The second ``fork()`` runs in every process that exists at that line: the parent *and* the first
child. So there are four processes, not three: the parent, child 1, child 2 and a grandchild
(child 1's child). The grandchild is a copy of child 1, so its ``pid1`` is 0 too and it runs
``do_stuff_proc1`` a second time. Nobody waits for it: child 1 returns from ``main`` without a
``waitpid``, so the grandchild outlives its parent, is orphaned, and is reparented to init, pid 1
(in a contained run, the run's supervisor: pid 1 of the run's own pid namespace, or, where the
kernel allows no namespace, a subreaper; the facts call it ``supervisor``). The fix: each child
``_exit``\\ s after its work, and only the parent makes the second fork.

>>> r = run()
>>> g = r.facts["grandchildren"][0]
>>> r.facts["processes"], r.facts["proc1"], r.facts["reaped_by"][g], r.facts["new_parent"][g]
(4, 2, 'supervisor', 'supervisor')
>>> f = run(fixed=True)
>>> f.facts["processes"], f.facts["proc1"], f.facts["proc2"], f.facts["orphans"]
(3, 1, 1, [])
"""

from __future__ import annotations

import re
from typing import Any

from fork110.sandbox import ContainedRun

from ._base import Demo, DemoResult, Facts, Variant
from ._c import C_SOURCES
from ._words import adopter, join, times

__all__ = ["DEMO", "PYTHON", "PYTHON_FIXED", "SLIDE", "run"]

SLIDE = C_SOURCES["nested_forks"].slide
"""The snippet as on the slide."""

PYTHON = """\
import os, sys, time                        # added: imports

main_pid = os.getpid()                      # added: to tell the grandchild from the children

def do_stuff_proc1():                       # added: the slide does not show the work
    parent = os.getppid()
    print(f"do_stuff_proc1 in pid {os.getpid()} (parent {parent})")
    time.sleep(0.1)                         # the "stuff": 0.1 s of work
    if parent != main_pid:                  # only the grandchild: outlive its parent
        time.sleep(0.3)
        print(f"do_stuff_proc1 in pid {os.getpid()}: parent {parent} has exited, "
              f"my parent is now {os.getppid()} (orphan)")

def do_stuff_proc2():                       # added: like do_stuff_proc1
    print(f"do_stuff_proc2 in pid {os.getpid()} (parent {os.getppid()})")
    time.sleep(0.1)

def main():
    print(f"main is pid {main_pid}")        # added: who is main
    pid1 = os.fork()
    pid2 = os.fork()
    if pid1 == 0:
        do_stuff_proc1()
        return 0
    if pid2 == 0:
        do_stuff_proc2()
        return 0
    r1, _ = os.waitpid(pid1, 0)             # waitpid(pid1): Python needs the options argument too
    r2, _ = os.waitpid(pid2, 0)
    # added: what waitpid returned
    print(f"main in pid {os.getpid()}: waitpid returned {r1} and {r2}; returning")
    return 0                                # added: the slide stops here

sys.exit(main())                            # added: main's return value is the exit status
"""
"""The slide's code in Python, line for line (the added lines say so)."""

PYTHON_FIXED = """\
import os, sys, time

def do_stuff_proc1():
    print(f"do_stuff_proc1 in pid {os.getpid()} (parent {os.getppid()})")
    time.sleep(0.1)

def do_stuff_proc2():
    print(f"do_stuff_proc2 in pid {os.getpid()} (parent {os.getppid()})")
    time.sleep(0.1)

def main():
    print(f"main is pid {os.getpid()}")
    try:
        pid1 = os.fork()
    except OSError as e:                    # fixed: check for failure (C: fork() == -1)
        print(f"fork: {e.strerror}", file=sys.stderr)
        return 1
    if pid1 == 0:
        do_stuff_proc1()
        os._exit(0)                         # fixed: the child ends here
    try:
        pid2 = os.fork()                    # fixed: forked by the parent only
    except OSError as e:
        print(f"fork: {e.strerror}", file=sys.stderr)
        os.waitpid(pid1, 0)
        return 1
    if pid2 == 0:
        do_stuff_proc2()
        os._exit(0)                         # fixed
    r1, _ = os.waitpid(pid1, 0)
    r2, _ = os.waitpid(pid2, 0)
    print(f"main in pid {os.getpid()}: waitpid returned {r1} and {r2}; returning")
    return 0

sys.exit(main())
"""
"""The fix: each child ``_exit``\\ s after its work; only the parent forks, and it reaps both."""

_MAIN = re.compile(r"^main is pid (\d+)$", re.M)
_PROC = re.compile(r"^do_stuff_proc([12]) in pid (\d+) \(parent (\d+)\)$", re.M)
_ORPHAN = re.compile(
    r"^do_stuff_proc1 in pid (\d+): parent (\d+) has exited, my parent is now (\d+) \(orphan\)$",
    re.M,
)
_WAITED = re.compile(r"^main in pid \d+: waitpid returned (-?\d+) and (-?\d+); returning$", re.M)
_FORK_ERROR = re.compile(r"^fork: .*$", re.M)
_NAMING = ("start", "fork", "spawn", "appear", "reap")


class _Who:
    """Names for the pids of one run, from its events: the sandbox's ``parent``, ``child-1``..."""

    def __init__(self, run: ContainedRun) -> None:
        self.names: dict[int, str] = {}
        self.order: list[int] = []
        self.supervisor = 0
        for e in run.events:
            if e.process == "supervisor":
                self.supervisor = e.pid
            elif e.pid:
                self.add(e.pid, e.process)
            if e.kind in _NAMING and e.other_pid is not None and e.other:
                self.add(e.other_pid, e.other)
        for snap in run.snapshots:  # a process no event named (``orphan-1``, say)
            for p in snap:
                self.add(p.pid, p.name)

    def add(self, pid: int, name: str | None = None) -> None:
        if pid not in self.order:
            self.order.append(pid)
        if name and pid not in self.names:
            self.names[pid] = name

    def __call__(self, pid: int) -> str:
        """The process's name in this run; ``pid N`` for one the sandbox did not see."""
        if pid == self.supervisor and pid:
            return "supervisor"
        if pid == 1:
            return "init"
        return self.names.get(pid, f"pid {pid}")


def observe(run: ContainedRun, variant: Variant) -> Facts:
    """Facts from one run: the processes, who ran which task, who was orphaned, who reaped whom."""
    who = _Who(run)
    out = run.stdout
    main_pid = next((int(m) for m in _MAIN.findall(out)), 0)
    if not main_pid:
        main_pid = next((e.pid for e in run.events if e.kind == "start"), 0)
    who.add(main_pid)
    parent_of: dict[int, int] = {}
    for e in run.events:
        if e.kind in ("fork", "spawn") and e.other_pid is not None:
            parent_of.setdefault(e.other_pid, e.pid)
    runs: dict[str, list[int]] = {"1": [], "2": []}
    for task, pid, parent in _PROC.findall(out):
        runs[task].append(int(pid))
        who.add(int(pid))
        parent_of[int(pid)] = int(parent)
    pids = [p for p in who.order if p and p != who.supervisor]
    children = [p for p in pids if parent_of.get(p) == main_pid]
    grand = [p for p in pids if p != main_pid and parent_of.get(p, main_pid) != main_pid]
    new_parent = {who(int(pid)): who(int(now)) for pid, _old, now in _ORPHAN.findall(out)}
    over_time: dict[str, list[str]] = {}
    for snap in run.snapshots:
        for p in snap:
            if p.pid == main_pid:
                continue
            seen = over_time.setdefault(who(p.pid), [])
            if not seen or seen[-1] != who(p.ppid):
                seen.append(who(p.ppid))
    seen_moved = [n for n, ups in over_time.items() if ups[-1] in ("supervisor", "init")]
    reaped_by = {e.other: e.process for e in run.events if e.kind == "reap" and e.other is not None}
    adopted = [n for n, r in reaped_by.items() if r == "supervisor" and n != who(main_pid)]
    orphans = [n for n in map(who, pids) if n in new_parent or n in seen_moved or n in adopted]
    waited = [who(int(p)) if int(p) > 0 else int(p) for m in _WAITED.findall(out) for p in m]
    statuses = {who(p): run.status_of(who(p)) for p in pids}
    alive = [who(p.pid) for p in run.survivors]
    raised = [n for n in map(who, pids) if "BlockingIOError" in run.output(n, "stderr")]
    return {
        "main": who(main_pid),
        "processes": len(pids),
        "names": [who(p) for p in pids],
        "peak": max((len({p.pid for p in s}) for s in run.snapshots), default=0),
        "children": [who(p) for p in children],
        "grandchildren": [who(p) for p in grand],
        "parent_of": {who(p): who(parent_of[p]) for p in pids if p in parent_of},
        "proc1": len(runs["1"]),
        "proc1_in": [who(p) for p in runs["1"]],
        "proc2": len(runs["2"]),
        "proc2_in": [who(p) for p in runs["2"]],
        "orphans": orphans,
        "new_parent": new_parent,
        "parents_over_time": over_time,
        "reparented_seen": seen_moved,
        "reaped_by": reaped_by,
        "waited": waited,
        "statuses": {n: str(s) for n, s in statuses.items() if s is not None},
        "failed": [n for n, s in statuses.items() if s is not None and not s.success()],
        "refused": run.refusals,
        "refused_in": [e.process for e in run.events if e.kind == "refused"],
        "raised": raised,
        "fork_errors": _FORK_ERROR.findall(run.stderr),
        "budget": run.max_processes,
        "timed_out": run.timed_out,
        "timeout": run.timeout,
        "killed": alive,
        "left": run.leaked,
        "namespace": run.namespace,
    }


def _orphan_story(facts: Facts, g: str) -> str:
    gp = facts["parent_of"].get(g, "its parent")
    if gp in facts["proc1_in"] or gp in facts["proc2_in"]:
        how = f"{gp} took a return 0 branch, where nothing calls waitpid, and exited"
    elif gp in facts["failed"]:
        how = f"{gp} ended ({facts['statuses'][gp]})"
    else:
        how = f"{gp} exited"
    text = f"Nobody waited for {g}: {how} while {g} was still running, so {g} became an orphan"
    evidence = []
    new_parent = facts["new_parent"].get(g)
    init = adopter(bool(facts.get("namespace")))
    if new_parent == "supervisor":
        how = "every orphan in the namespace" if facts.get("namespace") else "orphans below it"
        evidence.append(
            f"it printed its new parent, {init}, which the kernel makes the parent of {how}"
        )
    elif new_parent is not None:
        evidence.append(f"it printed its new parent, {new_parent}")
    if g in facts["reparented_seen"] and new_parent is None:
        evidence.append(f"the tree showed it moved under {init}")
    reaper = facts["reaped_by"].get(g)
    if reaper is not None:
        status = facts["statuses"].get(g)
        evidence.append(f"{reaper} reaped it" + (f" ({status})" if status else ""))
    return text + ((": " + "; ".join(evidence)) if evidence else "") + "."


def _tasks(facts: Facts) -> str:
    p1, p2 = facts["proc1"], facts["proc2"]
    task1 = f"do_stuff_proc1 ran {times(p1)}" + (f" (in {join(facts['proc1_in'])})" if p1 else "")
    task2 = f"do_stuff_proc2 {times(p2)}" + (f" (in {join(facts['proc2_in'])})" if p2 else "")
    twice = [g for g in facts["grandchildren"] if g in facts["proc1_in"]]
    why = (
        f": {join(twice)} got 0 from the first fork as well (its pid1 is a copy of its "
        "parent's), so it took the pid1 == 0 branch too"
        if twice and p1 > 1
        else ""
    )
    return f"{task1} and {task2}{why}."


def _waited(facts: Facts) -> str:
    main = facts["main"]
    waited = join([w if isinstance(w, str) else f"{w} (an error)" for w in facts["waited"]])
    left_out = [g for g in facts["grandchildren"] if g not in facts["waited"]]
    reaped = [c for c in facts["children"] if facts["reaped_by"].get(c) == main]
    text = f"main's two waitpid calls returned {waited}"
    if left_out:
        text += f"; {main} never learned about {join(left_out)}"
    elif reaped and set(reaped) == set(facts["children"]):
        text += f": {main} reaped all of its children ({join(reaped)})"
    return text + "."


def _refusals(facts: Facts, variant: Variant) -> str:
    n = facts["refused"]
    where = f" (in {join(facts['refused_in'])})" if facts["refused_in"] else ""
    text = (
        f"The run's budget of {facts['budget']} process{'es' if facts['budget'] != 1 else ''} "
        f"refused {n} fork{'s' if n != 1 else ''}{where} with EAGAIN"
    )
    raised = facts["raised"]
    if raised:
        text += (
            f"; in Python a refused fork raises BlockingIOError, which nothing here catches: it "
            f"ended {join(raised)}"
        )
    elif facts["fork_errors"]:
        text += f"; the code checked and reported it ({facts['fork_errors'][0]!r})"
    elif variant.key == "broken":
        text += "; fork() returned -1, which the slide's code never checks"
    return text + "."


def explain(facts: Facts, variant: Variant) -> str:
    """What the facts of a run say, in plain words."""
    main, n = facts["main"], facts["processes"]
    plural = "es" if n != 1 else ""
    grand = facts["grandchildren"]
    parts: list[str] = []
    if variant.key != "broken":
        parts.append(
            f"Only {main} forked, and each child called _exit(0) right after its work, so the "
            f"run had {n} process{plural}: {join(facts['names'])}."
        )
    elif grand:
        forkers = join([main, *sorted({facts["parent_of"].get(g, "?") for g in grand})])
        had = (
            f"{n} processes, but not the three the slide intends: {join(facts['names'])}."
            if n == 3
            else f"{n} processes ({join(facts['names'])}), not the three the slide intends."
        )
        parts.append(
            f"The second fork() ran in {forkers}: the first fork had already copied the "
            f"program, so its child carried on to the next line and forked too. The run had {had}"
        )
    else:
        parts.append(
            f"The run had {n} process{plural} ({join(facts['names'])}) and no grandchild this time."
        )
    parts.append(_tasks(facts))
    parts += [_orphan_story(facts, g) for g in facts["orphans"]]
    if facts["waited"]:
        parts.append(_waited(facts))
    if facts["refused"] or facts["raised"]:
        parts.append(_refusals(facts, variant))
    failed = [f for f in facts["failed"] if f not in facts["killed"] + facts["raised"]]
    if failed:
        statuses = ", ".join(f"{f}: {facts['statuses'][f]}" for f in failed)
        parts.append(f"{join(failed)} ended with an error ({statuses}).")
    if facts["timed_out"]:
        killed = facts["killed"]
        silent = [k for k in killed if k in facts["orphans"] and k not in facts["new_parent"]]
        parts.append(
            f"The watchdog ended the run after {facts['timeout']:g} s"
            + (f", killing {join(killed)}" if killed else "")
            + (" before it could print its new parent" if silent else "")
            + "."
        )
    if variant.key != "broken" and not facts["orphans"]:
        parts.append("No process was orphaned.")
    if variant.key == "broken" and facts["orphans"]:
        parts.append(
            "Outside a sandbox an orphan goes to init (pid 1) or the nearest subreaper, and may "
            "still be running after the shell has printed its next prompt."
        )
    return " ".join(parts)


DEMO = Demo(
    name="nested_forks",
    title="Two forks in a row: four processes, a task run twice, an orphan",
    slide=SLIDE,
    variants={
        "broken": Variant("broken", "as on the slide", PYTHON, c="nested_forks"),
        "fixed": Variant(
            "fixed",
            "each child _exits; only the parent forks twice and waits for both",
            PYTHON_FIXED,
            c="nested_forks_fixed",
        ),
    },
    observe=observe,
    explain=explain,
    limits={"max_processes": 16, "timeout": 3.0},
    lesson="Every fork copies the process at that line, and the copy runs all the code after it.",
)


def run(fixed: bool | str = False, **limits: Any) -> DemoResult:
    """Run the demo contained: ``fixed=True`` for the fix, ``language="c"`` for the C program.

    >>> print(run(fixed=True).explanation)  # doctest: +ELLIPSIS
    Only parent forked, ... 3 processes: parent, child-1 and child-2. do_stuff_proc1 ran once ...
    """
    return DEMO.run(fixed, **limits)
