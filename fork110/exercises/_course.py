"""The exercises of notebooks 01-08 as objects, learntools-style (``nb01.q1.check(1024)``), and
the final set of notebook 09 over the whole lecture.

Each notebook's exercises are built by a function, so every import gets fresh questions (the hint
counters start at 1).

>>> qs = notebook(2)
>>> qs["q1"].check(8).right
True
"""

from __future__ import annotations

from typing import Any

from fork110.exercises import _facts
from fork110.exercises._kinds import choice, code, number
from fork110.exercises._question import Question

__all__ = ["PREDICTIONS", "notebook"]

_FORK3 = """\
import os
os.fork()
os.fork()
os.fork()
print("hi", flush=True)
"""


def _adopter(run: Any) -> str:
    """Who reaps a contained run's orphans, in words: pid 1 of the run's own pid namespace where
    the run has one (``ContainedRun.namespace``), else the run's supervisor, a subreaper."""
    if getattr(run, "namespace", False):
        return "the run's init (pid 1)"
    return "the run's supervisor, a subreaper,"


def _lines(run: Any) -> int:
    return len(run.stdout.splitlines())


def _nb01() -> dict[str, Question]:
    def three_children(run: Any) -> str | None:
        kids = [c for c, p in _facts.tree(run).items() if p == "parent"]
        deeper = [c for c, p in _facts.tree(run).items() if p != "parent"]
        if deeper:
            return f"{deeper[0]} is a grandchild: a child went back into the loop. End each child with os._exit."
        if len(kids) != 3:
            return f"The parent made {len(kids)} children, not 3."
        reapers = _facts.reapers(run)
        unwaited = [c for c in kids if reapers.get(c) != "parent"]
        if unwaited:
            return f"{unwaited[0]} was not waited for by the parent ({_adopter(run)} reaped it): wait for every child."
        outs = [c for c in kids if "do_stuff" not in run.output(c)]
        if outs:
            return f"{outs[0]} did not print do_stuff: call do_stuff() in the child."
        return None

    return {
        "q1": number(
            "Without any limit, how many processes are there after 10 rounds of the slide's "
            "loop (count the first one)?",
            1024,
            hints=(
                "In each round, every process that exists forks once.",
                "After one round: 2. After two: 4.",
            ),
            wrong={
                11: "That counts one new process per round, as if only the parent forked. "
                "Who else runs the loop?",
                10: "That counts one fork per round, by the parent only. Who else runs the loop?",
                20: "Every process forks once per round: the count multiplies, it does not add.",
                512: "Close: count the first process too.",
                1023: "That is the number of children; count the first process too.",
            },
            explanation="Every process forks once per round, so the count doubles: 2**10 = 1024.",
        ),
        "q2": choice(
            "Someone 'fixes' the slide by adding only `os._exit(0)` after `do_stuff()`, and keeps "
            "`while True`. What happens?",
            {
                "a": "it still doubles every round",
                "b": "one child per round; the exited children stay zombies (nobody waits), "
                "until the table is full and fork fails",
                "c": "it is fixed: each child exits, nothing piles up",
            },
            "b",
            why={
                "a": "Only the parent reaches the next round now: the children exit after do_stuff.",
                "c": "Who waits for the children that exited? Look at notebook 05.",
            },
            hints=(
                "Who runs the loop after the change?",
                "What becomes of a child nobody waits for?",
            ),
            explanation="Only the parent forks, one child per round, forever; exited children stay "
            "zombies until the budget is full of them.",
        ),
        "q3": choice(
            "Why does the fix use `os._exit(0)` in the child and not `sys.exit(0)` or `return`?",
            {
                "a": "sys.exit is slower",
                "b": "sys.exit and return unwind the child's copy of the parent's stack: finally "
                "blocks, except clauses, atexit handlers and copied buffers run in the child",
                "c": "os._exit also kills the parent",
            },
            "b",
            why={
                "a": "Speed is not the point: what code runs in the child?",
                "c": "_exit ends only the calling process.",
            },
            hints=("What does SystemExit do as it travels up the stack?",),
            explanation="os._exit ends the process on the spot; the others run code meant for the parent.",
        ),
        "q4": code(
            "Write the fixed loop: the parent makes exactly 3 children; each calls `do_stuff()` "
            "(which prints a line with `do_stuff`) and ends; the parent waits for every one.",
            three_children,
            solution="""\
import os

def do_stuff():
    print("do_stuff in", os.getpid(), flush=True)

children = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        do_stuff()
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
""",
            starter="import os\n\ndef do_stuff():\n    print('do_stuff in', os.getpid(), flush=True)\n",
            hints=(
                "fork in a for loop of 3 rounds; in the child (pid == 0) call do_stuff() then os._exit(0).",
                "Keep the children's pids, and os.waitpid each after the loop.",
            ),
        ),
    }


