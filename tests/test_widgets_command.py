"""CommandPlayground, driven headless: fields edited, Python and Rust shown, runs contained."""

from __future__ import annotations

from fork110.widgets import CommandPlayground


def test_code_follows_the_fields() -> None:
    pg = CommandPlayground("sh", "-c 'echo $X; exit 3'")
    pg.env.value = "X=42\n-HOME"
    pg.cwd.value = "/"
    pg.stdout.value = "inherit"
    pg.stdin.value = "null"
    assert pg.python == (
        "Command('sh').args(['-c', 'echo $X; exit 3']).env('X', '42').env_remove('HOME')"
        ".current_dir('/').stdin(Stdio.null()).stderr(Stdio.piped())"
    )
    rust = pg.rust
    assert 'Command::new("sh")' in rust and '.env("X", "42")' in rust and "Stdio::null()" in rust
    pg.method.value = "status()"
    run = pg.run().wait(30)
    assert run.stdout == "42\n<ExitStatus exit status: 3>\n"
    assert "exit status: 3" in pg.answer.value
    pg.close()


def test_output_of_a_real_program() -> None:
    pg = CommandPlayground("echo", "hello")
    assert (
        pg.run()
        .wait(30)
        .stdout.startswith("Output(status=<ExitStatus exit status: 0>, stdout=b'hello\\n'")
    )
    pg.close()


def test_clear_errors() -> None:
    pg = CommandPlayground("no-such-program-here", "")
    assert (
        "FileNotFoundError" in pg.run().wait(30).stdout
        and "no-such-program-here" in pg.answer.value
    )
    pg.program.value = "pwd"
    pg.cwd.value = "/no/such/dir"
    assert "current_dir" in pg.run().wait(30).stdout
    pg.cwd.value = ""
    pg.args.value = "a\x00b"
    assert "NUL" in pg.run().wait(30).stdout
    pg.close()
