"""Small wording helpers the demos' explanations share."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["adopter", "count", "join", "times"]


def count(n: int, word: str, many: str | None = None) -> str:
    """``n`` and the word, plural when ``n`` is not 1 (``many``, or the usual English plural).

    >>> count(1, "child"), count(3, "child"), count(2, "process"), count(0, "fork"), count(2, "a", "bs")
    ('1 child', '3 children', '2 processes', '0 forks', '2 bs')
    """
    if n == 1:
        return f"1 {word}"
    if many is None:
        many = "children" if word == "child" else word + ("es" if word.endswith("s") else "s")
    return f"{n} {many}"


def join(items: Iterable[object], empty: str = "no process") -> str:
    """``a``, ``a and b``, ``a, b and c``; ``empty`` for none.

    >>> join([]), join(["parent"]), join(["a", "b"]), join([1, 2, 3])
    ('no process', 'parent', 'a and b', '1, 2 and 3')
    """
    text = [str(i) for i in items]
    if not text:
        return empty
    return text[0] if len(text) == 1 else ", ".join(text[:-1]) + " and " + text[-1]


def adopter(namespace: bool) -> str:
    """Who adopts (and reaps) a contained run's orphans, in words: pid 1 of the run's own pid
    namespace, its init, where the run has one (``ContainedRun.namespace``); else the run's
    supervisor, a subreaper.

    >>> adopter(True)
    "pid 1, the run's init (its supervisor, the first process of the run's own pid namespace)"
    >>> adopter(False)
    "the run's supervisor, a subreaper"
    """
    if namespace:
        return "pid 1, the run's init (its supervisor, the first process of the run's own pid namespace)"
    return "the run's supervisor, a subreaper"


def times(n: int) -> str:
    """``once``, ``twice``, ``3 times``.

    >>> times(1), times(2), times(5)
    ('once', 'twice', '5 times')
    """
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"