def _nb02() -> dict[str, Question]:
    def three_processes(run: Any) -> str | None:
        tree = _facts.tree(run)
        if len(tree) != 2 or set(tree.values()) != {"parent"}:
            return f"The run made {len(tree) + 1} processes ({', '.join(sorted(tree)) or 'none forked'}); expected parent and two children."
        p1 = sum(1 for line in run.stdout.splitlines() if "proc1" in line)
        p2 = sum(1 for line in run.stdout.splitlines() if "proc2" in line)
        if (p1, p2) != (1, 1):
            return f"do_stuff_proc1 ran {p1} times and do_stuff_proc2 {p2}; each should run once."
        if any(who != "parent" for who in _facts.reapers(run).values()):
            return f"A child was not waited for by the parent ({_adopter(run)} reaped it)."
        return None

    return {
        "q1": number(
            "How many processes does `fork(); fork(); fork();` make, counting the first one? "
            "(A `print` after the three lines prints that many times.)",
            8,
            hints=("Each fork doubles the number of processes that reach it.",),
            wrong={
                4: "That is two forks' worth. The third fork is reached by every process.",
                3: "Every process that reaches a fork forks: the processes double.",
                7: "Count the first process too.",
            },
            explanation="2 * 2 * 2 = 8 processes, and the line prints 8 times.",
            program=_FORK3,
            measure=_lines,
        ),
        "q2": choice(
            "Swap the two `if` blocks of the slide (test `pid2 == 0` first). Who runs "
            "`do_stuff_proc2` now?",
            {
                "a": "child 2 only",
                "b": "child 2 and the grandchild",
                "c": "child 1 and the grandchild",
            },
            "b",
            why={
                "a": "The grandchild has pid1 == 0 and pid2 == 0: which test does it meet first now?",
                "c": "Child 1 has pid2 = the grandchild's pid, not 0.",
            },
            hints=(
                "List each process's (pid1, pid2): parent (c1, c2), child 1 (0, g), child 2 (c1, 0), grandchild (0, 0).",
            ),
            explanation="Child 2 (c1, 0) and the grandchild (0, 0) meet pid2 == 0 first; child 1 runs do_stuff_proc1.",
        ),
        "q3": choice(
            "In the broken run, main's two `waitpid` calls both succeed. Why does that not prove "
            "every child was cleaned up?",
            {
                "a": "waitpid can succeed without reaping",
                "b": "main only knows its own children; the grandchild is child 1's child, and "
                "only child 1 could wait for it",
                "c": "the grandchild was never created",
            },
            "b",
            why={
                "a": "A successful waitpid does reap the child it names.",
                "c": "The tree of the run shows it: child-1.1.",
            },
            hints=("Can a parent wait for its grandchild?",),
        ),
        "q4": code(
            "Fix the nested forks: write code where the parent makes exactly two children, the "
            "first prints a line with `proc1`, the second a line with `proc2`, each ends, and "
            "the parent waits for both.",
            three_processes,
            solution="""\
import os

pid1 = os.fork()
if pid1 == 0:
    print("do_stuff_proc1", flush=True)
    os._exit(0)
pid2 = os.fork()
if pid2 == 0:
    print("do_stuff_proc2", flush=True)
    os._exit(0)
os.waitpid(pid1, 0)
os.waitpid(pid2, 0)
""",
            hints=(
                "Each child's block must end with os._exit(0).",
                "The second fork must sit where only the parent reaches it: after the first child's block.",
            ),
        ),
    }


