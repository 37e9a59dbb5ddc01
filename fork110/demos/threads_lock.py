"""Demo 5 · fork while another thread holds a lock (the malloc-lock slides).

Thread B takes a lock (standing in for malloc's) and holds it; thread A forks. The child is a copy
of thread A only: it gets the lock in its "held" state, and the one thread that would release it
does not exist there. The child's ``with lock:`` (the slide's ``malloc``) waits forever: the tree
shows it sleeping in a futex wait until the watchdog kills it. Three fixes: exec at once in the
child (``fixed-exec``), spawn instead of fork (``fixed-spawn``), or an at-fork handler that takes
the lock before the fork and releases it on both sides (``fixed-atfork``).

>>> r = run(timeout=1.0)
>>> r.facts["deadlock"], r.facts["child_state"], r.facts["killed_by"]
(True, 'S', 'watchdog')
>>> f = run(fixed=True)
>>> f.facts["deadlock"], f.facts["child_status"], f.run.timed_out
(False, 0, False)
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fork110 import sandbox
from fork110._proc import STATES, state_phrase
from fork110.sandbox import ContainedRun

from ._base import Demo, DemoResult, Facts, Variant
from ._c import C_SOURCES

__all__ = [
    "DEMO",
    "PY312_WHEN",
    "PYTHON",
    "PYTHON_FIXED",
    "PYTHON_FIXED_ATFORK",
    "PYTHON_FIXED_SPAWN",
    "PYTHON_GLIBC_MALLOC",
    "SLIDE",
    "ForkWarningCheck",
    "check_python312",
    "python312_warning",
    "run",
]

SLIDE = C_SOURCES["threads_lock"].slide
"""The snippet as on the slide."""

_SETUP = """\
import os, sys, threading                                 # added: the setup around the slide

malloc_lock = threading.Lock()                            # added: stands in for malloc's lock
held, release = threading.Event(), threading.Event()      # added

def threads():                                            # added: the thread count /proc shows
    with open("/proc/self/status") as f:
        return next(line.split()[1] for line in f if line.startswith("Threads:"))

def my_malloc(n):                                         # added: malloc's shape: lock, allocate, unlock
    with malloc_lock:
        return [None] * n

def thread_b():                                           # added: thread B takes the lock and holds it
    with malloc_lock:
        print(f"thread B (tid {threading.get_native_id()}) holds the malloc lock")
        held.set()
        release.wait()                                    # until the parent says so

b = threading.Thread(target=thread_b)                     # added
b.start()                                                 # added
held.wait()                                               # added: B holds the lock now
"""

PYTHON = (
    _SETUP
    + """\
print(f"thread A (pid {os.getpid()}, Threads: {threads()}) forks while thread B holds the lock")  # added
num_args = 3                                              # added
# Imagine that this process is running multiple threads
pid = os.fork()
if pid == 0:
    print(f"child {os.getpid()} (Threads: {threads()}): calling malloc")  # added
    args = my_malloc(num_args)
    args[0], args[1] = "echo", "child: got the lock"      # added: the args the slide leaves out
    # Note: On execvp, all memory will be freed.
    os.execvp(args[0], args[:-1])                         # [:-1]: no NULL at the end of a Python argv
    # If execvp failed, free memory and exit.
    del args
    sys.exit(1)
_, status = os.waitpid(pid, 0)                            # added: the parent waits for the child
release.set()                                             # added: then lets B go
b.join()                                                  # added
"""
)
"""The slide's code in Python, in a process where thread B holds the lock (added lines say so)."""

PYTHON_FIXED = (
    _SETUP
    + """\
print(f"thread A (pid {os.getpid()}) forks while thread B holds the lock")
# fixed: the child's argv is built before fork, in the parent
args = ["/bin/sh", "-c", "echo \\"child $$: exec'd at once, a new program has no copy of the lock\\""]
# Imagine that this process is running multiple threads
pid = os.fork()
if pid == 0:
    try:
        os.execv(args[0], args)      # fixed: exec at once (an absolute path: no PATH search)
    finally:
        os._exit(127)                # fixed: exec failed: _exit, nothing else
_, status = os.waitpid(pid, 0)
if os.WIFEXITED(status):
    print(f"parent: child {pid} exited with status {os.WEXITSTATUS(status)} while thread B still held the lock")
else:
    print(f"parent: child {pid} killed by signal {os.WTERMSIG(status)}")
release.set()
b.join()
"""
)
"""Fix 1, exec at once: the child touches no lock, and exec throws the copied lock away."""

