"""Demo 8 · a subprocess abstraction: CS110's ``subprocess`` by hand, then the same job with Command.

The slides' advice: don't call fork unless you are about to exec, and wrap the pair in a higher-level
abstraction that sets up pipes. By hand that is a pipe for the child's stdout, fork, ``dup2`` in the
child, exec, and a second, close-on-exec **error pipe**: a successful exec closes it (the parent reads
EOF), a failed one writes errno into it first, so the parent learns *why* the program did not start
instead of seeing a child that exits 127. :class:`fork110.Command` does all of that in one call; the
run repeats the slides' ``ps --pid <pid> -o "pid= ppid= command="`` example with ``output()``,
``status()`` and ``spawn()`` + ``wait()``, and a missing program comes back as FileNotFoundError.

(This module is ``fork110.demos.subprocess``; it never shadows the standard library's ``subprocess``,
which every absolute ``import subprocess`` still finds.)

>>> r = run()
>>> r.facts["ps"][0]["pid"] == r.facts["main_pid"], r.facts["failed"][0]["errname"]
(True, 'ENOENT')
>>> c = run("command")
>>> [p["via"] for p in c.facts["ps"]], c.facts["failed"][0]["exception"]
(['output()', 'status()', 'spawn()'], 'FileNotFoundError')
>>> c.facts["children"] == c.facts["reaped"] == 6, c.facts["left_to_supervisor"]
(True, 0)
"""

from __future__ import annotations

import errno
import os
import re
from typing import Any

from fork110.sandbox import ContainedRun

from ._base import Demo, DemoResult, Facts, Variant, language_of
from ._c import C_SOURCES
from ._words import count

__all__ = ["DEMO", "PYTHON", "PYTHON_COMMAND", "PYTHON_FIXED", "PYTHON_SUPPLYFD", "SLIDE", "run"]

SLIDE = C_SOURCES["subprocess"].slide
"""The slide's text: "define/use a higher level abstraction ... e.g. subprocess" (no code on it)."""

PYTHON = """\
import os, sys
from dataclasses import dataclass

@dataclass
class Subprocess:                       # subprocess_t
    pid: int                            # -1 if the program could not be started
    ingestfd: int                       # read the child's stdout here
    error: int                          # errno of the failed fork/exec, else 0
    via_pipe: bool                      # the child reported the error through the error pipe

def subprocess(argv):
    out_r, out_w = os.pipe()            # Python's pipes are close-on-exec (O_CLOEXEC) already
    err_r, err_w = os.pipe()            # the error pipe: a successful exec closes it
    try:
        pid = os.fork()
    except OSError as e:
        for fd in (out_r, out_w, err_r, err_w):
            os.close(fd)
        return Subprocess(-1, -1, e.errno, False)
    if pid == 0:
        try:
            os.dup2(out_w, 1)           # stdout into the pipe (dup2's copy survives exec)
            os.execvp(argv[0], argv)
        except OSError as e:            # only reached if dup2 or execvp failed
            os.write(err_w, e.errno.to_bytes(4, sys.byteorder))
        os._exit(127)
    os.close(out_w)
    os.close(err_w)
    data = os.read(err_r, 4)            # b"" (EOF): the exec closed the pipe, so it succeeded
    os.close(err_r)
    if len(data) == 4:                  # exec failed: reap the child, report the errno
        os.waitpid(pid, 0)
        os.close(out_r)
        return Subprocess(-1, -1, int.from_bytes(data, sys.byteorder), True)
    return Subprocess(pid, out_r, 0, False)

def run(argv):                          # run argv through subprocess(), print what it wrote
    sp = subprocess(argv)
    if sp.pid == -1:
        where = "reported through the error pipe" if sp.via_pipe else "in the parent, before any child ran"
        print(f"subprocess({argv[0]}) failed: {os.strerror(sp.error)} (errno {sp.error}, {where})")
        return -1
    with open(sp.ingestfd) as pipe:
        for line in pipe:
            print(f"read from {argv[0]} (pid {sp.pid}): {line}", end="")
    _, status = os.waitpid(sp.pid, 0)
    print(f"{argv[0]} (pid {sp.pid}) exited with status {os.waitstatus_to_exitcode(status)}")
    return 0

print(f"main is pid {os.getpid()}")
ok = run(["ps", "--pid", str(os.getpid()), "-o", "pid= ppid= command="])
run(["no-such-program"])
sys.exit(0 if ok == 0 else 1)
"""
"""CS110's subprocess by hand (``subprocess.c`` line for line): pipe, fork, dup2, exec, error pipe."""

