"""Stdio: every kind of stream a child can get, and moving another child's pipe into a command."""

from __future__ import annotations

import io
import os
import tempfile

import pytest
from conftest import fd_count

from fork110 import ChildStdout, Command, Stdio


def test_null_discards_and_reads_nothing() -> None:
    out = (
        Command("sh")
        .args(["-c", "cat; echo loud; echo louder >&2"])
        .stdout(Stdio.null())
        .stderr(Stdio.null())
        .output()
    )
    assert (out.stdout, out.stderr) == (b"", b"")


def test_inherit_overrides_output_capture() -> None:
    r, w = os.pipe()
    saved = os.dup(2)
    try:
        os.dup2(w, 2)
        out = (
            Command("sh")
            .args(["-c", "echo to-inherited-stderr >&2"])
            .stderr(Stdio.inherit())
            .output()
        )
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(w)
    assert out.stderr == b""
    with os.fdopen(r, "rb") as f:
        assert f.read() == b"to-inherited-stderr\n"


def test_fd_and_file_objects() -> None:
    with tempfile.TemporaryFile() as f:
        f.write(b"buffered first|")  # a Python file's buffer is flushed before the child writes
        Command("echo").arg("from child").stdout(f).status()
        Command("echo").arg("by fd").stdout(f.fileno()).status()
        f.seek(0)
        assert f.read() == b"buffered first|from child\nby fd\n"
    with tempfile.TemporaryFile() as src:
        src.write(b"input from a file")
        src.seek(0)
        assert Command("cat").stdin(src).output().stdout == b"input from a file"


def test_same_file_for_stdout_and_stderr() -> None:
    with tempfile.TemporaryFile() as f:
        Command("sh").args(["-c", "echo out; echo err >&2"]).stdout(f).stderr(f).status()
        f.seek(0)
        assert sorted(f.read().split()) == [b"err", b"out"]


def test_a_pipeline_moves_the_pipe_end() -> None:
    before = fd_count()
    producer = Command("printf").arg("b\\na\\nc\\n").stdout(Stdio.piped()).spawn()
    pipe = producer.stdout
    assert isinstance(pipe, ChildStdout)
    sorter = Command("sort").stdin(pipe).stdout(Stdio.piped()).spawn()
    assert pipe.closed and producer.stdout is None  # moved, like child.stdout.take() in Rust
    assert sorter.wait_with_output().stdout == b"a\nb\nc\n"
    assert producer.wait().success()
    assert fd_count() == before


def test_a_moved_pipe_end_cannot_be_used_twice() -> None:
    producer = Command("echo").arg("x").stdout(Stdio.piped()).spawn()
    consumer = Command("cat").stdin(producer.stdout).stdout(Stdio.null())  # type: ignore[arg-type]
    consumer.status()
    with pytest.raises(ValueError, match="closed"):
        consumer.status()
    producer.wait()


def test_coercion_and_reprs() -> None:
    assert Stdio.coerce(Stdio.null(), "stdin") is Stdio.null()
    assert repr(Stdio.from_fd(5)) == "Stdio.from_fd(5)"
    assert Stdio.piped() == Stdio.piped() and Stdio.piped() != Stdio.null()
    with pytest.raises(TypeError, match="stdin\\(\\) takes a Stdio"):
        Stdio.coerce(True, "stdin")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="int file descriptor"):
        Stdio.from_fd("1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="is not a file descriptor"):
        Stdio.from_fd(-3)
    with pytest.raises(TypeError, match="needs an object with fileno"):
        Stdio.from_file(io.BytesIO())  # type: ignore[arg-type]


def test_a_closed_fd_fails_cleanly() -> None:
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    before = fd_count()
    with pytest.raises(OSError):
        Command("true").stdout(w).status()
    assert fd_count() == before


def test_equal_stdios_hash_alike() -> None:
    a, b = Stdio.from_fd(1000), Stdio.from_fd(1000)
    assert a == b and hash(a) == hash(b)
    assert len({a, b, Stdio.from_fd(1001)}) == 2
    assert Stdio.null().__eq__("null") is NotImplemented
