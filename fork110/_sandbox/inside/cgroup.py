"""The cgroups of a contained run, where the machine lets us make them (root, as a rule).

* A **pids** group (cgroup v1 ``pids`` controller, or v2 where ``pids`` is already enabled):
  the kernel refuses any fork or clone past ``pids.max`` with EAGAIN, for C code as well as
  Python, and counts zombies until they are reaped, exactly like RLIMIT_NPROC would (which root
  ignores). It counts threads too: a thread is a task to the kernel.
* A **v2** group (no controller needed): ``cgroup.procs`` lists the run wherever its processes
  went, and ``cgroup.kill`` (Linux 5.14; without it, each member is sent SIGKILL) kills all of
  them at once, forks in flight included.

Groups are named ``fork110-<supervisor pid>-<its start ticks>`` beside the caller's own group;
the supervisor removes them when the run ends, and removes those left by a supervisor that died.
Only ``os`` is imported.

>>> isinstance(RunCgroup.create("fork110-doctest-0", 4, make=False), (RunCgroup, type(None)))
True
"""

from __future__ import annotations

import os
import time

from fork110._sandbox.inside.procs import read_stat

__all__ = ["PREFIX", "RunCgroup", "remove_stale"]

PREFIX = "fork110-"
SEAL_UID = 2_147_483_646  # owns a run's cgroup files (no user has it)


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def _write(path: str, text: str) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        os.write(fd, text.encode())
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _own_dirs(controller: str = "pids") -> tuple[str | None, str | None]:
    """Our own v1 *controller* and v2 cgroup directories (None where there is no such hierarchy)."""
    mounts_v1: list[tuple[str, str]] = []  # (mount root, mount point) of a v1 pids hierarchy
    mount_v2: tuple[str, str] | None = None
    for line in (_read_text("/proc/self/mountinfo") or "").splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        lf, rf = left.split(), right.split()
        if len(lf) < 5 or len(rf) < 3:
            continue
        root, point = lf[3], lf[4].replace("\\040", " ")
        if rf[0] == "cgroup" and controller in rf[2].split(","):
            mounts_v1.append((root, point))
        elif rf[0] == "cgroup2" and mount_v2 is None:
            mount_v2 = (root, point)
    path_v1 = path_v2 = None
    for line in (_read_text("/proc/self/cgroup") or "").splitlines():
        num, _, rest = line.partition(":")
        ctrls, _, path = rest.partition(":")
        if num == "0" and ctrls == "":
            path_v2 = path
        elif controller in ctrls.split(","):
            path_v1 = path

    def join(mount: tuple[str, str] | None, path: str | None) -> str | None:
        if mount is None or path is None:
            return None
        root, point = mount
        if root != "/" and path.startswith(root):
            path = path[len(root) :]
        return os.path.join(point, path.lstrip("/")).rstrip("/") or "/"

    return join(mounts_v1[0] if mounts_v1 else None, path_v1), join(mount_v2, path_v2)


