"""Demo 4 · an exception thrown in the child, caught by the parent's loop: a second shell.

``createChild`` forks, and in the child throws when ``execvp`` fails. Nothing in the child catches
the exception until it reaches the child's copy of the shell's main loop, whose catch block prints
the error and carries on reading commands: the child has become a second shell, reading the same
input as the first. Two fixes: the 2021 stsh starter's saved-pid check (``if (getpid() !=
stshpid) exit(0);``) in the catch block, and exec-or-``_exit``: never throw in the child.

Every variant reads the same two lines on its stdin (``Variant.stdin``): a command that does not
exist, then ``echo hello``.

>>> r = run()
>>> r.facts["shells"], r.facts["read_by_others"]
(2, ['echo hello'])
>>> run(fixed="fixed-exit").facts["jobs"]
[('parent', 'child-1', '127'), ('parent', 'child-2', '0')]
"""

from __future__ import annotations

import re
from typing import Any

from fork110._proc import child_name
from fork110.sandbox import ContainedRun

from ._base import Demo, DemoResult, Facts, Variant
from ._c import C_SOURCES

__all__ = [
    "DEMO",
    "INPUT",
    "PYTHON",
    "PYTHON_FIXED",
    "PYTHON_FIXED_EXIT",
    "PYTHON_FIXED_PID",
    "SLIDE",
    "SLIDE_STSH",
    "run",
]

SLIDE = C_SOURCES["exceptions"].slide
"""The ``createChild`` snippet as on the slide."""

SLIDE_STSH = C_SOURCES["exceptions_fixed_pid"].slide
"""The aside from the 2021 assignment 4 starter code: the saved-pid check."""

INPUT = "no-such-program\necho hello\n"
"""What every variant reads on its stdin: a command that cannot be run, then one that can."""

_HEAD = """\
import os, sys

class ShellError(Exception):        # added: stands in for stsh's STSHException
    pass
"""

_CREATE_CHILD = """
def create_child(argv, read_fd, write_fd):
    try:
        pid = os.fork()
    except OSError:                 # C's fork() returns -1; Python raises
        raise ShellError("Call to fork process failed.") from None
    if pid == 0:  # In child
        try:
            os.dup2(read_fd, 0)
        except OSError:
            raise ShellError("Call to dup2 failed") from None
        try:
            os.dup2(write_fd, 1)
        except OSError:
            raise ShellError("Call to dup2 failed") from None
        try:
            os.execvp(argv[0], argv)
        except OSError:             # C's execvp returns -1; Python raises
            pass
        # If the child process gets here, it's because execvp failed
        raise ShellError("Call to execvp failed.")
    return pid
"""

_CREATE_CHILD_EXIT = """
def child_failed(program, call, error):  # fixed: report on stderr and _exit; never raise in the child
    os.write(2, f"stsh child {os.getpid()}: {call} {program}: {error.strerror}\\n".encode())
    os._exit(127)                   # no unwinding, no atexit handlers, no flushing copied buffers

def create_child(argv, read_fd, write_fd):
    try:
        pid = os.fork()
    except OSError:                 # C's fork() returns -1; Python raises
        raise ShellError("Call to fork process failed.") from None
    if pid == 0:  # In child
        try:
            os.dup2(read_fd, 0)
        except OSError as e:
            child_failed(argv[0], "dup2", e)     # fixed: no raise in the child
        try:
            os.dup2(write_fd, 1)
        except OSError as e:
            child_failed(argv[0], "dup2", e)     # fixed
        try:
            os.execvp(argv[0], argv)
        except OSError as e:
            # If the child process gets here, it's because execvp failed
            child_failed(argv[0], "execvp", e)   # fixed: report and _exit(127)
    return pid
"""

_SHELL = """
# added: a small shell in the style of the 2021 stsh starter, around create_child
def read_line():                    # added: one line from fd 0 a byte at a time, as shells read a pipe:
    line = b""                      # no buffer for fork to copy, so two shells really share the input
    while (c := os.read(0, 1)) and c != b"\\n":
        line += c
    return line.decode() if c or line else None   # None at end of input

def main():
    STSHPID
    while True:
        print(f"stsh[{os.getpid()}]> ", end="", flush=True)
        line = read_line()
        if line is None:
            break
        print(line)
        args = line.split()
        if not args:
            continue
        try:
            pid = create_child(args, 0, 1)
            _, status = os.waitpid(pid, 0)
            if os.WIFEXITED(status):
                print(f"stsh[{os.getpid()}]: job {pid} exited with status {os.WEXITSTATUS(status)}")
            else:
                print(f"stsh[{os.getpid()}]: job {pid} ended by signal {os.WTERMSIG(status)}")
        except ShellError as e:
            print(f"stsh[{os.getpid()}] caught: {e}", file=sys.stderr)
            CHECK
    print(f"(end of input: stsh[{os.getpid()}] exits)")

main()
"""


