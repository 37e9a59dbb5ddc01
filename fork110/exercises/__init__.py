"""Exercises checked by the real kernel: seeded questions about fork programs, predictions
compared with runs, and each notebook's exercises as objects (``q1``, ``q2``, ...).

>>> q = generate(1, kind="prints")
>>> bool(q.check(q.solution()))
True
"""

from fork110.exercises._generate import generate, kinds
from fork110.exercises._question import AnswerError, Question, Verdict

__all__ = ["AnswerError", "Question", "Verdict", "generate", "kinds"]
