"""Tests for fork110.ps against real process trees and the real ``ps``.

Every tree is a ``sys.executable -c`` script started in its own session. Its members block on a
"lifeline" pipe whose only writer is the tree's parent, so when the parent goes they all see EOF
and exit, and each process reaps its own children; readiness comes back through pipes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fork110.ps import Inspector, Namer, ProcessInfo, Snapshot, snapshot

TIMEOUT = 20.0

# The demo tree: parent -> child-1 sleeper (exec'd python, 3 threads), child-2 zombie,
# child-3 stopped, child-4 -> child-4.1 grandchild; with argv[1] == "traced" also child-5,
# stopped under ptrace. Commands on stdin: "kill PID" (SIGKILL and reap), "spawn" (one more
# blocked child; answers "ok PID"). EOF: clean up, exit.
TREE = r"""
import json, os, signal, sys
life_r, life_w = os.pipe()
kids = []

def block():
    os.read(life_r, 1)

def fork(body):
    pid = os.fork()
    if pid == 0:
        try:
            os.close(life_w)
            body()
        finally:
            os._exit(0)
    kids.append(pid)
    return pid

def sleeper():
    os.close(exec_r)
    os.set_inheritable(life_r, True)
    os.execv(sys.executable, [sys.executable, "-c", SLEEPER, str(life_r)])

SLEEPER = (
    "import os, sys, threading; fd = int(sys.argv[1]); "
    "[threading.Thread(target=os.read, args=(fd, 1), daemon=True).start() for _ in 'ab']; "
    "os.read(fd, 1)"
)

exec_r, exec_w = os.pipe()
sleeper_pid = fork(sleeper)
os.close(exec_w)
os.read(exec_r, 1)  # EOF once the exec closed the close-on-exec write end
os.close(exec_r)

zombie = fork(lambda: None)
os.waitid(os.P_PID, zombie, os.WEXITED | os.WNOWAIT)  # exited, not reaped

stopped = fork(block)
os.kill(stopped, signal.SIGSTOP)
os.waitpid(stopped, os.WUNTRACED)

gc_r, gc_w = os.pipe()
def middle():
    os.close(gc_r)
    g = os.fork()
    if g == 0:
        try:
            os.close(gc_w)
            block()
        finally:
            os._exit(0)
    os.write(gc_w, b"%d\n" % g)
    os.close(gc_w)
    block()
    os.waitpid(g, 0)
middle_pid = fork(middle)
os.close(gc_w)
grandchild = int(os.read(gc_r, 64))
os.close(gc_r)

traced = None
if sys.argv[1:] == ["traced"]:
    def trace_me():
        import ctypes
        if ctypes.CDLL(None, use_errno=True).ptrace(0, 0, None, None) != 0:  # PTRACE_TRACEME
            os._exit(3)
        os.kill(os.getpid(), signal.SIGSTOP)
        block()
    traced = fork(trace_me)
    _, status = os.waitpid(traced, os.WUNTRACED)
    if not os.WIFSTOPPED(status):
        kids.remove(traced)
        traced = None

print(json.dumps(dict(parent=os.getpid(), sleeper=sleeper_pid, zombie=zombie, stopped=stopped,
                      middle=middle_pid, grandchild=grandchild, traced=traced)), flush=True)
for line in sys.stdin:
    cmd, _, arg = line.strip().partition(" ")
    reply = "ok"
    if cmd == "kill":
        os.kill(int(arg), signal.SIGKILL)
        os.waitpid(int(arg), 0)
        kids.remove(int(arg))
    elif cmd == "spawn":
        reply = "ok %d" % fork(block)
    print(reply, flush=True)
os.close(life_w)
for pid in kids:
    if pid != middle_pid:
        os.kill(pid, signal.SIGKILL)
for pid in kids:
    os.waitpid(pid, 0)
