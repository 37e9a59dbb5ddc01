"""Command: every builder method and run mode against real programs, and bad input of every kind."""

from __future__ import annotations

import ast
import errno
import os
import signal
import stat
import threading
from pathlib import Path

import psutil
import pytest
from conftest import PY, fd_count, quiet_hooks
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fork110 import Command, PreExecError, Stdio, ThreadedForkWarning

SHOW_ARGV = "import os, sys; print(repr([os.fsencode(a) for a in sys.argv]))"
SHOW_ENV = "import os; print(repr(sorted(os.environb.items())))"


def argv_of(cmd: Command) -> list[bytes]:
    out = cmd.output()
    assert out.status.success(), out.stderr
    result: list[bytes] = ast.literal_eval(out.stdout.decode())
    return result


def env_of(cmd: Command) -> dict[bytes, bytes]:
    out = cmd.output()
    assert out.status.success(), out.stderr
    return dict(ast.literal_eval(out.stdout.decode()))


def no_children() -> list[psutil.Process]:
    return psutil.Process().children(recursive=True)


# -- arguments ---------------------------------------------------------------------------------------


def test_new_has_no_args_and_runs_the_program() -> None:
    assert argv_of(Command(PY).args(["-c", SHOW_ARGV]))[1:] == []


def test_each_arg_is_one_argv_element_never_a_shell() -> None:
    argv = argv_of(
        Command(PY).args(["-c", SHOW_ARGV]).arg("two words").arg("$HOME").arg("*").arg("")
    )
    assert argv[1:] == [b"two words", b"$HOME", b"*", b""]


def test_args_accept_str_bytes_and_paths() -> None:
    argv = argv_of(Command(PY).args(["-c", SHOW_ARGV, b"raw\xff", Path("/tmp/p")]))
    assert argv[1:] == [b"raw\xff", b"/tmp/p"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",))),
            st.binary().filter(lambda b: b"\0" not in b),
        ),
        max_size=6,
    )
)
def test_argv_round_trips_through_a_real_child(args: list[str | bytes]) -> None:
    argv = argv_of(Command(PY).args(["-c", SHOW_ARGV]).args(args))
    assert argv[1:] == [os.fsencode(a) for a in args]


def test_args_rejects_a_single_string_and_wrong_types() -> None:
    with pytest.raises(TypeError, match=r"not a single str .* use arg\('-l'\)"):
        Command("ls").args("-l")
    with pytest.raises(TypeError, match="arg\\(\\): expected str, bytes or os.PathLike, not int"):
        Command("ls").arg(3)  # type: ignore[arg-type]
    with pytest.raises(
        TypeError, match="args\\(\\) item 1: expected str, bytes or os.PathLike, not NoneType"
    ):
        Command("ls").args(["a", None])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="iterable of arguments, not int"):
        Command("ls").args(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="program: expected str, bytes or os.PathLike, not list"):
        Command(["ls", "-l"])  # type: ignore[arg-type]


def test_arg0_changes_argv0_not_the_program() -> None:
    code = "print(repr(open('/proc/self/cmdline', 'rb').read().split(b'\\0')[:-1]))"
    argv = argv_of(Command(PY).args(["-c", code]).arg0("pretend"))
    assert argv == [b"pretend", b"-c", code.encode()]


# -- environment -------------------------------------------------------------------------------------


def test_env_inherits_and_adds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORK110_INHERITED", "yes")
    env = env_of(Command(PY).args(["-c", SHOW_ENV]).env("FORK110_ADDED", "1"))
    assert env[b"FORK110_INHERITED"] == b"yes"
    assert env[b"FORK110_ADDED"] == b"1"


def test_env_is_computed_at_spawn_time(monkeypatch: pytest.MonkeyPatch) -> None:
    cmd = Command(PY).args(["-c", SHOW_ENV]).env("FORK110_A", "1")
    monkeypatch.setenv("FORK110_LATER", "late")  # set after env(): Rust's child still sees it
    env = env_of(cmd)
    assert env[b"FORK110_LATER"] == b"late"
    assert env[b"FORK110_A"] == b"1"


