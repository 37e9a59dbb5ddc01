"""Predictions written before a live run, compared field by field with the run's own facts.

>>> from fork110 import sandbox
>>> guess = predict(processes=2, lines=1, reaped_by_init=0)
>>> run = sandbox.run('''
... import os
... if os.fork() == 0:
...     print("child")
...     os._exit(0)
... os.wait()
... ''')
>>> print(guess.compare(run))
✓ processes: 2
✓ lines: 1
✓ reaped_by_init: 0
All 3 right.
>>> print(predict(processes=3).compare(run))
✗ processes: you said 3, the run shows 2 (fewer than you thought)
0 of 1 right.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fork110._sandbox.result import ContainedRun
from fork110.exercises import _facts

__all__ = ["Comparison", "Prediction", "predict", "run_facts"]

_RUN_FIELDS = {
    "processes": "how many processes the run had in all (the first one included)",
    "peak": "the most processes alive (or zombie) at one time",
    "lines": "how many lines were printed on stdout",
    "prints": "how many times each stdout line was printed: {'hello': 2}",
    "refused": "how many forks the fork budget refused",
    "timed_out": "whether the watchdog had to end the run",
    "exit_code": "the first process's exit code (None if a signal ended it)",
    "reaped_by_init": "how many processes (besides the first) init reaped: zombies and orphans "
    "their parents never waited for",
    "tree": "who forked whom: {'child-1': 'parent'}",
    "left": "processes left after the run (always 0)",
}


def run_facts(result: Any) -> dict[str, Any]:
    """The facts a prediction can name, from a :class:`~fork110.sandbox.ContainedRun` or a demo's
    result (whose own ``facts`` come first).

    >>> from fork110.sandbox import run
    >>> facts = run("print('hi')")
    >>> run_facts(facts)["lines"], run_facts(facts)["processes"]
    (1, 1)
    """
    run = getattr(result, "run", result)
    if not isinstance(run, ContainedRun):
        raise TypeError(
            "expected a run to compare with: a ContainedRun (fork110.sandbox.run) or a demo's "
            f"result (demo.run()), not {type(result).__name__}"
        )
    init = _facts.reapers(run)
    facts: dict[str, Any] = {
        "processes": len(run.processes()),
        "peak": run.peak_processes,
        "lines": len(run.stdout.splitlines()),
        "prints": _facts.counts(run),
        "refused": run.refusals,
        "timed_out": run.timed_out,
        "exit_code": run.status.code(),
        "reaped_by_init": sum(1 for who in init.values() if who == _facts.INIT),
        "tree": _facts.tree(run),
        "left": run.leaked,
    }
    own = getattr(result, "facts", None)
    if isinstance(own, Mapping):
        facts.update(own)
    return facts


@dataclass(frozen=True)
class Comparison:
    """A prediction next to a run: one line per field, ✓ or ✗ with a reason; truthy when all
    fields are right. ``misses`` names the fields that were wrong."""

    lines: tuple[str, ...]
    misses: tuple[str, ...]
    total: int

    def __bool__(self) -> bool:
        return not self.misses

    @property
    def message(self) -> str:
        """The whole comparison as text."""
        return str(self)

    def __str__(self) -> str:
        right = self.total - len(self.misses)
        tail = f"All {self.total} right." if not self.misses else f"{right} of {self.total} right."
        return "\n".join((*self.lines, tail))

    def __repr__(self) -> str:
        return str(self)


def _same(guess: Any, fact: Any) -> tuple[bool, Any]:
    """Compare a guess with a fact; a number against a list or dict compares with its length."""
    if isinstance(guess, bool) or isinstance(fact, bool):
        return guess == fact, fact
    if isinstance(guess, int) and isinstance(fact, (list, tuple, set, dict)):
        return guess == len(fact), len(fact)
    if isinstance(guess, (list, tuple, set)) and isinstance(fact, (list, tuple, set)):
        return sorted(map(str, guess)) == sorted(map(str, fact)), fact
    return guess == fact, fact


def _why(guess: Any, fact: Any) -> str:
    if (
        isinstance(guess, (int, float))
        and isinstance(fact, (int, float))
        and not isinstance(guess, bool)
        and not isinstance(fact, bool)
    ):
        return " (more than you thought)" if fact > guess else " (fewer than you thought)"
    return ""


class Prediction:
    """What a student expects a run to show, written before the run (see :func:`predict`)."""

    def __init__(self, fields: Mapping[str, Any], reasons: Mapping[str, str] | None = None) -> None:
        self.fields = dict(fields)
        self.reasons = dict(reasons or {})

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.fields.items())
        return f"predict({inner})"

    def compare(self, result: Any) -> Comparison:
        """Compare with a run (a ContainedRun or a demo's result): one line per field.

        >>> from fork110.sandbox import run
        >>> predict(lines=2).compare(run("print(1)")).misses
        ('lines',)
        """
        facts = run_facts(result)
        lines: list[str] = []
        misses: list[str] = []
        for name, guess in self.fields.items():
            if name not in facts:
                known = ", ".join(sorted(facts))
                lines.append(f"? {name}: this run has no such fact (it has: {known})")
                misses.append(name)
                continue
            ok, shown = _same(guess, facts[name])
            if ok:
                lines.append(
                    f"✓ {name}: {shown!r}" if isinstance(shown, str) else f"✓ {name}: {shown}"
                )
                continue
            misses.append(name)
            reason = self.reasons.get(name, "")
            why = f": {reason}" if reason else _why(guess, shown)
            lines.append(f"✗ {name}: you said {guess!r}, the run shows {shown!r}{why}")
        return Comparison(tuple(lines), tuple(misses), len(self.fields))

    def check(self, result: Any) -> Comparison:
        """The same as :meth:`compare` (learntools' word).

        >>> from fork110.sandbox import run
        >>> bool(predict(processes=1).check(run("pass")))
        True
        """
        return self.compare(result)


def predict(_reasons: Mapping[str, str] | None = None, **fields: Any) -> Prediction:
    """Write a prediction before a run: ``predict(processes=4, orphans=1)``. Field names are the
    run's facts (:func:`fields` lists the ones every run has; a demo's result adds its own
    ``facts``, e.g. ``orphans``, ``proc1``). A number compared with a list counts its items.

    >>> predict(processes=4, orphans=1)
    predict(processes=4, orphans=1)
    >>> predict()
    Traceback (most recent call last):
    ...
    ValueError: predict needs at least one field, e.g. predict(processes=4); the fields every run has: processes, peak, lines, prints, refused, timed_out, exit_code, reaped_by_init, tree, left
    """
    if not fields:
        raise ValueError(
            "predict needs at least one field, e.g. predict(processes=4); the fields every run "
            f"has: {', '.join(_RUN_FIELDS)}"
        )
    for name, value in fields.items():
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            raise ValueError(f"{name} is a count: 0 or more, not {value}")
    return Prediction(fields, _reasons)


def fields() -> dict[str, str]:
    """The fields every run has, with what they mean.

    >>> "processes" in fields()
    True
    """
    return dict(_RUN_FIELDS)