"""


@dataclasses.dataclass
class Tree:
    proc: subprocess.Popen[str]
    pids: dict[str, Any]

    @property
    def parent(self) -> int:
        return int(self.pids["parent"])

    def send(self, line: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        reply = read_line(self.proc)
        assert reply.split()[0] == "ok"
        return reply


def read_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], TIMEOUT)
    assert ready, "the tree did not answer in time"
    return proc.stdout.readline().strip()


@contextlib.contextmanager
def running(script: str, *args: str) -> Iterator[subprocess.Popen[str]]:
    """Run a script in its own session; on the way out close its stdin, wait, else kill all."""
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        assert proc.stdin is not None and proc.stdout is not None
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
        try:
            proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:  # pragma: no cover - only when something hung
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()


@contextlib.contextmanager
def demo_tree(*args: str) -> Iterator[Tree]:
    with running(TREE, *args) as proc:
        yield Tree(proc, json.loads(read_line(proc)))


def settle(take: Callable[[], Snapshot], expected: dict[int, str]) -> Snapshot:
    """Snapshot until every pid in *expected* shows its state, and a sleeping one its wait
    channel, twice in a row (start-up takes a moment, and a process may sleep on its way)."""
    deadline = time.monotonic() + TIMEOUT
    previous = None
    while True:
        snap = take()
        found = {pid: (p.state if (p := snap.find(pid)) else None) for pid in expected}
        where = {p.pid: p.wchan for p in snap if p.pid in expected}
        if found == expected and all(where[pid] for pid, st in expected.items() if st == "S"):
            if where == previous:
                return snap
            previous = where
        assert time.monotonic() < deadline, f"states {found}, wanted {expected}\n{snap.tree()}"
        time.sleep(0.005)


def expected_states(tree: Tree) -> dict[int, str]:
    p = tree.pids
    states = {
        p["parent"]: "S",
        p["sleeper"]: "S",
        p["zombie"]: "Z",
        p["stopped"]: "T",
        p["middle"]: "S",
        p["grandchild"]: "S",
    }
    if p["traced"] is not None:
        states[p["traced"]] = "t"
    return states


def real_ps(pids: list[int]) -> dict[int, dict[str, Any]]:
    """What ``ps`` says about *pids*: ppid, stat, threads, wchan, start (epoch s), args."""
    pid_list = ",".join(map(str, pids))
    out = subprocess.run(
        ["ps", "-ww", "-o", "pid=,ppid=,stat=,nlwp=,wchan:64=,lstart=,args=", "-p", pid_list],
        capture_output=True,
        text=True,
        check=True,
        timeout=TIMEOUT,
        env={**os.environ, "LC_ALL": "C.UTF-8"},  # ps shows control characters as "?"
    ).stdout
    rows = {}
    for line in out.splitlines():
        f = line.lstrip().split(None, 10)
        start = time.mktime(time.strptime(" ".join(f[5:10]), "%a %b %d %H:%M:%S %Y"))
        wchan = None if f[4] == "-" else f[4]
        rows[int(f[0])] = dict(
            ppid=int(f[1]), stat=f[2], threads=int(f[3]), wchan=wchan, start=start, args=f[10]
        )
    return rows


def assert_agrees_with_ps(snap: Snapshot) -> None:
    theirs = real_ps([p.pid for p in snap])
    assert sorted(theirs) == sorted(p.pid for p in snap)
    for p in snap:
        ps = theirs[p.pid]
        assert (p.ppid, p.state, p.command) == (ps["ppid"], ps["stat"][0], ps["args"]), p
        assert p.stat == ps["stat"].replace("L", ""), p
        assert p.threads == ps["threads"], p
        assert p.wchan == ps["wchan"] or p.state == "R", p
        assert ps["start"] - 1 < p.start_time < ps["start"] + 2, p


def test_tree_agrees_with_real_ps() -> None:
    with demo_tree() as tree:
        snap = settle(lambda: snapshot(tree.parent), expected_states(tree))
        assert_agrees_with_ps(snap)
        p = tree.pids
        names = {q.pid: q.name for q in snap}
        assert names == {
            p["parent"]: "parent",
            p["sleeper"]: "child-1",
            p["zombie"]: "child-2",
            p["stopped"]: "child-3",
            p["middle"]: "child-4",
            p["grandchild"]: "child-4.1",
        }
        assert [q.depth for q in snap] == [0, 1, 1, 1, 1, 2]
        sleeper = snap.find(p["sleeper"])
        assert sleeper is not None and "os.read" in sleeper.command
        assert (sleeper.threads, sleeper.stat) == (3, "Sl")
        zombie = snap.find(p["zombie"])
        assert zombie is not None and zombie.argv == ()
        assert re.fullmatch(r"\[.+\] <defunct>", zombie.command)


def test_traced_child_shows_lowercase_t() -> None:
    with demo_tree("traced") as tree:
        if tree.pids["traced"] is None:
            pytest.skip("ptrace is not permitted here")
        snap = settle(lambda: snapshot(tree.parent), expected_states(tree))
        assert_agrees_with_ps(snap)
        traced = snap.find(tree.pids["traced"])
        assert traced is not None and traced.name == "child-5"
        assert f"child-5 ({traced.pid}) t " in snap.tree()
        assert snap.tree().splitlines()[-1].endswith(" (traced)")


def test_forest_matches_ps_forest() -> None:
    with demo_tree() as tree:
        snap = settle(lambda: snapshot(tree.parent), expected_states(tree))
        pid_list = ",".join(str(p.pid) for p in snap)
        ps = subprocess.run(
            ["ps", "-ww", "--forest", "-o", "pid,ppid,stat,args", "-p", pid_list],
            capture_output=True,
            text=True,
            check=True,
            timeout=TIMEOUT,
            env={**os.environ, "LC_ALL": "C"},
        ).stdout

        def rows(text: str) -> list[tuple[list[str], str]]:
            lines = text.splitlines()
            col = lines[0].index("COMMAND")
            return [(line[:col].split(), line[col:]) for line in lines[1:]]

        ours = rows(snap.forest())
        if [int(r[0][0]) for r in ours] != [int(r[0][0]) for r in rows(ps)]:
            pytest.skip("pids wrapped around: ps orders siblings by pid, we by start time")
        for (fields, command), (ps_fields, ps_command) in zip(ours, rows(ps)):
            assert fields == [ps_fields[0], ps_fields[1], ps_fields[2].replace("L", "")]
            assert command == ps_command
        assert len(ours) == len(rows(ps)) == 6


def test_tree_rendering_marks_zombies_and_stopped() -> None:
    with demo_tree() as tree:
        snap = settle(lambda: snapshot(tree.parent), expected_states(tree))
        p = tree.pids
        lines = str(snap).splitlines()
        assert lines[0].startswith(f"parent ({p['parent']}) S ")
        assert re.fullmatch(rf"├── child-2 \({p['zombie']}\) Z \[.+\] <defunct>", lines[2])
        assert lines[3].startswith(f"├── child-3 ({p['stopped']}) T ")
        assert lines[3].endswith(" (stopped)")
        assert lines[4].startswith(f"└── child-4 ({p['middle']}) S ")
        assert lines[5].startswith(f"    └── child-4.1 ({p['grandchild']}) S ")
        assert all(len(line) <= 40 for line in snap.tree(width=40).splitlines())
        assert all(len(line) <= 40 for line in snap.forest(width=40).splitlines())
        html = snap._repr_html_()
        assert html.count("<tr") == 7 and 'class="zombie"' in html and 'class="stopped"' in html
        assert (
            repr(snap) == f"<Snapshot of 6 processes under pid {p['parent']}: 1 zombie, 1 stopped>"
        )


def test_snapshot_api() -> None:
    with demo_tree() as tree:
        snap = settle(lambda: snapshot(tree.parent), expected_states(tree))
        p = tree.pids
        assert len(snap) == 6 and list(snap) == list(snap.processes)
        assert snap.root == tree.parent and abs(snap.time - time.time()) < 60
        assert [c.pid for c in snap.children(p["parent"])] == [
            p["sleeper"],
            p["zombie"],
            p["stopped"],
            p["middle"],
        ]
        assert [c.name for c in snap.children(p["middle"])] == ["child-4.1"]
        assert snap.children(p["grandchild"]) == []
        assert snap.by_name("child-4.1") == snap.find(p["grandchild"])
        assert snap.by_name("child-9") is None and snap.find(-5) is None
        with pytest.raises(dataclasses.FrozenInstanceError):
            snap.root = 1  # type: ignore[misc]
        first = snap.processes[0]
        with pytest.raises(dataclasses.FrozenInstanceError):
            first.pid = 1  # type: ignore[misc]


def test_names_stay_when_a_sibling_exits() -> None:
    with demo_tree() as tree:
        p = tree.pids
        namer = Namer()
        inspector = Inspector(tree.parent, namer=namer)
        before = settle(inspector.snapshot, expected_states(tree))
        tree.send(f"kill {p['sleeper']}")
        after = inspector.snapshot()
        assert after.find(p["sleeper"]) is None and after.by_name("child-1") is None
        assert {q.pid: q.name for q in after} == {
            q.pid: q.name for q in before if q.pid != p["sleeper"]
        }
        # A fresh snapshot with the same namer agrees; a fresh namer renumbers.
        assert [q.name for q in snapshot(tree.parent, namer=namer)] == [q.name for q in after]
        fresh = [q.name for q in snapshot(tree.parent)]
        assert fresh == ["parent", "child-1", "child-2", "child-3", "child-3.1"]


def test_inspector_sees_new_children_between_full_scans() -> None:
    with demo_tree() as tree:
        inspector = Inspector(tree.parent)
        inspector.full_scan_after = math.inf  # only the first snapshot reads all of /proc
        first = settle(inspector.snapshot, expected_states(tree))
        assert len(first) == 6
        new = int(tree.send("spawn").split()[1])
        after = settle(inspector.snapshot, {**expected_states(tree), new: "S"})
        assert after.find(new) == after.by_name("child-5") is not None
        assert [q.name for q in after] == [q.name for q in first] + ["child-5"]
        assert {q.pid for q in after} == {q.pid for q in snapshot(tree.parent)}


def test_custom_root_name_and_include_root_false() -> None:
    with demo_tree() as tree:
        p = tree.pids
        snap = settle(lambda: snapshot(tree.parent, root_name="demo"), expected_states(tree))
        assert snap.processes[0].name == "demo" and snap.processes[1].name == "child-1"
        # Under our own pid without the root: the tree's parent is the top level.
        ours = snapshot(os.getpid(), include_root=False)
        assert ours.find(os.getpid()) is None and ours.root == os.getpid()
        top = ours.find(tree.parent)
        assert top is not None and top.depth == 0
        if [q for q in ours if q.depth == 0] == [top]:  # pytest has no other child
            assert top.name == "parent"
        prefix = "child-" if top.name == "parent" else f"{top.name}."
        grandchild = ours.by_name(f"{prefix}4.1")
        assert grandchild is not None and (grandchild.pid, grandchild.depth) == (p["grandchild"], 2)
        children = snapshot(tree.parent, include_root=False)
        assert [q.name for q in children][:2] == ["parent", "orphan-1"]
        assert all(q.ppid == tree.parent for q in children if q.depth == 0)


# A subreaper supervisor: its child "parent" forks a grandchild, then exits on request, and the
# orphaned grandchild is adopted by the supervisor. EOF: the grandchild exits, all are reaped.
SUPERVISOR = r"""
import ctypes, json, os, sys
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
life_r, life_w = os.pipe()
go_r, go_w = os.pipe()
gc_r, gc_w = os.pipe()
parent = os.fork()
if parent == 0:
    os.close(life_w); os.close(go_w); os.close(gc_r)
    g = os.fork()
    if g == 0:
        os.close(go_r); os.close(gc_w)
        os.read(life_r, 1)
        os._exit(0)
    os.write(gc_w, b"%d" % g)
    os.read(go_r, 1)
    os._exit(0)