class RunCgroup:
    """The run's cgroup directories: *limit* (has ``pids.max``) and *kill* (has ``cgroup.kill``).

    >>> RunCgroup(None, None).procs()
    set()
    """

    __slots__ = ("cpu_dir", "freezer_dir", "kill_dir", "limit_dir", "mem_dir")

    def __init__(
        self,
        limit_dir: str | None,
        kill_dir: str | None,
        mem_dir: str | None = None,
        cpu_dir: str | None = None,
    ) -> None:
        self.limit_dir = limit_dir
        self.kill_dir = kill_dir
        self.mem_dir = mem_dir  # memory.limit_in_bytes (v1) or memory.max (v2)
        self.cpu_dir = cpu_dir  # cpu.cfs_quota_us (v1) or cpu.max (v2)
        self.freezer_dir: str | None = None  # freezer.state (v1): freeze, kill, thaw

    def __repr__(self) -> str:
        return f"<RunCgroup limit={self.limit_dir!r} kill={self.kill_dir!r} mem={self.mem_dir!r}>"

    @classmethod
    def of(cls, dirs: list[str]) -> RunCgroup | None:
        """The groups named by :meth:`dirs` (what the caller is told), told apart by their files.

        >>> RunCgroup.of([]) is None
        True
        """
        if not dirs:
            return None
        group = cls(None, None)
        for d in dirs:
            if os.path.exists(os.path.join(d, "pids.max")) and group.limit_dir is None:
                group.limit_dir = d
            if os.path.exists(os.path.join(d, "cgroup.controllers")):
                group.kill_dir = d
            if os.path.exists(os.path.join(d, "memory.limit_in_bytes")):
                group.mem_dir = d
            if os.path.exists(os.path.join(d, "cpu.cfs_quota_us")):
                group.cpu_dir = d
            if os.path.exists(os.path.join(d, "freezer.state")):
                group.freezer_dir = d
        if not group.dirs():  # gone already: still name them, for procs() and remove()
            group.limit_dir = dirs[0]
            group.mem_dir = dirs[1] if len(dirs) > 1 else None
            group.cpu_dir = dirs[2] if len(dirs) > 2 else None
        return group

    def limit_memory(self, name: str, max_bytes: int) -> bool:
        """Make a memory group (v1) holding the run to *max_bytes*, swap included; or set
        ``memory.max`` on the v2 group where the memory controller is enabled there.

        >>> RunCgroup(None, None).limit_memory("x", 1 << 20) in (True, False)
        True
        """
        group = _v1_group("memory", name, [("memory.limit_in_bytes", str(max_bytes))])
        if group is not None:
            _write(os.path.join(group, "memory.memsw.limit_in_bytes"), str(max_bytes))
            self.mem_dir = group
            return True
        if self.kill_dir is not None and _write(
            os.path.join(self.kill_dir, "memory.max"), str(max_bytes)
        ):
            _write(os.path.join(self.kill_dir, "memory.swap.max"), "0")
            self.mem_dir = self.kill_dir
            return True
        return False

    def limit_cpu(self, name: str, cpus: float) -> bool:
        """Make a cpu group (v1) giving the run at most *cpus* CPUs' worth of time (a CFS quota).

        >>> RunCgroup(None, None).limit_cpu("x", 1.0) in (True, False)
        True
        """
        period = 100_000
        quota = max(1000, int(period * cpus))
        settings = [("cpu.cfs_period_us", str(period)), ("cpu.cfs_quota_us", str(quota))]
        group = _v1_group("cpu", name, settings)
        if group is not None:
            self.cpu_dir = group
            return True
        if self.kill_dir is not None and _write(
            os.path.join(self.kill_dir, "cpu.max"), f"{quota} {period}"
        ):
            self.cpu_dir = self.kill_dir
            return True
        return False

    def seal(self) -> None:
        """Give the groups and their files to an owner nobody has (the supervisor keeps its
        capabilities; the run, even as root, gives up CAP_DAC_OVERRIDE and CAP_FOWNER), so the
        run can neither raise ``pids.max`` or its memory limit, nor disable the OOM killer, nor
        make groups of its own inside. Moving out stays possible as root: the supervisor's count
        of the run's processes sees to that.

        >>> RunCgroup(None, None).seal()
        """
        for d in self.dirs():
            try:
                names = os.listdir(d)
            except OSError:
                continue
            for path in [d, *(os.path.join(d, n) for n in names)]:
                try:
                    os.chown(path, SEAL_UID, SEAL_UID)
                except OSError:
                    pass

    def add_freezer(self, name: str) -> bool:
        """Make a freezer group (v1), so :meth:`kill` can stop the whole run at once first.

        >>> RunCgroup(None, None).add_freezer("x") in (True, False)
        True
        """
        v1, _v2 = _own_dirs("freezer")
        if v1 is None:
            return False
        candidate = os.path.join(v1, name)
        try:
            os.mkdir(candidate)
        except OSError:
            return False
        self.freezer_dir = candidate
        return True

    def oom_kills(self) -> int:
        """How many of the run's processes the kernel killed for memory (``oom_kill``).

        >>> RunCgroup(None, None).oom_kills()
        0
        """
        if self.mem_dir is None:
            return 0
        for file in ("memory.oom_control", "memory.events"):
            text = _read_text(os.path.join(self.mem_dir, file)) or ""
            for line in text.splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and value.strip().isdigit():
                    return int(value)
        return 0

    @classmethod
    def create(
        cls, name: str, max_tasks: int, *, limit: bool = True, make: bool = True
    ) -> RunCgroup | None:
        """Make the groups (a pids limit of *max_tasks* unless ``limit=False``); None if neither.

        ``make=False`` only says where they would go (nothing is created).

        >>> RunCgroup.create("x", 1, make=False) is None or True
        True
        """
        v1, v2 = _own_dirs()
        if not make:
            return cls(v1, v2) if (v1 or v2) else None
        limit_dir = kill_dir = None
        if v2 is not None:
            candidate = os.path.join(v2, name)
            try:
                os.mkdir(candidate)
                kill_dir = candidate
            except OSError:
                pass
        if limit and v1 is not None:
            candidate = os.path.join(v1, name)
            try:
                os.mkdir(candidate)
            except OSError:
                pass
            else:
                if _write(os.path.join(candidate, "pids.max"), str(max_tasks)):
                    limit_dir = candidate
                else:
                    _rmdir(candidate)
        if (
            limit
            and limit_dir is None
            and kill_dir is not None
            and _write(os.path.join(kill_dir, "pids.max"), str(max_tasks))
        ):
            limit_dir = kill_dir  # cgroup v2 with the pids controller already enabled here
        if limit_dir is None and kill_dir is None:
            return None
        return cls(limit_dir, kill_dir)

    def dirs(self) -> list[str]:
        """The directories, without duplicates.

        >>> RunCgroup("/a", "/a").dirs()
        ['/a']
        """
        out: list[str] = []
        for d in (self.limit_dir, self.kill_dir, self.mem_dir, self.cpu_dir, self.freezer_dir):
            if d is not None and d not in out:
                out.append(d)
        return out

    def join(self, pid: int) -> bool:
        """Move *pid* into every group (call it from the run's first process, before user code).

        >>> RunCgroup(None, None).join(0)
        True
        """
        ok = True
        for d in self.dirs():
            ok = _write(os.path.join(d, "cgroup.procs"), str(pid)) and ok
        return ok

    def procs(self) -> set[int]:
        """Every process in the groups now.

        >>> RunCgroup("/nonexistent", None).procs()
        set()
        """
        found: set[int] = set()
        for d in self.dirs():
            text = _read_text(os.path.join(d, "cgroup.procs")) or ""
            found.update(int(p) for p in text.split())
        return found

    def kill(self) -> None:
        """SIGKILL the whole group at once: ``cgroup.kill`` (v2), and freeze, kill, thaw (v1 freezer).

        >>> RunCgroup(None, None).kill()
        """
        if self.kill_dir is not None:
            _write(os.path.join(self.kill_dir, "cgroup.kill"), "1")
        d = self.freezer_dir
        if d is None:
            return
        state = os.path.join(d, "freezer.state")
        if not _write(state, "FROZEN"):
            return
        try:  # frozen, nothing in the group runs, forks included: every member gets its SIGKILL
            deadline = time.monotonic() + 0.2
            while (_read_text(state) or "").strip() != "FROZEN" and time.monotonic() < deadline:
                time.sleep(0.0005)
            text = _read_text(os.path.join(d, "cgroup.procs")) or ""
            for pid in (int(p) for p in text.split()):
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
        finally:
            _write(state, "THAWED")  # they die as they thaw

    def refusals(self) -> int:
        """How many forks the pids limit refused (``pids.events``), C code's included.

        >>> RunCgroup(None, None).refusals()
        0
        """
        if self.limit_dir is None:
            return 0
        text = _read_text(os.path.join(self.limit_dir, "pids.events")) or ""
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "max" and value.strip().isdigit():
                return int(value)
        return 0

    def remove(self, deadline: float) -> bool:
        """Remove the (emptied) groups, retrying until *deadline*; True if all are gone.

        >>> RunCgroup(None, None).remove(0.0)
        True
        """
        left = self.dirs()
        while True:
            left = [d for d in left if not _rmdir(d)]
            if not left or time.monotonic() > deadline:
                return not left
            time.sleep(0.001)


