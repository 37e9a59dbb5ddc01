"""fork110.sandbox: each run in its own pid and mount namespace, where the kernel allows it.

Every test runs a real caller process, as root and as an ordinary user (uid 65534), and judges
from outside where it can: the pids the run prints are the pids of its events and tree, an
orphan's parent is pid 1, the run sees nothing but itself in ``/proc``, cannot reach any host
pid, the kernel's connection file or its cgroup, and leaves nothing behind. The fallback (the
host's namespaces, forced by ``FORK110_SANDBOX_NAMESPACES=0``) is tested too.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from test_sandbox_attacks import REPO, ROOT, attack, caller

from fork110 import Command, Stdio, sandbox
from fork110._sandbox.inside import ns
from fork110._sandbox.inside.cgroup import RunCgroup

__all__ = ["caller"]  # the fixture (root and uid 65534), shared with the attack tests


def _namespaces_allowed() -> bool:
    """Does this kernel let an ordinary process make user + pid + mount namespaces? (It does on
    the course machines; a container may forbid it, and the runs then fall back.)"""
    probe = ["unshare", "-U", "-r", "-p", "-f", "--mount-proc", "true"]
    try:
        return Command(probe[0]).args(probe[1:]).stderr(Stdio.null()).status().success()
    except OSError:
        return False


pytestmark = pytest.mark.skipif(
    not _namespaces_allowed(),
    reason="this kernel allows no user + pid namespaces (the fallback is tested elsewhere)",
)

OWN_PIDS = r'''
import json, os
from fork110 import sandbox
code = """
import os, time
print("parent", os.getpid(), os.getppid(), flush=True)
pid = os.fork()
if pid == 0:
    print("child", os.getpid(), os.getppid(), flush=True)
    time.sleep(0.5)
    os._exit(0)
time.sleep(0.3)
os.waitpid(pid, 0)
"""
with sandbox.start(code, timeout=20) as live:
    snap = None
    for event in live:
        if event.kind == "stdout" and event.detail.startswith("child"):
            snap = live.snapshot()  # both alive now (the child sleeps, the parent too)
    r = live.result()
printed = {line.split()[0]: [int(x) for x in line.split()[1:]] for line in r.stdout.splitlines()}
events = {e.process: e.pid for e in r.events if e.kind in ("stdout", "exit")}
tree = {p.name: [p.pid, p.ppid] for p in snap.processes} if snap is not None else {}
print(json.dumps({"namespace": r.namespace, "printed": printed, "events": events,
                  "tree": tree, "leaked": r.leaked}))
'''


def test_the_pids_a_run_prints_are_its_events_and_its_tree(caller: Command) -> None:
    got = attack(caller, OWN_PIDS)
    assert got["namespace"] is True
    printed = got["printed"]
    assert printed == {"parent": [2, 1], "child": [3, 2]}  # pid 1 is the run's supervisor
    assert got["events"] == {"parent": 2, "child-1": 3}
    assert got["tree"] == {"parent": [2, 1], "child-1": [3, 2]}
    assert got["leaked"] == 0


ORPHAN = r'''
import json
from fork110 import sandbox
code = """
import os, time
parent = os.getpid()
if os.fork() == 0:
    while os.getppid() == parent:  # until the parent has exited and we were adopted
        time.sleep(0.001)
    print("adopted by", os.getppid(), flush=True)
    os._exit(0)
"""
with sandbox.start(code, timeout=20) as live:
    r = live.result()
    outside = live.pid
print(json.dumps({"namespace": r.namespace, "out": r.output("child-1"),
                  "supervisor": outside, "reaped": [e.describe() for e in r.events
                                                    if e.kind == "reap"], "leaked": r.leaked}))
'''


def test_an_orphan_is_adopted_by_pid_1_the_runs_init(caller: Command) -> None:
    got = attack(caller, ORPHAN)
    assert got["namespace"] is True and got["out"] == "adopted by 1\n"
    assert "supervisor reaped child-1 (exit status: 0)" in got["reaped"]  # pid 1 reaps it
    assert isinstance(got["supervisor"], int) and got["supervisor"] > 1  # pid 1, from outside
    assert got["leaked"] == 0


PROC = r'''
import json, os
from fork110 import sandbox
code = """
import os
pids = sorted(int(n) for n in os.listdir("/proc") if n.isdigit())
print(pids, os.path.exists("/proc/CALLER"), flush=True)
""".replace("CALLER", str(os.getpid()))
r = sandbox.run(code, timeout=20)
print(json.dumps({"namespace": r.namespace, "out": r.stdout, "leaked": r.leaked}))
'''


def test_the_runs_proc_shows_the_run_and_nothing_else(caller: Command) -> None:
    got = attack(caller, PROC)
    assert got["namespace"] is True
    assert got["out"] == "[1, 2] False\n"  # its supervisor and itself; no caller, no host
    assert got["leaked"] == 0


REACH = r'''
import json, os
from fork110 import Command, Stdio, sandbox
victim = Command("sleep").arg("60").spawn()
code = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def call(what, rc):
    print(what, rc, ctypes.get_errno(), flush=True)
caller, victim = CALLER, VICTIM
call("kill victim", libc.kill(victim, 9))
call("kill caller", libc.kill(caller, 19))
call("ptrace victim", libc.ptrace(16, victim, None, None))
call("ptrace caller", libc.ptrace(16, caller, None, None))
call("prlimit caller", libc.prlimit(caller, 7, None, None))
print("mem visible", os.path.exists(f"/proc/{caller}/mem"), flush=True)
""".replace("CALLER", str(os.getpid())).replace("VICTIM", str(victim.id()))
r = sandbox.run(code, timeout=20)
alive = victim.try_wait() is None
victim.kill()
victim.wait()
state = open(f"/proc/{os.getpid()}/stat").read().rpartition(")")[2].split()[0]
print(json.dumps({"namespace": r.namespace, "out": r.stdout, "alive": alive, "state": state,
                  "leaked": r.leaked}))