PYTHON_FIXED_SPAWN = (
    _SETUP
    + """\
import fork110                       # fixed: spawn (vfork + exec in C), never a fork of this process

print(f"thread A (pid {os.getpid()}) spawns while thread B holds the lock")
cmd = fork110.Command("/bin/sh").args(
    ["-c", "echo \\"child $$: spawned, no copy of the parent's Python ran in it\\""]
)
child = cmd.spawn()                  # fixed: no Python code runs in the child, so no lock is taken
status = child.wait()
if status.code() is not None:
    print(f"parent: child {child.id()} exited with status {status.code()} while thread B still held the lock")
else:
    print(f"parent: child {child.id()} killed by signal {status.signal()}")
release.set()
b.join()
"""
)
"""Fix 2, spawn instead of fork: :class:`fork110.Command` starts the program without Python in the child."""

PYTHON_FIXED_ATFORK = """\
import os, threading, time                                # added: the setup around the slide

malloc_lock = threading.Lock()                            # added: stands in for malloc's lock
held = threading.Event()                                  # added
b_released = False                                        # added

def my_malloc(n):                                         # added: malloc's shape: lock, allocate, unlock
    with malloc_lock:
        return [None] * n

# fixed: take the lock before fork (fork waits until B is done), release it on both sides after
os.register_at_fork(before=malloc_lock.acquire,
                    after_in_parent=malloc_lock.release,
                    after_in_child=malloc_lock.release)

def thread_b():                                           # added: B holds the lock 0.3 s, then lets go
    global b_released
    with malloc_lock:
        print(f"thread B (tid {threading.get_native_id()}) holds the malloc lock for 0.3 s")
        held.set()
        time.sleep(0.3)
        b_released = True

b = threading.Thread(target=thread_b)                     # added
b.start()                                                 # added
held.wait()                                               # added
print(f"thread A (pid {os.getpid()}) forks while thread B holds the lock")  # added
num_args = 3                                              # added
# Imagine that this process is running multiple threads
pid = os.fork()
if pid == 0:
    args = my_malloc(num_args)
    args[0], args[1] = "echo", "child: my_malloc worked, exec'd echo"  # added
    # Note: On execvp, all memory will be freed.
    os.execvp(args[0], args[:-1])
    # If execvp failed, free memory and exit.
    del args
    os._exit(1)                                           # fixed: _exit, not exit, in a forked child
print(f"parent: fork returned {'after' if b_released else 'BEFORE'} thread B released the lock")  # added
_, status = os.waitpid(pid, 0)                            # added: the parent's side
if os.WIFEXITED(status):
    print(f"parent: child {pid} exited with status {os.WEXITSTATUS(status)}")
else:
    print(f"parent: child {pid} killed by signal {os.WTERMSIG(status)}")
b.join()
"""
"""Fix 3, ``os.register_at_fork`` (C: ``pthread_atfork``): the lock is free and consistent at fork."""

PYTHON_GLIBC_MALLOC = """\
# threads_lock_malloc.c in Python: thread B allocates in a loop while thread A forks 20 children
# that allocate too. (The real case is the C program: glibc's malloc and its locks. Python's small
# objects come from CPython's own allocator, under the interpreter lock, which os.fork() also
# takes and re-initialises in the child; larger ones from malloc.)
import os, signal, threading, time

CHILDREN = 20
stop = False
rounds = 0

def thread_b():
    global rounds
    while not stop:
        bytearray(16 + rounds % 4000)   # malloc and free, over and over
        rounds += 1

b = threading.Thread(target=thread_b)
b.start()
while rounds == 0:
    time.sleep(0.001)
print(f"thread A (pid {os.getpid()}) forks {CHILDREN} children while thread B calls malloc in a loop")
ok = 0
for i in range(CHILDREN):
    pid = os.fork()
    if pid == 0:
        bytearray(100_000)              # malloc, in a child forked while B was allocating
        os._exit(0)
    for _ in range(100):                # a 1 s guard: a stuck child is reported and killed
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.01)
    if not done:
        print(f"child {pid} is stuck in malloc; killing it")
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    elif os.waitstatus_to_exitcode(status) == 0:
        ok += 1
stop = True
b.join()
print(f"{ok} of {CHILDREN} children called malloc and exited: glibc re-initialises malloc's locks in the child")
"""
"""``threads_lock_malloc.c`` in Python: the real malloc, forked mid-allocation, does not hang."""