def _shell(saved_pid: bool) -> str:
    lines = []
    for line in _SHELL.splitlines(keepends=True):
        if line.strip() == "STSHPID":
            if saved_pid:
                lines.append(
                    "    stshpid = os.getpid()           # fixed: the original shell's pid\n"
                )
        elif line.strip() == "CHECK":
            if saved_pid:
                lines.append(
                    "            if os.getpid() != stshpid:  # fixed: the check, as on the slide\n"
                    "                sys.exit(0)             # exit(0): a child that threw ends here\n"
                )
        else:
            lines.append(line)
    return "".join(lines)


PYTHON = _HEAD + _CREATE_CHILD + _shell(saved_pid=False)
"""The slide's ``createChild`` in Python, in a small shell loop (the added lines say so)."""

PYTHON_FIXED_PID = _HEAD + _CREATE_CHILD + _shell(saved_pid=True)
"""The starter code's fix: the catch block exits when it runs in a process that is not the shell."""

PYTHON_FIXED_EXIT = _HEAD + _CREATE_CHILD_EXIT + _shell(saved_pid=False)
"""The fix exec-or-``_exit``: the child reports a failure and ``_exit(127)``\\ s; it never raises."""

PYTHON_FIXED = {"fixed-pid": PYTHON_FIXED_PID, "fixed-exit": PYTHON_FIXED_EXIT}
"""Both fixes, by variant."""

_PROMPT = re.compile(r"^stsh\[(\d+)\]> (.*)$", re.M)
_END = re.compile(r"^\(end of input: stsh\[(\d+)\] exits\)$")
_JOB = re.compile(r"^stsh\[(\d+)\]: job (\d+) (exited with status|ended by signal) (\d+)$", re.M)
_CAUGHT = re.compile(r"^stsh\[(\d+)\] caught: (.*)$", re.M)
_CHILD_FAILED = re.compile(r"^stsh child (\d+): (\w+) (\S+): (.*)$", re.M)


def _names(run: ContainedRun, first: int | None, jobs: list[tuple[int, int]]) -> dict[int, str]:
    """pid -> name. A job is its shell's child, so the shells' job lines give the tree, named as
    the run names processes (``parent``, its children ``child-1``, ``child-2`` in order of pid,
    theirs ``child-1.1``): the same names for C, whose short-lived processes the tree walk can miss,
    as for Python. Processes in no job line keep the name the run gave them."""
    names: dict[int, str] = {}
    for e in run.events:
        if e.other_pid is not None and e.other:
            names[e.other_pid] = e.other
    kids: dict[int, list[int]] = {}
    for shell, job in jobs:
        kids.setdefault(shell, []).append(job)

    def visit(pid: int, name: str, depth: int) -> None:
        names[pid] = name
        for i, kid in enumerate(sorted(set(kids.get(pid, ()))), 1):
            if depth < 50:
                visit(kid, child_name(name, i, root=depth == 0), depth + 1)

    if first is not None:
        visit(first, "parent", 0)
    return names


def _commands(
    reads: list[tuple[int, str]], jobs: list[tuple[int, int, str, str]]
) -> dict[int, str]:
    """job pid -> the command line its shell had read last before the job's own output began
    (the jobs of one shell in pid order match the lines it read that made a job)."""
    per_shell: dict[int, list[str]] = {}
    for pid, line in reads:
        if line.split():
            per_shell.setdefault(pid, []).append(line)
    kids: dict[int, list[int]] = {}
    for shell, job, _, _ in jobs:
        kids.setdefault(shell, []).append(job)
    out: dict[int, str] = {}
    for shell, js in kids.items():
        for job, line in zip(sorted(set(js)), per_shell.get(shell, [])):
            out[job] = line
    return out