def test_env_remove_and_env_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORK110_GONE", "x")
    env = env_of(Command(PY).args(["-c", SHOW_ENV]).env_remove("FORK110_GONE"))
    assert b"FORK110_GONE" not in env
    env = env_of(
        Command(PY).args(["-c", SHOW_ENV]).env("BEFORE", "1").env_clear().env("ONLY", "me")
    )
    env.pop(b"LC_CTYPE", None)  # the child interpreter may set it for itself (PEP 538)
    assert env == {b"ONLY": b"me"}


def test_envs_takes_mappings_and_pairs() -> None:
    env = env_of(Command(PY).args(["-c", SHOW_ENV]).envs({"A1": "1"}).envs([(b"B2", b"2")]))
    assert (env[b"A1"], env[b"B2"]) == (b"1", b"2")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.text(
            st.characters(blacklist_characters="\0=", blacklist_categories=("Cs",)), min_size=1
        ).filter(lambda k: k not in ("LC_CTYPE", "PYTHONCOERCECLOCALE", "PYTHONUTF8"))
        | st.binary(min_size=1).filter(lambda b: b"\0" not in b and b"=" not in b),
        st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)))
        | st.binary().filter(lambda b: b"\0" not in b),
        max_size=5,
    )
)
def test_env_round_trips_through_a_real_child(env: dict[str | bytes, str | bytes]) -> None:
    expected = {os.fsencode(k): os.fsencode(v) for k, v in env.items()}
    if len(expected) < len(env):
        return  # str and bytes spellings of one name: the later one wins, as in one env() after another
    got = env_of(Command(PY).args(["-I", "-c", SHOW_ENV]).env_clear().envs(env))
    got.pop(b"LC_CTYPE", None)
    expected.pop(b"LC_CTYPE", None)
    assert got == expected


def test_bad_env_names_and_values() -> None:
    with pytest.raises(ValueError, match=r"environment variable name 'A=B' contains '='"):
        Command("true").env("A=B", "1").status()
    with pytest.raises(ValueError, match="environment variable name '' is empty"):
        Command("true").env("", "1").status()
    with pytest.raises(ValueError, match=r"value of environment variable 'K' contains a NUL byte"):
        Command("true").env("K", "a\0b").status()
    with pytest.raises(TypeError, match="env\\(\\) value of 'K': expected str"):
        Command("true").env("K", 1)  # type: ignore[arg-type]


# -- PATH --------------------------------------------------------------------------------------------


def test_bare_name_is_searched_on_the_childs_path(tmp_path: Path) -> None:
    tool = tmp_path / "fork110-only-here"
    tool.write_text("#!/bin/sh\necho found me\n")
    tool.chmod(0o755)
    with pytest.raises(FileNotFoundError):
        Command("fork110-only-here").status()
    out = Command("fork110-only-here").env("PATH", f"/nonexistent:{tmp_path}").output()
    assert out.stdout == b"found me\n"


def test_removed_path_falls_back_to_bin_and_usr_bin() -> None:
    assert Command("true").env_remove("PATH").status().success()
    assert Command("true").env_clear().status().success()
    with pytest.raises(FileNotFoundError, match="not found on PATH '/bin:/usr/bin'"):
        Command("fork110-nowhere").env_clear().status()


def test_relative_program_is_resolved_after_chdir(tmp_path: Path) -> None:
    script = tmp_path / "here.sh"
    script.write_text("#!/bin/sh\npwd\n")
    script.chmod(0o755)
    out = Command("./here.sh").current_dir(tmp_path).output()
    assert out.stdout.decode().strip() == str(tmp_path)


# -- current_dir -------------------------------------------------------------------------------------


def test_current_dir_and_getters(tmp_path: Path) -> None:
    cmd = Command("pwd").current_dir(tmp_path).arg("-P").env("X", "1").env_remove("Y")
    assert cmd.output().stdout.decode().strip() == str(tmp_path.resolve())
    assert cmd.get_program() == "pwd"
    assert cmd.get_args() == ["-P"]
    assert cmd.get_envs() == [("X", "1"), ("Y", None)]
    assert cmd.get_current_dir() == str(tmp_path)
    assert Command("ls").get_current_dir() is None


