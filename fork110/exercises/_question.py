"""Questions and verdicts, learntools-style: ``q.check(answer)``, ``q.hint()``, ``q.solution()``.

>>> q = Question("How many?", check=lambda a: Verdict(a == 2, "right" if a == 2 else "no"),
...              hints=("count them", "it is even"), answer=2)
>>> q.check(2)
✓ right
>>> bool(q.check(3)), q.check(3).message
(False, 'no')
>>> q.hint(), q.hint(), q.hint()
('Hint 1/2: count them', 'Hint 2/2: it is even', 'Hint 2/2: it is even')
>>> q.solution()
2
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["AnswerError", "Question", "Verdict"]


class AnswerError(ValueError):
    """An answer that is not of the form a question expects (the message says which form)."""


@dataclass(frozen=True)
class Verdict:
    """The result of a check: truthy when the answer is right; ``message`` says why, or what is
    wrong without giving the answer away.

    >>> v = Verdict(False, "count the children too")
    >>> bool(v), str(v)
    (False, '✗ count the children too')
    """

    right: bool
    message: str

    def __bool__(self) -> bool:
        return self.right

    def __str__(self) -> str:
        return f"{'✓' if self.right else '✗'} {self.message}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        import html

        color = "#1a7f37" if self.right else "#cf222e"
        return f'<span style="color:{color}">{html.escape(str(self))}</span>'


class Question:
    """One question: its ``text``, the code it is about (``program``, may be empty), a checker,
    graded ``hints`` and the reference ``answer``. Questions that a run can confirm have a
    ``confirm`` function (see :meth:`verify`).

    >>> Question("Say hi", check=lambda a: Verdict(a == "hi", "?"), answer="hi").check("hi").right
    True
    """

    def __init__(
        self,
        text: str,
        check: Callable[[Any], Verdict],
        hints: Sequence[str] = (),
        answer: Any = None,
        program: str = "",
        explanation: str = "",
        kind: str = "",
        confirm: Callable[[], tuple[bool, Any]] | None = None,
    ) -> None:
        self.text, self.check_fn, self.hints, self.answer = text, check, tuple(hints), answer
        self.program, self.explanation, self.kind, self.confirm = (
            program,
            explanation,
            kind,
            confirm,
        )
        self._hinted = 0
        self.last_run: Any = None

    def __repr__(self) -> str:
        first = self.text.strip().splitlines()[0] if self.text.strip() else ""
        return f"<Question {self.kind + ': ' if self.kind else ''}{first}>"

    def __str__(self) -> str:
        return self.text + (f"\n\n{self.program}" if self.program else "")

    def check(self, answer: Any) -> Verdict:
        """Check ``answer``: a :class:`Verdict`, truthy when right, with a message. A malformed
        answer gets a verdict that says which form was expected, never an exception.

        >>> Question("2+2?", check=lambda a: Verdict(a == 4, "")).check(4).right
        True
        """
        try:
            return self.check_fn(answer)
        except AnswerError as exc:
            return Verdict(False, str(exc))

    def hint(self, level: int | None = None) -> str:
        """The next hint (or hint number ``level``, from 1); each call says a little more.

        >>> Question("?", check=lambda a: Verdict(True, ""), hints=("a", "b")).hint(2)
        'Hint 2/2: b'
        """
        if not self.hints:
            return "No hint for this one: try it, then check."
        if level is None:
            self._hinted = min(self._hinted + 1, len(self.hints))
            level = self._hinted
        if isinstance(level, bool) or not isinstance(level, int) or level < 1:
            return f"level must be a hint number from 1 to {len(self.hints)}, not {level!r}"
        level = min(level, len(self.hints))
        return f"Hint {level}/{len(self.hints)}: {self.hints[level - 1]}"

    def solution(self) -> Any:
        """The reference answer (which :meth:`check` accepts).

        >>> Question("?", check=lambda a: Verdict(True, ""), answer=3).solution()
        3
        """
        return self.answer

    def verify(self) -> bool:
        """Run the program contained and return True when the kernel agrees with the reference
        answer (the run is kept in ``last_run``). Questions with no program to run return True
        when the checker accepts the reference answer.

        >>> Question("?", check=lambda a: Verdict(a == 1, ""), answer=1).verify()
        True
        """
        if self.confirm is None:
            return bool(self.check(self.answer))
        agrees, run = self.confirm()
        self.last_run = run
        return agrees