PYTHON_COMMAND = """\
import errno, os
from fork110 import Command, Stdio

pid = os.getpid()
print(f"main is pid {pid}")
ps = Command("ps").args(["--pid", str(pid), "-o", "pid= ppid= command="])

out = ps.output()                   # fork, exec, pipes, waitpid: one call, waits
for line in out.stdout.decode().splitlines():
    print(f"read from ps via output(): {line}")
print(f"ps via output(): {out.status}")
fd0 = Command("readlink").arg("/proc/self/fd/0").output()
print(f"a child's stdin under output(): {fd0.stdout.decode().strip()}")

status = ps.status()                # stdout inherited: ps prints straight to ours; waits
print(f"ps via status(): {status}")

child = ps.stdout(Stdio.piped()).spawn()    # returns at once: read, then we must wait
for line in child.stdout:
    print(f"read from ps via spawn() (pid {child.id()}): {line.decode()}", end="")
status = child.wait()
print(f"ps via spawn() + wait() (pid {child.id()}): {status}")

tr = Command("tr").args(["a-z", "A-Z"]).stdin(Stdio.piped()).stdout(Stdio.piped()).spawn()
tr.stdin.write(b"hello through a pipe\\n")  # a pipe into the child's stdin (CS110's supplyfd)
tr.stdin.close()                    # close our end: tr reads end of file and finishes
got = tr.wait_with_output()
print(f"read back from tr via stdin pipe: {got.stdout.decode().rstrip()}")
print(f"tr via spawn() + wait_with_output(): {got.status}")

try:
    Command("no-such-program").output()
except FileNotFoundError as e:
    print(f"Command('no-such-program').output() raised {type(e).__name__}: "
          f"errno {e.errno} ({errno.errorcode[e.errno]}), filename {e.filename!r}")
"""
"""The same job with :class:`fork110.Command`: the slides' ``ps`` example three ways, and a missing
program."""

PYTHON_SUPPLYFD = """\
import os

def subprocess(argv):                   # CS110's subprocess_t {pid, supplyfd, ingestfd}
    in_r, in_w = os.pipe()              # the child's stdin: we write into supplyfd (in_w)
    out_r, out_w = os.pipe()            # the child's stdout: we read from ingestfd (out_r)
    pid = os.fork()
    if pid == 0:
        os.dup2(in_r, 0)                # dup2 makes inheritable copies on fds 0 and 1
        os.dup2(out_w, 1)
        try:
            os.execvp(argv[0], argv)    # the pipes' own fds are close-on-exec: only 0 and 1 stay
        finally:
            os._exit(127)
    os.close(in_r)                      # the parent keeps only its two ends
    os.close(out_w)
    return pid, in_w, out_r

pid, supplyfd, ingestfd = subprocess(["tr", "a-z", "A-Z"])
os.write(supplyfd, b"hello through supplyfd\\n")
os.close(supplyfd)                      # end of file for tr: without this, tr would wait forever
chunks = []
while chunk := os.read(ingestfd, 4096):
    chunks.append(chunk)
os.close(ingestfd)
print(f"read back from tr via supplyfd (pid {pid}): {b''.join(chunks).decode().rstrip()}")
_, status = os.waitpid(pid, 0)
print(f"tr (pid {pid}) exited with status {os.waitstatus_to_exitcode(status)}")
"""
"""CS110's ``subprocess`` with ``supplyfd``: a pipe into the child's stdin, another out of its
stdout, written and read by hand."""

PYTHON_FIXED = PYTHON_COMMAND
"""Nothing is broken in this demo; the "other" variant is :data:`PYTHON_COMMAND`."""

# -- observing ---------------------------------------------------------------------------------------

