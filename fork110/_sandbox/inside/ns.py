"""A contained run's own pid, mount and user namespaces (where the kernel allows them).

Loaded by the supervisor under ``python -S``: builtins, ``os`` and ``ctypes`` only. The shape:

1. the supervisor, once its cgroups and socket are made (in the host's namespaces, so its names
   for them are unique), calls :func:`enter`: ``unshare`` of a new pid and mount namespace (and,
   when it is not root, a user namespace first, mapping uid 0 inside to its own uid), then
   ``fork``. The parent stays behind as a stub that waits; the child is **pid 1** of the new pid
   namespace and goes on as the supervisor (:func:`become_init`: killed with its stub, mounts
   private, its own ``/proc``). Orphans of the run are adopted by pid 1, as textbooks say.
2. the run's first process, forked by pid 1, calls :func:`seal_run` before any user code: a mount
   namespace of its own where every mount of the host is read-only (as root, uid 0 in the run
   is the host's uid 0: without this it could write any root-owned file), ``/tmp``,
   ``/var/tmp`` and ``/dev/shm`` are private writable overlays that vanish with the run, and
   the Jupyter runtime directories (the kernel's connection files) and ``/sys/fs/cgroup`` are
   empty read-only tmpfs; then a user namespace of its own where it is uid 0 mapped to the uid
   it had, with no capability outside it: it cannot undo those mounts (not even in a mount
   namespace of its own: they are locked), write a cgroup file, or ptrace, prlimit or signal
   anyone outside the run (it cannot even see anyone outside: its ``/proc`` shows the
   namespace, pid 1 the supervisor).
3. the caller, outside, sees host pids: :func:`ns_pid` translates them (``NSpid``).

Where any step is refused (no user namespaces, a seccomp policy, ``FORK110_SANDBOX_NAMESPACES=0``),
the run falls back to the shared namespaces and says so (``ContainedRun.namespace``); none of
the mounts above exists then: the run writes what the caller's uid may write.

>>> ns_pid(os.getpid()) == os.getpid()  # not in a nested pid namespace here
True
"""

from __future__ import annotations

import os

__all__ = [
    "CLONE_NEWNS",
    "CLONE_NEWPID",
    "CLONE_NEWUSER",
    "become_init",
    "enter",
    "ns_ids",
    "ns_pid",
    "runtime_dirs",
    "seal_run",
    "unshare",
]

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_BIND, _MS_REC, _MS_PRIVATE = 0x1000, 0x4000, 1 << 18
_PR_SET_PDEATHSIG = 1
_PR_GET_DUMPABLE, _PR_SET_DUMPABLE = 3, 4
_SIGKILL = 9


