"""What a contained run tells its caller: :class:`Event` (one thing that happened) and
:class:`ContainedRun` (the whole run, once over).

Times are seconds since the caller started the run. Processes are named as
:class:`fork110.ps.Namer` names them (``parent``, ``child-1``, ``child-1.1``, ``orphan-1``);
``supervisor`` is the run's own supervisor. Texts meant for notebooks (:meth:`Event.describe`,
:meth:`ContainedRun.transcript` without times, ``repr``) hold no pid and no time, so a stored
notebook output stays the same from one run to the next.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from fork110._ps_render import command_shown
from fork110._status import ExitStatus
from fork110.ps import ProcessInfo, Snapshot

__all__ = ["ContainedRun", "Event", "EventKind"]

EventKind = Literal[
    "start", "fork", "spawn", "appear", "exec", "exec-error", "exit", "reap", "stdout",
    "stderr", "refused", "watchdog", "kill", "note", "end",
]  # fmt: skip
"""The kinds of :class:`Event`, in the order a run may produce them."""

_OUTPUT = ("stdout", "stderr")


@dataclass(frozen=True)
class Event:
    """One thing that happened in a contained run.

    ``kind`` is one of ``start`` (the run's first process), ``fork``, ``spawn`` (fork and exec
    in one call: ``subprocess``, ``posix_spawn``), ``appear`` (a process no event announced,
    found by the supervisor), ``exec``, ``exec-error``, ``exit``, ``reap``, ``stdout``/``stderr``
    (one line, with its newline if it had one), ``refused`` (a fork over the budget, or a signal
    aimed outside the run), ``watchdog``, ``kill``, ``note`` and, last, ``end``.
    ``process`` is who did it; ``other`` the process it was done to (the child of a fork, the
    process reaped); ``status`` the exit status of an ``exit`` or ``reap``.

    >>> e = Event(0.25, "fork", "parent", 100, other="child-1", other_pid=101)
    >>> e.describe()
    'parent forked child-1'
    >>> print(e)
      0.250  parent forked child-1
    """

    time: float
    kind: EventKind
    process: str
    pid: int
    detail: str = ""
    other: str | None = None
    other_pid: int | None = None
    status: ExitStatus | None = None

    def describe(self) -> str:
        """The event as a sentence, without time or pid.

        >>> Event(0.0, "stdout", "child-1", 7, "hello\\n").describe()
        'child-1 | hello'
        >>> Event(0.0, "reap", "parent", 7, other="child-1", status=ExitStatus(0)).describe()
        'parent reaped child-1 (exit status: 0)'
        """
        k, who, other, text = self.kind, self.process, self.other, self.detail
        status = f" ({self.status})" if self.status is not None else ""
        if k in _OUTPUT:
            return f"{who} {'|' if k == 'stdout' else '!'} {text.removesuffix(chr(10))}"
        if k == "start":
            return f"{who} started: {command_shown(text)}"
        if k == "fork":
            return f"{who} forked {other}" + (f" ({text})" if text else "")
        if k == "spawn":
            return f"{who} spawned {other}: {text}"
        if k == "appear":
            return f"{who} appeared, started by code that reports nothing (C or exec'd)"
        if k == "exec":
            return f"{who} exec: {text}"
        if k == "exit":
            return f"{who} exited{status}"
        if k == "reap":
            return f"{who} reaped {other}{status}"
        if k in ("exec-error", "refused"):
            return f"{who}: {text}"
        return f"{k}: {text}"

    def __str__(self) -> str:
        return f"{self.time:7.3f}  {self.describe()}"


@dataclass(frozen=True, repr=False)
class ContainedRun:
    """A contained run, once over: what happened, what it printed, how it ended.

    ``status`` is the exit status of the run's first process (``parent``); ``stdout`` and
    ``stderr`` hold the output of every process, line by line in the order it reached the
    supervisor (see :meth:`output` for one process's own). ``snapshots`` are the trees sampled
    while it ran; ``peak_processes`` the most processes it had at once (zombies included);
    ``refusals`` how many forks the budget refused. ``timed_out`` says the watchdog ended it:
    ``watchdog`` then names who was still alive and in what state, ``survivors`` holds them.
    ``leaked`` counts processes of the run still there after clean-up: always 0.
    ``namespace`` says the run had its own pid namespace: its pids (events, snapshots, what it
    printed) are the namespace's, pid 1 its supervisor; :attr:`containment` says it in words.

    >>> run = ContainedRun((Event(0.1, "stdout", "parent", 5, "hi\\n"),), "hi\\n", "", ExitStatus(0))
    >>> run
    <ContainedRun exit status: 0, 1 process (peak 0), nothing left running>
    >>> run.output("parent")
    'hi\\n'
    """

    events: tuple[Event, ...]
    stdout: str
    stderr: str
    status: ExitStatus
    snapshots: tuple[Snapshot, ...] = ()
    peak_processes: int = 0
    timed_out: bool = False
    leaked: int = 0
    max_processes: int = 32
    timeout: float = 5.0
    duration: float = 0.0
    refusals: int = 0
    enforcement: str = ""
    killed: str = ""
    watchdog: str = ""
    survivors: tuple[ProcessInfo, ...] = ()
    notes: tuple[str, ...] = field(default=())
    max_memory: int | None = None
    memory: str = ""
    oom_kills: int = 0
    namespace: bool = False

    def __repr__(self) -> str:
        n = len(self.processes())
        how = "timed out" if self.timed_out else str(self.status)
        return (
            f"<ContainedRun {how}, {n} process{'es' if n != 1 else ''} "
            f"(peak {self.peak_processes}), {self._left()}>"
        )

    def __str__(self) -> str:
        """The :meth:`summary` then the :meth:`transcript`."""
        return f"{self.summary()}\n{self.transcript()}"

    @property
    def containment(self) -> str:
        """What held this run in, in a few words: the isolation (``pid namespace``, where the run
        had its own pid, mount and user namespaces, the host's files read-only to it and a
        private ``/tmp``; else ``seccomp filter``, the host's pids and files with a filter that
        keeps the run's signals, ptrace and prlimit off the caller and supervisor),
        then what enforced the budget (:attr:`enforcement`).

        >>> ContainedRun((), "", "", ExitStatus(0), enforcement="cgroup", namespace=True).containment
        'pid namespace + cgroup'
        >>> ContainedRun((), "", "", ExitStatus(0), enforcement="rlimit").containment
        'seccomp filter + rlimits'
        """
        isolation = "pid namespace" if self.namespace else "seccomp filter"
        budget = {"cgroup": "cgroup", "rlimit": "rlimits", "wrapper": "fork wrapper"}
        return f"{isolation} + {budget.get(self.enforcement, self.enforcement or 'no budget')}"

    def success(self) -> bool:
        """True if ``parent`` exited with status 0 and the watchdog did not fire.

        >>> ContainedRun((), "", "", ExitStatus(0)).success()
        True
        """
        return self.status.success() and not self.timed_out

    def processes(self) -> list[str]:
        """The names of the run's processes, in the order they appeared.

        >>> ContainedRun((Event(0, "start", "parent", 1),), "", "", ExitStatus(0)).processes()
        ['parent']
        """
        seen: dict[str, None] = {}
        for e in self.events:
            if e.kind in ("start", "fork", "spawn", "appear"):
                seen.setdefault(e.other or e.process, None)
            elif e.kind in _OUTPUT or e.kind == "exit":
                seen.setdefault(e.process, None)
        return list(seen)

    def output(self, process: str | None = None, stream: str = "stdout") -> str:
        """What *process* (every process, if None) wrote on *stream* (``stdout``/``stderr``).

        >>> run = ContainedRun((Event(0, "stderr", "child-1", 6, "oops\\n"),), "", "oops\\n", ExitStatus(0))
        >>> run.output("child-1", "stderr"), run.output("parent", "stderr")
        ('oops\\n', '')
        """
        if stream not in _OUTPUT:
            raise ValueError(f"stream must be 'stdout' or 'stderr', not {stream!r}")
        return "".join(
            e.detail
            for e in self.events
            if e.kind == stream and (process is None or e.process == process)
        )

    def output_by_process(self, stream: str = "stdout") -> dict[str, str]:
        """Each process's output on *stream*, processes in order of appearance (stable across runs
        even when processes print at the same time).

        >>> ContainedRun((), "", "", ExitStatus(0)).output_by_process()
        {}
        """
        out = {name: self.output(name, stream) for name in self.processes()}
        return {name: text for name, text in out.items() if text}

    def status_of(self, process: str) -> ExitStatus | None:
        """The exit status *process* exited with, if it was seen to exit.

        >>> run = ContainedRun((Event(0, "exit", "child-1", 6, status=ExitStatus(256)),), "", "", ExitStatus(0))
        >>> run.status_of("child-1"), run.status_of("child-2")
        (<ExitStatus exit status: 1>, None)
        """
        for e in self.events:
            if e.kind == "exit" and e.process == process:
                return e.status
        return None

    def transcript(self, *, times: bool = False, output: bool = True) -> str:
        """The events, one per line (with times if asked; without output lines if not wanted).

        >>> print(ContainedRun((Event(0.5, "start", "parent", 1, "python <contained>"),), "", "",
        ...     ExitStatus(0)).transcript(times=True))
          0.500  parent started: python <contained>
        """
        lines = []
        for e in self.events:
            if not output and e.kind in _OUTPUT:
                continue
            lines.append(str(e) if times else e.describe())
        return "\n".join(lines)

    def summary(self) -> str:
        """One line: how it ended, how many processes, the budget, what was left.

        >>> ContainedRun((), "", "", ExitStatus(0)).summary()
        'parent: exit status: 0; 0 processes, peak 0 of 32; nothing left running'
        """
        n = len(self.processes())
        parts = [f"parent: {self.status}"]
        if self.timed_out:
            parts.append(f"timed out after {self.timeout:g} s")
        elif self.killed:
            parts.append(f"killed ({self.killed})")
        parts.append(
            f"{n} process{'es' if n != 1 else ''}, peak {self.peak_processes} of {self.max_processes}"
        )
        if self.refusals:
            parts.append(f"{self.refusals} fork{'s' if self.refusals != 1 else ''} refused")
        parts.append(self._left())
        return "; ".join(parts)

    def _left(self) -> str:
        return "nothing left running" if not self.leaked else f"{self.leaked} LEFT RUNNING"
