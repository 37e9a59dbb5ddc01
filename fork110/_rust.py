"""``Command.to_rust()``: the Rust ``std::process::Command`` builder equivalent to a fork110 Command."""

from __future__ import annotations

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
    if isinstance(given, bytes):
        try:
            value = given.decode("utf-8")
        except UnicodeDecodeError:
            return _os_str(given)
    else:
        value = given
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
    args = cmd.get_args()
    if len(args) == 1:
        lines.append(f".arg({rust_str(args[0])})")
    elif args:
        lines.append(".args([" + ", ".join(rust_str(a) for a in args) + "])")
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
        lines.append(f".{stream}({_STDIO_RUST.get(cfg.kind, 'Stdio::from(file)')})")
    if cmd._uid is not None:
        lines.append(f".uid({cmd._uid})")
    if cmd._gid is not None:
        lines.append(f".gid({cmd._gid})")
    if cmd._groups is not None:
        lines.append(".groups(&[" + ", ".join(map(str, cmd._groups)) + "])")
    if cmd._pgid != -1:
        lines.append(f".process_group({cmd._pgid})")
    for hook in cmd._hooks:
        name = getattr(hook, "__qualname__", "hook")
        lines.append(f"// unsafe {{ cmd.pre_exec(|| {{ /* {name} */ Ok(()) }}) }};")
    return "\n    ".join(lines)
