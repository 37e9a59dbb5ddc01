"""Stdio: where a child's stdin, stdout or stderr goes; and the pipe ends a Child hands back.

Rust's ``Stdio`` is ``piped()``, ``inherit()``, ``null()``, or built ``From`` a file or another child's
pipe. Here a setter accepts a :class:`Stdio`, an int fd, any object with ``fileno()``, or a pipe end of
another child (``ChildStdout``/``ChildStderr``/``ChildStdin``); like Rust's ``child.stdout.take()``, a
pipe end handed to a command is *moved*: the spawn closes the parent's copy and detaches it from its child.
"""

from __future__ import annotations

import io
import os
from typing import Any, Literal, Protocol

__all__ = ["ChildStderr", "ChildStdin", "ChildStdout", "Stdio", "StdioKind", "StdioLike"]

StdioKind = Literal["inherit", "piped", "null", "fd", "file", "pipe-end"]
"""Where a stream goes: the three Rust constructors, a raw fd, a file object, another child's pipe."""


class _HasFileno(Protocol):
    def fileno(self) -> int: ...


class _PipeEnd(io.FileIO):
    """A pipe end owned by a :class:`~fork110.Child` (unbuffered, like Rust's ``ChildStdout``)."""

    _owner: Any = None  # weakref to the Child this end belongs to, until moved into another command

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"fd={self.fileno()}"
        return f"<{type(self).__name__} {state}>"


class ChildStdin(_PipeEnd):
    """The write end of a child's stdin pipe. Unbuffered: each ``write`` reaches the child at once."""


class ChildStdout(_PipeEnd):
    """The read end of a child's stdout pipe. Unbuffered; wrap in ``io.BufferedReader`` for fast lines."""


class ChildStderr(_PipeEnd):
    """The read end of a child's stderr pipe."""


