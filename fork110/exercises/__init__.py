"""Exercises checked by the real kernel.

* :func:`generate` makes a seeded question about a random program of fork, ``_exit``, wait and
  print actions (:func:`kinds` lists the kinds); its reference answer is computed by reasoning
  and :meth:`Question.verify` confirms it with a contained run;
* :func:`predict` writes down what a live run will show, before it runs, and compares it field
  by field with the run's own facts;
* ``fork110.exercises.nb01`` ... ``nb09`` hold each notebook's exercises as ``q1``, ``q2``, ...,
  learntools-style: ``q.check(answer)``, ``q.hint()``, ``q.solution()``;
* :func:`practice` is notebook 09's practice widget (it needs ipywidgets, imported only then).

>>> q = generate(1, kind="prints")
>>> bool(q.check(q.solution()))
True
>>> bool(q.check({"A": 99}))
False
"""

from fork110.exercises._course import PREDICTIONS, notebook
from fork110.exercises._generate import generate, kinds
from fork110.exercises._predict import Comparison, Prediction, fields, predict, run_facts
from fork110.exercises._question import AnswerError, Question, Verdict
from fork110.exercises._widget import Practice, practice

__all__ = [
    "PREDICTIONS",
    "AnswerError",
    "Comparison",
    "Practice",
    "Prediction",
    "Question",
    "Verdict",
    "fields",
    "generate",
    "kinds",
    "notebook",
    "practice",
    "predict",
    "run_facts",
]
