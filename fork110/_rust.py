"""``Command.to_rust()``: the Rust ``std::process::Command`` builder equivalent to a fork110 Command."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._command import Command

__all__ = ["to_rust"]

_STDIO_RUST = {"piped": "Stdio::piped()", "inherit": "Stdio::inherit()", "null": "Stdio::null()"}


def rust_str(given: str | bytes) -> str:
    """A Rust expression for ``value``: a string literal, or ``OsStr::from_bytes`` for non-UTF-8 bytes.

    >>> rust_str('say "hi"\\n'), rust_str(b"\\xff")
    ('"say \\\\"hi\\\\"\\\\n"', 'OsStr::from_bytes(b"\\\\xff")')
    """
    raw = given.encode("utf-8", "surrogateescape") if isinstance(given, str) else given
    try:
        value = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _os_str(raw)
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def debug_str(value: str | bytes) -> str:
    """``value`` as Rust's ``Debug`` prints an ``OsStr``: quoted, escaped, invalid UTF-8 as ``\\xFF``.

    >>> debug_str("a\\nb"), debug_str(b"\\xffok")
    ('"a\\\\nb"', '"\\\\xFFok"')
    """
    raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    out = []
    for chunk in raw.decode("utf-8", "surrogateescape"):
        code = ord(chunk)
        if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte
            out.append(f"\\x{code - 0xDC00:02X}")
        else:
            out.append(_escape(chunk))
    return '"' + "".join(out) + '"'


def _escape(ch: str) -> str:
    if ch in '"\\':
        return "\\" + ch
    if ch == "\n":
        return "\\n"
    if ch == "\t":
        return "\\t"
    if ch == "\r":
        return "\\r"
    if ch == "\0":
        return "\\0"
    if ord(ch) < 32 or ord(ch) == 127:
        return f"\\u{{{ord(ch):x}}}"
    return ch


def _os_str(raw: bytes) -> str:
    body = "".join(chr(b) if 32 <= b < 127 and b not in (34, 92) else f"\\x{b:02x}" for b in raw)
    return f'OsStr::from_bytes(b"{body}")'


def to_rust(cmd: Command) -> str:
    """Render ``cmd`` as a Rust builder chain (see :meth:`fork110.Command.to_rust`).

    >>> from fork110 import Command, Stdio
    >>> print(to_rust(Command("ls").env_clear().current_dir("/").stdout(Stdio.null())))
    Command::new("ls")
        .env_clear()
        .current_dir("/")
        .stdout(Stdio::null())
    """
    lines = [f"Command::new({rust_str(cmd.get_program())})"]
    if cmd._arg0 is not None:
        lines.append(f".arg0({rust_str(cmd._arg0)})")
    args = [rust_str(a) for a in cmd.get_args()]
    if any(a.startswith("OsStr") for a in args):  # one array, one type: every item as an OsStr
        args = [_os_str(os.fsencode(a)) for a in cmd.get_args()]
    if len(args) == 1:
        lines.append(f".arg({args[0]})")
    elif args:
        lines.append(".args([" + ", ".join(args) + "])")
    if cmd._env_clear:
        lines.append(".env_clear()")
    for key, val in cmd.get_envs():
        if val is None:
            lines.append(f".env_remove({rust_str(key)})")
        else:
            lines.append(f".env({rust_str(key)}, {rust_str(val)})")
    cwd = cmd.get_current_dir()
    if cwd is not None:
        lines.append(f".current_dir({rust_str(cwd)})")
    for stream, cfg in cmd._stdio.items():
        if cfg.kind in _STDIO_RUST:
            lines.append(f".{stream}({_STDIO_RUST[cfg.kind]})")
        else:  # a Python file or fd: in Rust, open the File there and pass Stdio::from(file)
            lines.append(f"// .{stream}(Stdio::from(file))  -- {stream} is {cfg!r} in Python")
    if cmd._uid is not None:
        lines.append(f".uid({cmd._uid})")
    if cmd._gid is not None:
        lines.append(f".gid({cmd._gid})")
    if cmd._groups is not None:  # CommandExt::groups is nightly-only (feature "setgroups")
        lines.append(
            "// .groups(&[" + ", ".join(map(str, cmd._groups)) + "])  -- nightly Rust only"
        )
    if cmd._pgid != -1:
        lines.append(f".process_group({cmd._pgid})")
    for hook in cmd._hooks:
        name = getattr(hook, "__qualname__", "hook")
        lines.append(f"// unsafe {{ cmd.pre_exec(|| {{ /* {name} */ Ok(()) }}) }};")
    return "\n    ".join(lines)
