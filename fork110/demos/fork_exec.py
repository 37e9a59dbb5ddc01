"""Demo 7 · why fork and exec are separate calls: the child sets itself up in between.

The slide asks: rewire file descriptors? change environment variables? block signals? pin a process to
a CPU core? With fork and exec apart, the child does each of these to *itself*, with ordinary system
calls, after fork and before exec; exec then replaces the program but keeps the process's fd table
(minus close-on-exec fds), the environment it is given, its blocked-signal mask and its CPU affinity.
The exec'd program reads all four from /proc and reports them; the parent's own stay untouched.
Windows has one call, ``CreateProcessW``, that must take every such choice as a parameter
(:data:`CREATE_PROCESS_W`, :func:`create_process_table`).

There is nothing broken here: the two variants are the same four changes done **by hand** (fork,
change, exec) and with :class:`fork110.Command` (``.stdout(Stdio.piped())``, ``.env(...)`` and a
``pre_exec`` hook that blocks the signal and pins the CPU).

>>> r = run()
>>> r.facts["changes"]
{'fd': True, 'env': True, 'signal': True, 'cpu': True}
>>> r.facts["child"]["env"], r.facts["child"]["blocked"], r.facts["parent_unchanged"]
('set-between-fork-and-exec', ['SIGUSR1'], True)
>>> run("command").facts["changes"] == r.facts["changes"]
True
"""

from __future__ import annotations

import os
import re
import signal
import sys
import textwrap
from typing import Any

from fork110.sandbox import ContainedRun

from ._base import Demo, DemoResult, Facts, Variant
from ._c import C_SOURCES
from ._words import count

__all__ = [
    "CREATE_PROCESS_W",
    "DEMO",
    "EXPECTED_ENV",
    "NOT_A_PARAMETER",
    "PYTHON",
    "PYTHON_COMMAND",
    "PYTHON_FIXED",
    "SLIDE",
    "create_process_table",
    "posix_spawn_report",
    "run",
]

SLIDE = C_SOURCES["fork_exec"].slide
"""The slide's text: it lists the four customizations (there is no code on it)."""

EXPECTED_ENV = "set-between-fork-and-exec"
"""The value the child gives ``FORK110_DEMO`` between fork and exec."""

_REPORT_AND_SHOW = '''\
# The program the child execs: a fresh Python that reports what it inherited, from /proc.
REPORT = """
import os
who = f"exec'd program (pid {os.getpid()})"
print(f"{who}: fd 1 -> {os.readlink('/proc/self/fd/1')}")
print(f"{who}: FORK110_DEMO={os.environ.get('FORK110_DEMO', '')}")
for line in open("/proc/self/status"):
    if line.startswith(("SigBlk:", "Cpus_allowed_list:")):
        print(f"{who}: {line}", end="")
"""

def show_self(who):                 # the same four facts, for this process
    print(f"{who}: fd 1 -> {os.readlink('/proc/self/fd/1')}")
    print(f"{who}: FORK110_DEMO={os.environ.get('FORK110_DEMO', '')}")
    for line in open("/proc/self/status"):
        if line.startswith(("SigBlk:", "Cpus_allowed_list:")):
            print(f"{who}: {line}", end="")

show_self("parent")
'''

PYTHON = (
    "import os, signal, sys\n\n"
    + _REPORT_AND_SHOW
    + """\
r, w = os.pipe()                    # close-on-exec (Python's default), so exec closes both ends
cpu = min(os.sched_getaffinity(0))  # CPU 0, or the first CPU this process may use
try:
    pid = os.fork()
except OSError as e:                # C's fork() returns -1; fork_exec.c does perror("fork")
    print(f"fork: {e.strerror}", file=sys.stderr)
    sys.exit(1)
if pid == 0:
    # 1. rewire a file descriptor: stdout goes into the pipe (dup2's copy is inheritable)
    os.dup2(w, 1)
    # 2. change the environment (os.environ calls setenv: exec passes it on)
    os.environ["FORK110_DEMO"] = "set-between-fork-and-exec"
    # 3. block a signal (the blocked mask survives exec)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    # 4. pin to one CPU
    os.sched_setaffinity(0, {cpu})
    try:
        os.execv(sys.executable, [sys.executable, "-c", REPORT])
    except OSError as e:
        print(f"execv {sys.executable}: {e.strerror}", file=sys.stderr)
    os._exit(127)
os.close(w)
print(f"parent: forked child {pid}; it changes four things, then execs a program")
with open(r) as pipe:
    for line in pipe:
        print(f"parent read from the pipe: {line}", end="")
_, status = os.waitpid(pid, 0)
print(f"parent: child {pid} exited with status {os.waitstatus_to_exitcode(status)}")
show_self("parent, after")
"""
)
"""By hand: fork; in the child dup2, setenv, block SIGUSR1, pin the CPU; exec a reporting program
(``fork_exec.c`` line for line, with ``python -c REPORT`` as the exec'd program)."""