class Stdio:
    """Where one of a child's standard streams goes.

    >>> Stdio.piped(), Stdio.null(), Stdio.inherit()
    (Stdio.piped(), Stdio.null(), Stdio.inherit())
    >>> Stdio.from_fd(2)
    Stdio.from_fd(2)
    """

    __slots__ = ("_kind", "_obj")

    def __init__(self, kind: StdioKind, obj: Any = None) -> None:
        self._kind: StdioKind = kind
        self._obj = obj

    @classmethod
    def piped(cls) -> Stdio:
        """A new pipe between parent and child; the parent end appears on ``Child.stdin/stdout/stderr``.

        >>> from fork110 import Command
        >>> Command("echo").arg("hi").stdout(Stdio.piped()).spawn().wait_with_output().stdout
        b'hi\\n'
        """
        return _PIPED

    @classmethod
    def inherit(cls) -> Stdio:
        """The child uses the parent's stream (the default for ``spawn`` and ``status``).

        >>> from fork110 import Command
        >>> Command("true").stdout(Stdio.inherit()).status().success()
        True
        """
        return _INHERIT

    @classmethod
    def null(cls) -> Stdio:
        """The stream is connected to ``/dev/null``.

        >>> from fork110 import Command
        >>> Command("echo").arg("gone").stdout(Stdio.null()).status().success()
        True
        """
        return _NULL

    @classmethod
    def from_fd(cls, fd: int) -> Stdio:
        """The child gets a copy of this open file descriptor (the parent keeps its own).

        >>> import os
        >>> from fork110 import Command
        >>> r, w = os.pipe()
        >>> Command("echo").arg("via fd").stdout(Stdio.from_fd(w)).status().success()
        True
        >>> os.close(w); os.read(r, 100)
        b'via fd\\n'
        >>> os.close(r)
        """
        if isinstance(fd, bool) or not isinstance(fd, int):
            raise TypeError(
                f"Stdio.from_fd() takes an int file descriptor, not {type(fd).__name__}"
            )
        if fd < 0:
            raise ValueError(f"Stdio.from_fd(): {fd} is not a file descriptor")
        return cls("fd", fd)

    @classmethod
    def from_file(cls, file: _HasFileno) -> Stdio:
        """The child gets a copy of the file's descriptor; a Python file's buffer is flushed first.

        A pipe end of another child is *moved* instead (Rust's ``Stdio::from(child.stdout.take())``).

        >>> import tempfile
        >>> from fork110 import Command
        >>> with tempfile.TemporaryFile() as f:
        ...     _ = Command("echo").arg("to a file").stdout(Stdio.from_file(f)).status()
        ...     _ = f.seek(0); f.read()
        b'to a file\\n'
        """
        if isinstance(file, _PipeEnd):
            return cls("pipe-end", file)
        if not callable(getattr(file, "fileno", None)):
            raise TypeError(
                f"Stdio.from_file() needs an object with fileno(), not {type(file).__name__}"
            )
        try:
            file.fileno()
        except (OSError, ValueError):
            if getattr(file, "closed", False):
                return cls("file", file)  # reported when a spawn tries to use it
            raise TypeError(
                f"Stdio.from_file() needs an object with fileno(): {type(file).__name__} has no OS-level "
                "file descriptor (an in-memory file cannot be a child's stream; use Stdio.piped())"
            ) from None
        return cls("file", file)

    @classmethod
    def coerce(cls, value: StdioLike, stream: str) -> Stdio:
        """Turn what a setter was given into a Stdio, or raise TypeError naming the stream.

        >>> Stdio.coerce(1, "stdout")
        Stdio.from_fd(1)
        >>> Stdio.coerce("out.txt", "stdout")
        Traceback (most recent call last):
        ...
        TypeError: stdout() takes a Stdio, an int fd or an object with fileno(), not str
        """
        if isinstance(value, Stdio):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return cls.from_fd(value)
        if not isinstance(value, (bool, str, bytes)) and callable(getattr(value, "fileno", None)):
            return cls.from_file(value)
        raise TypeError(
            f"{stream}() takes a Stdio, an int fd or an object with fileno(), not {type(value).__name__}"
        )

    @property
    def kind(self) -> StdioKind:
        """One of ``inherit``, ``piped``, ``null``, ``fd``, ``file``, ``pipe-end``.

        >>> Stdio.null().kind
        'null'
        """
        return self._kind

    def child_fd(self, stream: str) -> int:
        """The descriptor the child should get for an ``fd``/``file``/``pipe-end`` Stdio (no new fd is made).

        >>> Stdio.from_fd(2).child_fd("stderr")
        2
        """
        obj = self._obj
        if self._kind == "fd":
            try:
                os.fstat(obj)
            except OSError as exc:
                raise OSError(
                    exc.errno, f"{exc.strerror} ({stream}: fd {obj} is not open)"
                ) from None
            return int(obj)
        if getattr(obj, "closed", False):
            raise ValueError(
                f"{stream}: the file {obj!r} is closed (a moved pipe end can be used once)"
            )
        if self._kind == "file":
            flush = getattr(obj, "flush", None)
            if callable(flush) and getattr(obj, "writable", lambda: False)():
                flush()
        return int(obj.fileno())

    def after_spawn(self) -> None:
        """Called by the engine once a child got this stream: a moved pipe end is closed here.

        >>> Stdio.null().after_spawn()
        """
        if self._kind == "pipe-end":
            owner = self._obj._owner() if self._obj._owner is not None else None
            if owner is not None:
                owner._forget_pipe(self._obj)
            self._obj.close()

    def __repr__(self) -> str:
        if self._kind in ("piped", "inherit", "null"):
            return f"Stdio.{self._kind}()"
        if self._kind == "fd":
            return f"Stdio.from_fd({self._obj})"
        return f"Stdio.from_file({self._obj!r})"

    def __eq__(self, other: object) -> bool:
        """Equal when they send the stream to the same place (an fd number, the same file object).

        >>> Stdio.from_fd(1000) == Stdio.from_fd(1000), Stdio.null() == Stdio.piped()
        (True, False)
        >>> len({Stdio.from_fd(1000), Stdio.from_fd(1000)})  # equal values hash alike
        1
        """
        if not isinstance(other, Stdio):
            return NotImplemented
        return (self._kind, self._obj) == (other._kind, other._obj)

    def __hash__(self) -> int:
        try:
            return hash((self._kind, self._obj))
        except TypeError:  # an unhashable file-like object: equal only to itself
            return hash((self._kind, id(self._obj)))


_PIPED = Stdio("piped")
_INHERIT = Stdio("inherit")
_NULL = Stdio("null")

StdioLike = Stdio | int | _HasFileno