def observe(run: ContainedRun, variant: Variant) -> Facts:
    """Facts from one run: who acted as a shell, what each read, what was caught, how jobs ended.

    Shells are told apart by the pid in their prompt ``stsh[pid]>``, and named from the job lines
    (see :func:`_names`), so the facts are the same for the Python and the C++ program.
    """
    shells: list[int] = []
    reads: list[tuple[int, str]] = []
    ends: list[int] = []
    for m in _PROMPT.finditer(run.stdout):
        pid, rest = int(m[1]), m[2]
        if pid not in shells:
            shells.append(pid)
        end = _END.match(rest)
        if end:
            ends.append(pid)
        else:
            reads.append((pid, rest))
    jobs = [(int(m[1]), int(m[2]), m[3], m[4]) for m in _JOB.finditer(run.stdout)]
    first = shells[0] if shells else None
    names = _names(run, first, [(s, j) for s, j, _, _ in jobs])

    def name(pid: int) -> str:
        return names.get(pid, "a process")

    known = {f"stsh[{p}]> " for p in shells}
    output = [
        line
        for line in run.stdout.splitlines()
        if not any(line.startswith(k) for k in known) and not _JOB.match(line)
    ]
    caught = [(name(int(m[1])), m[2]) for m in _CAUGHT.finditer(run.stderr)]
    return {
        "shells": len(shells),
        "shell_names": [name(p) for p in shells],
        "shell_pids": shells,
        "read": [(name(p), line) for p, line in reads],
        "read_by_first": [line for p, line in reads if p == first],
        "read_by_others": [line for p, line in reads if p != first],
        "ran_for": {name(j): cmd for j, cmd in _commands(reads, jobs).items()},
        "ended": [name(p) for p in ends],
        "caught": caught,
        "child_failed": [
            (name(int(m[1])), m[2], m[3], m[4]) for m in _CHILD_FAILED.finditer(run.stderr)
        ],
        "jobs": [
            (name(s), name(j), st if how.startswith("exited") else f"signal {st}")
            for s, j, how, st in jobs
        ],
        "output": output,
        "status": run.status.code(),
        "timed_out": run.timed_out,
        "timeout": run.timeout,
        "budget": run.max_processes,
        "refused": run.refusals,
        "left": run.leaked,
    }


def _q(text: str) -> str:
    return f"'{text}'"


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "es" if word.endswith("s") else "s")


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _job_of(facts: Facts, child: str) -> tuple[str, str] | None:
    """(the shell whose job *child* was, the status it saw), if a job line said so."""
    for shell, job, status in facts["jobs"]:
        if job == child:
            return shell, status
    return None


def _forked(facts: Facts, children: list[str]) -> str:
    """'parent forked child-1 to run 'x'', one clause per child."""
    out = []
    for child in children:
        job = _job_of(facts, child)
        command = facts["ran_for"].get(child)
        what = f" to run {_q(command)}" if command else ""
        out.append(f"{job[0] if job else 'a shell'} forked {child}{what}")
    return _and(out)


def _reads(facts: Facts) -> str:
    per: dict[str, list[str]] = {}
    for shell, line in facts["read"]:
        per.setdefault(shell, []).append(_q(line))
    return "; ".join(f"{s} read {_and(lines)}" for s, lines in per.items())


def _statuses(facts: Facts, children: list[str]) -> str:
    seen = [(job, child) for child in children if (job := _job_of(facts, child))]
    if not seen:
        return ""
    shells = _and(list(dict.fromkeys(j[0] for j, _ in seen)))
    return f", and {shells} saw " + _and(
        [f"its job {child} exit with status {j[1]}" for j, child in seen]
    )