# --------------------------------------------------------------------------------------------------
# What Python 3.12+ says


@dataclass(frozen=True)
class ForkWarningCheck:
    """What a Python 3.12 or newer printed when a multi-threaded process forked, or why we could not ask.

    ``warning`` is the warning's text (pids as ``N``) or None; ``python`` and ``version`` name the
    interpreter that printed it; ``reason`` says where the text came from, or why there is none.

    >>> ForkWarningCheck(None, None, None, "no Python 3.12 or newer: python3.12 is not on PATH").warning
    >>> ForkWarningCheck("/usr/bin/python3.12", "3.12.1", "DeprecationWarning: ...", "printed").version
    '3.12.1'
    """

    python: str | None
    version: str | None
    warning: str | None
    reason: str


_WARN_SNIPPET = """\
import os, sys, threading
print("python %d.%d.%d" % sys.version_info[:3], flush=True)
stop = threading.Event()
t = threading.Thread(target=stop.wait)
t.start()
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
stop.set()
t.join()
"""
_WARNING = re.compile(r"(DeprecationWarning: This process \(pid=)\d+(\) is multi-threaded[^\n]*)")
_HERE = ".".join(map(str, sys.version_info[:3]))
_VERSION = re.compile(r"^python (\d+)\.(\d+)\.(\d+)$", re.M)


def check_python312() -> ForkWarningCheck:
    """Find a Python 3.12+ (``sys.executable`` if new enough, else ``python3.12``/``3.13``/``3.14`` on
    PATH, or installed beside this one), fork in it with a second thread alive (contained, default
    warning filters: the fork is in ``__main__``), and report its warning.

    >>> c = check_python312()
    >>> c.warning is None or "(pid=N) is multi-threaded" in c.warning, bool(c.reason)
    (True, True)
    """
    candidates: list[tuple[str, str | None]] = []
    if sys.version_info >= (3, 12) and sys.executable:
        candidates.append(("this kernel's Python", sys.executable))
    tried = [] if candidates else [f"this kernel's Python is {_HERE}"]
    candidates += [
        (name, shutil.which(name)) for name in ("python3.12", "python3.13", "python3.14")
    ]
    candidates += [(f"Python {p.parts[-3]} beside this one", str(p)) for p in _beside()]
    for label, path in candidates:
        if path is None:
            tried.append(f"{label} is not on PATH")
            continue
        r = sandbox.run_program(
            [path, "-I", "-c", _WARN_SNIPPET],  # no -W: the default filters show it from __main__
            max_processes=16,
            timeout=10.0,
        )
        m = _VERSION.search(r.stdout)
        version = ".".join(m.groups()) if m else None
        w = _WARNING.search(r.stderr)
        if w is not None:
            text = w.group(1) + "N" + w.group(2)
            return ForkWarningCheck(path, version, text, f"printed by Python {version} ({label})")
        if m is None:  # the reason names no path: it is shown in notebooks, stored with them
            tried.append(f"{label} did not start a Python ({r.status})")
        elif (int(m.group(1)), int(m.group(2))) < (3, 12):
            tried.append(f"{label} is Python {version}")
        else:
            tried.append(f"{label} (Python {version}) printed no warning ({r.status})")
    return ForkWarningCheck(None, None, None, "no Python 3.12 or newer: " + "; ".join(tried))


def _beside() -> list[Path]:
    """Pythons 3.12+ installed next to this one (pyenv's and uv's ``versions/X.Y.Z`` layout)."""
    found = []
    for d in sorted(Path(sys.base_prefix).parent.glob("3.1[2-9]*")):
        exe = d / "bin" / "python3"
        if exe.is_file() and os.access(exe, os.X_OK):
            found.append(exe)
    return found


def python312_warning() -> str | None:
    """The warning Python 3.12+ prints when a multi-threaded process forks, or None where there is no
    such Python (:func:`check_python312` says why).

    >>> w = python312_warning()
    >>> w is None or w.startswith("DeprecationWarning: This process (pid=N) is multi-threaded")
    True
    """
    return check_python312().warning


