"""The demo framework: a :class:`Demo` is one slide snippet, its variants (the broken code and its
fixes, each in Python and C), and the code that turns what a contained run *observed* into facts and
a plain-words explanation. :class:`DemoResult` is one run of one variant.

Every run goes through :mod:`fork110.sandbox`, so a demo can never hurt the machine: the fork budget
bounds a bomb, the watchdog ends a deadlock, and nothing outlives the run.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fork110 import sandbox
from fork110.ps import Snapshot
from fork110.sandbox import ContainedRun, Event, LiveRun

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from fork110.sandbox import Limits

from ._c import C_SOURCES, CProgram, compile_c
from ._rs import RUST_SOURCES, RustProgram, compile_rust

__all__ = [
    "Demo",
    "DemoResult",
    "DemoRun",
    "Facts",
    "Variant",
    "c_build_dir",
    "language_of",
    "rust_build_dir",
]

Facts = dict[str, Any]
LANGUAGES = ("python", "c", "rust")
_STARTING = "/_sandbox/inside/supervisor.py"  # the first process's command line until it becomes the program


@dataclass(frozen=True)
class Variant:
    """One version of a demo's code: the broken one as on the slide, or a fix.

    ``python`` is the source run contained (a faithful translation of the C); ``c`` names the
    completed program in :data:`fork110.demos._c.C_SOURCES`, or None when there is no C version;
    ``rust`` names the program in :data:`fork110.demos._rs.RUST_SOURCES`, or None.
    """

    key: str
    title: str
    python: str
    c: str | None = None
    stdin: str | None = None
    rust: str | None = None
    limits: Mapping[str, Any] = field(default_factory=dict)

    @property
    def c_program(self) -> CProgram | None:
        """The completed C program for this variant, if there is one.

        >>> Variant("broken", "as on the slide", "pass", c="say_hello").c_program.path.name
        'say_hello.c'
        """
        return C_SOURCES[self.c] if self.c is not None else None

    @property
    def rust_program(self) -> RustProgram | None:
        """The Rust program for this variant, if there is one.

        >>> Variant("with", "a guard", "pass", rust="zombies_guard").rust_program.path.name
        'zombies_guard.rs'
        """
        return RUST_SOURCES[self.rust] if self.rust is not None else None


@dataclass(frozen=True, repr=False)
class DemoResult:
    """One contained run of one variant of a demo, with what it showed.

    ``facts`` are observations taken from the run itself (counts, names, states, statuses);
    ``explanation`` says in plain words what went wrong (or right), built from those facts.
    """

    demo: str
    variant: str
    language: str
    run: ContainedRun
    facts: Facts
    explanation: str
    notes: tuple[str, ...] = ()

    @property
    def events(self) -> tuple[Event, ...]:
        """The run's events, in order."""
        return self.run.events

    @property
    def snapshots(self) -> tuple[Snapshot, ...]:
        """The process tree as sampled while the run lived."""
        return self.run.snapshots

    @property
    def stdout(self) -> str:
        """Everything the run's processes printed on stdout."""
        return self.run.stdout

    def peak(self) -> Snapshot | None:
        """The snapshot with the most processes (the first such), or None if none was taken."""
        return max(self.run.snapshots, key=len, default=None)

    def trees(self) -> list[Snapshot]:
        """The snapshots at which the tree changed shape or state (for a tree-over-time view)."""
        out: list[Snapshot] = []
        last: tuple[tuple[str, str], ...] | None = None
        for snap in self.run.snapshots:
            if any(_STARTING in p.command for p in snap):
                continue  # sampled before the run's first process became the contained program
            key = tuple((p.name, p.state) for p in snap)
            if key != last and len(snap):
                out.append(snap)
                last = key
        return out

    def __str__(self) -> str:
        head = f"{self.demo} ({self.variant}, {self.language})"
        lines = [head, "=" * len(head), self.explanation, "", self.run.summary()]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<DemoResult {self.demo} {self.variant} {self.language}: {self.run!r}>"


def language_of(run: ContainedRun) -> str:
    """Which version of a demo a run ran, from its first process's command line: ``"python"``
    (the contained interpreter), ``"rust"`` (a program from the Rust build folder) or ``"c"``.

    >>> from fork110 import ExitStatus
    >>> from fork110.sandbox import Event
    >>> language_of(ContainedRun((Event(0, "start", "parent", 1, "/x/fork110/rust/ptrace-0a"),), "", "", ExitStatus(0)))
    'rust'
    """
    start = next((e.detail for e in run.events if e.kind == "start"), "")
    if start.endswith("<contained>"):
        return "python"
    program = start.split(" ", 1)[0]
    return "rust" if os.path.basename(os.path.dirname(program)) == "rust" else "c"


Observer = Callable[[ContainedRun, Variant], Facts]
Explainer = Callable[[Facts, Variant], str]