def explain(facts: Facts, variant: Variant) -> str:
    """What the facts of a run say, in plain words."""
    tail = (
        [f"The watchdog ended the run after {facts['timeout']:g} s."] if facts["timed_out"] else []
    )
    if not facts["shells"]:
        return " ".join(["No shell prompt was printed: the shell never read its input.", *tail])
    first = facts["shell_names"][0]
    fork_failed = [who for who, msg in facts["caught"] if msg.startswith("Call to fork")]
    thrown = [who for who, msg in facts["caught"] if "execvp" in msg]
    message = next((msg for _, msg in facts["caught"] if "execvp" in msg), "")
    parts: list[str] = []
    if fork_failed:
        parts.append(
            f"fork itself failed {_count(len(fork_failed), 'time')} (the run's budget is "
            f"{_count(facts['budget'], 'process')}), so the exception was thrown and caught in the "
            f"shell ({_and(list(dict.fromkeys(fork_failed)))}) that called createChild: there was "
            "no child to run the shell's loop, which is harmless."
        )
    if facts["shells"] > 1:
        others = facts["shell_names"][1:]
        children = thrown or others
        parts.append(
            f"{_forked(facts, children)}; execvp failed "
            + ("there" if len(children) == 1 else "in each")
            + f" and the child threw {_q(message) if message else 'an exception'}. Nothing in the "
            "child caught it until it reached the child's copy of the shell's loop: that catch block "
            "printed the error and went on reading commands."
        )
        parts.append(
            f"So {_and(others)} became "
            + ("a second shell" if len(others) == 1 else "shells too")
            + f": {facts['shells']} shells took turns reading the same input and ran what they read "
            f"({_reads(facts)})."
        )
        job = _job_of(facts, children[0])
        if job is not None:
            parts.append(
                f"Meanwhile the first shell ({job[0]}) was waiting for its job {children[0]}, which "
                f"ended only when the input ran out, with exit status {job[1]}, as if the command had "
                "worked."
            )
        parts.append("Every further command that failed to run would have added another shell.")
        return " ".join(parts + tail)
    failed = [c for c, _, _, _ in facts["child_failed"]]
    if thrown and variant.key == "fixed-pid":
        one = len(thrown) == 1
        parts.append(
            f"execvp failed in {_and(thrown)} and "
            + ("the child" if one else "each child")
            + f" threw {_q(message)}; the exception reached the child's copy of the loop as before, "
            "but the catch block now compares getpid() with the pid the shell saved at start. They "
            "differ in a child, so after printing the error it called exit(0)"
            + _statuses(facts, thrown)
            + "."
        )
        if any((j := _job_of(facts, c)) and j[1] == "0" for c in thrown):
            parts.append(
                "Note the status 0: the shell cannot tell the command failed; and exit() ran the "
                "clean-up of a copy of the shell (atexit handlers, stdio buffers) in the child."
            )
    elif failed:
        calls = _and(
            list(
                dict.fromkeys(
                    f"{call} {prog} ({why})" for _, call, prog, why in facts["child_failed"]
                )
            )
        )
        parts.append(
            f"{calls} failed in {_and(failed)}; nothing was thrown: the child said so on stderr and "
            "called _exit(127), so nothing could unwind into the shell's loop"
            + _statuses(facts, failed)
            + " (127: command not found, as shells report it)."
        )
    elif thrown:
        parts.append(f"{_and(thrown)} caught {_q(message)}.")
    elif not fork_failed:
        parts.append(
            "No exec failed in this run, so no exception was thrown in a child and no child ever "
            "reached the shell's loop."
        )
    lines = ", ".join(_q(line) for line in facts["read_by_first"]) or "nothing"
    parts.append(
        f"There was only one shell ({first}): it read every line of input itself ({lines})"
        + (" and reached the end of input." if first in facts["ended"] else ".")
    )
    return " ".join(parts + tail)


def _variant(key: str, title: str, python: str, c: str) -> Variant:
    return Variant(key, title, python, c=c, stdin=INPUT)


DEMO = Demo(
    name="exceptions",
    title="An exception thrown in the child, caught by the parent's loop",
    slide=SLIDE,
    variants={
        "broken": _variant("broken", "as on the slide: throw in the child", PYTHON, "exceptions"),
        "fixed-pid": _variant(
            "fixed-pid",
            "the starter code's check: if (getpid() != stshpid) exit(0);",
            PYTHON_FIXED_PID,
            "exceptions_fixed_pid",
        ),
        "fixed-exit": _variant(
            "fixed-exit",
            "exec or _exit: never throw in the child",
            PYTHON_FIXED_EXIT,
            "exceptions_fixed_exit",
        ),
    },
    observe=observe,
    explain=explain,
    limits={"max_processes": 8, "timeout": 5.0},
    lesson="Between fork and exec, the child must not return or throw into the parent's code: "
    "exec, or _exit.",
)


def run(fixed: bool | str = False, **limits: Any) -> DemoResult:
    """Run the demo contained: ``fixed="fixed-pid"`` or ``"fixed-exit"`` (True is the first),
    ``language="c"`` for the C++ program; ``stdin=`` replaces the input.

    >>> print(run(fixed="fixed-exit").explanation)  # doctest: +ELLIPSIS
    execvp no-such-program (No such file or directory) failed in child-1; nothing was thrown: ...
    """
    return DEMO.run(fixed, **limits)