_MAIN = re.compile(r"^main is pid (\d+)$", re.M)
_PS_LINE = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\S.*?)\s*$")
_READ = re.compile(r"^read from ps(?: via (\w+)\(\))?(?: \(pid (\d+)\))?: (.*)$")
_BY_HAND_DONE = re.compile(r"^ps \(pid (\d+)\) exited with status (-?\d+)$", re.M)
_CMD_DONE = re.compile(r"^ps via (\w+)\(\)(?: \+ wait\(\))?(?: \(pid \d+\))?: (.+)$", re.M)
_BY_HAND_FAIL = re.compile(
    r"^subprocess\((.+?)\) failed: (.+) \(errno (\d+), (?:reported through the error pipe|in the parent, before any child ran)\)$",
    re.M,
)
_CMD_FAIL = re.compile(
    r"^Command\('(.+?)'\)\.output\(\) raised (\w+): errno (\d+) \((\w+)\), filename '(.*)'$", re.M
)
_UNCAUGHT = re.compile(r"^(\w+): \[Errno (\d+)\] (.+)$", re.M)
_RUST_FAIL = re.compile(
    r'^Command::new\("(.+?)"\)\.output\(\) returned Err: kind (\w+), errno (\d+)$', re.M
)
_OUTPUT_STDIN = re.compile(r"^a child's stdin under output\(\): (.*)$", re.M)
_READ_BACK = re.compile(
    r"^read back from tr via (supplyfd|stdin pipe)(?: \(pid \d+\))?: (.*)$", re.M
)


def _ps_lines(run: ContainedRun) -> list[dict[str, Any]]:
    """Every line ps printed, as the parent relayed it ("read from ps ...") or as ps wrote it."""
    found: list[dict[str, Any]] = []
    compiled = language_of(run) != "python"  # a compiled program's lines all arrive as parent's
    for e in run.events:
        if e.kind != "stdout":
            continue
        line = e.detail.rstrip("\n")
        read = _READ.match(line)
        via, text = ((read[1] or "subprocess") + "()", read[3]) if read else ("status()", line)
        m = _PS_LINE.match(text)
        if m and (read or e.process != "parent" or compiled):
            found.append(
                {
                    "pid": int(m[1]),
                    "ppid": int(m[2]),
                    "command": m[3],
                    "via": via,
                    "by": e.process,
                }
            )
    return found


def _failures(run: ContainedRun) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in _BY_HAND_FAIL.finditer(run.stdout):
        err = int(m[3])
        out.append(
            {
                "program": m[1],
                "errno": err,
                "errname": errno.errorcode.get(err, "?"),
                "strerror": m[2],
                "exception": None,
                "filename": None,
            }
        )
    for m in _CMD_FAIL.finditer(run.stdout):
        err = int(m[3])
        out.append(
            {
                "program": m[1],
                "errno": err,
                "errname": m[4],
                "strerror": _strerror(err),
                "exception": m[2],
                "filename": m[5],
            }
        )
    for m in _RUST_FAIL.finditer(run.stdout):
        err = int(m[3])
        out.append(
            {
                "program": m[1],
                "errno": err,
                "errname": errno.errorcode.get(err, "?"),
                "strerror": _strerror(err),
                "exception": f"io::Error (ErrorKind::{m[2]})",
                "filename": None,
            }
        )
    for m in _UNCAUGHT.finditer(run.stderr):  # an error nobody caught: the traceback's last line
        err = int(m[2])
        out.append(
            {
                "program": None,
                "errno": err,
                "errname": errno.errorcode.get(err, "?"),
                "strerror": _strerror(err),
                "exception": m[1],
                "filename": None,
            }
        )
    return out


def _strerror(err: int) -> str:
    return os.strerror(err)


def observe(run: ContainedRun, variant: Variant) -> Facts:
    """Facts from one run: what ps reported, how each way of running it ended, what a missing
    program gave back, and who reaped the children.

    >>> from fork110 import ExitStatus
    >>> from fork110.sandbox import ContainedRun, Event
    >>> lines = ["main is pid 5\\n", "read from ps (pid 6):  5  4 demo\\n", "ps (pid 6) exited with status 0\\n"]
    >>> fake = ContainedRun(tuple(Event(0, "stdout", "parent", 5, x) for x in lines), "".join(lines), "", ExitStatus(0))
    >>> f = observe(fake, DEMO.variant(False))
    >>> f["main_pid"], f["ps"][0]["pid"], f["ps"][0]["ppid"], f["statuses"][0]["status"]
    (5, 5, 4, 'exit status: 0')
    """
    main = _MAIN.search(run.stdout)
    supervisor = next((e.pid for e in run.events if e.process == "supervisor"), None)
    parent_ppid = next(
        (p.ppid for snap in run.snapshots for p in snap if p.name == "parent"), supervisor
    )
    statuses = [
        {"via": "subprocess()", "pid": int(m[1]), "status": f"exit status: {m[2]}"}
        for m in _BY_HAND_DONE.finditer(run.stdout)
    ] + [{"via": f"{m[1]}()", "pid": None, "status": m[2]} for m in _CMD_DONE.finditer(run.stdout)]
    made = [e for e in run.events if e.kind in ("fork", "spawn") and e.process == "parent"]
    reaped = [e for e in run.events if e.kind == "reap" and e.process == "parent"]
    orphans = [
        e
        for e in run.events
        if e.kind == "reap" and e.process == "supervisor" and e.other != "parent"
    ]
    return {
        "main_pid": int(main[1]) if main else None,
        "supervisor_pid": supervisor,
        "parent_ppid": parent_ppid,
        "ps": _ps_lines(run),
        "statuses": statuses,
        "failed": _failures(run),
        "language": language_of(run),
        "read_back": [{"via": m[1], "text": m[2]} for m in _READ_BACK.finditer(run.stdout)],
        "output_stdin": (m[1] if (m := _OUTPUT_STDIN.search(run.stdout)) else None),
        "exec_errors": [e.detail for e in run.events if e.kind == "exec-error"],
        "children": len(made),
        "reaped": len(reaped),
        "reaped_statuses": [str(e.status) for e in reaped],
        "left_to_supervisor": len(orphans),
        "refused": run.refusals,
        "budget": run.max_processes,
        "status": str(run.status),
        "timed_out": run.timed_out,
        "left": run.leaked,
    }