# --------------------------------------------------------------------------------------------------
# Observing a run

_THREAD_A = re.compile(
    r"^thread A \(pid \d+(?:, Threads: (\d+))?\) (forks|spawns) while thread B holds", re.M
)
_CHILD_PID = re.compile(r"^(?:parent: )?child (\d+)\b", re.M)
_CHILD_THREADS = re.compile(r"^child \d+ \(Threads: (\d+)\): calling malloc", re.M)
_GOT_LOCK = re.compile(r"^child: (got the lock|my_malloc worked)", re.M)
_CLEAN = re.compile(r"^child \d+: (exec'd at once|spawned)", re.M)
_STUCK = re.compile(r"^parent: child \d+ is stuck", re.M)
_REPORTED = re.compile(r"^parent: child \d+ state (\S+)[^,]*, waiting in (\S+)", re.M)
_EXITED = re.compile(r"^parent: child \d+ exited with status (\d+)", re.M)
_KILLED = re.compile(r"^parent: child \d+ killed by signal (\d+)", re.M)
_FORK_RETURNED = re.compile(r"^parent: fork returned (after|BEFORE) thread B released", re.M)
_HOLD = re.compile(r"^thread B \(tid \d+\) holds the malloc lock for ([\d.]+) s", re.M)
_MALLOC_OK = re.compile(r"^(\d+) of (\d+) children called malloc and exited", re.M)
_MALLOC_STUCK = re.compile(r"^child \d+ is stuck in malloc", re.M)


def _line_time(run: ContainedRun, pattern: re.Pattern[str]) -> float | None:
    for e in run.events:
        if e.kind == "stdout" and pattern.search(e.detail):
            return e.time
    return None


def _child_in_tree(run: ContainedRun, pid: int | None) -> dict[str, Any]:
    """What the snapshots (and the watchdog's list) show of the child: its name, the states it was
    seen in, and the last state (with wait channel) it was seen in while alive and not stopped: the
    watchdog stops a run's processes (``T``) before it kills them, which is not the child's doing."""
    name: str | None = None
    parent_threads = 0
    states: list[str] = []
    state: str | None = None
    wchan: str | None = None
    started: str | None = None
    for e in run.events:
        if pid is not None and e.other_pid == pid and e.other:
            name, started = e.other, e.kind
            break
    for snap in run.snapshots:
        for p in snap:
            if p.name == "parent" and p.state != "Z":
                parent_threads = max(parent_threads, p.threads)
            if pid is None or p.pid != pid:
                continue
            name = name or p.name
            if not states or states[-1] != p.state:
                states.append(p.state)
            if p.state not in "ZTt":  # not dead, nor frozen by the watchdog to be killed
                wchan = p.wchan or (wchan if p.state == state else None)
                state = p.state
    survivor = next((p for p in run.survivors if pid is not None and p.pid == pid), None)
    return {
        "parent_threads": parent_threads or None,
        "child": name,
        "started_by": started,
        "child_states": states,
        "child_state": state,
        "child_wchan": wchan,
        "at_watchdog": (survivor.state, survivor.wchan) if survivor is not None else None,
    }


