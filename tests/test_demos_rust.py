"""The demos' Rust programs (the slides' own language): each builds warning-free with rustc, runs
bounded, and shows what its entry says; compiling is cached; without rustc the answer is None.

As for C (test_demos_c.py), each program runs directly in its own session with a hard timeout, and
no process of that session may be left behind. The contained runs (``language="rust"``) are tested
with each demo (test_demos_zombies, test_demos_subprocess, test_demos_ptrace).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from test_demos_c import pids, run

from fork110.demos._c import CompileError
from fork110.demos._rs import (
    RUST_DIR,
    RUST_SOURCES,
    compile_rust,
    compile_rust_file,
    find_rustc,
)

needs_rustc = pytest.mark.skipif(find_rustc() is None, reason="no rustc on this machine")


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demos-rust")


def exe(name: str, build_dir: Path) -> Path:
    path = compile_rust(name, build_dir)
    if path is None:
        pytest.skip("no rustc on this machine")
    return path


def test_every_program_file_is_listed() -> None:
    assert {p.stem for p in RUST_DIR.glob("*.rs")} == set(RUST_SOURCES)


@pytest.mark.parametrize("name", sorted(RUST_SOURCES))
def test_program_entry(name: str) -> None:
    p = RUST_SOURCES[name]
    assert p.name == name == p.path.stem and p.path.is_file()
    assert len(p.shows.split()) >= 20 and "\n" not in p.shows
    assert "extern crate" not in p.source and "libc::" not in p.source  # std only
    assert len(p.source.splitlines()) <= 140


@needs_rustc
@pytest.mark.parametrize("name", sorted(RUST_SOURCES))
def test_compiles_warning_free(name: str, build_dir: Path) -> None:
    path = exe(name, build_dir)  # -D warnings: a warning fails the build
    assert path.is_file() and os.access(path, os.X_OK) and path.name.startswith(f"{name}-")
    assert list(path.parent.glob("*.tmp*")) == []


@needs_rustc
def test_compile_is_cached_by_source(tmp_path: Path) -> None:
    src = tmp_path / "hello.rs"
    src.write_text('fn main() { println!("one"); }\n')
    first = compile_rust_file(src, tmp_path / "out")
    assert first is not None
    stamp = first.stat().st_mtime_ns
    assert compile_rust_file(src, tmp_path / "out") == first and first.stat().st_mtime_ns == stamp
    src.write_text('fn main() { println!("two"); }\n')
    second = compile_rust_file(src, tmp_path / "out")
    assert second is not None and second != first
    assert subprocess.run([second], capture_output=True, timeout=10).stdout == b"two\n"


@needs_rustc
def test_compile_error_carries_rustc_output(tmp_path: Path) -> None:
    src = tmp_path / "warns.rs"
    src.write_text("fn main() { let unused = 1; }\n")  # only a warning, made an error
    with pytest.raises(CompileError) as info:
        compile_rust_file(src, tmp_path)
    assert "unused" in info.value.stderr and "warns.rs" in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["warns.rs"]  # nothing half-built left


def test_no_rustc_means_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert find_rustc() is None and compile_rust("ptrace", tmp_path) is None


def test_unknown_name() -> None:
    with pytest.raises(KeyError, match="no Rust program named 'nope'"):
        compile_rust("nope", ".")


# --------------------------------------------------------------------------------------------------
# Running them: what each shows about std::process


def test_command_defaults_and_a_stdin_pipe(build_dir: Path) -> None:
    code, out, err = run(exe("command", build_dir))
    assert code == 0 and err == ""
    ((main,),) = pids(r"^main is pid (\d+)$", out)
    lines = out.splitlines()
    # output() captured stdout; status() let ps write to the inherited stdout; spawn() piped it
    assert re.search(rf"^read from ps via output\(\): +{main} ", out, re.M)
    assert [ln for ln in lines if re.match(rf"^ *{main} +\d+ ", ln)]  # status(): straight to ours
    assert re.search(rf"^read from ps via spawn\(\) \(pid \d+\): +{main} ", out, re.M)
    assert [ln for ln in lines if ln.startswith("ps via ")] == [
        "ps via output(): exit status: 0",
        "ps via status(): exit status: 0",
        next(ln for ln in lines if ln.startswith("ps via spawn() + wait()")),
    ]
    assert "read back from tr via stdin pipe: HELLO THROUGH A PIPE" in lines
    assert lines[-1] == (
        'Command::new("no-such-program").output() returned Err: kind NotFound, errno 2'
    )


def test_output_gives_the_child_a_null_stdin(build_dir: Path) -> None:
    # run() gives the program a pipe on stdin; output() must not pass it on: the child gets null
    code, out, _ = run(exe("command", build_dir), stdin=b"typed input\n")
    assert code == 0 and "a child's stdin under output(): /dev/null" in out.splitlines()
    assert "typed input" not in out


def test_a_dropped_child_stays_a_zombie(build_dir: Path) -> None:
    code, out, err = run(exe("zombies_drop", build_dir))
    assert code == 0 and err == ""
    exited = dict(pids(r"^child (\d+) exits with status (\d+)$", out))  # type: ignore[arg-type]
    assert sorted(exited.values()) == [1, 2, 3]
    after = [c for (c,) in pids(r"^child (\d+): state Z \(zombie\)$", out)]
    assert sorted(after) == sorted(exited)  # still zombies after 1 s: no Drop reaped them
    assert out.splitlines()[-1].endswith("exits without waiting for them")


def test_a_guard_whose_drop_waits(build_dir: Path) -> None:
    code, out, err = run(exe("zombies_guard", build_dir))
    assert code == 0 and err == ""
    exited = dict(pids(r"^child (\d+) exits with status (\d+)$", out))  # type: ignore[arg-type]
    assert dict(pids(r"^Drop reaped (\d+): exit status (\d+)$", out)) == exited  # type: ignore[arg-type]
    assert sorted(c for (c,) in pids(r"^child (\d+): state gone$", out)) == sorted(exited)


def test_child_wait_returns_the_ptrace_stop_and_caches_it(build_dir: Path) -> None:
    code, out, err = run(exe("ptrace", build_dir))
    if code == 2:
        assert "ptrace is not permitted here" in out
        pytest.skip("ptrace is not permitted on this machine")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert (
        lines[0]
        == "parent: Child::wait() -> code() None, stopped_signal() Some(5), success() false"
    )
    ((child,),) = pids(r"^parent: child (\d+) stopped by SIGTRAP at exec$", out)
    assert f"parent: child {child} state t (tracing stop)" in lines
    assert any(
        ln.startswith("parent: Child::wait() again -> stopped_signal() Some(5)") for ln in lines
    )
    assert lines.index("hello from the traced child") > 3
    assert lines[-1] == f"parent: child {child} exited with status 0"  # seen by the raw waitpid


def _compile_snippet(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    rustc = find_rustc()
    assert rustc is not None
    src = tmp_path / "slide.rs"
    src.write_text(
        "#![allow(unused_variables)]\n"
        "fn function_to_run() -> std::io::Result<()> { Ok(()) }\n"
        "fn main() -> std::io::Result<()> {\n" + body + "\n    Ok(())\n}\n"
    )
    return subprocess.run(
        [rustc, "--edition", "2021", "-o", str(tmp_path / "slide"), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )


@needs_rustc
def test_the_pre_exec_slide_does_not_compile_and_the_correction_does(tmp_path: Path) -> None:
    from fork110.demos.ptrace import SLIDE, SLIDE_CORRECTED

    # the slide with its OCR slips mended (pre exec, the comment's //, the brace) but as written:
    # `let cmd` (not mut) and no `;` after spawn()
    mended = (
        SLIDE.replace("cmd.pre exec(function to run);", "cmd.pre_exec(function_to_run);\n}")
        .replace("   Spawn child process", "// Spawn child process")
        .replace(
            "use std::os::unix::process::CommandExt;",
            "use std::os::unix::process::CommandExt;\nuse std::process::Command;",
        )
    )
    assert "let cmd = Command::new" in mended and mended.rstrip().endswith("cmd.spawn()")
    bad = _compile_snippet(tmp_path, mended)
    assert bad.returncode != 0
    assert "expected `;`" in bad.stderr or "E0596" in bad.stderr
    no_semicolon_fixed = _compile_snippet(tmp_path, mended.rstrip() + ";")
    assert "E0596" in no_semicolon_fixed.stderr  # cannot borrow `cmd` as mutable
    good = _compile_snippet(tmp_path, SLIDE_CORRECTED)
    assert good.returncode == 0, good.stderr