# -- explaining --------------------------------------------------------------------------------------


def _ps_sentence(facts: Facts) -> str:
    ps = facts["ps"]
    if not ps:
        return "ps printed nothing this run"
    first = ps[0]
    who = []
    who.append(
        f"pid {first['pid']}"
        + (" (main itself)" if first["pid"] == facts["main_pid"] else " (not main's pid!)")
    )
    who.append(
        f"ppid {first['ppid']}"
        + (
            (
                " (pid 1, the run's init: its supervisor)"
                if first["ppid"] == 1
                else " (the run's supervisor)"
            )
            if first["ppid"] == facts["supervisor_pid"]
            else ""
        )
    )
    who.append(f"command '{first['command']}'")
    same = all((p["pid"], p["ppid"]) == (first["pid"], first["ppid"]) for p in ps)
    times = "" if len(ps) == 1 else (" every time" if same else " the first time")
    return "ps reported " + ", ".join(who) + times


def _errno(f: dict[str, Any]) -> str:
    return f"{f['errname']} (errno {f['errno']}, '{f['strerror']}')"


def _one_failure(f: dict[str, Any], facts: Facts) -> str:
    budget = (
        f"the run's budget of {count(facts['budget'], 'process', 'processes')} refused the fork"
        if f["errno"] == errno.EAGAIN and facts["refused"]
        else ""
    )
    if f["exception"] and f["exception"].startswith("io::Error"):
        return (
            f'Command::new("{f["program"]}").output() returned Err, an {f["exception"]} '
            f"with raw_os_error {f['errno']} ({f['errname']}): Rust's spawn reports why exec "
            "failed (through an error pipe, or posix_spawn's own result) as an error value, "
            "not as a child that exits 127."
        )
    if f["exception"] and f["program"]:
        return (
            f"Command('{f['program']}') raised {f['exception']} with {_errno(f)}, naming "
            f"'{f['filename']}': Command runs the same error pipe inside, and turns the errno into "
            "the matching OSError subclass."
        )
    if f["exception"]:
        return f"An uncaught {f['exception']}, {_errno(f)}, ended the program" + (
            f": {budget}." if budget else "."
        )
    if f["errno"] == errno.ENOENT:
        return (
            f"For {f['program']} the exec failed in the child; it wrote {_errno(f)} into the error "
            "pipe and _exit(127)ed, and the parent read those four bytes instead of EOF, so "
            "subprocess() returned the reason rather than a child that silently exits 127."
        )
    return f"subprocess({f['program']}) failed with {_errno(f)}" + (
        f": no child at all, {budget}." if budget else "."
    )


def _reap_sentence(facts: Facts) -> str:
    left = facts["left_to_supervisor"]
    tail = (
        "nothing was left for the supervisor to reap."
        if not left
        else f"{count(left, 'child', 'children')} {'was' if left == 1 else 'were'} left for the supervisor to reap!"
    )
    if facts.get("language", "python") != "python" and (facts["statuses"] or facts["ps"]):
        return (
            "A compiled program reports no forks: the supervisor only sampled the tree "
            f"(it caught {count(facts['children'], 'child', 'children')}), but every wait "
            "reported a status, and " + tail
        )
    if facts["children"]:
        who = (
            "all of them"
            if facts["reaped"] == facts["children"]
            else f"{facts['reaped']} of {facts['children']}"
        )
        made = count(facts["children"], "child", "children")
        return f"The parent started {made} and reaped {who}; " + tail
    if facts["statuses"] or facts["ps"]:
        return (
            "The supervisor's scan did not catch the parent's short-lived children (a C program "
            "reports no forks), but waitpid reported ps's status, and " + tail
        )
    return "No child was started, and " + tail