def observe(run: ContainedRun, variant: Variant) -> Facts:
    """Facts from one run: the threads, the child's fate and state, who ended it, how long it took.

    >>> from fork110 import ExitStatus
    >>> empty = ContainedRun((), "", "", ExitStatus(0))
    >>> f = observe(empty, DEMO.variant(True))
    >>> f["child_pid"], f["deadlock"], f["killed_by"]
    (None, False, None)
    """
    out = run.stdout
    a = _THREAD_A.search(out)
    pid_m = _CHILD_PID.search(out)
    pid = int(pid_m.group(1)) if pid_m else None
    ct = _CHILD_THREADS.search(out)
    reported = _REPORTED.search(out)
    exited = _EXITED.search(out)
    killed = _KILLED.search(out)
    returned = _FORK_RETURNED.search(out)
    hold = _HOLD.search(out)
    tree = _child_in_tree(run, pid)
    got_lock = bool(_GOT_LOCK.search(out))
    stuck_line = bool(_STUCK.search(out))
    at_watchdog = tree["at_watchdog"]
    if killed:
        killed_by: str | None = "parent"
    elif run.timed_out and at_watchdog is not None:
        killed_by = "watchdog"
    else:
        killed_by = None
    status = run.status_of(tree["child"]) if tree["child"] else None
    t_ask, t_stuck = _line_time(run, _CHILD_THREADS), _line_time(run, _STUCK)
    t_fork, t_back = _line_time(run, _THREAD_A), _line_time(run, _FORK_RETURNED)
    facts: Facts = {
        "threads": int(a.group(1)) if a and a.group(1) else None,
        "how": a.group(2) if a else None,
        "child_pid": pid,
        "child_threads": int(ct.group(1)) if ct else None,
        **{k: v for k, v in tree.items() if k != "at_watchdog"},
        "watchdog_state": at_watchdog[0] if at_watchdog else None,
        "watchdog_wchan": at_watchdog[1] if at_watchdog else None,
        "asked_for_lock": bool(ct) or (variant.key == "fixed-atfork" and pid is not None),
        "got_lock": got_lock,
        "clean_child": bool(_CLEAN.search(out)),
        "reported_stuck": stuck_line,
        "reported_state": reported.group(1) if reported else None,
        "reported_wchan": reported.group(2) if reported else None,
        "waited": (t_stuck - t_ask) if t_stuck is not None and t_ask is not None else None,
        "deadlock": bool(pid is not None and not got_lock and (stuck_line or at_watchdog)),
        "killed_by": killed_by,
        "child_signal": int(killed.group(1)) if killed else (status.signal() if status else None),
        "child_status": int(exited.group(1)) if exited else (status.code() if status else None),
        "fork_after_release": (returned.group(1) == "after") if returned else None,
        "hold": float(hold.group(1)) if hold else None,
        "fork_waited": (t_back - t_fork) if t_back is not None and t_fork is not None else None,
        "timed_out": run.timed_out,
        "timeout": run.timeout,
        "watchdog": run.watchdog,
        "duration": run.duration,
        "left": run.leaked,
    }
    if variant.key == "broken":
        facts.update(_python312_facts(run))
    if variant.key == "glibc-malloc":
        m = _MALLOC_OK.search(out)
        facts["malloc_ok"] = int(m.group(1)) if m else None
        facts["malloc_children"] = int(m.group(2)) if m else None
        facts["malloc_stuck"] = len(_MALLOC_STUCK.findall(out))
    return facts


def _python312_facts(run: ContainedRun) -> Facts:
    w = _WARNING.search(run.stderr)
    if w is not None:  # the run's own interpreter is 3.12+: it warned in this very run
        text = w.group(1) + "N" + w.group(2)
        check = ForkWarningCheck(sys.executable, _HERE, text, "printed in this run")
    else:
        check = check_python312()
    return {
        "py312_warning": check.warning,
        "py312_python": check.python,
        "py312_version": check.version,
        "py312_reason": check.reason,
    }


# --------------------------------------------------------------------------------------------------
# Explaining it


def _state_words(state: str | None, wchan: str | None) -> str:
    words = (
        f"state {state} ({state_phrase(state) if state in STATES else 'unknown'})"
        if state
        else "an unknown state"
    )
    if wchan:
        futex = " (a futex wait: blocked on the lock)" if "futex" in wchan else ""
        return f"{words}, waiting in {wchan}{futex}"
    return f"{words} (its wait channel could not be read)"


PY312_WHEN = (
    "Python 3.12 and newer raise this DeprecationWarning in the parent at os.fork() (and "
    "os.forkpty()) only when the process has more than one thread; like every "
    "DeprecationWarning it is shown by default only when the fork is called from __main__ (a "
    "script, a notebook cell), and hidden when a library module forks. For the same reason "
    "multiprocessing on Linux no longer starts its workers with fork by default since Python "
    "3.14 (forkserver instead)."
)
"""When Python's fork warning is raised and shown, and what changed in multiprocessing."""


def _python312_text(facts: Facts) -> str:
    if facts.get("py312_warning"):
        return (
            f"Python 3.12 and newer warn about this at the fork; run contained under Python "
            f"{facts['py312_version']}, the same fork printed: {facts['py312_warning']}"
        )
    if "py312_reason" in facts:
        return f"(Python 3.12+ warns at such a fork; it could not be shown here: {facts['py312_reason']}.)"
    return ""