def _nb03() -> dict[str, Question]:
    return {
        "q1": number(
            "`main` calls the broken `createChildAndSayHello()` three times in a loop. How many "
            "times is 'hello' printed?",
            7,
            what="the number of hellos",
            hints=(
                "Every child returns into main and runs the rest of the loop too.",
                "H(n) = 1 + 2·H(n-1), H(0) = 0, with n the calls left.",
            ),
            wrong={
                3: "That is the fixed version. Where does a child go after saying hello?",
                8: "8 is the number of processes; the first one never says hello itself.",
            },
            explanation="H(3) = 7 hellos, from 2**3 = 8 processes.",
            program="""\
import os

def create_child_and_say_hello():
    pid = os.fork()
    if pid == 0:
        print("hello", flush=True)
        return

for _ in range(3):
    create_child_and_say_hello()
""",
            measure=lambda run: run.stdout.count("hello"),
        ),
        "q2": number(
            "With the exec-or-`_exit` version, what exit status does the shell report for the "
            "job `no-such-program`?",
            127,
            what="an exit status",
            hints=("Shells have a convention for 'command not found'.",),
            wrong={0: "0 means success: that is what the saved-pid check wrongly reports."},
            explanation="127, the shells' status for 'command not found'; the child's stderr says why.",
        ),
        "q3": choice(
            "Why `_exit(127)` in the child rather than `exit(127)`?",
            {
                "a": "exit cannot take 127",
                "b": "exit runs the atexit handlers and flushes stdio buffers, which in the child "
                "are copies of the parent's: output twice, clean-ups run twice",
                "c": "_exit also reaps the child",
            },
            "b",
            why={"a": "Any status 0-255 works with both.", "c": "Only a parent reaps."},
            hints=("What does exit do before the process ends?",),
        ),
    }


def _nb04() -> dict[str, Question]:
    return {
        "q1": choice(
            "The child in the broken run reports `Threads: 1`, the parent 2. Which thread is the "
            "child's one thread?",
            {
                "a": "a copy of thread B, which held the lock",
                "b": "a copy of the thread that called fork (thread A)",
                "c": "a new thread the kernel starts",
            },
            "b",
            why={
                "a": "If B were copied, it would release the lock in the child.",
                "c": "fork starts no new thread; it copies one.",
            },
            hints=("POSIX fork duplicates only one thread. Which one calls fork?",),
        ),
        "q2": choice(
            "Fix 1 builds the child's `args` list *before* `fork`, in the parent. Why does that "
            "matter in C?",
            {
                "a": "building it in the child would call malloc there, which can wait forever for "
                "malloc's lock held by another thread at the fork",
                "b": "the child cannot see the parent's memory",
                "c": "it is faster",
            },
            "a",
            why={
                "b": "The child has a copy of all of it.",
                "c": "Speed is not the point: which call can hang in the child?",
            },
            hints=("Which library call that takes a lock would building a list need?",),
        ),
        "q3": choice(
            "Why is Fix 3 (at-fork handlers) not a general answer?",
            {
                "a": "they only protect the locks you register; locks inside libraries you call "
                "stay out of reach",
                "b": "they do not work in C",
                "c": "they run after exec",
            },
            "a",
            why={"b": "pthread_atfork is C.", "c": "They run around the fork, before any exec."},
            hints=("Whose locks do you know about?",),
        ),
    }