PYTHON_COMMAND = (
    "import os, signal, sys\n"
    "from fork110 import Command, Stdio\n\n"
    + _REPORT_AND_SHOW
    + """\
cpu = min(os.sched_getaffinity(0))  # CPU 0, or the first CPU this process may use

# Python in a pre_exec hook allocates (objects, the set literal): fine here, where this parent has
# one thread; with threads it could hang on a lock copied while held (notebook 04), which is why
# Command warns (ThreadedForkWarning) when a multi-threaded parent uses pre_exec.
def block_and_pin():                # runs in the child, after fork, before exec
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})  # 3. block a signal
    os.sched_setaffinity(0, {cpu})                                # 4. pin to one CPU

cmd = (
    Command(sys.executable).args(["-c", REPORT])
    .stdout(Stdio.piped())                                  # 1. rewire stdout to a pipe
    .env("FORK110_DEMO", "set-between-fork-and-exec")       # 2. change the environment
    .pre_exec(block_and_pin)                                # 3. and 4.
)
try:
    child = cmd.spawn()
except OSError as e:
    print(f"spawn: {e.strerror}", file=sys.stderr)
    sys.exit(1)
print(f"parent: spawned child {child.id()} with Command; it makes the same four changes, then execs")
for line in child.stdout:
    print(f"parent read from the pipe: {line.decode()}", end="")
status = child.wait()
print(f"parent: child {child.id()} exited with status {status.code()}")
show_self("parent, after")
"""
)
"""The same four changes with :class:`fork110.Command`: the builder does the pipe and the environment,
a ``pre_exec`` hook the signal mask and the CPU affinity."""

PYTHON_FIXED = PYTHON_COMMAND
"""Nothing is broken in this demo; the "other" variant is :data:`PYTHON_COMMAND`."""

#: CreateProcessW's ten parameters (the slide's Windows side): what each says, and where the same
#: choice is made on Unix (mostly: a call in the child between fork and exec, or a Command setter).
CREATE_PROCESS_W: list[tuple[str, str, str]] = [
    (
        "lpApplicationName",
        "the program file to run",
        "the path given to execve (Command(program))",
    ),
    (
        "lpCommandLine",
        "the whole command line, one string the new program splits itself",
        "execve's argv array, already split (Command.args)",
    ),
    (
        "lpProcessAttributes",
        "security descriptor of the new process's handle, and whether that handle is inheritable",
        "no security descriptor: who may signal or trace a process follows its uids "
        "(Command.uid/gid); a handle exists all the same: a pidfd (pidfd_open, clone's "
        "CLONE_PIDFD), which fork110's Child waits on",
    ),
    (
        "lpThreadAttributes",
        "the same for the handle of its first thread",
        "none: the child starts with one thread, the one that forked",
    ),
    (
        "bInheritHandles",
        "whether the child inherits the caller's inheritable handles",
        "every fd survives fork and exec unless close-on-exec; close or dup2 in the child",
    ),
    (
        "dwCreationFlags",
        "flags: new console or process group, suspended, debugged, priority class, ...",
        "setpgid/setsid, nice, ptrace(PTRACE_TRACEME) in the child (process_group, pre_exec); "
        "CREATE_SUSPENDED, then ResumeThread, gives Windows a gap of its own between the two steps, "
        "configured from the parent through the handles",
    ),
    (
        "lpEnvironment",
        "the new process's environment block (NULL: a copy of the caller's)",
        "execve's envp, or setenv in the child (Command.env/env_remove/env_clear)",
    ),
    (
        "lpCurrentDirectory",
        "the new process's working directory",
        "chdir in the child (Command.current_dir)",
    ),
    (
        "lpStartupInfo",
        "STARTUPINFO: window, std input/output/error handles; STARTUPINFOEX adds an attribute "
        "list (which handles to inherit, processor group affinity, ...)",
        "dup2 onto fds 0-2 (Command.stdin/stdout/stderr); sched_setaffinity in the child "
        "(pre_exec)",
    ),
    (
        "lpProcessInformation",
        "out: handles and ids of the new process and of its first thread",
        "fork's return value, the child's pid (Child.id())",
    ),
]


