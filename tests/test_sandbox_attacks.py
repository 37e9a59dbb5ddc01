"""fork110.sandbox under attack: what a careless or mischievous run does to its caller and others.

Each attack is made by a real run, from a real caller process, once as root and once as an
ordinary user (uid 65534, through ``Command.uid``), and judged from outside: the victim's
process is still there, the caller's own numbers, the run's report.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path

import pytest

import fork110
from fork110 import Command, Stdio, sandbox
from fork110._sandbox import live as _sandbox_live
from fork110._sandbox.inside import wire as _sandbox_wire

REPO = str(Path(fork110.__file__).resolve().parent.parent)
ROOT = os.geteuid() == 0


def _runs_as_nobody(python: str) -> bool:
    probe = Command(python).args(["-c", "import fork110.sandbox"]).env("PYTHONPATH", REPO)
    try:
        return probe.current_dir("/").uid(65534).gid(65534).stderr(Stdio.null()).status().success()
    except OSError:  # an interpreter under /root, which other users may not enter
        return False


def _nobody_python() -> str | None:
    for python in (sys.executable, "/usr/bin/python3"):
        if _runs_as_nobody(python):
            return python
    return None


@pytest.fixture(params=["root", "user"])
def caller(request: pytest.FixtureRequest) -> Command:
    """A fresh caller process: as this test's user (root here), or as uid 65534."""
    if request.param == "root" or not ROOT:
        if request.param == "root" and not ROOT:
            pytest.skip("the root variant needs root")
        return Command(sys.executable).env("PYTHONPATH", REPO)
    python = _nobody_python()
    if python is None:
        pytest.skip("no Python interpreter here that user 65534 may run with this checkout")
    return (
        Command(python).env("PYTHONPATH", REPO).env("HOME", "/tmp")
        .current_dir("/tmp").uid(65534).gid(65534)
    )  # fmt: skip


def attack(caller: Command, script: str) -> dict[str, object]:
    """Run *script* in the caller process; it prints one JSON object last."""
    out = caller.args(["-c", script]).output()
    assert out.status.success(), out.stderr.decode()
    result = json.loads(out.stdout.decode().strip().splitlines()[-1])
    assert isinstance(result, dict)
    return result


FORGED = r'''
import json, os, time, _socket
from fork110 import Command, sandbox
from fork110._sandbox.inside.procs import read_stat

victim = Command("sleep").arg("60").spawn()
code = """
import os, time, _socket
from fork110._sandbox.inside import wire as w
s = os.fork.__globals__["state_"]  # the run's own state module (the one its hooks use)
v = VICTIM
s.send(w.MSG_FORK, v, "child-9")                         # through the hooked sender
s.send(w.MSG_SPAWN, v, "child-8", "sleep 60", "")
st = s.state()
sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)  # straight onto the socket
sock.sendto(w.pack_msg("hello", v, time.monotonic(), 0, "", os.getpid(), "child-7", ""), st.addr)
sock.sendto(w.pack_msg("fork", os.getpid(), time.monotonic(), 99, "", v, "child-6"), st.addr)
sock.sendto(w.pack_msg("reap", os.getpid(), time.monotonic(), 98, "", v, 0), st.addr)
print(st.addr.strip(chr(0)))
import sys; sys.stdout.flush()
time.sleep(0.5)
""".replace("VICTIM", str(victim.id()))
with sandbox.start(code, timeout=10) as live:
    addr = None
    for event in live:
        if event.kind == "stdout" and addr is None:
            addr = "\0" + event.detail.strip()
            parent = [e.pid for e in live.events if e.kind == "start"][0]
            # from outside the run, claiming to be its first process
            out = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
            msg = "\0".join(["fork", str(parent), repr(time.monotonic()), "50", "",
                             str(victim.id()), "child-5"]).encode()
            try:
                out.sendto(msg, addr)
            except OSError:
                pass
    r = live.result()
alive = victim.try_wait() is None
victim.kill()
victim.wait()
named = [e.describe() for e in r.events if e.other_pid == victim.id() or e.pid == victim.id()]
print(json.dumps({"alive": alive, "leaked": r.leaked, "named": named,
                  "ignored": any("ignored a report" in n for n in r.notes)}))
'''


def test_a_forged_report_cannot_make_anyone_kill_a_process_outside_the_run(
    caller: Command,
) -> None:
    got = attack(caller, FORGED)
    assert got["alive"] is True, "the victim of the forged reports was killed"
    assert got["named"] == []  # no event names it as the run's
    assert got["ignored"] is True and got["leaked"] == 0