def _nb05() -> dict[str, Question]:
    def no_zombie(run: Any) -> str | None:
        kids = [c for c, p in _facts.tree(run).items() if p == "parent"]
        if len(kids) < 3:
            return f"The parent made {len(kids)} children; keep the three."
        zombies = [
            p.name for snap in run.snapshots for p in snap if p.state == "Z" and p.name != "parent"
        ]
        reapers = _facts.reapers(run)
        unwaited = [c for c in kids if reapers.get(c) != "parent"]
        if unwaited:
            return f"{unwaited[0]} was never waited for by the parent: init reaped it."
        del zombies  # a zombie for an instant before the wait returns is fine
        return None

    return {
        "q1": choice(
            "You see a zombie in `ps` and `kill -9` it. What happens?",
            {
                "a": "it is removed",
                "b": "nothing: it has already exited; only a wait by its parent (or the parent's "
                "exit, then init's wait) removes it",
                "c": "its parent is killed",
            },
            "b",
            why={
                "a": "A zombie runs no code a signal could stop.",
                "c": "Signals go to the pid you name.",
            },
            hints=("What is left of a zombie?",),
        ),
        "q2": choice(
            "Why does the SIGCHLD handler loop over `waitpid(-1, WNOHANG)` instead of calling "
            "`waitpid` once per signal?",
            {
                "a": "signals of one kind do not queue: two children can end for one SIGCHLD",
                "b": "waitpid fails the first time",
                "c": "to wait for grandchildren too",
            },
            "a",
            why={"b": "It does not.", "c": "waitpid never reaps grandchildren."},
            hints=("Two children exit while a SIGCHLD is pending: how many signals arrive?",),
        ),
        "q3": number(
            "A short script forks ten children, never waits, and exits a second later. How many "
            "zombies are left once it has exited?",
            0,
            what="the number of zombies",
            hints=("Who becomes the parent of a process whose parent exits?",),
            wrong={10: "Only for that second: when the parent exits, init adopts and reaps them."},
            explanation="None: the children are reparented to init, which reaps them at once.",
            program="""\
import os
for _ in range(10):
    if os.fork() == 0:
        os._exit(0)
""",
            measure=lambda run: sum(1 for who in _facts.reapers(run).values() if who != "init"),
        ),
        "q4": code(
            "Fix this so no zombie is left: the parent forks 3 children that each exit at once, "
            "then sleeps. Make the parent wait for every child (any way: waitpid, a SIGCHLD handler...).",
            no_zombie,
            solution="""\
import os, time
for _ in range(3):
    if os.fork() == 0:
        os._exit(0)
for _ in range(3):
    os.wait()
time.sleep(0.2)
""",
            starter="""\
import os, time
for _ in range(3):
    if os.fork() == 0:
        os._exit(0)
time.sleep(0.2)
""",
            hints=("os.wait() once per child, before the sleep.",),
        ),
    }


def _nb06() -> dict[str, Question]:
    return {
        "q1": choice(
            "In the by-hand version the parent calls `os.close(w)` right after the fork. What "
            "happens if it forgets?",
            {
                "a": "nothing",
                "b": "the parent's read never sees end of file (it holds a write end itself): it "
                "waits forever",
                "c": "the child cannot write",
            },
            "b",
            why={
                "a": "When does a pipe reach end of file?",
                "c": "The child has its own write end.",
            },
            hints=("A pipe reaches end of file only when every write end is closed.",),
        ),
        "q2": choice(
            "The child blocks `SIGUSR1` and execs. Later someone sends the new program `SIGUSR1`. "
            "What happens?",
            {
                "a": "the program terminates",
                "b": "nothing visible: the signal stays pending, because the blocked mask was inherited",
                "c": "exec failed",
            },
            "b",
            why={"a": "Is the signal delivered while blocked?", "c": "exec keeps the signal mask."},
            hints=("What survives exec: the program or the process's settings?",),
        ),
        "q3": choice(
            "Which `Command` settings play the part of `lpCurrentDirectory`, `lpEnvironment` and "
            "the standard handles of `lpStartupInfo`?",
            {
                "a": ".current_dir, .env/.env_remove/.env_clear, .stdin/.stdout/.stderr",
                "b": ".arg, .args, .spawn",
                "c": ".pre_exec only",
            },
            "a",
            why={
                "b": "Those are the command line and the start.",
                "c": "pre_exec is for the rest.",
            },
            hints=("One setting per parameter.",),
        ),
    }