def unshare(flags: int) -> int:
    """``unshare(2)``; 0 on success, else the errno.

    >>> unshare(0)
    0
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return 0 if libc.unshare(ctypes.c_int(flags)) == 0 else ctypes.get_errno() or 1


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> int:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_ulong,
        ctypes.c_char_p,
    ]
    rc = libc.mount(
        source.encode(),
        target.encode(),
        fstype.encode() if fstype else None,
        flags,
        data.encode() if data else None,
    )
    return 0 if rc == 0 else ctypes.get_errno() or 1


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _map_self(uid: int, gid: int) -> None:
    """In a user namespace just made: uid and gid 0 inside are *uid*/*gid* outside (one id each).

    A process that is not dumpable (the supervisor) has its ``/proc/self`` files owned by root:
    it is made dumpable for the moment of writing its own maps, then restored."""
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    dumpable = prctl(_PR_GET_DUMPABLE, 0, 0, 0, 0)
    if dumpable != 1:
        prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0)
    try:
        _write_maps(uid, gid)
    finally:
        if dumpable != 1:
            prctl(_PR_SET_DUMPABLE, max(dumpable, 0), 0, 0, 0)


def _write_maps(uid: int, gid: int) -> None:
    try:
        _write("/proc/self/setgroups", "deny")
    except FileNotFoundError:  # kernels before 3.19
        pass
    _write("/proc/self/uid_map", f"0 {uid} 1")
    _write("/proc/self/gid_map", f"0 {gid} 1")


def enter() -> int:
    """Make a pid and mount namespace (and a user namespace when not root), then fork pid 1.

    Returns -1 where the kernel refuses (nothing changed then, or only our own user namespace,
    which the fallback does not mind), 0 in the child (pid 1 now: call :func:`become_init`), and
    the child's pid in the parent (which should only wait for it and leave with its status).

    >>> callable(enter)
    True
    """
    uid, gid = os.geteuid(), os.getegid()
    if uid != 0:
        if unshare(CLONE_NEWUSER) != 0:
            return -1
        try:
            _map_self(uid, gid)
        except OSError as exc:  # in a user namespace without ids: going on would be unsafe
            raise SystemExit(
                f"fork110 supervisor: cannot map its uid in a new user namespace: {exc}"
            ) from None
    if unshare(CLONE_NEWPID | CLONE_NEWNS) != 0:
        return -1
    return os.fork()


def become_init() -> int:
    """In pid 1 of the new namespace: die with the stub that forked us, make every mount private
    (nothing we mount reaches the host), and mount this namespace's own ``/proc``. Returns our
    pid as the host sees it (read before the new ``/proc`` hides it), or -1 if a mount failed.

    >>> callable(become_init)
    True
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, _SIGKILL, 0, 0, 0)
    try:
        host = int(os.readlink("/proc/self"))  # the host's /proc names us by our host pid
    except (OSError, ValueError):
        return -1
    if _mount("none", "/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        return -1
    flags = _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
    if _mount("proc", "/proc", "proc", flags, None) != 0:
        return -1
    return host


_MS_REMOUNT, _MS_NOATIME, _MS_NODIRATIME = 32, 1024, 2048
_MS_RELATIME, _MS_STRICTATIME = 1 << 21, 1 << 24
_ST_RDONLY = 1
_KEEP = {  # the per-mount flags a read-only bind remount keeps (locked ones must be kept)
    "nosuid": _MS_NOSUID,
    "nodev": _MS_NODEV,
    "noexec": _MS_NOEXEC,
    "noatime": _MS_NOATIME,
    "nodiratime": _MS_NODIRATIME,
    "relatime": _MS_RELATIME,
    "strictatime": _MS_STRICTATIME,
}
SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")
"""Where a run may write: a private layer over the host's directory, gone with the run."""
SCRATCH_SIZE = 64 << 20
"""The size of each scratch layer (a tmpfs, charged to the run's memory as it fills)."""
_PROC_LOCKED = ("/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs")


def _unescape(field: str) -> str:
    r"""A mount point as ``/proc/self/mountinfo`` writes it (``\040`` for a space, ...).

    >>> _unescape(r"/a\040b")
    '/a b'
    """
    parts = field.split("\\")
    out = parts[0]
    for part in parts[1:]:
        code = part[:3]
        if len(code) == 3 and all(c in "01234567" for c in code):
            out += chr(int(code, 8)) + part[3:]
        else:
            out += "\\" + part
    return out


def mount_points() -> dict[str, int]:
    """Every mount point of our mount namespace, with the flags a read-only remount keeps (the
    topmost mount's, where several are stacked on one point), in ``mountinfo``'s order.

    >>> mount_points()["/proc"] & _MS_NOSUID in (0, _MS_NOSUID)
    True
    """
    found: dict[str, int] = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if len(fields) < 6:
                continue
            point = _unescape(fields[4])
            flags = 0
            for option in fields[5].split(","):
                flags |= _KEEP.get(option, 0)
            found.pop(point, None)  # a later mount on the same point is on top
            found[point] = flags
    return found


def _read_only(path: str) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & _ST_RDONLY)
    except OSError:  # unreachable (under a mount over it, or not ours to search): nothing to do
        return True


def _remount_read_only(path: str, keep: int) -> int:
    """Bind-remount the mount at *path* read-only with the flags *keep*; 0 if it is read-only
    now (or out of reach), else the errno."""
    err = _mount("none", path, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | keep, None)
    if err and not _read_only(path):
        return err
    return 0


def _scratch(path: str, lower: int) -> int:
    """A private, writable layer over *path* (whose directory is open as *lower*): an overlay
    of a fresh tmpfs on the host's (read-only) directory, so the run sees what is there and
    writes only to its own copy; a fresh empty tmpfs where overlays are refused."""
    flags = _MS_NOSUID | _MS_NODEV
    err = _mount("tmpfs", path, "tmpfs", flags, f"size={SCRATCH_SIZE},mode=0755")
    if err:
        return err
    upper, work = os.path.join(path, "upper"), os.path.join(path, "work")
    try:
        os.mkdir(upper, 0o1777)
        os.chmod(upper, 0o1777)  # (the umask)
        os.mkdir(work, 0o700)
    except OSError as exc:
        return exc.errno or 1
    options = f"lowerdir=/proc/self/fd/{lower},upperdir={upper},workdir={work}"
    if _mount("overlay", path, "overlay", flags, options) != 0:
        os.rmdir(work)  # the tmpfs alone, then (what was in the host's directory is not seen)
        os.rename(upper, os.path.join(path, ".empty"))
        return _mount(os.path.join(path, ".empty"), path, None, _MS_BIND, None)
    return 0


def seal_run(hide: list[str], share: list[str] | None = None) -> str:
    """In the run's first process, before any user code: a mount namespace of its own where

    * every mount of the host is read-only (a bind remount of each mount point, keeping its
      ``nosuid``/``nodev``/``noexec``), the namespace's own ``/proc`` aside (the run writes its
      uid map there), whose ``sys``, ``sysrq-trigger``, ``irq``, ``bus`` and ``fs`` are
      read-only too;
    * ``/tmp``, ``/var/tmp`` and ``/dev/shm`` are a private writable layer (an overlay of a
      fresh tmpfs of :data:`SCRATCH_SIZE` on the host's directory): the run reads what is
      there and writes only its own copy, which nobody outside sees and which vanishes with it;
      each path of *share* under them (a FIFO the caller writes to, say) is the host's own;
    * an empty read-only tmpfs lies over each directory of *hide* that exists and over
      ``/sys/fs/cgroup`` (``/dev/null`` over each file of *hide*),

    then a user namespace of its own (uid 0 inside, the uid we had outside, no capability
    outside): it can undo none of it, even in a mount namespace of its own (the mounts it
    inherits are locked). Returns "" when done, else what failed (the run must not go on then).

    >>> callable(seal_run)
    True
    """
    uid, gid = os.geteuid(), os.getegid()
    err = unshare(CLONE_NEWNS)
    if err:
        return f"unshare(CLONE_NEWNS): {os.strerror(err)}"
    opened: list[int] = []
    try:
        return _seal(hide, share or [], uid, gid, opened)
    finally:
        for fd in opened:
            os.close(fd)


def _seal(hide: list[str], share: list[str], uid: int, gid: int, opened: list[int]) -> str:
    scratch: dict[str, int] = {}
    for path in SCRATCH:  # opened before anything is mounted over them
        if os.path.isdir(path) and not os.path.islink(path):
            scratch[path] = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            opened.append(scratch[path])
    shared: dict[str, int] = {}
    for path in share:
        real = os.path.realpath(path)
        if any(real == s or real.startswith(s + "/") for s in scratch) and os.path.exists(real):
            shared[real] = os.open(real, os.O_PATH | os.O_CLOEXEC)
            opened.append(shared[real])
    for point, keep in mount_points().items():
        if point == "/proc" or point.startswith("/proc/"):
            continue  # the namespace's own, mounted by pid 1
        err = _remount_read_only(point, keep)
        if err:
            return f"making {point} read-only: {os.strerror(err)}"
    proc_flags = _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
    for path in _PROC_LOCKED:
        if os.path.exists(path):
            err = _mount(path, path, None, _MS_BIND, None)
            err = err or _remount_read_only(path, proc_flags)
            if err:
                return f"making {path} read-only: {os.strerror(err)}"
    try:
        here = os.getcwd()
    except OSError:
        here = ""
    for path, lower in scratch.items():
        err = _scratch(path, lower)
        if err:
            return f"a private {path}: {os.strerror(err)}"
    if any(here == s or here.startswith(s + "/") for s in scratch):
        try:  # the working directory, seen through the overlay (it was the host's, read-only)
            os.chdir(here)
        except OSError:
            pass
    for path, fd in shared.items():
        if os.path.lexists(path):  # (seen through the overlay: a mount point for the host's)
            err = _mount(f"/proc/self/fd/{fd}", path, None, _MS_BIND, None)
            if err:
                return f"sharing {path}: {os.strerror(err)}"
    flags = _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
    for path in [*hide, "/sys/fs/cgroup"]:
        if path and os.path.isdir(path):  # a directory: an empty tmpfs over it
            err = _mount("tmpfs", path, "tmpfs", flags, "size=4k,mode=0555")
        elif path and os.path.isfile(path):  # a file: /dev/null over it (it reads as empty)
            err = _mount("/dev/null", path, None, _MS_BIND, None)
        else:
            continue
        if err:
            return f"hiding {path}: {os.strerror(err)}"
    err = unshare(CLONE_NEWUSER)
    if err:
        return f"unshare(CLONE_NEWUSER): {os.strerror(err)}"
    try:
        _map_self(uid, gid)
    except OSError as exc:
        return f"mapping uid 0 to {uid}: {exc.strerror}"
    return ""


def ns_pid(host_pid: int) -> int | None:
    """The pid *host_pid* has in its innermost pid namespace (``NSpid``), None if it is gone.

    >>> ns_pid(os.getpid()) == os.getpid()
    True
    """
    try:
        with open(f"/proc/{host_pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"NSpid:"):
                    return int(line.split()[-1])
    except (OSError, ValueError, IndexError):
        return None
    return host_pid  # a kernel without NSpid: no nesting to speak of


def ns_ids(host_pid: int) -> tuple[int, int, int] | None:
    """``(pid, process group, session)`` of *host_pid* as its innermost pid namespace names them
    (``NSpid``, ``NSpgid``, ``NSsid`` of ``/proc/PID/status``), None if it is gone.

    >>> ns_ids(os.getpid()) == (os.getpid(), os.getpgid(0), os.getsid(0))
    True
    """
    found: dict[bytes, int] = {}
    try:
        with open(f"/proc/{host_pid}/status", "rb") as f:
            for line in f:
                if line.startswith((b"NSpid:", b"NSpgid:", b"NSsid:")):
                    key, _, value = line.partition(b":")
                    found[key] = int(value.split()[-1])
                    if len(found) == 3:
                        break
    except (OSError, ValueError, IndexError):
        return None
    if len(found) < 3:
        return None
    return found[b"NSpid"], found[b"NSpgid"], found[b"NSsid"]


def runtime_dirs(env: dict[str, str] | None = None) -> list[str]:
    """What a run must not see of Jupyter: the directories that hold kernels' connection files
    (``JUPYTER_RUNTIME_DIR``, else ``<data dir>/runtime`` as ``jupyter_core`` finds it), and
    this kernel's own connection file when we run in one. A directory that holds more than
    Jupyter's files (``/tmp``, say, where a kernel started by a test tool keeps its connection
    file; a home directory) is never hidden whole: only the ``*.json`` files in it are.

    >>> runtime_dirs({"JUPYTER_RUNTIME_DIR": "/tmp/rt"})[0]
    '/tmp/rt'
    """
    import sys

    env = dict(os.environ) if env is None else env
    found: list[str] = []
    if env.get("JUPYTER_RUNTIME_DIR"):
        found.append(env["JUPYTER_RUNTIME_DIR"])
    else:
        data = env.get("JUPYTER_DATA_DIR")
        if not data:
            xdg = env.get("XDG_DATA_HOME") or os.path.join(
                env.get("HOME") or os.path.expanduser("~"), ".local", "share"
            )
            data = os.path.join(xdg, "jupyter")
        found.append(os.path.join(data, "runtime"))
    paths = sys.modules.get("jupyter_core.paths")
    if paths is not None:
        try:
            found.append(str(paths.jupyter_runtime_dir()))
        except Exception:  # whatever its configuration does, we still hide ours
            pass
    kernel = sys.modules.get("ipykernel.connect")
    if kernel is not None:
        try:
            found.append(str(kernel.get_connection_file()))
        except Exception:  # not in a kernel after all
            pass
    home = os.path.realpath(env.get("HOME") or os.path.expanduser("~"))
    shared = {"/", "/tmp", "/var/tmp", "/dev/shm", "/root", "/home", home}
    out: list[str] = []
    for path in found:
        real = os.path.realpath(path)
        if os.path.isdir(real) and (real in shared or home.startswith(real + "/")):
            try:  # a directory with more in it than Jupyter's files: its json files only
                names = sorted(n for n in os.listdir(real) if n.endswith(".json"))[:64]
            except OSError:
                names = []
            extra = [os.path.join(real, n) for n in names]
        else:
            extra = [real]
        out.extend(e for e in extra if e not in out)
    return out
