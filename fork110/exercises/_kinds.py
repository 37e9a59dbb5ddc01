"""Question shapes for the notebooks' exercises: a number, a choice, and code that is run.

>>> q = number("How many processes after `fork(); fork()`?", 4, hints=("each fork doubles",))
>>> q.check(4).right, q.check(3).message
(True, 'Not 3. Try again (q.hint() helps).')
>>> q.check(-1).message
'expected the number of processes: 0 or more, not -1'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fork110.exercises import _answers
from fork110.exercises._answers import _kind
from fork110.exercises._question import AnswerError, Question, Verdict

__all__ = ["choice", "code", "number", "run_code"]


def number(
    text: str,
    answer: int,
    *,
    hints: Sequence[str] = (),
    what: str = "the number of processes",
    wrong: Mapping[int, str] | None = None,
    explanation: str = "",
    program: str = "",
    measure: Callable[[Any], int] | None = None,
) -> Question:
    """A question whose answer is a whole number. ``wrong`` gives a reason for likely wrong
    numbers; with ``program`` and ``measure`` (a ContainedRun -> int), :meth:`Question.verify`
    runs the program contained and compares."""
    reasons = dict(wrong or {})

    def check(given: Any) -> Verdict:
        n = _answers.number(given, what)
        if n == answer:
            return Verdict(True, f"Right: {answer}. {explanation.split(chr(10))[0]}".strip())
        return Verdict(False, reasons.get(n, f"Not {n}. Try again (q.hint() helps)."))

    confirm = None
    if program and measure is not None:

        def confirm() -> tuple[bool, Any]:
            run = run_code(program)
            return measure(run) == answer, run

    return Question(text, check, hints, answer, program, explanation, "number", confirm)


def choice(
    text: str,
    options: Mapping[str, str],
    answer: str,
    *,
    why: Mapping[str, str] | None = None,
    hints: Sequence[str] = (),
    explanation: str = "",
) -> Question:
    """A question with lettered options (``"b"``); ``why`` says, per wrong option, what is wrong
    with it (without naming the right one)."""
    reasons = dict(why or {})
    letters = list(options)
    shown = text + "\n" + "\n".join(f"  {k}) {v}" for k, v in options.items())

    def check(given: Any) -> Verdict:
        if not isinstance(given, str):
            raise AnswerError(
                f"expected one letter of {', '.join(letters)} as a string, not {_kind(given)}"
            )
        pick = given.strip().lower().rstrip(")").strip()
        if pick not in options:
            raise AnswerError(f"expected one of {', '.join(map(repr, letters))}, not {given!r}")
        if pick == answer:
            return Verdict(True, f"Right: {options[pick]}")
        return Verdict(False, reasons.get(pick, f"Not {pick}: reread the options."))

    return Question(shown, check, hints, answer, "", explanation, "choice")


def run_code(source: str, *, timeout: float = 5.0, max_processes: int = 16) -> Any:
    """Run a student's code contained (a fresh interpreter, a fork budget, a watchdog)."""
    from fork110 import sandbox

    return sandbox.run(source, timeout=timeout, max_processes=max_processes)


def code(
    text: str,
    requirement: Callable[[Any], str | None],
    solution: str,
    *,
    starter: str = "",
    hints: Sequence[str] = (),
    explanation: str = "",
    timeout: float = 5.0,
    max_processes: int = 16,
) -> Question:
    """A question answered with code: ``check(source)`` runs the code contained and hands the
    ContainedRun to ``requirement``, which returns None when it is met or what is wrong. Any
    program that meets it passes."""

    def check(given: Any) -> Verdict:
        if not isinstance(given, str):
            raise AnswerError(
                f"expected your code as a string (the program's source), not {_kind(given)}"
            )
        try:
            compile(given, "<your code>", "exec")
        except SyntaxError as exc:
            raise AnswerError(
                f"expected Python code; yours does not parse: line {exc.lineno}: {exc.msg}"
            ) from None
        run = run_code(given, timeout=timeout, max_processes=max_processes)
        if run.timed_out:
            return Verdict(
                False,
                f"Your code was still running after {timeout:g} s; the watchdog ended it "
                f"({run.watchdog or 'something never finished'}). Does every wait have a child that ends?",
            )
        if run.refusals:
            return Verdict(
                False,
                f"Your code tried to make more than {max_processes} processes (forks refused: "
                f"{run.refusals}): does every child end before the code after its block?",
            )
        problem = requirement(run)
        if problem:
            return Verdict(False, problem)
        return Verdict(True, "Right: the run shows " + _summary(run))

    q = Question(text, check, hints, solution, starter, explanation, "code")
    return q


def _summary(run: Any) -> str:
    n = len(run.processes())
    return f"{n} process{'es' if n != 1 else ''}, exit status {run.status.code()}, nothing left."