def _nb07() -> dict[str, Question]:
    return {
        "q1": choice(
            "Why must the error pipe be close-on-exec?",
            {
                "a": "so that a successful exec closes the child's write end and the parent's read "
                "returns end of file at once",
                "b": "so the child can write to it after exec",
                "c": "to save a file descriptor",
            },
            "a",
            why={
                "b": "After a successful exec the new program knows nothing of the pipe.",
                "c": "It is about when the parent's read returns.",
            },
            hints=(
                "What would the parent's read wait for if the exec'd program kept the write end?",
            ),
        ),
        "q2": choice(
            "After writing errno into the error pipe, the child calls `_exit(127)`. Why not "
            "`return` or `throw`?",
            {
                "a": "the child is a copy of the caller: returning or throwing runs the caller's code twice",
                "b": "return is not allowed after fork",
                "c": "throw would kill the parent",
            },
            "a",
            why={"b": "It is allowed, and that is the trouble.", "c": "It runs in the child only."},
            hints=("Notebook 03.",),
        ),
        "q3": choice(
            "`output()` reads stdout and stderr at the same time. What could happen if it read all "
            "of stdout first, then stderr?",
            {
                "a": "a deadlock: the child blocks writing a full stderr pipe, the parent waits for "
                "stdout's end of file",
                "b": "the output comes out in another order, nothing worse",
                "c": "stderr is lost",
            },
            "a",
            why={
                "b": "A pipe holds about 64 KiB. Then what?",
                "c": "Nothing is lost; someone waits.",
            },
            hints=("A pipe holds about 64 KiB.",),
        ),
    }


def _nb08() -> dict[str, Question]:
    return {
        "q1": choice(
            "Why call `PTRACE_TRACEME` in the child before `exec`, rather than attach after "
            "`spawn()` returns?",
            {
                "a": "after spawn returns the program is already running: attaching races it; "
                "TRACEME makes the kernel stop it at the exec",
                "b": "attaching is not possible on Linux",
                "c": "TRACEME is faster",
            },
            "a",
            why={"b": "PTRACE_ATTACH exists.", "c": "It is about when the program is stopped."},
            hints=("Where is the new program when spawn() returns?",),
        ),
        "q2": choice(
            "At the exec stop, the Python program takes the stop with `os.waitpid(pid, 0)`. What "
            "would fork110's `child.wait()` (a `waitid` with `WEXITED`) have returned there, the "
            "parent being the child's tracer?",
            {
                "a": "the SIGTRAP stop (`stopped_signal()` 5, `code()` None), as Rust's does; but it "
                "cannot continue the child: the tracer must call `ptrace(PTRACE_CONT)` before any "
                "wait can return the exit",
                "b": "nothing until the child exits: `WEXITED` asks for ends only",
                "c": "echo's exit status 0",
            },
            "a",
            why={
                "b": "Linux reports a tracee's stops to its tracer whatever the wait's flags say.",
                "c": "At that stop echo has not run one instruction yet.",
            },
            hints=("What does the kernel tell a tracer, whatever it asks for?",),
        ),
        "q3": choice(
            "The stopped child's instruction pointer is in `ld-linux-x86-64.so.2`, not in `echo`. "
            "What runs between this stop and echo's `main`?",
            {
                "a": "the dynamic loader: it maps the shared libraries, resolves symbols, runs "
                "initializers, then jumps to echo's _start, which calls main",
                "b": "nothing: the ip is wrong",
                "c": "the shell",
            },
            "a",
            why={"b": "The ip is right.", "c": "No shell runs here."},
            hints=("echo is dynamically linked.",),
        ),
    }