# -- bad input: the right exception, naming what failed, and nothing left behind --------------------


def _bad_input_cases(tmp: Path) -> list[tuple[Command, type[BaseException], str]]:
    plain = tmp / "plain.txt"
    plain.write_text("not a program")
    plain.chmod(stat.S_IRUSR | stat.S_IWUSR)
    return [
        (Command("fork110-no-such-program"), FileNotFoundError, "fork110-no-such-program"),
        (Command("/nonexistent/prog"), FileNotFoundError, "/nonexistent/prog"),
        (Command(str(plain)), PermissionError, "not executable"),
        (Command(str(tmp)), PermissionError, "a directory, not a program"),
        (Command("true").current_dir("/nonexistent-dir"), FileNotFoundError, "current_dir"),
        (Command("true").current_dir(str(plain)), NotADirectoryError, "current_dir"),
        (Command("true").arg("a\0b"), ValueError, "argument 1 contains a NUL byte"),
        (Command("tr\0ue"), ValueError, "program name contains a NUL byte"),
        (Command("true").arg0("x\0"), ValueError, "arg0 contains a NUL byte"),
        (Command("true").current_dir("/t\0mp"), ValueError, "current_dir contains a NUL byte"),
        (Command(""), FileNotFoundError, "empty program name"),
    ]


@pytest.mark.parametrize("mode", ["status", "output", "spawn"])
def test_bad_input_raises_names_and_leaks_nothing(tmp_path: Path, mode: str) -> None:
    before_fds = fd_count()
    for cmd, exc_type, text in _bad_input_cases(tmp_path):
        with pytest.raises(exc_type) as info:
            getattr(cmd.stdout(Stdio.piped()).stderr(Stdio.piped()), mode)()
        assert text in str(info.value), (cmd, str(info.value))
        if isinstance(info.value, OSError):
            assert info.value.errno is not None
        assert no_children() == [], f"{cmd!r} left a child behind"
        assert fd_count() == before_fds, f"{cmd!r} leaked an fd"


def test_errors_carry_errno_and_filename() -> None:
    with pytest.raises(FileNotFoundError) as info:
        Command("/nonexistent/prog").status()
    assert (info.value.errno, info.value.filename) == (errno.ENOENT, "/nonexistent/prog")
    with pytest.raises(NotADirectoryError) as dir_info:
        Command("true").current_dir("/etc/passwd").status()
    assert (dir_info.value.errno, dir_info.value.filename) == (errno.ENOTDIR, "/etc/passwd")


def test_wrong_types_for_setters() -> None:
    with pytest.raises(TypeError, match="stdout\\(\\) takes a Stdio"):
        Command("true").stdout("out.txt")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="current_dir\\(\\): expected str"):
        Command("true").current_dir(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="pre_exec\\(\\) takes a callable"):
        Command("true").pre_exec("setsid")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="uid: expected an int, not str"):
        Command("true").uid("root")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="process_group: -1 is negative"):
        Command("true").process_group(-1)


# -- run modes and their defaults --------------------------------------------------------------------


def test_output_defaults_stdin_null_and_captures_both() -> None:
    out = Command("cat").output()  # stdin is /dev/null: cat sees EOF at once instead of hanging
    assert (out.status.success(), out.stdout, out.stderr) == (True, b"", b"")


def test_status_and_spawn_inherit_streams() -> None:
    r, w = os.pipe()
    saved = os.dup(1)
    try:
        os.dup2(w, 1)
        Command("echo").arg("from status").status()
        with Command("echo").arg("from spawn").spawn() as child:
            assert child.stdout is None and child.stdin is None and child.stderr is None
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(w)
    with os.fdopen(r, "rb") as f:
        assert f.read() == b"from status\nfrom spawn\n"


def test_a_command_is_reusable_and_changeable() -> None:
    cmd = Command("echo").arg("one")
    assert cmd.output().stdout == b"one\n"
    cmd.arg("two")
    assert cmd.output().stdout == b"one two\n"
    assert cmd.output().stdout == b"one two\n"


