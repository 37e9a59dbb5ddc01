"""Reading one process's facts straight from ``/proc`` (Linux), the way ``ps`` does.

psutil costs about 1.5-2 ms per tree walk (it reads every process's stat to find children) plus
0.08 ms per process; reading ``/proc/PID/stat``, ``cmdline`` and ``wchan`` directly costs a few
microseconds per file and keeps the exact letter the kernel reports (``t`` traced-stopped,
``I`` idle, ...) and the fields ``ps`` builds its STAT column from.

Every reader returns ``None`` (or an empty value) when the process has gone: a process may exit
between the directory listing and the read, and that is never an error here.
"""

from __future__ import annotations

import os
import sys

from fork110._proc import ProcStat, read_stat

__all__ = [
    "ProcStat",
    "boot_time",
    "clock_ticks",
    "display_args",
    "list_pids",
    "pid_width",
    "read_cmdline",
    "read_stat",
    "read_wchan",
    "start_time",
]

_PROC = "/proc"
_READ_SIZE = 65536
# ps shows a NUL or a newline inside the command line as a space and any other control
# character as "?" (procps-ng 4: NULs and newlines become separators, then escape_str).
_CONTROL = {c: "?" for c in (*range(0x20), 0x7F)}
_CONTROL[0x00] = " "
_CONTROL[0x0A] = " "

_FS_ENCODING = sys.getfilesystemencoding()
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_boot_time: float | None = None
_pid_width: int | None = None


def start_time(stat: ProcStat) -> float:
    """Start time in seconds since the epoch (boot time plus start ticks).

    >>> import time
    >>> abs(start_time(read_stat(os.getpid())) - time.time()) < 24 * 3600 * 365
    True
    """
    return (_boot_time or boot_time()) + stat.start_ticks / _CLOCK_TICKS


def _read(path: str) -> bytes | None:
    """All of a /proc file, or None if the process (or the file) is gone or unreadable."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        data = os.read(fd, _READ_SIZE)
        if len(data) == _READ_SIZE:  # a long command line: read the rest
            chunks = [data]
            while chunk := os.read(fd, _READ_SIZE):
                chunks.append(chunk)
            data = b"".join(chunks)
        return data
    except OSError:  # ESRCH: it exited after the open
        return None
    finally:
        os.close(fd)


def clock_ticks() -> int:
    """Clock ticks per second (``sysconf(_SC_CLK_TCK)``), the unit of start times in /proc.

    >>> clock_ticks() > 0
    True
    """
    return _CLOCK_TICKS


def boot_time() -> float:
    """Boot time in epoch seconds from ``/proc/stat`` (read once: it may drift by a second).

    >>> boot_time() > 0
    True
    """
    global _boot_time
    if _boot_time is None:
        data = _read(f"{_PROC}/stat") or b""
        for line in data.splitlines():
            if line.startswith(b"btime "):
                _boot_time = float(line.split()[1])
                break
        else:  # pragma: no cover - every Linux /proc/stat has btime
            _boot_time = 0.0
    return _boot_time


def pid_width() -> int:
    """Width ``ps`` gives its PID column: the digits of the largest pid (at least 5).

    >>> pid_width() >= 5
    True
    """
    global _pid_width
    if _pid_width is None:
        raw = _read(f"{_PROC}/sys/kernel/pid_max")
        _pid_width = max(5, len(str(int(raw) - 1))) if raw and raw.strip().isdigit() else 5
    return _pid_width


def list_pids() -> list[int]:
    """The pids (thread-group leaders) visible in ``/proc`` right now.

    >>> os.getpid() in list_pids()
    True
    """
    return [int(n) for n in os.listdir(_PROC) if n.isdigit()]


def read_cmdline(pid: int) -> bytes:
    """The raw ``/proc/PID/cmdline`` (NUL-separated); empty for zombies, kernel threads, the gone.

    >>> read_cmdline(os.getpid()).split(b"\\0")[0] != b""
    True
    >>> read_cmdline(-1)
    b''
    """
    return _read(f"{_PROC}/{pid}/cmdline") or b""


def read_wchan(pid: int) -> str | None:
    """The kernel function the process sleeps in, or None (running, "0", unreadable, gone).

    >>> read_wchan(-1) is None
    True
    """
    data = _read(f"{_PROC}/{pid}/wchan")
    if not data or data == b"0":
        return None
    return data.decode("ascii", "replace").strip() or None


def display_args(cmdline: bytes, comm: str, state: str) -> tuple[tuple[str, ...], str]:
    """``(argv, command)``: the arguments, and the command line as ``ps -o args`` shows it.

    NULs between arguments and newlines become spaces, other control characters ``?``;
    a process with no command line shows ``[comm]``, and a zombie ``[comm] <defunct>``.

    >>> display_args(b"python3\\0-c\\0print(1)\\nprint(2)\\0", "python3", "S")
    (('python3', '-c', 'print(1)\\nprint(2)'), 'python3 -c print(1) print(2)')
    >>> display_args(b"", "python3", "Z")
    ((), '[python3] <defunct>')
    >>> display_args(b"", "kthreadd", "S")
    ((), '[kthreadd]')
    """
    if not cmdline:
        shown = f"[{_printable(comm)}]"
        return (), f"{shown} <defunct>" if state == "Z" else shown
    if cmdline.endswith(b"\0"):
        cmdline = cmdline[:-1]
    argv = tuple(cmdline.decode(_FS_ENCODING, "surrogateescape").split("\0"))
    shown = cmdline.replace(b"\0", b" ").replace(b"\n", b" ").decode("utf-8", "replace")
    return argv, _printable(shown)


def _printable(text: str) -> str:
    return text if text.isprintable() else text.translate(_CONTROL)
