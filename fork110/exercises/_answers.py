"""Reading answers: Python values or the text a terminal gives, with a clear message when the
form is not the one expected (an :class:`AnswerError`, which ``check`` turns into a verdict).

>>> counts("A=2, B: 1")
{'A': 2, 'B': 1}
>>> tree("parent\\n├── child-1\\n│   └── child-1.1\\n└── child-2")
{'child-1': 'parent', 'child-1.1': 'child-1', 'child-2': 'parent'}
>>> sorted(orderings("ABC, ACB"))
['ABC', 'ACB']
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from fork110.exercises._question import AnswerError

__all__ = ["counts", "number", "orderings", "pairs", "tree"]

_DRAWING = "│├└─ \t|`+\\-"


def _kind(value: Any) -> str:
    """``an int``, ``a list``: a value's type with its article."""
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def pairs(answer: Any, what: str) -> dict[str, str]:
    """A mapping given as a dict, or as text ``key=value`` pairs (``=`` or ``:``; separated by
    commas, semicolons or new lines).

    >>> pairs("child-1=parent; child-2: init", "reapers")
    {'child-1': 'parent', 'child-2': 'init'}
    """
    if isinstance(answer, dict):
        return {str(k).strip(): str(v).strip() for k, v in answer.items()}
    if not isinstance(answer, str):
        raise AnswerError(
            f"expected {what} as a dict or as text like 'child-1=parent', not {_kind(answer)}"
        )
    out: dict[str, str] = {}
    for part in re.split(r"[,;\n]+", answer):
        if not part.strip():
            continue
        m = re.match(r"\s*([^=:]+?)\s*[=:]\s*(.*?)\s*$", part)
        if m is None:
            raise AnswerError(f"expected {what} as 'name=value' pairs; {part.strip()!r} has no '='")
        out[m.group(1)] = m.group(2)
    return out


def counts(answer: Any) -> dict[str, int]:
    """How many times each line prints: a dict ``{"A": 2}`` or text ``A=2, B=1``."""
    raw: dict[Any, Any] = answer if isinstance(answer, dict) else pairs(answer, "counts per line")
    out: dict[str, int] = {}
    for key, value in raw.items():
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise AnswerError(f"expected a whole number of times for {key!r}, not {value!r}")
        if value < 0:
            raise AnswerError(f"a line prints 0 or more times; {key!r}: {value} is negative")
        out[str(key).strip()] = value
    return out


def number(answer: Any, what: str) -> int:
    """A whole number (an int, or text holding one), 0 or more."""
    if isinstance(answer, str) and answer.strip().lstrip("-").isdigit():
        answer = int(answer.strip())
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise AnswerError(f"expected {what} as a whole number, not {_kind(answer)} ({answer!r})")
    if answer < 0:
        raise AnswerError(f"expected {what}: 0 or more, not {answer}")
    return answer


def tree(answer: Any) -> dict[str, str]:
    """A process tree: a dict child -> parent, or a drawing, one process per line, a child
    indented under its parent (``├──``/``└──`` as ``tree()`` draws them, or plain spaces)."""
    if isinstance(answer, dict):
        return pairs(answer, "a tree")
    if not isinstance(answer, str):
        raise AnswerError(
            f"expected a tree as text (one process a line, children indented) or a dict child -> parent, not {_kind(answer)}"
        )
    stack: list[tuple[int, str]] = []
    out: dict[str, str] = {}
    root = ""
    for line in answer.splitlines():
        name = line.lstrip(_DRAWING).split()[0] if line.strip(_DRAWING) else ""
        if not name:
            continue
        depth = len(line) - len(line.lstrip(_DRAWING))
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            out[name] = stack[-1][1]
        elif root:
            raise AnswerError(
                f"a tree has one root; {name!r} is a second one (indent it under its parent)"
            )
        else:
            root = name
        stack.append((depth, name))
    return out


def orderings(answer: Any) -> set[str]:
    """A set of orderings: strings like ``"ABC"``, as a set/list or as text (spaces or commas)."""
    if isinstance(answer, str):
        items: Iterable[Any] = re.split(r"[\s,;]+", answer.strip())
    elif isinstance(answer, (set, frozenset, list, tuple)):
        items = answer
    else:
        raise AnswerError(
            f"expected the orderings as a set of strings like {{'ABC', 'ACB'}}, not {_kind(answer)}"
        )
    out: set[str] = set()
    for item in items:
        if not isinstance(item, str):
            raise AnswerError(
                f"expected each ordering as a string like 'ABC', not {_kind(item)} ({item!r})"
            )
        if item.strip():
            out.add(item.strip().replace(" ", ""))
    return out