'''


def test_no_host_pid_can_be_signalled_traced_or_limited(caller: Command) -> None:
    got = attack(caller, REACH)
    assert got["namespace"] is True
    lines = str(got["out"]).splitlines()
    esrch = 3
    assert lines == [
        f"kill victim -1 {esrch}",
        f"kill caller -1 {esrch}",
        f"ptrace victim -1 {esrch}",
        f"ptrace caller -1 {esrch}",
        f"prlimit caller -1 {esrch}",
        "mem visible False",
    ], lines
    assert got["alive"] is True and got["state"] in ("R", "S")  # the caller is not stopped
    assert got["leaked"] == 0


CONNECTION_FILE = r'''
import json, os, shutil, tempfile
from fork110 import sandbox
runtime = tempfile.mkdtemp(prefix="fork110-runtime-")
path = os.path.join(runtime, "kernel-1234.json")
with open(path, "w") as f:
    f.write('{"key": "secret"}')
os.environ["JUPYTER_RUNTIME_DIR"] = runtime
code = """
import os
for what in (lambda: open("PATH").read(), lambda: os.listdir("RUNTIME")):
    try:
        print("got", what(), flush=True)
    except OSError as exc:
        print("refused", type(exc).__name__, flush=True)
try:
    open("RUNTIME/planted.json", "w").close()
    print("planted", flush=True)
except OSError as exc:
    print("refused", type(exc).__name__, flush=True)
import ctypes  # root in its own user namespace: a mount namespace of its own, then unmount?
libc = ctypes.CDLL(None, use_errno=True)
libc.unshare(0x00020000)
print("umount", libc.umount2(b"RUNTIME", 2), os.listdir("RUNTIME"), flush=True)
""".replace("PATH", path).replace("RUNTIME", runtime)
r = sandbox.run(code, timeout=20)
still = open(path).read()
os.unlink(path)
left = os.listdir(runtime)
shutil.rmtree(runtime)
print(json.dumps({"namespace": r.namespace, "out": r.stdout, "still": still, "left": left,
                  "leaked": r.leaked}))
'''


def test_the_kernels_connection_file_is_out_of_sight(caller: Command) -> None:
    got = attack(caller, CONNECTION_FILE)
    assert got["namespace"] is True
    # the runtime directory is an empty, read-only tmpfs in the run's own mount namespace
    assert got["out"].splitlines() == [
        "refused FileNotFoundError",
        "got []",
        "refused OSError",
        "umount -1 []",  # the tmpfs is locked: mounted where the run has no privilege
    ]
    assert got["still"] == '{"key": "secret"}' and got["left"] == []  # the host's is untouched
    assert got["leaked"] == 0


CGROUP = """
import os
where = dict(line.split(":", 2)[1:] for line in open("/proc/self/cgroup").read().splitlines())
mine = "/sys/fs/cgroup/pids" + where["pids"]
for path, text in ((mine + "/pids.max", "max"), ("/sys/fs/cgroup/pids/cgroup.procs", "0"),
                   ("/sys/fs/cgroup/pids/tasks", "0")):
    try:
        with open(path, "w") as f:
            f.write(text)
        print("wrote", path, flush=True)
    except OSError as exc:
        print("refused", type(exc).__name__, flush=True)
while True:  # then a bomb: the budget still holds
    try:
        os.fork()
    except BlockingIOError:
        pass
"""


@pytest.mark.skipif(
    not (ROOT and RunCgroup.create("probe", 1, make=False) is not None),
    reason="needs root and cgroups (the course machines have them)",
)
def test_as_root_the_run_can_neither_raise_its_budget_nor_leave_its_cgroup() -> None:
    r = sandbox.run(CGROUP, max_processes=6, timeout=1.0)
    assert r.namespace and r.enforcement == "cgroup"
    assert [line.split()[0] for line in r.stdout.splitlines()] == ["refused"] * 3, r.stdout
    assert r.peak_processes <= 6 and r.refusals > 0 and r.killed != "over budget"
    assert r.leaked == 0


DAEMON = r'''
import json, os
from fork110 import sandbox
token = f"{os.getpid()}.{os.urandom(3).hex()}"
code = """
import os
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:  # a daemon: not a child of the run's parent, in a session of its own
        os.execvp("sleep", ["sleeper-TOKEN", "600"])
    os._exit(0)
print("daemon started", flush=True)
""".replace("TOKEN", token)
r = sandbox.run(code, timeout=2)
found = []
for name in os.listdir("/proc"):
    try:
        with open(f"/proc/{name}/cmdline", "rb") as f:
            if token.encode() in f.read():
                found.append(int(name))
    except OSError:
        pass