os.close(go_r); os.close(gc_w)
print(json.dumps(dict(parent=parent, orphan=int(os.read(gc_r, 64)))), flush=True)
for line in sys.stdin:
    os.close(go_w)
    os.waitpid(parent, 0)
    print("ok", flush=True)
os.close(life_w)
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
"""


def test_orphans_adopted_by_a_subreaper_keep_their_names() -> None:
    with running(SUPERVISOR) as proc:
        pids = json.loads(read_line(proc))
        inspector = Inspector(proc.pid, include_root=False)
        expected = {pids["parent"]: "S", pids["orphan"]: "S"}
        before = settle(inspector.snapshot, expected)
        assert [(q.name, q.depth) for q in before] == [("parent", 0), ("child-1", 1)]
        assert proc.stdin is not None
        proc.stdin.write("release\n")
        proc.stdin.flush()
        assert read_line(proc) == "ok"
        after = inspector.snapshot()
        orphan = after.find(pids["orphan"])
        assert orphan is not None and orphan.ppid == proc.pid
        assert [(q.name, q.depth) for q in after] == [("child-1", 0)]
        assert "child-1 (" in after.tree()


CHURN = r"""
import ctypes, os, select
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans come back here
while not select.select([0], [], [], 0)[0]:
    for _ in range(8):
        if os.fork() == 0:
            if os.fork() == 0:
                os._exit(0)
            os._exit(0)
    for _ in range(16):
        os.wait()