def test_output_reads_100_mb_from_both_pipes_at_once() -> None:
    code = (
        "import sys\n"
        "chunk = b'o' * (1 << 20); err = b'e' * (1 << 20)\n"
        "for _ in range(100):\n"
        "    sys.stdout.buffer.write(chunk); sys.stdout.flush()\n"
        "    sys.stderr.buffer.write(err); sys.stderr.flush()\n"
    )
    out = Command(PY).args(["-c", code]).output()
    assert out.status.success()
    assert len(out.stdout) == len(out.stderr) == 100 << 20
    assert out.stdout.count(b"o") == 100 << 20
    assert out.stderr.count(b"e") == 100 << 20


def test_a_thousand_spawns_keep_the_fd_count_stable() -> None:
    cmd = Command("/bin/true")
    for _ in range(10):  # warm up anything lazily opened
        cmd.status()
    before = fd_count()
    for i in range(1000):
        if i % 3 == 0:
            cmd.status()
        elif i % 3 == 1:
            cmd.output()
        else:
            with cmd.stdin(Stdio.piped()).stdout(Stdio.piped()).spawn() as child:
                assert child.stdin is not None
            cmd = Command("/bin/true")
    assert fd_count() == before
    assert no_children() == []


# -- unix extensions ---------------------------------------------------------------------------------


def test_pre_exec_hooks_run_in_order_after_chdir(tmp_path: Path) -> None:
    log = tmp_path / "log"

    def first() -> None:
        with open(log, "a") as f:
            f.write(f"first {os.getcwd()}\n")

    def second() -> None:
        with open(log, "a") as f:
            f.write(f"second {os.getpid()}\n")

    with quiet_hooks():
        child = Command("true").current_dir("/").pre_exec(first).pre_exec(second).spawn()
    pid = child.id()
    assert child.wait().success()
    assert log.read_text().splitlines() == ["first /", f"second {pid}"]


def test_pre_exec_errno_comes_back_and_leaves_nothing() -> None:
    def refuse() -> None:
        raise OSError(errno.EPERM, "not allowed")

    def never() -> None:
        raise AssertionError("a hook after a failing hook must not run")

    before = fd_count()
    with quiet_hooks(), pytest.raises(PermissionError) as info:
        Command("true").pre_exec(refuse).pre_exec(never).status()
    assert info.value.errno == errno.EPERM
    assert "pre_exec hook" in str(info.value) and "refuse" in str(info.value)
    with quiet_hooks(), pytest.raises(PreExecError, match="raised ZeroDivisionError"):
        Command("true").pre_exec(lambda: 1 / 0).output()
    assert no_children() == []
    assert fd_count() == before


def test_pre_exec_warns_in_a_multithreaded_parent_only() -> None:
    script = (
        "import os, sys, threading, warnings\n"
        "from fork110 import Command\n"
        "warnings.simplefilter('error')\n"
        "Command('true').pre_exec(os.getpid).status()\n"  # single-threaded: no warning
        "stop = threading.Event(); t = threading.Thread(target=stop.wait); t.start()\n"
        "try:\n"
        "    Command('true').pre_exec(os.getpid).status()\n"
        "except Warning as w:\n"
        "    print(type(w).__name__, w)\n"
        "finally:\n"
        "    stop.set(); t.join()\n"
    )
    out = Command(PY).args(["-c", script]).output()
    assert out.status.success(), out.stderr
    assert out.stdout.startswith(b"ThreadedForkWarning pre_exec: this process runs 2 threads")
    with pytest.warns(ThreadedForkWarning):  # pytest itself runs a watchdog thread
        Command("true").pre_exec(os.getpid).status()


def test_pre_exec_in_threaded_parent_still_works() -> None:
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        with quiet_hooks():
            assert Command("true").pre_exec(os.getpid).status().success()
    finally:
        stop.set()
        t.join()


def test_process_group_zero_makes_the_child_a_leader() -> None:
    out = Command("sh").args(["-c", "echo $$ $(ps -o pgid= -p $$)"]).process_group(0).output()
    pid, pgid = out.stdout.split()
    assert pid == pgid
    mine = Command("sh").args(["-c", "ps -o pgid= -p $$"]).output().stdout.strip()
    assert int(mine) == os.getpgrp()


