"""The demos' C programs: each builds warning-free, and each bounded one behaves as its slide intends.

Programs that are not bounded on their own (``runaway``, the fork bomb) are only compiled here; the
contained-run tests run them. The bounded ones run directly, each in its own session with a hard
timeout, and the test checks that no process of that session is left behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from fork110.demos._c import C_DIR, C_SOURCES, CompileError, compile_c, compile_file

RUN_TIMEOUT = 15.0  # seconds; every program run here finishes in about 1 s
NOT_RUN_DIRECTLY = {"runaway"}  # unbounded without a fork budget: contained-run tests only

needs_cc = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc) on PATH")
needs_cxx = pytest.mark.skipif(shutil.which("c++") is None, reason="no C++ compiler (c++) on PATH")


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demos-c")


def exe(name: str, build_dir: Path) -> Path:
    """The built program, or skip when its compiler is missing."""
    path = compile_c(name, build_dir)
    if path is None:
        pytest.skip(f"no compiler for {C_SOURCES[name].language}")
    return path


def _clean_session(sid: int) -> list[int]:
    """Reap our children in process group ``sid`` and wait (2 s) until no process of it is left.

    Returns the pids killed because they outlived the wait (the caller fails the test).
    """
    deadline = time.monotonic() + 2.0
    while True:
        with contextlib.suppress(ChildProcessError):  # orphans reparented to us (subreaper)
            while os.waitpid(-sid, os.WNOHANG)[0] > 0:
                pass
        try:
            os.killpg(sid, 0)
        except ProcessLookupError:
            return []
        if time.monotonic() > deadline:
            left = [int(p) for p in os.listdir("/proc") if p.isdigit() and _pgid(int(p)) == sid]
            with contextlib.suppress(ProcessLookupError):
                os.killpg(sid, signal.SIGKILL)
            time.sleep(0.1)
            with contextlib.suppress(ChildProcessError):
                while os.waitpid(-sid, os.WNOHANG)[0] > 0:
                    pass
            return left
        time.sleep(0.01)


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def run(path: Path, stdin: bytes = b"") -> tuple[int, str, str]:
    """Run a program in a new session with a hard timeout: (exit code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if k != "FORK110_DEMO"}
    with subprocess.Popen(
        [str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env=env,
    ) as proc:
        try:
            out, err = proc.communicate(stdin, timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            _clean_session(proc.pid)
            pytest.fail(f"{path.name} ran longer than {RUN_TIMEOUT} s")
    left = _clean_session(proc.pid)
    assert not left, f"{path.name} left processes behind: {left}"
    return proc.returncode, out.decode(), err.decode()


def pids(pattern: str, text: str) -> list[tuple[int, ...]]:
    """Every match of ``pattern`` (with integer groups) in ``text``, as tuples of ints."""
    return [tuple(int(g) for g in m.groups()) for m in re.finditer(pattern, text, re.M)]


def pairs(pattern: str, text: str) -> dict[int, int]:
    """Every match of a two-group ``pattern`` in ``text``, as {first: second}."""
    return {int(m[1]): int(m[2]) for m in re.finditer(pattern, text, re.M)}


# --------------------------------------------------------------------------------------------------
# The table of programs


def test_every_program_file_is_listed() -> None:
    on_disk = {p.stem for p in C_DIR.iterdir() if p.suffix in (".c", ".cpp")}
    assert on_disk == set(C_SOURCES)


@pytest.mark.parametrize("name", sorted(C_SOURCES))
def test_program_entry(name: str) -> None:
    p = C_SOURCES[name]
    assert p.name == name == p.path.stem
    assert p.path.is_file()
    assert p.language == ("c++" if p.path.suffix == ".cpp" else "c")
    assert p.slide.strip() and p.slide.endswith("\n")
    assert len(p.added.split()) >= 20  # plain words, not a placeholder
    assert "\n" not in p.added
    assert p.fixes is None or (p.fixes in C_SOURCES and C_SOURCES[p.fixes].fixes is None)
    assert len(p.source.splitlines()) <= 120
    if name in EDITED:
        assert "/* added" in p.source  # completions of slide code mark what they add


def test_slides_keep_their_typos() -> None:
    # The slide text is what the student saw: its mistakes stay (the programs correct them).
    assert "while (true) {" in C_SOURCES["runaway"].slide
    assert "pid_t pid = fork();" in C_SOURCES["runaway"].slide
    assert "pid_t pid2 = fork();" in C_SOURCES["nested_forks"].slide
    assert "waitpid(pid1);" in C_SOURCES["nested_forks"].slide
    assert "waitpid(pid);" in C_SOURCES["say_hello"].slide
    create_child = C_SOURCES["exceptions"].slide
    assert "char *argv" in create_child and "pid t pid = fork();" in create_child
    assert "{</pre>" in create_child
    assert 'throw Exception("Call to execvp failed.")\n' in create_child  # no semicolon
    stsh = C_SOURCES["exceptions_fixed_pid"].slide
    assert "if (getpid() != stshpid) exit(0);" in stsh and "haddleBuiltin" in stsh
    assert "const char** args = malloc(" in C_SOURCES["threads_lock"].slide
    assert "cmd.pre exec(function to run);" in C_SOURCES["ptrace"].slide
    assert "Block signals?" in C_SOURCES["fork_exec"].slide
    assert '"subprocess"' in C_SOURCES["subprocess"].slide
    assert "zombie" in C_SOURCES["zombies"].slide


# Lines of each slide the completed program had to change, and why; every other line of the slide
# appears in the program as it is on the slide.
EDITED = {
    "runaway": set(),
    "nested_forks": {"waitpid(pid1);", "waitpid(pid2);"},  # missing arguments
    "say_hello": {"waitpid(pid);"},  # missing arguments
    "exceptions": {
        "pid_t createChild(char *argv, int readFd, int writeFd) {",  # char **argv
        "pid t pid = fork();",  # pid_t
        "if (dup2(readFd, STDIN_FILENO) < 0) {</pre>",  # stray </pre>
    },
    "threads_lock": {
        "const char** args = malloc(sizeof(char *) * num_args);",  # my_malloc
        "execvp(args[0], args);",  # the cast execvp needs
    },
}


@pytest.mark.parametrize("name", sorted(EDITED))
def test_program_contains_the_slide_code(name: str) -> None:
    program = C_SOURCES[name]
    lines = {line.strip() for line in program.slide.splitlines() if line.strip()}
    missing = {line for line in lines - EDITED[name] if line not in program.source}
    assert not missing
    assert EDITED[name] <= lines  # the list of edits names real slide lines


# --------------------------------------------------------------------------------------------------
# Compiling


@pytest.mark.parametrize("name", sorted(C_SOURCES))
def test_compiles_warning_free(name: str, build_dir: Path) -> None:
    path = exe(name, build_dir)  # -Wall -Wextra -Werror: a warning fails the build
    assert path.is_file() and os.access(path, os.X_OK)
    assert path.parent == build_dir and path.name.startswith(f"{name}-")


@needs_cc
def test_compile_is_cached_by_source(tmp_path: Path) -> None:
    src = tmp_path / "hello.c"
    src.write_text('#include <stdio.h>\nint main(void) { puts("one"); return 0; }\n')
    first = compile_file(src, tmp_path / "out")
    assert first is not None
    stamp = first.stat().st_mtime_ns
    assert compile_file(src, tmp_path / "out") == first
    assert first.stat().st_mtime_ns == stamp  # not rebuilt
    src.write_text('#include <stdio.h>\nint main(void) { puts("two"); return 0; }\n')
    second = compile_file(src, tmp_path / "out")
    assert second is not None and second != first
    assert subprocess.run([second], capture_output=True, timeout=10).stdout == b"two\n"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted([first.name, second.name])


@needs_cc
def test_compile_error_carries_the_compiler_output(tmp_path: Path) -> None:
    src = tmp_path / "warns.c"
    src.write_text("int main(void) { int unused; return 0; }\n")  # only a warning, made an error
    with pytest.raises(CompileError) as info:
        compile_file(src, tmp_path)
    assert "unused" in info.value.stderr and "warns.c" in str(info.value)
    assert [p.name for p in tmp_path.iterdir()] == ["warns.c"]  # no half-built file left


def test_no_compiler_means_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert compile_c("say_hello", tmp_path) is None
    assert compile_c("exceptions", tmp_path) is None


def test_unknown_name() -> None:
    with pytest.raises(KeyError, match="no C program named 'nope'"):
        compile_c("nope", ".")


# --------------------------------------------------------------------------------------------------
# Running the bounded programs


def test_runaway_is_not_run_here() -> None:
    # The fork bomb only runs contained; this file only checks it builds (above) and keeps the
    # slide's loop: the child falls back into it.
    src = C_SOURCES["runaway"].source
    assert "while (true) {" in src and "_exit" not in src and "pause()" in src


def test_runaway_fixed(build_dir: Path) -> None:
    code, out, err = run(exe("runaway_fixed", build_dir))
    assert code == 0 and err == ""
    (parent,) = pids(r"^runaway_fixed: the parent is pid (\d+)$", out)[0]
    stuff = pids(r"^do_stuff in pid (\d+) \(parent (\d+)\)$", out)
    reaped = pids(r"^parent (\d+) reaped child (\d+): exit status (\d+)$", out)
    assert len(stuff) == 5 and {pp for _, pp in stuff} == {parent}
    assert sorted(c for _, c, _ in reaped) == sorted(c for c, _ in stuff)
    assert {(p, s) for p, _, s in reaped} == {(parent, 0)}
    assert out.splitlines()[-1] == f"parent {parent}: all children reaped"


def test_nested_forks_makes_four_processes_and_an_orphan(build_dir: Path) -> None:
    code, out, err = run(exe("nested_forks", build_dir))
    assert code == 0 and err == ""
    (main,) = pids(r"^main is pid (\d+)$", out)[0]
    proc1 = pids(r"^do_stuff_proc1 in pid (\d+) \(parent (\d+)\)$", out)
    proc2 = pids(r"^do_stuff_proc2 in pid (\d+) \(parent (\d+)\)$", out)
    assert len(proc1) == 2 and len(proc2) == 1  # proc1 runs twice
    (child1,) = [c for c, p in proc1 if p == main]
    (grandchild,) = [c for c, p in proc1 if p == child1]
    (child2, parent2) = proc2[0]
    assert parent2 == main and len({main, child1, child2, grandchild}) == 4
    ((orphan, old, new),) = pids(
        r"^do_stuff_proc1 in pid (\d+): parent (\d+) has exited, my parent is now (\d+) \(orphan\)$",
        out,
    )
    assert (orphan, old) == (grandchild, child1) and new not in (child1, main)
    assert pids(r"^main in pid (\d+): waitpid returned (\d+) and (\d+); returning$", out) == [
        (main, child1, child2)
    ]


def test_nested_forks_fixed(build_dir: Path) -> None:
    code, out, err = run(exe("nested_forks_fixed", build_dir))
    assert code == 0 and err == ""
    (main,) = pids(r"^main is pid (\d+)$", out)[0]
    ((c1, p1),) = pids(r"^do_stuff_proc1 in pid (\d+) \(parent (\d+)\)$", out)
    ((c2, p2),) = pids(r"^do_stuff_proc2 in pid (\d+) \(parent (\d+)\)$", out)
    assert p1 == p2 == main and "orphan" not in out
    assert pids(r"^main in pid (\d+): waitpid returned (\d+) and (\d+)", out) == [(main, c1, c2)]


def test_say_hello_child_runs_the_callers_code(build_dir: Path) -> None:
    code, out, err = run(exe("say_hello", build_dir))
    assert code == 0 and err == ""
    ((p,),) = pids(r"^main starts in pid (\d+)$", out)
    ((c, pp),) = pids(r"^hello from pid (\d+) \(parent (\d+)\)$", out)
    assert pp == p
    assert out.splitlines() == [
        f"main starts in pid {p}",
        f"hello from pid {c} (parent {p})",
        f"main continues in pid {c}",  # the child came back into main
        f"main about to return in pid {c}",
        f"main continues in pid {p}",
        f"main about to return in pid {p}",
    ]


def test_say_hello_fixed(build_dir: Path) -> None:
    code, out, err = run(exe("say_hello_fixed", build_dir))
    assert code == 0 and err == ""
    ((p,),) = pids(r"^main starts in pid (\d+)$", out)
    ((c, _),) = pids(r"^hello from pid (\d+) \(parent (\d+)\)$", out)
    assert out.splitlines() == [
        f"main starts in pid {p}",
        f"hello from pid {c} (parent {p})",
        f"main continues in pid {p}",
        f"main about to return in pid {p}",
    ]


SHELL_INPUT = b"no-such-program\necho hello\n"
PROMPT = r"^stsh\[(\d+)\]> "


@needs_cxx
def test_exceptions_make_a_second_shell(build_dir: Path) -> None:
    code, out, err = run(exe("exceptions", build_dir), SHELL_INPUT)
    assert code == 0
    shells = list(dict.fromkeys(p for (p,) in pids(PROMPT, out)))
    assert len(shells) == 2  # the original and the child that caught the exception
    first, second = shells
    assert err == f"stsh[{second}] caught: Call to execvp failed.\n"
    assert f"stsh[{second}]> echo hello" in out.splitlines()  # the second shell ran it
    assert out.splitlines().count("hello") == 1
    assert f"stsh[{first}]: job {second} exited with status 0" in out.splitlines()
    assert out.splitlines()[-1] == f"stsh[{first}]> (end of input: stsh[{first}] exits)"


@needs_cxx
def test_exceptions_fixed_pid(build_dir: Path) -> None:
    code, out, err = run(exe("exceptions_fixed_pid", build_dir), SHELL_INPUT)
    assert code == 0
    ((child,),) = pids(r"^stsh\[(\d+)\] caught: Call to execvp failed\.$", err)
    assert {p for (p,) in pids(PROMPT, out)} == {shell := pids(PROMPT, out)[0][0]}
    assert f"stsh[{shell}]: job {child} exited with status 0" in out.splitlines()
    assert f"stsh[{shell}]> echo hello" in out.splitlines()
    assert out.splitlines().count("hello") == 1


@needs_cxx
def test_exceptions_fixed_exit(build_dir: Path) -> None:
    code, out, err = run(exe("exceptions_fixed_exit", build_dir), SHELL_INPUT)
    assert code == 0
    ((child,),) = pids(
        r"^stsh child (\d+): execvp no-such-program: No such file or directory$", err
    )
    assert len({p for (p,) in pids(PROMPT, out)}) == 1
    shell = pids(PROMPT, out)[0][0]
    assert f"stsh[{shell}]: job {child} exited with status 127" in out.splitlines()
    assert out.splitlines().count("hello") == 1


def test_threads_lock_child_is_stuck(build_dir: Path) -> None:
    code, out, err = run(exe("threads_lock", build_dir))
    assert code == 0 and err == ""
    assert re.search(r"^thread A \(pid \d+, Threads: 2\) forks while thread B holds", out, re.M)
    ((child,),) = pids(r"^child (\d+) \(Threads: 1\): calling malloc$", out)
    assert (
        f"parent: child {child} is stuck (lock held by a thread that does not exist in the child)"
        in out.splitlines()
    )
    assert re.search(rf"^parent: child {child} state S \(sleeping\)", out, re.M)
    assert f"parent: child {child} killed by signal 9 and reaped" in out.splitlines()
    assert "got the lock" not in out
    assert out.splitlines()[-1].startswith("parent: thread B released the lock")


def test_threads_lock_fixed(build_dir: Path) -> None:
    code, out, err = run(exe("threads_lock_fixed", build_dir))
    assert code == 0 and err == ""
    ((child,),) = pids(r"^child (\d+): exec'd at once", out)
    assert (
        f"parent: child {child} exited with status 0 while thread B still held the lock"
        in out.splitlines()
    )


def test_threads_lock_atfork(build_dir: Path) -> None:
    code, out, err = run(exe("threads_lock_atfork", build_dir))
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert "parent: fork returned after thread B released the lock" in lines
    assert "child: my_malloc worked, exec'd echo" in lines
    assert re.search(r"^parent: child \d+ exited with status 0$", out, re.M)


def test_threads_lock_malloc(build_dir: Path) -> None:
    code, out, err = run(exe("threads_lock_malloc", build_dir))
    assert code == 0 and err == "" and "stuck" not in out
    assert out.splitlines()[-1].startswith("20 of 20 children called malloc and exited")


def test_zombies(build_dir: Path) -> None:
    code, out, err = run(exe("zombies", build_dir))
    assert code == 0 and err == ""
    exited = pairs(r"^child (\d+) exits with status (\d+)$", out)
    assert sorted(exited.values()) == [1, 2, 3]
    zombies = [c for (c,) in pids(r"^child (\d+) has exited; state Z \(zombie\)$", out)]
    assert sorted(zombies) == sorted(exited)
    assert pairs(r"^reaped (\d+): exit status (\d+); state now gone$", out) == exited


def test_zombies_fixed(build_dir: Path) -> None:
    code, out, err = run(exe("zombies_fixed", build_dir))
    assert code == 0 and err == ""
    exited = pairs(r"^child (\d+) exits with status (\d+)$", out)
    assert pairs(r"^handler reaped (\d+): exit status (\d+)$", out) == exited
    assert sorted(c for (c,) in pids(r"^child (\d+): state gone$", out)) == sorted(exited)
    assert "zombie" not in out


def test_fork_exec_changes_reach_the_exec_d_program(build_dir: Path) -> None:
    code, out, err = run(exe("fork_exec", build_dir))
    assert code == 0 and err == ""

    def facts(prefix: str) -> dict[str, str]:
        found = re.findall(
            rf"^{prefix}: (fd 1 ->|FORK110_DEMO=|SigBlk:|Cpus_allowed_list:)[ \t]*(.*)$", out, re.M
        )
        return dict(found)

    before, after = facts("parent"), facts(r"parent, after")
    child = facts(r"parent read from the pipe: exec'd program \(pid \d+\)")
    assert len(before) == len(after) == len(child) == 4
    assert after == before  # the parent is untouched
    assert child["fd 1 ->"].startswith("pipe:[") and child["fd 1 ->"] != before["fd 1 ->"]
    assert child["FORK110_DEMO="] == "set-between-fork-and-exec" and before["FORK110_DEMO="] == ""
    assert int(child["SigBlk:"], 16) & (1 << (signal.SIGUSR1 - 1))
    assert re.fullmatch(r"\d+", child["Cpus_allowed_list:"])  # one CPU
    assert re.search(r"^parent: child \d+ exited with status 0$", out, re.M)


@pytest.mark.skipif(shutil.which("ps") is None, reason="no ps on PATH")
def test_subprocess(build_dir: Path) -> None:
    path = exe("subprocess", build_dir)
    code, out, err = run(path)
    assert code == 0 and err == ""
    ((main,),) = pids(r"^main is pid (\d+)$", out)
    ((ps, pid, _ppid),) = pids(r"^read from ps \(pid (\d+)\): +(\d+) +(\d+) ", out)
    assert pid == main and str(path) in out  # ps described the main program
    assert f"ps (pid {ps}) exited with status 0" in out.splitlines()
    assert out.splitlines()[-1] == (
        "subprocess(no-such-program) failed: No such file or directory "
        "(errno 2, reported through the error pipe)"
    )


def test_ptrace(build_dir: Path) -> None:
    code, out, err = run(exe("ptrace", build_dir))
    if code == 2:
        assert "ptrace is not permitted here" in out
        pytest.skip("ptrace is not permitted on this machine")
    assert code == 0 and err == ""
    ((child,),) = pids(r"^parent: child (\d+) stopped by SIGTRAP at exec$", out)
    assert f"parent: child {child} state t (tracing stop)" in out.splitlines()
    assert re.search(r"^parent: (instruction pointer 0x[0-9a-f]+|ip unavailable)", out, re.M)
    lines = out.splitlines()
    assert lines.index("hello from the traced child") > 1
    assert lines[-1] == f"parent: child {child} exited with status 0"