print(json.dumps({"namespace": r.namespace, "found": found, "leaked": r.leaked,
                  "timed_out": r.timed_out}))
'''


def test_nothing_outlives_the_run_seen_from_outside(caller: Command) -> None:
    got = attack(caller, DAEMON)
    assert got["namespace"] is True and got["timed_out"] is True  # the daemon slept on
    assert got["found"] == [] and got["leaked"] == 0


def test_without_namespaces_the_run_shares_the_hosts_pids_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FORK110_SANDBOX_NAMESPACES", "0")
    code = """
import os
parent = os.getpid()
print(os.getpid(), flush=True)
if os.fork() == 0:
    while os.getppid() == parent:
        pass
    print("adopted by", os.getppid(), flush=True)
    os._exit(0)
"""
    with sandbox.start(code, timeout=20) as live:
        r = live.result()
    assert not r.namespace
    pid = int(r.output("parent"))
    assert pid > 2 and next(e.pid for e in r.events if e.kind == "start") == pid
    assert r.output("child-1") == f"adopted by {live.pid}\n"  # the supervisor, a subreaper
    assert r.leaked == 0


def test_the_namespace_is_the_default_here() -> None:
    """This machine allows pid namespaces (as root, and to users through user namespaces)."""
    assert os.environ.get("FORK110_SANDBOX_NAMESPACES", "1") != "0"
    r = sandbox.run("import os; print(os.getpid(), os.getppid())")
    assert r.namespace and r.stdout == "2 1\n"


KERNEL_IN_TMP = r'''
import json, os, sys, tempfile, types
from fork110 import sandbox
# a kernel started by a test tool keeps its connection file in /tmp (the directory is shared:
# the run must still see /tmp, and not that file); the kernel's module only says where it is
fd, path = tempfile.mkstemp(prefix="kernel-", suffix=".json", dir="/tmp")
os.write(fd, b'{"key": "secret"}')
os.close(fd)
connect = types.ModuleType("ipykernel.connect")
connect.get_connection_file = lambda: path
sys.modules["ipykernel.connect"] = connect
mine = tempfile.mkdtemp(dir="/tmp")
code = """
import os
print(repr(open("PATH").read()), os.path.isdir("MINE"), flush=True)
""".replace("PATH", path).replace("MINE", mine)
r = sandbox.run(code, timeout=20)
still = open(path).read()
os.unlink(path)
os.rmdir(mine)
print(json.dumps({"namespace": r.namespace, "out": r.stdout, "err": r.stderr, "still": still}))
'''


def test_a_connection_file_in_a_shared_directory_is_hidden_alone(caller: Command) -> None:
    got = attack(caller, KERNEL_IN_TMP)
    assert got["namespace"] is True, got
    assert got["out"] == "'' True\n", got  # reads as empty; the rest of /tmp is still there
    assert got["still"] == '{"key": "secret"}'


READ_ONLY = r'''
import json, os, sys
from fork110 import sandbox
where, token = sys.argv[1], sys.argv[2]
scratch = f"/tmp/fork110-scratch-{token}"
code = """
import ctypes, os
def attempt(what, path, mode):
    try:
        with open(path, mode) as f:
            f.write("changed")
        print(what, "written", flush=True)
    except OSError as exc:
        print(what, "refused", exc.strerror, flush=True)
attempt("root's file", "WHERE/roots.txt", "a")
attempt("root's file", "WHERE/roots.txt", "w")
attempt("own file", "WHERE/own.txt", "a")
attempt("new file here", "new.txt", "x")
with open("SCRATCH", "w") as f:
    f.write("scratch")
print("tmp reads", open("SCRATCH").read(), flush=True)
input()  # until the caller has looked from outside
libc = ctypes.CDLL(None, use_errno=True)
MS_REMOUNT, MS_BIND = 32, 4096
print("remount rw", libc.mount(None, b"/", None, MS_REMOUNT, None), flush=True)
print("remount rw bind", libc.mount(None, b"/", None, MS_REMOUNT | MS_BIND, None), flush=True)
libc.unshare(0x00020000)  # a mount namespace of its own, where it is root: still locked
print("own namespace", libc.mount(None, b"/", None, MS_REMOUNT | MS_BIND, None), flush=True)
try:  # (opened, never written: a sysctl, the host's; /sys likewise)
    os.close(os.open("/proc/sys/vm/drop_caches", os.O_WRONLY))
    os.close(os.open("/sys/kernel/mm/transparent_hugepage/enabled", os.O_WRONLY))
    print("sysctl opened", flush=True)
except OSError as exc:
    print("sysctl refused", flush=True)
attempt("then root's file", "WHERE/roots.txt", "a")
""".replace("WHERE", where).replace("SCRATCH", scratch)
seen_outside = None
with sandbox.start(code, timeout=20, cwd=where, stdin="go on\n") as live:
    for event in live:
        if event.kind == "stdout" and event.detail.startswith("tmp reads"):
            seen_outside = os.path.exists(scratch)
    r = live.result()