SUPERVISOR_FDS = r'''
import json, os, resource, time
from fork110 import sandbox
code = """
import os, time
sup = os.getppid()
for fd, mode in ((0, os.O_RDONLY), (1, os.O_WRONLY), (2, os.O_WRONLY)):
    try:
        f = os.open(f"/proc/{sup}/fd/{fd}", mode)
    except OSError as exc:
        print("refused", fd, exc.errno, flush=True)
        continue
    if fd == 0:
        os.set_blocking(f, False)
        time.sleep(0.3)
        try:
            print("stole", os.read(f, 100), flush=True)
        except OSError:
            pass
    else:
        os.write(f, b"\\x7f\\xff\\xff\\xff" + b"x" * 65536)   # a frame header of 2 GiB, then junk
    print("opened", fd, flush=True)
time.sleep(60)
"""
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with sandbox.start(code, timeout=30) as live:
    while sum(1 for e in live.events if e.kind == "stdout") < 3 and not live.done:
        live.poll(0.1)
    started = time.monotonic()
    live.kill()   # the kill byte must not be stolen from the supervisor's stdin
    r = live.result()
    took = time.monotonic() - started
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"stdout": r.stdout, "killed": r.killed, "took": took, "grown_kib": grown,
                  "leaked": r.leaked, "notes": list(r.notes)}))
'''


def test_the_supervisors_pipes_are_closed_to_the_run(caller: Command) -> None:
    got = attack(caller, SUPERVISOR_FDS)
    out = str(got["stdout"])
    assert "opened" not in out and "stole" not in out, out
    assert out.count("refused") == 3
    assert got["killed"] == "killed" and got["leaked"] == 0
    assert float(got["took"]) < 5  # the kill arrived (the watchdog is 30 s away)
    assert int(got["grown_kib"]) < 64 * 1024  # the caller did not allocate a 2 GiB frame


def test_a_frame_header_past_the_cap_is_refused_before_anything_is_kept() -> None:
    u = _sandbox_wire.Unframer(max_size=1 << 20)
    assert u.feed(_sandbox_wire.frame("ok")) == ["ok"]
    with pytest.raises(_sandbox_wire.FrameError, match="over the cap"):
        u.feed(b"\x7f\xff\xff\xff" + b"x" * 4096)
    assert u.pending == 0
    with pytest.raises(_sandbox_wire.FrameError, match="does not decode"):
        _sandbox_wire.Unframer().feed(b"\0\0\0\3" + b"\xff\xff\xff")


BAD_SUPERVISOR = r"""
import marshal, os, sys, time
os.read(0, 1 << 20)
info = {"supervisor": os.getpid(), "sid": os.getsid(0), "parent": -1, "mode": "wrapper",
        "cgroups": [], "lock": ""}
rec = marshal.dumps(("info", time.monotonic(), os.getpid(), "supervisor", 0, "", -1, "", info))
os.write(1, len(rec).to_bytes(4, "big") + rec)
os.write(1, b"\x7f\xff\xff\xff" + b"x" * 100000)
while os.read(0, 4096):
    pass
"""


def test_a_malformed_frame_is_reported_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A supervisor (a real process) that sends a frame past the cap: the run ends, it says why."""
    script = tmp_path / "bad_supervisor.py"
    script.write_text(BAD_SUPERVISOR)
    monkeypatch.setattr(_sandbox_live, "SUPERVISOR", str(script))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = sandbox.run("pass", timeout=5)
    assert any("malformed frame" in n for n in r.notes), r.notes
    assert r.leaked == 0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 * 1024


MEMORY = r"""
import json
from fork110 import sandbox
r = sandbox.run("x = b'x' * (2 << 30)\nprint('allocated 2 GiB')", timeout=30)
small = sandbox.run("x = b'x' * (64 << 20)\nprint('allocated 64 MiB')", timeout=30)
print(json.dumps({"stdout": r.stdout, "stderr": r.stderr, "status": str(r.status),
                  "memory": r.memory, "oom": r.oom_kills, "notes": list(r.notes),
                  "leaked": r.leaked, "small": small.stdout, "max": r.max_memory}))