def _alive(facts: Facts) -> str:
    """The watchdog's list of who was still alive (its own words), or its whole message."""
    text: str = facts["watchdog"]
    return text.split("still alive: ", 1)[1] if "still alive: " in text else text


def _explain_broken(facts: Facts) -> str:
    who = f"the child ({facts['child']})" if facts["child"] else "the child"
    cap = who[0].upper() + who[1:]
    parts: list[str] = []
    threads = facts["threads"] or facts["parent_threads"]
    if threads is not None:
        only = facts["child_threads"]
        parts.append(
            f"Thread A forked while thread B held the lock: the process ran {threads} threads"
            + (f", the child only {only}, the copy of the thread that forked." if only else ".")
        )
    if facts["child_pid"] is None:
        parts.append("No child had started when the run ended, so nothing deadlocked this time.")
    elif facts["got_lock"]:
        parts.append(f"This time {who} got the lock and exec'd: no deadlock in this run.")
    elif facts["deadlock"]:
        parts.append(
            f"{cap} then asked for the lock (the slide's malloc). Its copy of the lock was taken, "
            "and the one thread that would release it, B, does not exist in the child: it can "
            "never get it."
        )
        if facts["child_state"]:
            state = _state_words(facts["child_state"], facts["child_wchan"])
            parts.append(f"The tree shows {facts['child'] or 'it'} in {state}.")
        if facts["killed_by"] == "watchdog":
            parts.append(
                f"Nothing ended the wait: after {facts['timeout']:g} s the watchdog found "
                f"{_alive(facts)} still alive, killed the run and reported it timed out. A deadlock: "
                "without the watchdog the child would sleep forever, and its parent waiting for it."
            )
        elif facts["killed_by"] == "parent":
            waited = f" after {facts['waited']:.1f} s" if facts["waited"] is not None else ""
            state = _state_words(facts["reported_state"], facts["reported_wchan"])
            parts.append(
                f"The C parent gave up waiting{waited}, read from /proc that the child was stuck "
                f"({state}) and killed it with signal {facts['child_signal']}: a deadlock that only "
                "the kill ended."
            )
    else:
        ended = (
            f" (the watchdog ended it after {facts['timeout']:g} s)" if facts["timed_out"] else ""
        )
        parts.append(f"{cap} had not asked for the lock yet when the run ended{ended}.")
    warn = _python312_text(facts)
    if warn:
        parts.append(warn)
    return " ".join(parts)


def _finish(facts: Facts) -> str:
    if facts["timed_out"]:
        return (
            f"Yet the run did not finish: after {facts['timeout']:g} s the watchdog found "
            f"{_alive(facts)} still alive and killed the run."
        )
    return f"The whole run took {facts['duration']:.2f} s and nothing hung."


def _child_end(facts: Facts) -> str:
    if facts["child_status"] is not None:
        return f"exited with status {facts['child_status']}"
    if facts["child_signal"] is not None:
        return f"was killed by signal {facts['child_signal']}"
    return "was not seen to end"


def _explain_malloc(facts: Facts) -> str:
    if facts["malloc_ok"] is None:
        return f"The run never reported its children. {_finish(facts)}"
    n, ok = facts["malloc_children"], facts["malloc_ok"]
    text = (
        f"Thread A forked {n} children while thread B was calling malloc and free in a loop, "
        f"so a fork could come while B was inside malloc, holding an arena lock; {ok} of the {n} "
        "children then called malloc and exited"
    )
    if facts["malloc_stuck"]:
        text += f", and {facts['malloc_stuck']} got stuck and were killed."
    else:
        text += (
            ", none got stuck. glibc makes its own malloc safe across fork: it takes every malloc "
            "lock before forking, releases them in the parent and re-initialises them in the "
            "child. That protection is malloc's alone: any other lock (yours, a library's) "
            "copied while held stays held, as the broken variant shows."
        )
    return f"{text} {_finish(facts)}"


