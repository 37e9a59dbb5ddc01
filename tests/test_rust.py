"""Command.to_rust(): the Rust builder it prints is real Rust that does the same thing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fork110 import Command, Stdio
from fork110._rust import rust_str


def test_rust_strings() -> None:
    assert rust_str("plain") == '"plain"'
    assert rust_str('q"\\\n\t\x01') == '"q\\"\\\\\\n\\t\\u{1}"'
    assert rust_str(b"ok") == '"ok"'
    assert rust_str(b'\xff"') == 'OsStr::from_bytes(b"\\xff\\x22")'


def test_hooks_and_ids_are_spelled_out() -> None:
    src = Command("ls").uid(1000).gid(100).groups([1, 2]).pre_exec(os.getpid).to_rust()
    assert ".uid(1000)" in src and ".gid(100)" in src and ".groups(&[1, 2])" in src
    assert "pre_exec" in src and "getpid" in src


def test_to_rust_compiles_where_rustc_exists(tmp_path: Path) -> None:
    cmd = (
        Command("ps")
        .args(["--pid", "1", "-o", "pid= ppid= command="])
        .env("LC_ALL", "C")
        .env_remove("X")
        .current_dir("/")
        .stdin(Stdio.null())
        .arg0("ps")
        .process_group(0)
    )
    tricky = Command("true").args(["plain", b"\xff"]).groups([0]).stdout(2).uid(os.getuid())
    src = cmd.to_rust()
    assert src.startswith(
        'Command::new("ps")\n    .arg0("ps")\n    .args(["--pid", "1", "-o", "pid= ppid= command="])'
    )
    rustc = next(
        (
            p
            for p in (os.path.expanduser("~/.cargo/bin/rustc"), "/usr/bin/rustc")
            if os.path.exists(p)
        ),
        None,
    )
    if rustc is None:
        pytest.skip("no rustc on this machine to compile the generated code")
    program = (
        "use std::process::{Command, Stdio};\nuse std::os::unix::process::CommandExt;\n"
        "use std::ffi::OsStr;\nuse std::os::unix::ffi::OsStrExt;\n"
        f"fn main() {{\n    let out = {src}\n    .output().unwrap();\n    assert!(out.status.success());\n"
        f"    let st = {tricky.to_rust()}\n    .status().unwrap();\n    assert!(st.success());\n}}\n"
    )
    (tmp_path / "m.rs").write_text(program)
    build = (
        Command(rustc)
        .args(["--edition", "2021", "-o", str(tmp_path / "m"), str(tmp_path / "m.rs")])
        .output()
    )
    assert build.status.success(), build.stderr.decode()
    assert Command(str(tmp_path / "m")).status().success()
