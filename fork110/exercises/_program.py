"""Random programs of fork, ``_exit``, wait and print actions, and what they do by reasoning.

A program is a list of top-level actions, run by every process that reaches them:

* ``print X``: ``print("X")``;
* ``fork``: a bare ``os.fork()``; parent and child both go on with the next action;
* ``child X``: ``if os.fork() == 0: print("X"); os._exit(0)``: the child prints ``X`` and
  exits. Without its ``_exit`` (``exits=False``) the child goes on with the next action instead;
* ``wait``: ``wait_all()``: wait for every child this process has, until none is left.

Every process that reaches the end exits (status 0). Processes are named as contained runs name
them: the first is ``parent``; its children ``child-1``, ``child-2``, ... in the order it forks
them; the children of any other process ``P`` are ``P.1``, ``P.2``, ...

>>> p = Program((Action("print", "A"), Action("fork"), Action("child", "B")))
>>> sim = p.simulate()
>>> sorted(sim.procs)
['child-1', 'child-1.1', 'child-2', 'parent']
>>> sim.counts()
{'A': 1, 'B': 2}
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["Action", "Proc", "Program", "Simulation", "random_program"]

LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
INIT = "init"

PY_HEADER = '''import os


def wait_all():
    """Wait for every child of this process (os.wait until there is none left)."""
    while True:
        try:
            os.wait()
        except ChildProcessError:
            return

'''

C_HEADER = """#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);  /* a line at a time, even into a pipe */
"""


@dataclass(frozen=True)
class Action:
    """One action of a program: ``kind`` is ``print``, ``fork``, ``child`` or ``wait``.

    >>> Action("child", "B").python()
    ['if os.fork() == 0:', '    print("B", flush=True)', '    os._exit(0)']
    >>> Action("child", "B", exits=False).c()
    ['if (fork() == 0) {', '    printf("B\\\\n");', '}']
    """

    kind: str
    letter: str = ""
    exits: bool = True

    def python(self) -> list[str]:
        """The action as lines of Python."""
        if self.kind == "print":
            return [f'print("{self.letter}", flush=True)']
        if self.kind == "fork":
            return ["os.fork()"]
        if self.kind == "wait":
            return ["wait_all()"]
        body = [f'    print("{self.letter}", flush=True)']
        return ["if os.fork() == 0:", *body, *(["    os._exit(0)"] if self.exits else [])]

    def c(self) -> list[str]:
        """The action as lines of C."""
        if self.kind == "print":
            return [f'printf("{self.letter}\\n");']
        if self.kind == "fork":
            return ["fork();"]
        if self.kind == "wait":
            return ["while (wait(NULL) > 0) {}"]
        body = [f'    printf("{self.letter}\\n");']
        return ["if (fork() == 0) {", *body, *(["    _exit(0);"] if self.exits else []), "}"]

    def describe(self) -> str:
        """A few words for the action.

        >>> Action("child", "B", exits=False).describe()
        'fork a child that prints B (no _exit)'
        """
        if self.kind == "print":
            return f"print {self.letter}"
        if self.kind == "fork":
            return "fork (both go on)"
        if self.kind == "wait":
            return "wait for every child"
        return f"fork a child that prints {self.letter}" + ("" if self.exits else " (no _exit)")


@dataclass
class Proc:
    """One process of a simulation: who forked it at which action, what it printed, who reaped it."""

    name: str
    parent: str | None
    born_at: int  # the action whose fork made it (-1 for the first process)
    starts_at: int  # the first action it runs after the fork (a ``child`` block's child: inside it)
    lines: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    ran: list[int] = field(default_factory=list)  # the top-level actions it carried out
    reaper: str = INIT


@dataclass
class Simulation:
    """What a program does, by reasoning: its processes and a happens-before order of its lines."""

    procs: dict[str, Proc]
    nodes: list[tuple[str, str]]  # (process, letter), one per printed line
    before: dict[int, set[int]]  # node -> nodes that must come before it

    def counts(self) -> dict[str, int]:
        """How many times each letter prints, letters in alphabetical order."""
        out: dict[str, int] = {}
        for _, letter in self.nodes:
            out[letter] = out.get(letter, 0) + 1
        return dict(sorted(out.items()))

    def tree(self) -> dict[str, str]:
        """Every process but the first, mapped to its parent."""
        return {n: p.parent for n, p in self.procs.items() if p.parent is not None}

    def reapers(self) -> dict[str, str]:
        """Every process but the first, mapped to who reaps it (a process name, or ``init``)."""
        return {n: p.reaper for n, p in self.procs.items() if p.parent is not None}

    def created_after(self, n_actions: int) -> list[dict[str, str]]:
        """For each action, the tree (child -> parent) of every process created up to it."""
        return [
            {n: p.parent for n, p in self.procs.items() if p.parent is not None and p.born_at <= k}
            for k in range(n_actions)
        ]

    def orderings(self, limit: int = 5000) -> set[str] | None:
        """Every order the printed letters can come in (None past ``limit`` orders)."""
        n = len(self.nodes)
        found: set[str] = set()
        memo: set[tuple[frozenset[int], str]] = set()

        def walk(done: frozenset[int], prefix: str) -> bool:
            if len(found) > limit:
                return False
            if len(done) == n:
                found.add(prefix)
                return True
            key = (done, prefix)
            if key in memo:
                return True
            memo.add(key)
            for i in range(n):
                if i not in done and self.before[i] <= done:
                    walk(done | {i}, prefix + self.nodes[i][1])
            return True

        walk(frozenset(), "")
        return None if len(found) > limit else found


@dataclass(frozen=True)
class Program:
    """A program: its actions, in order.

    >>> print(Program((Action("fork"), Action("print", "A"))).python())  # doctest: +ELLIPSIS
    import os
    ...
    os.fork()  # 1
    print("A", flush=True)  # 2
    """

    actions: tuple[Action, ...]

    def python(self, markers: bool = False) -> str:
        """The program in Python (with ``markers``, every process also prints ``@k`` after
        carrying out action ``k``, for runs that check what happened at each action)."""
        lines = [PY_HEADER.rstrip("\n"), "", ""]
        for k, action in enumerate(self.actions, 1):
            code = action.python()
            lines.append(f"{code[0]}  # {k}")
            lines.extend(code[1:])
            if markers:
                lines.append(f'print("@{k}", flush=True)')
        return "\n".join(lines) + "\n"

    def c(self) -> str:
        """The program in C."""
        lines = [C_HEADER.rstrip("\n")]
        for k, action in enumerate(self.actions, 1):
            code = action.c()
            lines.append(f"    {code[0]}  /* {k} */")
            lines.extend(f"    {line}" for line in code[1:])
        lines += ["    return 0;", "}"]
        return "\n".join(lines) + "\n"

    def listing(self, language: str = "python") -> str:
        """The program in ``language`` (``python`` or ``c``)."""
        if language == "c":
            return self.c()
        if language == "python":
            return self.python()
        raise ValueError(f"language must be 'python' or 'c', not {language!r}")

    def without_exit(self, index: int) -> Program:
        """The same program with the ``_exit`` of action ``index`` (0-based) removed."""
        acts = list(self.actions)
        acts[index] = Action(acts[index].kind, acts[index].letter, exits=False)
        return Program(tuple(acts))

    def simulate(self) -> Simulation:
        """What every process does, by reasoning (no process is started)."""
        procs: dict[str, Proc] = {}
        nodes: list[tuple[str, str]] = []
        before: dict[int, set[int]] = {}

        def run(proc: Proc, past: set[int]) -> set[int]:
            """Carry out ``proc`` from its start, with the lines that precede its start; return
            the lines that precede its end (its own and all it learned by forking and waiting)."""
            procs[proc.name] = proc
            past = set(past)
            unwaited: list[tuple[str, set[int]]] = []

            def emit(letter: str) -> None:
                i = len(nodes)
                nodes.append((proc.name, letter))
                before[i] = set(past)
                past.add(i)
                proc.lines.append(letter)

            first = proc.starts_at
            if first < 0:  # the child of a ``child`` action starts inside its block
                first = -first - 1
                emit(self.actions[first].letter)
                if self.actions[first].exits:
                    return past
                first += 1
            for k in range(first, len(self.actions)):
                action = self.actions[k]
                if action.kind == "print":
                    emit(action.letter)
                elif action.kind in ("fork", "child"):
                    number = len(proc.children) + 1
                    name = f"child-{number}" if proc.name == "parent" else f"{proc.name}.{number}"
                    proc.children.append(name)
                    start = k + 1 if action.kind == "fork" else -k - 1
                    end = run(Proc(name, proc.name, k, start), past)
                    unwaited.append((name, end))
                else:
                    for name, end in unwaited:
                        procs[name].reaper = proc.name
                        past |= end
                    unwaited = []
                proc.ran.append(k)
            return past

        run(Proc("parent", None, -1, 0), set())
        order = {name: i for i, name in enumerate(_tree_order(procs))}
        procs = dict(sorted(procs.items(), key=lambda item: order[item[0]]))
        return Simulation(procs, nodes, before)

    def __iter__(self) -> Iterator[Action]:
        return iter(self.actions)

    def __len__(self) -> int:
        return len(self.actions)


def _tree_order(procs: dict[str, Proc]) -> list[str]:
    """Names in tree order: a process, then its children's subtrees in fork order."""
    out: list[str] = []

    def visit(name: str) -> None:
        out.append(name)
        for child in procs[name].children:
            visit(child)

    visit("parent")
    return out


def random_program(
    rng: random.Random,
    *,
    actions: int = 4,
    fork: float = 0.3,
    child: float = 0.3,
    exit: float = 0.7,
    wait: float = 0.15,
) -> Program:
    """A random program of ``actions`` actions: each is a bare fork with probability ``fork``, a
    forked child block with probability ``child`` (which ends with ``_exit`` with probability
    ``exit``), a wait with probability ``wait``, else a print.

    >>> random_program(random.Random(1), actions=3).actions[0].kind in ("print", "fork", "child", "wait")
    True
    """
    acts: list[Action] = []
    letters = iter(LETTERS)
    for _ in range(actions):
        x = rng.random()
        if x < fork:
            acts.append(Action("fork"))
        elif x < fork + child:
            acts.append(Action("child", next(letters), exits=rng.random() < exit))
        elif x < fork + child + wait and any(a.kind in ("fork", "child") for a in acts):
            acts.append(Action("wait"))  # (a wait before any fork would have nothing to wait for)
        else:
            acts.append(Action("print", next(letters)))
    return Program(tuple(acts))