NOT_A_PARAMETER = (
    "Not a parameter at all: the blocked-signal mask (Windows has no Unix signals); on Unix, "
    "sigprocmask in the child (pre_exec), and the exec'd program starts with it. And a user: "
    "CreateProcessAsUserW (the slide's second signature) takes one more parameter, hToken, the "
    "user to run as; on Unix, setgid/setuid in the child (Command.uid/gid)."
)
"""What the table leaves out: the third of the slide's four customizations."""


_SPAWN_REPORT = (
    "import os; "
    "print(os.readlink('/proc/self/fd/1').split(':')[0]); "
    "print(os.environ.get('FORK110_DEMO', '')); "
    "print(open('/proc/self/status').read().split('SigBlk:')[1].split()[0])"
)


def posix_spawn_report() -> dict[str, object]:
    """Unix's one-call way: ``os.posix_spawn`` makes three of the slide's changes *as arguments*
    (a dup2 of a pipe onto fd 1 as a file action, an environment, a blocked signal as an attribute)
    and starts a fresh Python that reports what it got. No Python code runs in the child, so this
    is safe even from a multi-threaded process such as a notebook kernel.

    >>> posix_spawn_report()
    {'fd 1': 'pipe', 'FORK110_DEMO': 'set-by-posix_spawn', 'blocked': ['SIGUSR1'], 'exit status': 0}
    """
    r, w = os.pipe()
    try:
        pid = os.posix_spawn(
            sys.executable,
            [sys.executable, "-I", "-S", "-c", _SPAWN_REPORT],
            {**os.environ, "FORK110_DEMO": "set-by-posix_spawn"},
            file_actions=[(os.POSIX_SPAWN_DUP2, w, 1), (os.POSIX_SPAWN_CLOSE, r)],
            setsigmask={signal.SIGUSR1},
        )
    finally:
        os.close(w)
    with os.fdopen(r, "rb") as f:
        lines = f.read().decode().splitlines()
    _, status = os.waitpid(pid, 0)
    fd1, env, mask = [*lines, "", "", "0"][:3]
    return {
        "fd 1": fd1,
        "FORK110_DEMO": env,
        "blocked": blocked_signals(int(mask, 16)),
        "exit status": os.waitstatus_to_exitcode(status),
    }


def create_process_table(width: int = 100) -> str:
    """:data:`CREATE_PROCESS_W` as a text table: parameter, what it says, the Unix counterpart.

    >>> table = create_process_table()
    >>> print(table.splitlines()[0])
    BOOL CreateProcessW(...): 10 parameters
    >>> "bInheritHandles" in table and "dup2" in table, max(map(len, table.splitlines())) <= 100
    (True, True)
    """
    col = max(len(p) for p, _, _ in CREATE_PROCESS_W) + 2
    pad = " " * col
    lines = [f"BOOL CreateProcessW(...): {len(CREATE_PROCESS_W)} parameters", ""]
    for param, meaning, unix in CREATE_PROCESS_W:
        lines += textwrap.wrap(
            meaning, width, initial_indent=param.ljust(col), subsequent_indent=pad
        )
        lines += textwrap.wrap(
            unix, width, initial_indent=pad + "unix: ", subsequent_indent=pad + "      "
        )
    lines += ["", *textwrap.wrap(NOT_A_PARAMETER, width)]
    return "\n".join(lines)


# -- observing ---------------------------------------------------------------------------------------

_FACT = re.compile(
    r"^(?P<via>parent read from the pipe: )?"
    r"(?P<who>parent, after|parent|exec'd program \(pid (?P<pid>\d+)\)): "
    r"(?:fd 1 -> (?P<fd>.*)|FORK110_DEMO=(?P<env>.*)"
    r"|SigBlk:\s*(?P<sigblk>[0-9a-fA-F]+)|Cpus_allowed_list:\s*(?P<cpus>\S*))$",
    re.M,
)
_STARTED = re.compile(r"^parent: (?:forked|spawned) child (\d+)", re.M)
_EXITED = re.compile(r"^parent: child (\d+) exited with status (-?\d+)", re.M)
_FAILED = re.compile(r"^(fork|spawn|execv \S+): (.+)$", re.M)


def blocked_signals(mask: int) -> list[str]:
    """The names of the signals set in a ``SigBlk`` mask (bit n-1 is signal n).

    >>> blocked_signals(0x200), blocked_signals(0)
    (['SIGUSR1'], [])
    """
    names = []
    for n in range(1, 65):
        if mask >> (n - 1) & 1:
            try:
                names.append(signal.Signals(n).name)
            except ValueError:
                names.append(f"signal {n}")
    return names