"""


def test_a_2_gib_allocation_fails_with_the_default_limit_and_the_run_says_why(
    caller: Command,
) -> None:
    got = attack(caller, MEMORY)
    assert got["stdout"] == "" and got["leaked"] == 0
    assert got["small"] == "allocated 64 MiB\n"  # ordinary use is not hindered
    assert got["max"] == 512 << 20
    if got["memory"] == "cgroup":  # the kernel's OOM killer, within the run's memory cgroup
        assert got["oom"] == 1 and got["status"] == "signal: 9 (SIGKILL)"
        assert any("out of memory" in str(n) and "512 MiB" in str(n) for n in got["notes"])  # type: ignore[union-attr]
    else:  # no memory cgroup here: RLIMIT_AS per process, and Python says MemoryError
        assert got["memory"] == "rlimit"
        assert "MemoryError" in str(got["stderr"]) and got["status"] == "exit status: 1"


ROBUST = r'''
import json, os, resource, threading
from fork110 import sandbox
me = os.getpid()
before = resource.getrlimit(resource.RLIMIT_NOFILE)
code = """
import ctypes, fcntl, os, resource, time
libc = ctypes.CDLL(None, use_errno=True)
out = []
def attempt(what, call):
    try:
        r = call()
        out.append(what + (": allowed" if r in (None, 0) else ": refused"))
    except OSError:
        out.append(what + ": refused")
for target, who in ((CALLER, "caller"), (os.getppid(), "supervisor")):
    r, w = os.pipe()
    attempt("F_SETOWN " + who, lambda: fcntl.fcntl(r, fcntl.F_SETOWN, target))
    attempt("prlimit " + who, lambda: resource.prlimit(target, resource.RLIMIT_NOFILE, (3, 3)))
    attempt("ptrace " + who, lambda: libc.ptrace(16, target, 0, 0))  # PTRACE_ATTACH
    attempt("seize " + who, lambda: libc.ptrace(0x4206, target, 0, 0))  # PTRACE_SEIZE
    fcntl.fcntl(r, fcntl.F_SETFL, os.O_ASYNC)
    os.write(w, b"x")  # SIGIO, to whoever owns the pipe
print(out, flush=True)
time.sleep(0.3)
""".replace("CALLER", str(me))
r = sandbox.run(code, timeout=10)
state = open(f"/proc/{me}/stat").read().rpartition(")")[2].split()[0]
print(json.dumps({"out": r.stdout, "err": r.stderr, "nofile_kept": resource.getrlimit(resource.RLIMIT_NOFILE) == before,
                  "state": state, "leaked": r.leaked, "killed": r.killed}))
'''


def test_the_caller_and_supervisor_survive_sigio_prlimit_and_ptrace(caller: Command) -> None:
    got = attack(caller, ROBUST)
    refused = [
        f"{what} {who}: refused"
        for who in ("caller", "supervisor")
        for what in ("F_SETOWN", "prlimit", "ptrace", "seize")
    ]
    assert got["out"] == f"{refused}\n", got["err"]
    assert got["nofile_kept"] is True and got["state"] in "RS"  # never left stopped or traced
    assert got["leaked"] == 0 and got["killed"] == ""  # the supervisor lived to the end


OUTLIVE = r'''
import json, os, time
from fork110 import sandbox
code = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
pid = libc.fork()  # unreported: below the fork hooks
if pid == 0:
    os.setsid()
    for path in ("/sys/fs/cgroup/pids/cgroup.procs", "/sys/fs/cgroup/cgroup.procs",
                 "/sys/fs/cgroup/memory/cgroup.procs", "/sys/fs/cgroup/cpu/cgroup.procs"):
        try:
            with open(path, "w") as f:
                f.write(str(os.getpid()))  # out of the run's cgroups (root may)
        except OSError:
            pass
    os.execv("/bin/sleep", ["sleep", "71.25"])
import fcntl
r, w = os.pipe()
try:  # SIGIO to the supervisor, which would end it by default
    fcntl.fcntl(r, fcntl.F_SETOWN, os.getppid())
    fcntl.fcntl(r, fcntl.F_SETFL, os.O_ASYNC)
    os.write(w, b"x")
except OSError:
    pass
print("parent leaves", pid > 0, flush=True)
"""
r = sandbox.run(code, timeout=5)
time.sleep(0.2)
left = []
for name in os.listdir("/proc"):
    if name.isdigit():
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                if f.read() == b"sleep\0" + b"71.25\0":
                    left.append(int(name))
        except OSError:
            pass
for pid in left:
    os.kill(pid, 9)