print(json.dumps({"namespace": r.namespace, "out": r.stdout, "err": r.stderr,
                  "seen_outside": seen_outside, "after": os.path.exists(scratch),
                  "leaked": r.leaked}))
'''


def _host_dir() -> str:
    """A fresh directory on the host's disk, outside the run's private scratch (/tmp, ...: a
    clone of the course may live there) and reachable by every uid: the repository's, else one
    in a system directory."""
    for base in (REPO, "/var/cache", "/var/lib", "/opt", "/srv"):
        real = os.path.realpath(base)
        if any(real == s or real.startswith(s + "/") for s in ns.SCRATCH):
            continue
        parts = Path(real).parts
        if not all(
            os.stat(os.path.join(*parts[:i])).st_mode & 0o001 for i in range(1, len(parts) + 1)
        ):
            continue  # some uid could not reach it
        try:
            return tempfile.mkdtemp(prefix=".fork110-ro-", dir=real)
        except OSError:
            continue
    pytest.fail("no directory outside /tmp, /var/tmp and /dev/shm that every uid can reach")


def test_the_hosts_files_are_read_only_to_the_run_and_its_tmp_is_its_own(
    caller: Command, request: pytest.FixtureRequest
) -> None:
    where = _host_dir()  # outside /tmp, on the host's disk
    try:
        os.chmod(where, 0o777)  # the caller may create files here, outside a run
        roots, own = os.path.join(where, "roots.txt"), os.path.join(where, "own.txt")
        for path in (roots, own):
            with open(path, "w") as f:
                f.write("original")
            os.chmod(path, 0o644)
        if request.node.callspec.params["caller"] == "user":  # its own file (root's, as root)
            os.chown(own, 65534, 65534)
        token = os.urandom(4).hex()
        out = caller.args(["-c", READ_ONLY, where, token]).output()
        assert out.status.success(), out.stderr.decode()
        got = json.loads(out.stdout.decode().splitlines()[-1])
        left = sorted(os.listdir(where))
        contents = [Path(roots).read_text(), Path(own).read_text()]
    finally:
        shutil.rmtree(where)
    assert got["namespace"] is True, got
    erofs = os.strerror(30)  # (or, for root's file and an ordinary caller, EACCES first)
    refused = {f"root's file refused {erofs}", f"root's file refused {os.strerror(13)}"}
    lines = got["out"].splitlines()
    assert lines[0] in refused and lines[1] in refused and lines[-1].startswith("then root's")
    assert lines[2:-1] == [
        f"own file refused {erofs}",
        f"new file here refused {erofs}",
        "tmp reads scratch",
        "remount rw -1",
        "remount rw bind -1",
        "own namespace -1",
        "sysctl refused",
    ], got
    assert lines[-1][len("then ") :] in refused
    assert contents == ["original", "original"] and left == ["own.txt", "roots.txt"]
    assert got["seen_outside"] is False and got["after"] is False  # the run's /tmp, gone now
    assert got["leaked"] == 0


def test_a_working_directory_in_tmp_is_the_runs_private_copy(tmp_path: Path) -> None:
    (tmp_path / "given.txt").write_text("from outside")
    code = """
import os
print(open("given.txt").read(), flush=True)
with open("made.txt", "w") as f:
    f.write("inside")
print(sorted(os.listdir(".")), flush=True)
"""
    r = sandbox.run(code, cwd=tmp_path, timeout=20)
    assert r.namespace and r.stdout == "from outside\n['given.txt', 'made.txt']\n", r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["given.txt"]  # gone with the run
    assert r.leaked == 0