def cpu_list(text: str) -> set[int]:
    """The CPUs in a ``Cpus_allowed_list`` ("0-1,4").

    >>> sorted(cpu_list("0-2,5")), cpu_list("")
    ([0, 1, 2, 5], set())
    """
    cpus: set[int] = set()
    for part in filter(None, text.split(",")):
        lo, _, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


def _who(m: re.Match[str]) -> str:
    return "child" if m["pid"] else ("after" if m["who"] == "parent, after" else "parent")


def observe(run: ContainedRun, variant: Variant) -> Facts:
    """Facts from one run: the four settings as the parent, the exec'd program and the parent
    afterwards saw them in /proc, and whether each of the four changes reached the exec'd program.

    >>> from fork110 import ExitStatus
    >>> from fork110.sandbox import ContainedRun
    >>> out = "parent: FORK110_DEMO=\\nparent read from the pipe: exec'd program (pid 7): FORK110_DEMO=x\\n"
    >>> f = observe(ContainedRun((), out, "", ExitStatus(0)), DEMO.variant(False))
    >>> f["parent"], f["child"], f["child_pid"], f["changes"]["env"]
    ({'env': ''}, {'env': 'x'}, 7, False)
    """
    seen: dict[str, dict[str, Any]] = {"parent": {}, "child": {}, "after": {}}
    through_pipe = 0
    child_pid: int | None = None
    for m in _FACT.finditer(run.stdout):
        facts = seen[_who(m)]
        if m["pid"]:
            child_pid = int(m["pid"])
            through_pipe += bool(m["via"])
        if m["fd"] is not None:
            facts["fd"] = m["fd"]
        elif m["env"] is not None:
            facts["env"] = m["env"]
        elif m["sigblk"] is not None:
            facts["sigblk"] = m["sigblk"]
            facts["blocked"] = blocked_signals(int(m["sigblk"], 16))
        elif m["cpus"] is not None:
            facts["cpus"] = m["cpus"]
    parent, child = seen["parent"], seen["child"]
    started = _STARTED.search(run.stdout)
    exited = _EXITED.search(run.stdout)
    failed = _FAILED.search(run.stderr)
    changes = {
        "fd": "fd" in child and child["fd"] != parent.get("fd") and through_pipe > 0,
        "env": child.get("env") == EXPECTED_ENV != parent.get("env"),
        "signal": "SIGUSR1" in child.get("blocked", [])
        and "SIGUSR1" not in parent.get("blocked", []),
        "cpu": len(cpu_list(child.get("cpus", ""))) == 1
        and cpu_list(child.get("cpus", "")) != cpu_list(parent.get("cpus", "")),
    }
    return {
        "parent": parent,
        "child": child,
        "after": seen["after"],
        "parent_unchanged": bool(parent) and seen["after"] == parent,
        "child_pid": child_pid,
        "started_pid": int(started[1]) if started else None,
        "same_pid": child_pid is not None and started is not None and child_pid == int(started[1]),
        "through_pipe": through_pipe,
        "changes": changes,
        "child_status": int(exited[2]) if exited else None,
        "failed": (failed[1], failed[2]) if failed else None,
        "refused": run.refusals,
        "budget": run.max_processes,
        "timed_out": run.timed_out,
        "timeout": run.timeout,
        "left": run.leaked,
    }


# -- explaining --------------------------------------------------------------------------------------


def _blocked(names: list[str]) -> str:
    return ", ".join(names) if names else "nothing"


def _change_sentences(facts: Facts) -> list[str]:
    p, c, ch = facts["parent"], facts["child"], facts["changes"]
    out = []
    if ch["fd"]:
        out.append(
            f"(1) its fd 1 was {c['fd']}, not the parent's {p.get('fd', '?')}: the pipe, so its "
            f"{facts['through_pipe']} report lines reached the parent through it"
        )
    else:
        out.append(
            f"(1) its fd 1 was {c.get('fd', 'not reported')} (the parent's {p.get('fd', '?')}): "
            "the rewiring did not show"
        )
    if ch["env"]:
        out.append(
            f"(2) FORK110_DEMO={c['env']} (the parent has {p.get('env') or 'no such variable'})"
        )
    else:
        why = (
            "the parent already had that value, so the run could not show a change"
            if p.get("env") == EXPECTED_ENV
            else "not the value set in the child"
        )
        out.append(f"(2) FORK110_DEMO={c.get('env', '?')}: {why}")
    sig = f"SigBlk {c.get('sigblk', '?')}, that is {_blocked(c.get('blocked', []))} blocked"
    if ch["signal"]:
        out.append(f"(3) {sig} (the parent blocks {_blocked(p.get('blocked', []))})")
    else:
        out.append(
            f"(3) {sig}, as in the parent ({_blocked(p.get('blocked', []))}): no change showed"
        )
    if ch["cpu"]:
        out.append(
            f"(4) Cpus_allowed_list {c['cpus']}: one CPU (the parent may use {p.get('cpus', '?')})"
        )
    else:
        out.append(
            f"(4) Cpus_allowed_list {c.get('cpus', '?')}, the parent's is {p.get('cpus', '?')}"
            + (
                ": this process could only use one CPU anyway, so pinning changed nothing visible"
                if len(cpu_list(p.get("cpus", ""))) == 1
                else ": the pinning did not show"
            )
        )
    return out


