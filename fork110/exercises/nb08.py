"""Notebook 08 (pre_exec and ptrace): its exercises, learntools-style.

>>> from fork110.exercises.nb08 import q1
>>> q1.check(q1.solution()).right
True
"""

from fork110.exercises._course import notebook

__all__ = ["q1", "q2", "q3"]

_QS = notebook(8)
q1, q2, q3 = (_QS["q1"], _QS["q2"], _QS["q3"])