print(json.dumps({"left": left, "leaked": r.leaked, "out": r.stdout}))
'''


def test_nothing_outlives_the_run_and_leaked_tells_the_truth(caller: Command) -> None:
    got = attack(caller, OUTLIVE)
    assert got["out"] == "parent leaves True\n"
    assert got["left"] == [] and got["leaked"] == 0


NEW_PID_NAMESPACE = r'''
import json, os
from fork110 import sandbox
code = """
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
flags = 0x20000000 | (0x10000000 if os.geteuid() != 0 else 0)  # CLONE_NEWPID (+ CLONE_NEWUSER)
print("unshare", libc.unshare(flags), flush=True)
pid = os.fork()  # its child is pid 1 of a new namespace; its children 2 and 3 there
if pid == 0:
    kids = [os.fork() for _ in range(2)]
    if 0 in kids:
        time.sleep(0.3)
        os._exit(0)
    for _ in kids:
        os.wait()
    os._exit(0)
os.waitpid(pid, 0)
"""
r = sandbox.run(code, timeout=10)
named = sorted({p for e in r.events for p in (e.pid, e.other_pid) if p is not None and p <= 3})
names = {}  # pid -> the names events give it
for e in r.events:
    names.setdefault(e.pid, set()).add(e.process)
    if e.other_pid is not None and e.other:
        names.setdefault(e.other_pid, set()).add(e.other)
print(json.dumps({"out": r.stdout, "named": named, "leaked": r.leaked, "notes": list(r.notes),
                  "status": str(r.status), "namespace": r.namespace,
                  "names": {str(p): sorted(n) for p, n in names.items() if p <= 3}}))
'''


def test_a_pid_namespace_inside_a_run_names_no_host_pid(caller: Command) -> None:
    """Its processes report pids 1, 2, 3 of their own namespace: taken for the host's, the
    caller would signal init and kthreadd. Reports are checked against the kernel's sender."""
    got = attack(caller, NEW_PID_NAMESPACE)
    assert got["out"] == "unshare 0\n" and got["status"] == "exit status: 0"
    if got["namespace"]:  # the run's own pids 1, 2, 3 are its supervisor, parent and child-1
        assert got["names"] == {"1": ["supervisor"], "2": ["parent"], "3": ["child-1"]}
    else:
        assert got["named"] == []
    assert got["leaked"] == 0
    assert any("ignored a report" in str(n) for n in got["notes"])  # type: ignore[attr-defined]


CALLER_FDS = r'''
import json, os, time
from fork110 import Command, sandbox
victim = Command("sleep").arg("60").spawn()
st = open(f"/proc/{victim.id()}/stat").read().rpartition(")")[2].split()
ticks = int(st[19])
code = """
import marshal, os, time
caller, victim, ticks = CALLER, VICTIM, TICKS
frame = marshal.dumps(("fork", time.monotonic(), 1, "parent", victim, "child-9", -1, "", ticks))
out = []
try:
    fds = os.listdir(f"/proc/{caller}/fd")
except OSError:
    fds = []
    out.append("fd list refused")
for fd in fds:
    try:
        f = os.open(f"/proc/{caller}/fd/{fd}", os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        continue
    try:
        os.write(f, len(frame).to_bytes(4, "big") + frame)
        out.append("wrote " + fd)
    except OSError:
        pass
print(out, flush=True)
""".replace("CALLER", str(os.getpid())).replace("VICTIM", str(victim.id())).replace("TICKS", str(ticks))
r = sandbox.run(code, timeout=10)
alive = victim.try_wait() is None
victim.kill()
victim.wait()
import ctypes
dumpable = ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)  # PR_GET_DUMPABLE: restored after the run
print(json.dumps({"out": r.stdout, "alive": alive, "leaked": r.leaked, "dumpable": dumpable}))
'''


def test_the_callers_pipes_are_closed_to_the_run(caller: Command) -> None:
    """The caller's read end of the supervisor's pipe, reopened for writing through /proc, would
    let the run forge events (and name a victim for the clean-up to kill)."""
    got = attack(caller, CALLER_FDS)
    assert got["out"] in ("['fd list refused']\n", "[]\n")  # root may list them, not open them
    assert got["alive"] is True and got["leaked"] == 0
    assert got["dumpable"] == 1


BIG_STDIN = r"""
import json
from fork110 import sandbox
r = sandbox.run("import sys; print(len(sys.stdin.buffer.read()))", stdin=b"q" * (3 << 20))
print(json.dumps({"out": r.stdout, "err": r.stderr, "leaked": r.leaked}))
"""


def test_a_large_stdin_reaches_the_run_whoever_the_caller_is(caller: Command) -> None:
    """Large input is handed to the supervisor as an inherited memfd: no /proc reopening, which
    a caller made non-dumpable for the run's sake would refuse to an ordinary user."""
    got = attack(caller, BIG_STDIN)
    assert got == {"out": f"{3 << 20}\n", "err": "", "leaked": 0}