"""


def test_vanishing_processes_are_skipped() -> None:
    with running(CHURN) as proc:
        inspector = Inspector(proc.pid)
        seen = 0
        for i in range(300):
            snap = inspector.snapshot() if i % 2 else snapshot(proc.pid)
            assert snap.processes[0].pid == proc.pid
            for q in snap.processes[1:]:
                parent = snap.find(q.ppid)
                assert parent is not None and parent.depth == q.depth - 1
            seen += len(snap) - 1
        assert seen > 0  # the churn was seen at least once


def test_a_gone_root_gives_an_empty_snapshot() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=TIMEOUT)
    snap = snapshot(child.pid)
    assert len(snap) == 0 and snap.tree() == "(no processes)"
    assert Inspector(child.pid, include_root=False).snapshot().processes == ()


ARGS = ["<script>alert('x')</script>", "a\tb", "c\x01d", "two\nlines", "", "end "]


def test_command_lines_as_ps_shows_them_and_escaped_in_html() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()", *ARGS], stdin=subprocess.PIPE
    )
    try:
        p = snapshot(proc.pid).find(proc.pid)
        assert p is not None
        assert p.argv == (sys.executable, "-c", "import sys; sys.stdin.read()", *ARGS)
        theirs = real_ps([proc.pid])[proc.pid]["args"]
        if "a.b" in theirs:
            pytest.skip("ps runs without a UTF-8 locale here and shows control characters as '.'")
        assert p.command == theirs
        assert "a?b c?d two lines  end " in p.command
        html = snapshot(proc.pid)._repr_html_()
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
        assert "<script>" not in html
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=TIMEOUT)


def test_kernel_threads_keep_idle_state() -> None:
    with open("/proc/2/stat") as f:
        if "(kthreadd)" not in f.read():
            pytest.skip("no kthreadd in this pid namespace")
    snap = snapshot(2)
    theirs = real_ps([p.pid for p in snap])
    both = [p for p in snap if p.pid in theirs]
    assert len(both) > len(snap) // 2  # kworkers come and go
    for p in both:
        assert p.ppid == theirs[p.pid]["ppid"]
        if not p.command.startswith("[kworker/"):  # a kworker's name follows its current work
            assert p.command == theirs[p.pid]["args"]
    if any(t["stat"].startswith("I") for t in theirs.values()):
        assert any(p.state == "I" for p in snap)


def test_ipython_shows_the_tree() -> None:
    pretty = pytest.importorskip("IPython.lib.pretty")
    snap = snapshot(os.getpid())
    assert pretty.pretty(snap) == snap.tree() == str(snap)


@pytest.mark.slow
def test_benchmark_runs_and_reports_every_target() -> None:
    bench = os.path.join(os.path.dirname(__file__), os.pardir, "bench", "snapshot.py")
    done = subprocess.run(
        [sys.executable, bench, "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for size in (10, 50, 200):
        assert re.search(rf"^\s+{size}\s+\d+\.\d+ms", out, re.MULTILINE), out
    assert re.search(r"target <= 0\.5x ps at 50 processes: Inspector \d+\.\d+x (NOT )?MET", out)
    assert re.search(r"target <= 1\.0x ps at 200 processes: Inspector \d+\.\d+x (NOT )?MET", out)
    assert re.search(r"10 Hz .*: \d+\.\d+% of one core -> target <= 5% (NOT )?MET", out)


def test_process_info_can_be_built_by_hand() -> None:
    p = ProcessInfo(7, 1, "S", "sh", 1, None, 0.0, "parent", 0)
    assert Snapshot(0.0, 7, (p,)).forest().splitlines()[1].split() == ["7", "1", "S", "sh"]
