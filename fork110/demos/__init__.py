"""One module per code snippet on the slides, each a live, contained demonstration.

Each module holds the C snippet as on the slide (``SLIDE``), a faithful Python translation
(``PYTHON``) and its fix (``PYTHON_FIXED``), and ``run(fixed=False, language="python", **limits)``,
which runs it contained and returns a :class:`DemoResult` whose ``explanation`` is built from what the
run observed. ``language="c"`` runs the completed C program instead, where a compiler is available.

>>> from fork110 import demos
>>> "runaway" in demos.names()
True
"""

from __future__ import annotations

import importlib

from ._base import Demo, DemoResult, Variant

__all__ = ["Demo", "DemoResult", "Variant", "get", "names"]

_MODULES = (
    "runaway",
    "nested_forks",
    "say_hello",
    "exceptions",
    "threads_lock",
    "zombies",
    "fork_exec",
    "subprocess",
    "ptrace",
)


def names() -> list[str]:
    """The demos, in lecture order.

    >>> names()[0]
    'runaway'
    """
    return list(_MODULES)


def get(name: str) -> Demo:
    """The :class:`Demo` called ``name``.

    >>> get("runaway").title
    'Runaway children: fork in a loop whose child never exits'
    """
    if name not in _MODULES:
        raise ValueError(f"no demo called {name!r}; the demos are: {', '.join(_MODULES)}")
    demo: Demo = importlib.import_module(f"{__name__}.{name}").DEMO
    return demo