def explain(facts: Facts, variant: Variant) -> str:
    """What the facts of a run say, in plain words.

    >>> from fork110 import ExitStatus
    >>> from fork110.sandbox import ContainedRun
    >>> v = DEMO.variant(False)
    >>> print(explain(observe(ContainedRun((), "", "", ExitStatus(0)), v), v))
    ps never ran. No failure came back this run. No child was started, and nothing was left for the supervisor to reap.
    """
    parts = []
    if variant.key == "supplyfd":
        for r in facts["read_back"]:
            parts.append(
                f"subprocess() gave the parent two pipe ends: it wrote a line into supplyfd (the "
                f"child's stdin), closed it so tr read end of file, and read {r['text']!r} back "
                "from ingestfd (the child's stdout)."
            )
        parts.append(_reap_sentence(facts))
        return " ".join(parts or ["tr never answered."])
    if variant.key == "command":
        done = "; ".join(f"{s['via']} gave {s['status']}" for s in facts["statuses"])
        who = "Rust's std::process::Command" if facts["language"] == "rust" else "Command"
        parts.append(
            f"{who} ran ps three ways, each with its own defaults for the three streams: "
            "output() (stdin null, stdout and stderr piped and read to the end, then waitpid), "
            "status() (all three inherited: ps wrote straight to the run's stdout) and spawn() "
            "(inherited too unless set: here stdout piped; returned at once, wait() reaped it "
            "later)" + (f": {done}." if done else ", but this run never got that far.")
        )
        parts.append(_ps_sentence(facts) + ".")
        if facts["output_stdin"]:
            parts.append(
                f"A child run with output() found its stdin to be {facts['output_stdin']}: "
                "output() pipes nothing in."
            )
        for r in facts["read_back"]:
            parts.append(
                "A pipe the other way: tr was spawned with stdin and stdout piped, a line was "
                f"written into its stdin, which was then closed (end of file), and {r['text']!r} "
                "came back."
            )
    else:
        done = "; ".join(f"{s['status']} (pid {s['pid']})" for s in facts["statuses"])
        if facts["ps"] or done:
            parts.append(
                "subprocess() made a pipe and an error pipe, forked, and the child dup2'd the pipe "
                f"onto stdout and exec'd ps: {_ps_sentence(facts)}; its output came back through "
                f"the pipe, and waitpid gave {done or 'nothing'}."
            )
        else:
            parts.append("ps never ran.")
    failures = [_one_failure(f, facts) for f in facts["failed"]]
    parts.extend(failures or ["No failure came back this run."])
    parts.append(_reap_sentence(facts))
    if facts["timed_out"]:
        parts.append("The run was ended by its watchdog.")
    return " ".join(parts)


DEMO = Demo(
    name="subprocess",
    title="A subprocess abstraction: pipe, fork, dup2, exec and an error pipe, or Command",
    slide=SLIDE,
    variants={
        "by-hand": Variant(
            "by-hand",
            "CS110's subprocess: pipe, fork, dup2, exec, error pipe",
            PYTHON,
            c="subprocess",
        ),
        "command": Variant(
            "command",
            "Command: output(), status(), spawn() + wait(), a stdin pipe",
            PYTHON_COMMAND,
            rust="command",
        ),
        "supplyfd": Variant(
            "supplyfd",
            "CS110's subprocess with supplyfd: a pipe into the child's stdin",
            PYTHON_SUPPLYFD,
        ),
    },
    observe=observe,
    explain=explain,
    limits={"max_processes": 8, "timeout": 5.0},
    lesson="Wrap fork and exec once, with pipes and an error pipe: that is what Command (and Rust's, "
    "and Python's subprocess) is.",
)


def run(fixed: bool | str = False, **limits: Any) -> DemoResult:
    """Run the demo contained: ``fixed=False`` (or ``"by-hand"``) is subprocess by hand, ``True``
    (or ``"command"``) uses Command; ``language="c"`` runs subprocess.c.

    >>> print(run().explanation)  # doctest: +ELLIPSIS
    subprocess() made a pipe and an error pipe, ... ps reported pid ... (main itself), ...
    """
    return DEMO.run(fixed, **limits)