@dataclass(frozen=True)
class Demo:
    """A slide snippet as a live, contained demonstration (see the modules in :mod:`fork110.demos`)."""

    name: str
    title: str
    slide: str
    variants: Mapping[str, Variant]
    observe: Observer
    explain: Explainer
    limits: Mapping[str, Any] = field(default_factory=dict)
    lesson: str = ""

    def variant(self, fixed: bool | str) -> Variant:
        """The variant for ``fixed``: False is the first (the code as on the slide), True the second
        (its first fix, or the other way of doing it), a str names one.

        >>> from fork110.demos import runaway
        >>> runaway.DEMO.variant(False).key, runaway.DEMO.variant(True).key
        ('broken', 'fixed')
        """
        keys = list(self.variants)
        if isinstance(fixed, bool):
            return self.variants[keys[min(int(fixed), len(keys) - 1)]]
        if fixed not in self.variants:
            raise ValueError(
                f"demo {self.name!r} has no variant {fixed!r}; it has {', '.join(keys)}"
            )
        return self.variants[fixed]

    def result_of(self, run: ContainedRun, fixed: bool | str = False) -> DemoResult:
        """Observe and explain a run made elsewhere as this demo's own ``fixed`` variant: a
        ``%%contained`` cell holding the slide's code (``_contained``), edited or not.

        >>> from fork110 import sandbox
        >>> from fork110.demos import say_hello
        >>> r = say_hello.DEMO.result_of(sandbox.run(say_hello.DEMO.variant(False).python))
        >>> r.language, r.facts["hello"], r.facts["continued"]
        ('python', 1, 2)
        """
        variant = self.variant(fixed)
        facts = self.observe(run, variant)
        explanation = self.explain(facts, variant)
        return DemoResult(self.name, variant.key, language_of(run), run, facts, explanation)

    def run(
        self, fixed: bool | str = False, *, language: str = "python", **limits: Unpack[Limits]
    ) -> DemoResult:
        """Run one variant contained and explain what it showed.

        ``language="c"`` compiles the completed C program and runs that instead, ``language="rust"``
        the Rust program (with ``rustc``); where there is no such compiler (or no such version of
        the variant) it says so in ``notes`` and runs the Python.
        ``limits`` go to :func:`fork110.sandbox.run` (``max_processes``, ``timeout``, ...).
        """
        with self.start(fixed, language=language, **limits) as live:
            return live.result()

    def start(
        self, fixed: bool | str = False, *, language: str = "python", **limits: Unpack[Limits]
    ) -> DemoRun:
        """Start one variant contained and return at once: iterate the :class:`DemoRun` for events as
        they happen (the terminal and the widgets do), then take its :meth:`DemoRun.result`."""
        if language not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
        variant = self.variant(fixed)
        opts: dict[str, Any] = {**self.limits, **variant.limits, **limits}
        notes: list[str] = []
        if language in ("c", "rust"):
            exe = self._compiled(variant, notes, language)
            if exe is not None:
                live = sandbox.start_program([str(exe)], **_program_opts(opts, variant))
                return DemoRun(self, variant, language, live, notes)
        live = sandbox.start(variant.python, **_python_opts(opts, variant))
        return DemoRun(self, variant, "python", live, notes)

    def _compiled(self, variant: Variant, notes: list[str], language: str) -> Path | None:
        if language == "rust":
            if variant.rust is None:
                notes.append(
                    f"the {variant.key} variant has no Rust version; ran the Python translation"
                )
                return None
            built = compile_rust(variant.rust, rust_build_dir())
            if built is None:
                notes.append(
                    "no Rust compiler (rustc) on this machine; ran the Python translation instead"
                )
            return built
        if variant.c is None:
            notes.append(f"the {variant.key} variant has no C version; ran the Python translation")
            return None
        exe = compile_c(variant.c, c_build_dir())
        if exe is None:
            notes.append("no C compiler (cc) on this machine; ran the Python translation instead")
        return exe


class DemoRun:
    """A demo variant running now: iterate it for events; :meth:`result` waits and explains."""

    def __init__(
        self, demo: Demo, variant: Variant, language: str, live: LiveRun, notes: list[str]
    ) -> None:
        self.demo, self.variant, self.language, self.live = demo, variant, language, live
        self.notes = tuple(notes)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.live)

    def result(self) -> DemoResult:
        """Wait for the run to end (the watchdog bounds it) and explain what it showed."""
        run = self.live.result()
        facts = self.demo.observe(run, self.variant)
        explanation = self.demo.explain(facts, self.variant)
        return DemoResult(
            self.demo.name, self.variant.key, self.language, run, facts, explanation, self.notes
        )

    def __enter__(self) -> DemoRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.close()


def _python_opts(opts: dict[str, Any], variant: Variant) -> dict[str, Any]:
    out = dict(opts)
    if variant.stdin is not None:
        out.setdefault("stdin", variant.stdin)
    return out


def _program_opts(opts: dict[str, Any], variant: Variant) -> dict[str, Any]:
    out = {k: v for k, v in opts.items() if k not in ("line_buffered", "filename")}
    if variant.stdin is not None:
        out.setdefault("stdin", variant.stdin)
    return out


def c_build_dir() -> Path:
    """Where compiled demo programs are cached (per user).

    >>> c_build_dir().name
    'c'
    """
    return _build_dir("c")


def rust_build_dir() -> Path:
    """Where compiled Rust demo programs are cached (per user).

    >>> rust_build_dir().name
    'rust'
    """
    return _build_dir("rust")


def _build_dir(kind: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = Path(base) / "fork110" / kind
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        path = Path(tempfile.gettempdir()) / f"fork110-{os.getuid()}" / kind
        path.mkdir(parents=True, exist_ok=True)
    return path
