"""The practice widget of notebook 09: endless seeded questions, checked, hinted, revealed, and run
for real. ipywidgets is imported only when a widget is made (``import fork110`` stays light).

The logic lives in :class:`Practice` (no widgets: testable, and usable from code); :func:`practice`
wraps it in ipywidgets.

>>> p = Practice(seed=3, kind="prints")
>>> p.question.kind
'prints'
>>> print(p.check("A=999"))  # doctest: +ELLIPSIS
✗ ...
>>> p.next().seed
4
"""

from __future__ import annotations

import html
from typing import Any

from fork110.exercises._generate import DIFFICULTIES, KINDS, generate
from fork110.exercises._question import Question, Verdict

__all__ = ["Practice", "practice"]


class Practice:
    """A practice session: the current question (from ``seed``, ``kind``, ``difficulty``), and what
    the buttons do."""

    def __init__(
        self,
        seed: int = 0,
        kind: str | None = None,
        difficulty: str = "medium",
        language: str = "python",
    ) -> None:
        self.seed, self.kind, self.difficulty, self.language = seed, kind, difficulty, language
        self.question: Question = generate(
            seed, kind=kind, difficulty=difficulty, language=language
        )

    def __repr__(self) -> str:
        return f"<Practice seed {self.seed}: {self.question.kind}>"

    def next(self) -> Practice:
        """Move on to the next seed.

        >>> Practice(seed=1, kind="tree").next().seed
        2
        """
        self.seed += 1
        self.question = generate(
            self.seed, kind=self.kind, difficulty=self.difficulty, language=self.language
        )
        return self

    def check(self, answer: Any) -> Verdict:
        """Check an answer (text as typed in the box, or a Python value)."""
        return self.question.check(answer)

    def reveal(self) -> str:
        """The reference answer and why."""
        from fork110.__main__ import _shown

        return f"{_shown(self.question.solution())}\n\n{self.question.explanation}"

    def run_for_real(self) -> tuple[bool, Any]:
        """Run the program contained: (does the kernel agree with the reference answer?, the last run)."""
        agrees = self.question.verify()
        runs = self.question.last_run
        return agrees, runs[-1] if isinstance(runs, list) else runs


def practice(seed: int = 0, kind: str | None = None, difficulty: str = "medium") -> Any:
    """The practice widget: seed, difficulty, kind, an answer box, Check, Hint, Reveal, and Run it
    for real (the program runs contained; its transcript and tree are shown)."""
    try:
        import ipywidgets as w
    except ImportError as exc:  # pragma: no cover - ipywidgets is a dependency
        raise ImportError("the practice widget needs ipywidgets (pip install ipywidgets)") from exc

    session = Practice(seed, kind, difficulty)
    seed_box = w.BoundedIntText(value=seed, min=0, max=10**9, description="seed")
    level = w.Dropdown(options=list(DIFFICULTIES), value=difficulty, description="difficulty")
    kinds = w.Dropdown(
        options=[("any", "")] + [(k, k) for k in KINDS], value=kind or "", description="kind"
    )
    lang = w.ToggleButtons(options=["python", "c"], value="python")
    question = w.HTML()
    answer = w.Textarea(placeholder="your answer", layout=w.Layout(width="100%", height="8em"))
    buttons = [
        w.Button(description=d) for d in ("Check", "Hint", "Reveal", "Run it for real", "Next")
    ]
    out = w.Output()

    def show() -> None:
        q = session.question
        question.value = (
            f"<p><b>{html.escape(q.kind)}</b> (seed {session.seed})</p>"
            f"<p>{html.escape(q.text).replace(chr(10), '<br>')}</p>"
            f"<pre>{html.escape(q.program)}</pre>"
        )
        answer.value = ""
        out.clear_output()

    def rebuild(_: Any = None) -> None:
        try:
            session.seed, session.kind = seed_box.value, kinds.value or None
            session.difficulty, session.language = level.value, lang.value
            session.question = generate(
                session.seed,
                kind=session.kind,
                difficulty=session.difficulty,
                language=session.language,
            )
        except (ValueError, TypeError) as exc:
            with out:
                print(exc)
            return
        show()

    def on_check(_: Any) -> None:
        with out:
            out.clear_output()
            print(session.check(answer.value))

    def on_hint(_: Any) -> None:
        with out:
            print(session.question.hint())

    def on_reveal(_: Any) -> None:
        with out:
            out.clear_output()
            print(session.reveal())

    def on_run(_: Any) -> None:
        from IPython.display import HTML, display

        with out:
            out.clear_output()
            print("running contained...")
            agrees, run = session.run_for_real()
            out.clear_output()
            print(run.transcript())
            peak = max(run.snapshots, key=len, default=None)
            if peak is not None:
                display(HTML(peak._repr_html_()))  # type: ignore[no-untyped-call]
            print(
                "the kernel agrees with the reference answer" if agrees else "the kernel disagrees!"
            )

    def on_next(_: Any) -> None:
        seed_box.value = seed_box.value + 1  # observed: rebuilds

    for widget in (seed_box, level, kinds, lang):
        widget.observe(rebuild, names="value")
    for button, action in zip(buttons, (on_check, on_hint, on_reveal, on_run, on_next)):
        button.on_click(action)
    show()

    class PracticeBox(w.VBox):  # type: ignore[misc]
        """The widget, with a repr that names its question, not its children (no ids, no layout)."""

        def __repr__(self) -> str:
            args = [f"seed={session.seed}"]
            if session.kind:
                args.append(f"kind={session.kind!r}")
            if session.difficulty != "medium":
                args.append(f"difficulty={session.difficulty!r}")
            if session.language != "python":
                args.append(f"language={session.language!r}")
            return f"Practice({', '.join(args)})"

    return PracticeBox(
        [w.HBox([seed_box, level, kinds, lang]), question, answer, w.HBox(buttons), out]
    )