@pytest.mark.skipif(os.geteuid() != 0, reason="changing uid/gid needs root")
def test_uid_gid_and_groups_as_root() -> None:
    out = Command("id").uid(65534).gid(65534).output()
    assert out.stdout.decode().startswith("uid=65534") and "gid=65534" in out.stdout.decode()
    # uid without groups: root's supplementary groups are dropped, as in Rust
    assert Command("id").arg("-G").uid(65534).gid(65534).output().stdout.split() == [b"65534"]
    groups = Command("id").arg("-G").uid(65534).gid(65534).groups([65534, 100]).output()
    assert sorted(groups.stdout.split()) == [b"100", b"65534"]


def test_ids_for_ourselves_work_unprivileged() -> None:
    out = Command("id").args(["-u"]).uid(os.getuid()).gid(os.getgid()).output()
    assert out.stdout.strip() == str(os.getuid()).encode()


def test_exec_replaces_the_process_and_reports_failure() -> None:
    code = (
        "from fork110 import Command\n"
        "import os\n"
        "print('before', os.getpid(), flush=True)\n"
        "Command('sh').args(['-c', 'echo after $$ $0 $GREETING']).arg0('renamed').env('GREETING', 'hi').exec()\n"
    )
    out = Command(PY).args(["-c", code]).output()
    before, after = out.stdout.decode().splitlines()
    assert before.split()[1] == after.split()[1]  # same pid: replaced, not forked
    assert after.split()[2:] == ["renamed", "hi"]
    fail = "from fork110 import Command\ntry:\n    Command('fork110-nope').exec()\nexcept FileNotFoundError as e:\n    print('error:', e)\n"
    assert Command(PY).args(["-c", fail]).output().stdout.startswith(b"error: [Errno 2]")


def test_exec_rejects_piped_streams() -> None:
    with pytest.raises(ValueError, match="no parent will be there"):
        Command("true").stdout(Stdio.piped()).exec()


# -- repr and to_rust --------------------------------------------------------------------------------


def test_repr_reads_like_the_command() -> None:
    cmd = Command("ls").arg("-l").env("A", "1").env_remove("B").current_dir("/tmp")
    assert repr(cmd) == '<Command cd "/tmp" && env -u B A="1" "ls" "-l">'


# -- what the review of this module found (each once a bug or a gap) ---------------------------------