def _nb09() -> dict[str, Question]:
    """The final set, over the whole lecture."""

    def orphan_made(run: Any) -> str | None:
        tree, reapers = _facts.tree(run), _facts.reapers(run)
        grand = [c for c, p in tree.items() if p != "parent"]
        if not grand:
            return "No grandchild: the parent's child must fork a child of its own."
        if not any(reapers.get(g) == "init" for g in grand):
            return f"{grand[0]} was reaped by {reapers.get(grand[0])}, not by init: its parent must exit without waiting."
        return None

    return {
        "q1": number(
            "How many lines does this print?\n\n"
            "    import os\n    for i in range(3):\n        os.fork()\n    print('x')",
            8,
            what="the number of lines",
            hints=("Each round, every process forks.",),
            wrong={3: "Every process runs the rest of the loop.", 4: "Three rounds of doubling."},
            program="import os\nfor i in range(3):\n    os.fork()\nprint('x', flush=True)\n",
            measure=_lines,
        ),
        "q2": code(
            "Write a program that leaves an orphan: the parent forks a child, the child forks a "
            "grandchild and exits at once without waiting; the grandchild sleeps 0.2 s so it "
            "outlives its parent, and is reaped by init (pid 1 of the run).",
            orphan_made,
            solution="""\
import os, time
if os.fork() == 0:
    if os.fork() == 0:
        time.sleep(0.2)
        os._exit(0)
    os._exit(0)
os.wait()
""",
            hints=(
                "Two nested `if os.fork() == 0:` blocks.",
                "The middle process must _exit without waiting.",
            ),
        ),
        "q3": choice(
            "Between fork and exec, which is safe in a child forked from a multi-threaded parent?",
            {
                "a": "dup2, chdir, setpgid, then exec or _exit",
                "b": "print with a logger, then exec",
                "c": "build the argument list with malloc, then exec",
            },
            "a",
            why={
                "b": "A logger takes a lock another thread may have held at the fork.",
                "c": "malloc takes a lock another thread may have held at the fork.",
            },
            hints=("Only calls that take no user-space lock.",),
        ),
    }


_BUILD = {1: _nb01, 2: _nb02, 3: _nb03, 4: _nb04, 5: _nb05, 6: _nb06, 7: _nb07, 8: _nb08, 9: _nb09}

PREDICTIONS: dict[int, dict[str, dict[str, str]]] = {
    1: {
        "runaway.run()": {
            "peak": "the most processes at once (the budget stops it)",
            "refused": "forks the budget refused (0 if it never filled)",
            "timed_out": "did the watchdog have to end it?",
        },
        "runaway.run(fixed=True)": {"children": "children made", "reaped": "children waited for"},
    },
    2: {
        "nested_forks.run()": {
            "processes": "processes in all",
            "proc1": "times do_stuff_proc1 runs",
            "proc2": "times do_stuff_proc2 runs",
            "orphans": "processes whose parent ended first",
        },
        "nested_forks.run(fixed=True)": {"processes": "", "proc1": "", "orphans": ""},
    },
    3: {
        "say_hello.run()": {"hello": "hellos printed", "continued": "processes that go on in main"},
        "exceptions.run()": {"shells": "processes reading commands as a shell"},
    },
    4: {
        "threads_lock.run()": {
            "deadlock": "does the child hang?",
            "child_threads": "threads in the child",
            "parent_threads": "threads in the parent",
        },
    },
    5: {
        "zombies.run()": {
            "zombies_asleep": "zombies while the parent sleeps",
            "gone": "reaped at the end",
        },
        'zombies.run("full-table")': {"refused": "forks refused once the table is full of zombies"},
    },
    6: {"fork_exec.run()": {"parent_unchanged": "is the parent's state untouched?"}},
    7: {
        "subprocess_demo.run()": {
            "processes": "processes in all",
            "exit_code": "the parent's exit code",
        }
    },
    8: {
        "ptrace.run()": {
            "stopped": "is the child stopped at exec?",
            "exit_code": "echo's exit code",
        }
    },
}
"""For each notebook, each live run and the ``predict(...)`` fields that suit it (each is a fact
of that run: ``run_facts(result)``)."""


def notebook(number: int) -> dict[str, Question]:
    """The exercises of notebook ``number`` (1-9): ``{"q1": Question, ...}``.

    >>> sorted(notebook(1))
    ['q1', 'q2', 'q3', 'q4']
    """
    if isinstance(number, bool) or not isinstance(number, int) or number not in _BUILD:
        raise ValueError(f"notebook must be a number from 1 to 9, not {number!r}")
    return _BUILD[number]()