def _v1_group(controller: str, name: str, settings: list[tuple[str, str]]) -> str | None:
    """A new group *name* under our own v1 *controller* directory with each (file, value) of
    *settings* written, in order; None (and no group left) where any step fails."""
    v1, _v2 = _own_dirs(controller)
    if v1 is None:
        return None
    group = os.path.join(v1, name)
    try:
        os.mkdir(group)
    except OSError:
        return None
    if all(_write(os.path.join(group, file), value) for file, value in settings):
        return group
    _rmdir(group)
    return None


def _rmdir(path: str) -> bool:
    try:
        os.rmdir(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def remove_stale() -> int:
    """Remove the groups of runs whose supervisor is gone, killing anything left in them.

    Returns how many groups were removed.

    >>> remove_stale() >= 0
    True
    """
    removed = 0
    parents = {*_own_dirs(), _own_dirs("memory")[0], _own_dirs("cpu")[0], _own_dirs("freezer")[0]}
    for parent in parents:
        if parent is None:
            continue
        try:
            names = os.listdir(parent)
        except OSError:
            continue
        for name in names:
            if not name.startswith(PREFIX):
                continue
            fields = name[len(PREFIX) :].split("-")
            if len(fields) != 2 or not all(f.isdigit() for f in fields):
                continue
            st = read_stat(int(fields[0]))
            if st is not None and st.start_ticks == int(fields[1]):
                continue  # its supervisor is alive: not ours to touch
            group = RunCgroup.of([os.path.join(parent, name)]) or RunCgroup(None, None)
            deadline = time.monotonic() + 1.0
            while group.procs() and time.monotonic() < deadline:
                group.kill()
                for pid in group.procs():
                    try:
                        os.kill(pid, 9)
                    except OSError:
                        pass
                time.sleep(0.001)
            removed += group.remove(deadline)
    return removed
