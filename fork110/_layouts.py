"""The argument layouts of CPython's private ``_posixsubprocess.fork_exec``, per version: one table.

``fork_exec`` takes only positional arguments and its list changed twice, so every caller that builds
or patches its arguments (the fast engine in :mod:`fork110._engine`, the sandbox's hook that swaps
the stdout/stderr fds) looks positions up here instead of hard-coding them. Each layout was read from
CPython's own sources (the argument-clinic input / ``PyArg_ParseTuple`` format in
``Modules/_posixsubprocess.c`` and the call in ``Lib/subprocess.py``):

* 3.10 (tag v3.10.13, format ``"OOpO!OOiiiiiiiiiiOOOiO:fork_exec"``): 21 arguments, no process group.
* 3.11-3.13 (gh-23930 added ``pgid_to_set`` in 3.11, gh-91401 / PR #91490 added ``allow_vfork``;
  clinic input of commit 0036a1260b121fe7001f0ad25f06ba0f9cddfef2 and the generated
  ``Modules/clinic/_posixsubprocess.c.h`` of 02bd2a3068b61a4f9d5d5f011940345720f42a20, which checks
  exactly 23 positional arguments): 23 arguments.
* 3.14 (gh-121381 / PR #121383 removed ``subprocess._USE_VFORK`` and with it ``allow_vfork``; the
  3.14 clinic header lists ``... child_umask, preexec_fn, /)``; typeshed's stub agrees for 3.14+): 22.

An interpreter newer than the last row is not guessed at: :func:`layout` returns None and the
portable engine is used. This module imports nothing but ``sys``: the sandbox's hooks import it in
every process of a run, where start-up time counts.

>>> layout((3, 13)).index("c2pwrite"), len(layout((3, 13)))
(9, 23)
>>> len(layout((3, 10))), len(layout((3, 14)))
(21, 22)
>>> layout((3, 99)) is None
True
"""

from __future__ import annotations

import sys

__all__ = ["LAYOUTS", "layout"]

_HEAD = (
    "args", "executable_list", "close_fds", "pass_fds", "cwd", "env",
    "p2cread", "p2cwrite", "c2pread", "c2pwrite", "errread", "errwrite",
    "errpipe_read", "errpipe_write", "restore_signals", "call_setsid",
)  # fmt: skip
_IDS = ("gid", "extra_groups", "uid", "child_umask", "preexec_fn")
_PY310 = (*_HEAD, *_IDS)
_PY311 = (*_HEAD, "pgid_to_set", *_IDS, "allow_vfork")
_PY314 = (*_HEAD, "pgid_to_set", *_IDS)

LAYOUTS: dict[tuple[int, int], tuple[str, ...]] = {
    (3, 10): _PY310,
    (3, 11): _PY311,
    (3, 12): _PY311,
    (3, 13): _PY311,
    (3, 14): _PY314,
}


def layout(version: tuple[int, int] | None = None) -> tuple[str, ...] | None:
    """The names of ``fork_exec``'s positional arguments on ``version`` (default: this Python), or
    None when that version's layout is not known.

    >>> layout((3, 11))[16]
    'pgid_to_set'
    """
    if version is None:
        version = (sys.version_info[0], sys.version_info[1])
    return LAYOUTS.get(version)
