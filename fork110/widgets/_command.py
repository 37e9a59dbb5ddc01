"""The Command playground: fields for a :class:`fork110.Command`, its Python and Rust side by side,
and a Run button that runs it contained."""

from __future__ import annotations

import html
import shlex
import threading
from typing import Any

import ipywidgets as w

from fork110 import Command, Stdio, sandbox
from fork110.sandbox import ContainedRun

from ._static import Static, StaticCopy, replace_in_cell
from ._tree import TreeView

__all__ = ["CommandPlayground"]

_STDIO = ("inherit", "piped", "null")
_METHODS = ("output()", "status()")
_BOX = "margin:0;padding:6px;background:#f7f7f7;border:1px solid #ddd;font-size:12px;white-space:pre-wrap"


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class CommandPlayground(StaticCopy, w.VBox):  # type: ignore[misc]
    """Build a :class:`fork110.Command` with fields (program, arguments, environment changes,
    working directory, the three stdio choices), see the Python chain and ``to_rust()`` side by
    side as you type, and run it contained: the ``Output``/``ExitStatus``, or the clear error.

    Environment lines are ``NAME=value`` (set) or ``-NAME`` (remove). In a notebook cell:
    ``CommandPlayground()``; :meth:`run` and :meth:`wait` are the Run button's twins.

    >>> pg = CommandPlayground("echo", "hello from a child")
    >>> print(pg.python)
    Command('echo').args(['hello', 'from', 'a', 'child']).stdout(Stdio.piped()).stderr(Stdio.piped())
    >>> pg.run().wait(20).stdout
    "Output(status=<ExitStatus exit status: 0>, stdout=b'hello from a child\\\\n', stderr=b'')\\n"
    >>> pg.close()
    """

    def __init__(self, program: str = "ls", args: str = "-l /", *, timeout: float = 5.0) -> None:
        """A playground starting with *program* and *args* (split as a shell would)."""
        self.timeout = timeout
        self.result: ContainedRun | None = None
        self.tree: TreeView | None = None
        self.error = ""
        self._done = threading.Event()
        self._done.set()
        self._static = Static(repr(self))
        style = {"description_width": "90px"}
        wide = w.Layout(width="520px")
        self.program = w.Text(value=program, description="program", style=style, layout=wide)
        self.args = w.Text(value=args, description="arguments", style=style, layout=wide)
        self.env = w.Textarea(
            value="", description="env changes", placeholder="NAME=value or -NAME, one a line",
            style=style, layout=w.Layout(width="520px", height="56px"),
        )  # fmt: skip
        self.cwd = w.Text(
            value="",
            description="current_dir",
            placeholder="(the parent's)",
            style=style,
            layout=wide,
        )
        self.stdin = w.Dropdown(options=_STDIO, value="inherit", description="stdin", style=style)
        self.stdout = w.Dropdown(options=_STDIO, value="piped", description="stdout", style=style)
        self.stderr = w.Dropdown(options=_STDIO, value="piped", description="stderr", style=style)
        self.method = w.Dropdown(
            options=_METHODS, value="output()", description="then", style=style
        )
        self.python_view = w.HTML()
        self.rust_view = w.HTML()
        self.problem = w.HTML()
        self.run_button = w.Button(
            description="Run (contained)", button_style="primary", icon="play"
        )
        self.run_button.on_click(lambda _b: self.run())
        self.answer = w.HTML()
        self.tree_box = w.VBox()
        for field in (
            self.program,
            self.args,
            self.env,
            self.cwd,
            self.stdin,
            self.stdout,
            self.stderr,
            self.method,
        ):
            field.observe(lambda _c: self._update(), names="value")
        code = w.HBox(
            [
                w.VBox([w.HTML("<b>Python</b>"), self.python_view], layout=w.Layout(width="50%")),
                w.VBox(
                    [w.HTML("<b>Rust</b> (<code>to_rust()</code>)"), self.rust_view],
                    layout=w.Layout(width="50%"),
                ),
            ]
        )
        super().__init__(
            [
                w.HTML(self._static.hide_style()),
                self.program,
                self.args,
                self.env,
                self.cwd,
                w.HBox([self.stdin, self.stdout, self.stderr]),
                w.HBox([self.method, self.run_button]),
                code,
                self.problem,
                self.tree_box,
                self.answer,
            ]
        )
        self.add_class("fork110-command")
        replace_in_cell(self)
        self._update()

    # -- what the fields say --------------------------------------------------------------------

    def _steps(self) -> list[tuple[str, tuple[Any, ...]]]:
        try:
            argv = shlex.split(self.args.value)
        except ValueError:
            argv = self.args.value.split()
        steps: list[tuple[str, tuple[Any, ...]]] = []
        if argv:
            steps.append(("args", (argv,)))
        for line in _lines(self.env.value):
            if line.startswith("-"):
                steps.append(("env_remove", (line[1:],)))
            else:
                name, _, value = line.partition("=")
                steps.append(("env", (name, value)))
        if self.cwd.value:
            steps.append(("current_dir", (self.cwd.value,)))
        for name, field in (
            ("stdin", self.stdin),
            ("stdout", self.stdout),
            ("stderr", self.stderr),
        ):
            if field.value != "inherit":
                steps.append((name, (f"Stdio.{field.value}()",)))
        return steps

    @property
    def python(self) -> str:
        """The Python ``Command`` chain the fields describe, on one line."""
        return "".join(self._chain())

    def _chain(self) -> list[str]:
        out = [f"Command({self.program.value!r})"]
        for name, args in self._steps():
            if name in ("stdin", "stdout", "stderr"):
                out.append(f".{name}({args[0]})")
            else:
                out.append(f".{name}({', '.join(repr(a) for a in args)})")
        return out

    def command(self) -> Command:
        """The :class:`fork110.Command` the fields describe (built, not run: raises the clear
        error for bad input such as a NUL byte)."""
        cmd = Command(self.program.value)
        for name, args in self._steps():
            if name in ("stdin", "stdout", "stderr"):
                getattr(cmd, name)(getattr(Stdio, args[0][6:-2])())
            else:
                getattr(cmd, name)(*args)
        return cmd

    @property
    def rust(self) -> str:
        """The Rust ``std::process::Command`` the fields describe (``to_rust()``), or why not."""
        try:
            return self.command().to_rust()
        except Exception:
            return "(no Rust: the Python side raised)"

    def _update(self) -> None:
        chain = self._chain()
        method = self.method.value
        shown = "(\n    " + "\n    ".join(chain) + f"\n    .{method}\n)"
        self.python_view.value = f"<pre style='{_BOX}'>{html.escape(shown)}</pre>"
        try:
            self.command()
            self.problem.value = ""
        except Exception as exc:
            self.problem.value = (
                f"<b style='color:#c62828'>{type(exc).__name__}</b>: {html.escape(str(exc))}"
            )
        rust = self.rust
        if not self.problem.value:
            rust += f"\n    .{method}"  # what runs it, in Rust as in Python
        self.rust_view.value = f"<pre style='{_BOX}'>{html.escape(rust)}</pre>"

    # -- running --------------------------------------------------------------------------------

    def run(self) -> CommandPlayground:
        """Run the command contained (in a fresh interpreter under the sandbox's supervisor);
        returns at once; :meth:`wait` for the result."""
        if self.tree is not None:
            self.tree.close()
        self._done.clear()
        self.answer.value = "<i>running…</i>"
        code = (
            "from fork110 import Command, Stdio\n"
            "try:\n"
            f"    result = {self.python}.{self.method.value}\n"
            "except Exception as exc:\n"
            "    print(f'{type(exc).__name__}: {exc}')\n"
            "else:\n"
            "    print(repr(result))\n"
        )
        live = sandbox.start(code, timeout=self.timeout, max_processes=8, filename="command.py")
        tree = TreeView(live, budget=8, title=self.python)
        self.tree = tree
        self.tree_box.children = (tree,)
        tree.on_end(self._on_end)
        return self

    def wait(self, timeout: float | None = None) -> ContainedRun:
        """Wait for the run started by :meth:`run`; the finished run (its stdout holds the
        ``Output``/``ExitStatus`` repr or the error)."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"the command was still running after {timeout} s")
        if self.result is None:
            raise RuntimeError(self.error or "nothing was run yet: call run() first")
        return self.result

    def close(self) -> None:
        """Kill a run going on, close the widget."""
        if self.tree is not None:
            self.tree.close()
        super().close()

    def _on_end(self, run: ContainedRun | None) -> None:
        self.result = run
        if run is None:
            self.error = "the contained run could not be started"
        else:
            body = html.escape(run.stdout + run.stderr)
            self.answer.value = f"<b>Result</b><pre style='{_BOX}'>{body}</pre>"
        self._static.update(self.static_html())
        self._done.set()

    def static_html(self) -> str:
        """The code and the last result, for readers without a kernel."""
        parts = (self.python_view, self.rust_view, self.problem, self.answer)
        return "".join(str(p.value) for p in parts)

    def __repr__(self) -> str:
        return "CommandPlayground()"