_HOW = {
    "by-hand": "Between fork and exec the child changed four things about itself with plain system "
    "calls (dup2, setenv, sigprocmask, sched_setaffinity)",
    "command": "Command made the same four changes: .stdout(Stdio.piped()) and .env(...) are "
    "builder settings, and a pre_exec hook blocked SIGUSR1 and pinned the CPU in the child, between "
    "fork and exec",
}


def explain(facts: Facts, variant: Variant) -> str:
    """What the facts of a run say, in plain words.

    >>> from fork110 import ExitStatus
    >>> from fork110.sandbox import ContainedRun
    >>> v = DEMO.variant(False)
    >>> empty = observe(ContainedRun((), "", "fork: No space left\\n", ExitStatus(256)), v)
    >>> explain(empty, v)
    "The child was never started: fork failed with 'No space left', so no program was exec'd and nothing could report the four changes."
    """
    how = _HOW.get(variant.key, _HOW["by-hand"])
    if not facts["child"]:
        if facts["failed"]:
            what, why = facts["failed"]
            return (
                f"The child was never started: {what} failed with '{why}'"
                + (
                    f" (the run's budget of {count(facts['budget'], 'process', 'processes')} was full: EAGAIN)"
                    if facts["refused"]
                    else ""
                )
                + ", so no program was exec'd and nothing could report the four changes."
            )
        if facts["timed_out"]:
            return (
                f"The run ended at its {facts['timeout']:g} s time limit before the exec'd program "
                "reported anything, so this run shows none of the four changes."
            )
        return "The exec'd program reported nothing, so this run shows none of the four changes."
    took = [k for k, v in facts["changes"].items() if v]
    verdict = (
        "found all four"
        if len(took) == 4
        else f"found {len(took)} of the four ({', '.join(took) or 'none'})"
    )
    pid = facts["child_pid"]
    parts = [
        f"{how}; the program it then exec'd (pid {pid}"
        + (", the child's own pid" if facts["same_pid"] else "")
        + f": exec replaces the program, not the process) read /proc and {verdict}: "
        + "; ".join(_change_sentences(facts))
        + "."
    ]
    if facts["parent_unchanged"]:
        parts.append(
            "The parent read the same four facts again afterwards and none had changed: each "
            "change was made in the child, to the child."
        )
    elif facts["after"]:
        parts.append("The parent's own settings were different afterwards.")
    if facts["child_status"] is not None:
        parts.append(f"The child exited with status {facts['child_status']} and was reaped.")
    parts.append(
        "Windows cannot do this between two calls: CreateProcessW takes every such choice as one "
        f"of its {len(CREATE_PROCESS_W)} parameters (see create_process_table())."
    )
    return " ".join(parts)


DEMO = Demo(
    name="fork_exec",
    title="Why fork and exec are separate: the child sets itself up in between",
    slide=SLIDE,
    variants={
        "by-hand": Variant(
            "by-hand",
            "fork; dup2, setenv, sigprocmask, sched_setaffinity; exec",
            PYTHON,
            c="fork_exec",
        ),
        "command": Variant(
            "command", "the same four changes with Command and a pre_exec hook", PYTHON_COMMAND
        ),
    },
    observe=observe,
    explain=explain,
    limits={"max_processes": 8, "timeout": 5.0},
    lesson="Whatever the child changes about itself between fork and exec, the exec'd program "
    "inherits: Unix needs no CreateProcessW with ten parameters.",
)


def run(fixed: bool | str = False, **limits: Any) -> DemoResult:
    """Run the demo contained: ``fixed=False`` (or ``"by-hand"``) forks and execs by hand,
    ``True`` (or ``"command"``) uses Command; ``language="c"`` runs fork_exec.c.

    >>> print(run().explanation)  # doctest: +ELLIPSIS
    Between fork and exec the child changed four things ... found all four: (1) its fd 1 was pipe:[...
    """
    return DEMO.run(fixed, **limits)