def test_env_remove_then_env_and_env_clear_then_remove(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORK110_X", "old")
    cmd = Command(PY).args(["-c", SHOW_ENV]).env_remove("FORK110_X").env("FORK110_X", "new")
    assert env_of(cmd)[b"FORK110_X"] == b"new"
    assert cmd.get_envs() == [("FORK110_X", "new")]
    assert Command("ls").env_clear().env_remove("A").get_envs() == []  # as Rust


def test_envs_rejects_what_is_not_pairs() -> None:
    with pytest.raises(TypeError, match="envs\\(\\) takes \\(key, value\\) pairs; got 'AB'"):
        Command("true").envs(["AB"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="envs\\(\\) takes a mapping or"):
        Command("true").envs(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="groups\\(\\) takes an iterable of group ids, not int"):
        Command("true").groups(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="too large for an id"):
        Command("true").uid(2**40)


def test_interrupt_during_spawn_leaves_no_child() -> None:
    def slow_setup() -> None:
        import time

        time.sleep(2)

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with quiet_hooks(), pytest.raises(KeyboardInterrupt):
            Command("sleep").arg("30").pre_exec(slow_setup).status()
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(KeyboardInterrupt):
            Command("sleep").arg("30").output()  # interrupted in the read loop
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert no_children() == []


def test_exec_rewires_stdio_safely_and_restores_signals() -> None:
    code = (
        "import os, sys\n"
        "from fork110 import Command, Stdio\n"
        "os.close(0)\n"  # the /dev/null fd would land on 0: it must still end up as stdin
        "Command('sh').args(['-c', 'echo OUT; echo ERR >&2; cat; grep SigIgn /proc/self/status'])"
        ".stdin(Stdio.null()).stdout(2).stderr(1).exec()\n"
    )
    out = Command(PY).args(["-c", code]).output()
    assert out.stdout.startswith(b"ERR\n"), out  # swapped: stderr to our stdout
    assert out.stderr.startswith(b"OUT\n")
    ignored = int(out.stderr.split()[-1], 16)
    assert not ignored & (1 << (signal.SIGPIPE - 1)), "SIGPIPE stays ignored after exec"


def test_non_utf8_program_and_directory(tmp_path: Path) -> None:
    odd = os.fsencode(str(tmp_path)) + b"/dir\xff"
    os.mkdir(odd)
    prog = odd + b"/prog\xfe"
    with open(prog, "wb") as f:
        f.write(b"#!/bin/sh\npwd\n")
    os.chmod(prog, 0o755)
    out = Command(prog).current_dir(odd).output()
    assert out.stdout == odd + b"\n"
    assert repr(Command(prog)).endswith('prog\\xFE">')


def test_too_long_an_argument_list_says_so() -> None:
    with pytest.raises(OSError) as info:
        Command("true").arg("x" * (1 << 20)).args(["y" * 200_000] * 20).status()
    assert info.value.errno == errno.E2BIG and "ARG_MAX" in str(info.value)


def test_spawning_with_stdout_and_stderr_closed_in_the_parent() -> None:
    code = (
        "import os\n"
        "from fork110 import Command, Stdio\n"
        "r, w = os.pipe()\n"
        "os.close(1); os.close(2)\n"
        "out = Command('echo').arg('still works').output()\n"
        "os.write(w, out.stdout)\n"
        "st = Command('true').stdout(Stdio.null()).status()\n"
        "os.write(w, str(st).encode())\n"
        "os.close(w)\n"
        "import sys; sys.exit(0 if os.read(r, 100) == b'still works\\nexit status: 0' else 1)\n"
    )
    assert Command(PY).args(["-c", code]).status().success()


def test_pre_exec_oserror_without_errno_is_einval() -> None:
    def vague() -> None:
        raise OSError("no errno here")

    with quiet_hooks(), pytest.raises(OSError) as info:
        Command("true").pre_exec(vague).status()
    assert info.value.errno == errno.EINVAL


def test_repr_with_arg0_clear_and_escapes() -> None:
    cmd = Command("ls").arg0("LS").env_clear().env("Z", "1").env("A", "2").arg("a\nb")
    assert repr(cmd) == '<Command env -i A="2" Z="1" ["ls"] "LS" "a\\nb">'


@pytest.mark.skipif(os.geteuid() != 0, reason="changing uid needs root")
def test_current_dir_is_entered_as_the_new_user(tmp_path: Path) -> None:
    private = tmp_path / "root-only"
    private.mkdir(mode=0o700)
    with pytest.raises(PermissionError) as info:
        Command("true").uid(65534).gid(65534).current_dir(private).status()
    assert "current_dir" in str(info.value) and str(private) in str(info.value)
    assert Command("pwd").uid(65534).gid(65534).current_dir("/tmp").output().stdout == b"/tmp\n"


def test_a_relative_directory_is_named_from_current_dir(tmp_path: Path) -> None:
    (tmp_path / "tool").mkdir()  # a directory where the child looks, not where the parent is
    with pytest.raises(PermissionError, match="a directory, not a program"):
        Command("./tool").current_dir(tmp_path).status()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "tool").write_text("not a program\n")  # a plain file: not executable
    with pytest.raises(PermissionError, match="the program is not executable"):
        Command("./tool").current_dir(tmp_path / "sub").status()


def test_exec_words_a_missing_program_as_spawn_does() -> None:
    code = (
        "from fork110 import Command\n"
        "for run in (lambda c: c.spawn(), lambda c: c.exec()):\n"
        "    try:\n"
        "        run(Command('fork110-nope').env('PATH', '/nonexistent:/also-not'))\n"
        "    except FileNotFoundError as e:\n"
        "        print(type(e).__name__, e)\n"
    )
    lines = Command(PY).args(["-c", code]).output().stdout.decode().splitlines()
    assert len(lines) == 2 and lines[0] == lines[1], lines
    assert "program not found on PATH '/nonexistent:/also-not'" in lines[0]