def explain(facts: Facts, variant: Variant) -> str:
    """What the facts of a run say, in plain words.

    >>> from fork110 import ExitStatus
    >>> f = observe(ContainedRun((), "", "", ExitStatus(0)), DEMO.variant(True))
    >>> explain(f, DEMO.variant(True))
    'The child never printed its line; it was not seen to end. The whole run took 0.00 s and nothing hung.'
    """
    if variant.key == "broken":
        return _explain_broken(facts)
    if variant.key == "glibc-malloc":
        return _explain_malloc(facts)
    child = f"The child (pid {facts['child_pid']})" if facts["child_pid"] else "The child"
    if variant.key == "fixed-atfork":
        held = f" {facts['hold']:g} s" if facts["hold"] else ""
        if facts["fork_after_release"]:
            waited = f" ({facts['fork_waited']:.2f} s)" if facts["fork_waited"] is not None else ""
            text = (
                f"The at-fork 'before' handler took the lock, so fork waited{waited} until thread B "
                f"had finished with it (B held it{held}); the handlers released it in the parent "
                "and in the child, so the child got a free lock in a consistent state. (glibc does "
                "the same for malloc's own locks, except that in the child it re-initialises them "
                "rather than unlocking them; and os.register_at_fork handlers run only for "
                "os.fork(), not for a fork made in C.)"
            )
        elif facts["fork_after_release"] is False:
            text = (
                "fork returned BEFORE thread B released the lock: the handler did not hold it up."
            )
        else:
            text = "The run never reached the fork."
        if facts["got_lock"]:
            text += (
                f" {child} called my_malloc, took the lock, exec'd echo and {_child_end(facts)}."
            )
        elif facts["deadlock"]:
            text += f" Yet {child.lower()} got stuck on the lock."
        return f"{text} {_finish(facts)}"
    how = (
        "exec'd /bin/sh at once, without touching the lock: exec replaced the whole copied "
        "address space, the held lock with it (in Python the child still ran some code before "
        "the exec: os.fork()'s after-fork handlers, and os.execv building argv allocates; none "
        "of it took this lock, and the C version calls nothing but execv)"
        if variant.key == "fixed-exec"
        else "was started with fork110.Command (vfork + exec in C): no copy of the parent's "
        "Python ran in it, so nothing in it could wait for the lock"
    )
    threads = facts["threads"] or facts["parent_threads"]
    where = (
        f" (the parent ran {threads} threads)" if threads and threads > 1 else ""
    )  # a sample may miss thread B
    if variant.key == "fixed-spawn" and facts["started_by"] == "spawn":
        how += "; the run saw it spawned, not forked"
    if facts["clean_child"]:
        text = f"{child} {how}. It {_child_end(facts)} while thread B still held the lock{where}."
    else:
        text = f"{child} never printed its line; it {_child_end(facts)}."
    return f"{text} {_finish(facts)}"


DEMO = Demo(
    name="threads_lock",
    title="fork in a multi-threaded process: a lock held by another thread",
    slide=SLIDE,
    variants={
        "broken": Variant("broken", "as on the slide", PYTHON, c="threads_lock"),
        "fixed-exec": Variant(
            "fixed-exec", "the child execs at once", PYTHON_FIXED, c="threads_lock_fixed"
        ),
        "fixed-spawn": Variant("fixed-spawn", "spawn instead of fork", PYTHON_FIXED_SPAWN),
        "glibc-malloc": Variant(
            "glibc-malloc",
            "the real malloc: 20 forks while thread B allocates, none hangs",
            PYTHON_GLIBC_MALLOC,
            c="threads_lock_malloc",
            limits={"timeout": 5.0, "max_processes": 8},
        ),
        "fixed-atfork": Variant(
            "fixed-atfork",
            "at-fork handlers: take the lock before fork, release it after",
            PYTHON_FIXED_ATFORK,
            c="threads_lock_atfork",
        ),
    },
    observe=observe,
    explain=explain,
    limits={"max_processes": 8, "timeout": 2.0},
    lesson="After fork only the forking thread exists in the child: a lock another thread held "
    "stays held forever. Exec at once, spawn, or make the lock safe across fork.",
)


def run(fixed: bool | str = False, **limits: Any) -> DemoResult:
    """Run the demo contained: ``fixed=True`` (or ``"fixed-exec"``, ``"fixed-spawn"``,
    ``"fixed-atfork"``) for a fix, ``language="c"`` for the C program.

    >>> print(run(fixed="fixed-spawn").explanation)  # doctest: +ELLIPSIS
    The child (pid ...) was started with fork110.Command (vfork + exec in C): ... It exited with status 0 ...
    """
    return DEMO.run(fixed, **limits)
