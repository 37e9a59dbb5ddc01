"""The %%contained cell magic: in this process (IPython's shell), and in real Jupyter kernels that
are interrupted, restarted and killed mid-run, watched from outside through /proc."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator

import pytest
from conftest import PY
from widgets_helpers import alive, until

from fork110 import Command
from fork110.magic import CellCompileError, compile_cell, run_cell

BOMB = "import os\nfor i in range(6):\n    try:\n        os.fork()\n    except BlockingIOError as e:\n        print('refused', e.errno)\n"


def test_quiet_run_prints_output_and_holds_the_budget(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cell(BOMB, budget=4, quiet=True)
    assert run.peak_processes == 4 and run.refusals > 0 and run.leaked == 0
    assert "refused 11" in capsys.readouterr().out


def test_timeout_is_said(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cell("import time; time.sleep(30)", timeout=0.5, quiet=True)
    assert run.timed_out and "timed out" in capsys.readouterr().err


def test_tree_mode_shows_a_treeview(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cell("import os\nif os.fork() == 0:\n    print('child')\nelse:\n    os.wait()")
    out = capsys.readouterr().out
    assert "TreeView(a contained run: %%contained)" in out and "child" in out
    assert run.success()


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc)")
def test_c_cells(capsys: pytest.CaptureFixture[str]) -> None:
    src = '#include <stdio.h>\n#include <unistd.h>\nint main(void) { if (fork() == 0) { puts("c child"); return 0; } return 0; }\n'
    run = run_cell(src, c=True, quiet=True)
    assert run.peak_processes >= 1 and "c child" in capsys.readouterr().out
    with pytest.raises(CellCompileError, match="undeclared"):
        compile_cell("int main(void) { return nope; }")


SHELL = """
import shutil
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from fork110.magic import contained
shell = InteractiveShell.instance(history_length=0)
shell.run_line_magic("load_ext", "fork110")
shell.run_cell("%%contained --budget 3 --quiet\\nprint('hi')\\n")
print(repr(shell.user_ns["_contained"].stdout), shell.user_ns["_contained"].max_processes)
for line, cell in (("--nope", "pass"), ("--c", "int main(void) { return nope; }")):
    try:
        contained(line, cell)
    except UsageError as e:
        print("UsageError", str(e).splitlines()[0])
"""


def test_the_magic_binds_contained_and_says_errors_plainly() -> None:
    out = Command(PY).args(["-c", SHELL]).env("HOME", tempfile.gettempdir()).output()
    lines = out.stdout.decode().splitlines()
    assert lines[:2] == ["hi", "'hi\\n' 3"], out.stderr
    assert lines[2].startswith("UsageError %%contained: unrecognized arguments: --nope")
    if shutil.which("cc"):
        assert lines[3] == "UsageError the C compiler rejected the cell:"


def test_import_fork110_does_not_load_ipython_and_load_ext_does() -> None:
    code = (
        "import sys, fork110\n"
        "print('IPython' in sys.modules, 'ipywidgets' in sys.modules)\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "InteractiveShell.instance().run_line_magic('load_ext', 'fork110')\n"
        "print('contained' in InteractiveShell.instance().magics_manager.magics['cell'])\n"
    )
    out = Command(PY).args(["-c", code]).output()
    assert out.stdout == b"False False\nTrue\n", out.stderr


# -- in real kernels --------------------------------------------------------------------------


def kernel_descendants(root: int) -> set[int]:
    """Every process below *root* (read from /proc)."""
    kids: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            kids.setdefault(ppid, []).append(int(name))
    out: set[int] = set()
    todo = [root]
    while todo:
        for kid in kids.get(todo.pop(), []):
            out.add(kid)
            todo.append(kid)
    return out


def gone(pids: set[int]) -> bool:
    """True once none of *pids* lives (zombies adopted by us, the suite's subreaper, are reaped)."""
    for pid in list(pids):
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    return not {p for p in alive(pids) if _state(p) != "Z" or _ppid(p) != os.getpid()}


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def _ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0


class Kernel:
    """A real ipykernel (the venv's), its log captured, driven through jupyter_client."""

    def __init__(self) -> None:
        from jupyter_client.manager import KernelManager

        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(stdout=self.log, stderr=self.log)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    @property
    def pid(self) -> int:
        provisioner = self.km.provisioner
        assert provisioner is not None
        pid: int = provisioner.process.pid  # type: ignore[attr-defined]
        return pid

    def execute(
        self, code: str, timeout: float = 60, cell: str | None = None
    ) -> tuple[str, dict[str, object]]:
        """Run *code* (as the cell with id *cell*, as JupyterLab says); its output and the reply."""
        if cell is None:
            msg_id = self.kc.execute(code)
        else:
            content = {"code": code, "silent": False, "store_history": True,
                       "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}  # fmt: skip
            msg = self.kc.session.msg("execute_request", content, metadata={"cellId": cell})
            self.kc.shell_channel.send(msg)
            msg_id = msg["header"]["msg_id"]
        return self.collect(msg_id, timeout)

    def collect(self, msg_id: str, timeout: float = 60) -> tuple[str, dict[str, object]]:
        text = []
        end = time.monotonic() + timeout
        while True:
            msg = self.kc.get_iopub_msg(timeout=max(0.1, end - time.monotonic()))
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                text.append(msg["content"]["text"])
            if msg["msg_type"] == "error":
                text.append(msg["content"]["ename"])
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        reply = self.kc.get_shell_msg(timeout=10)
        return "".join(text), reply["content"]

    def wait_output(self, msg_id: str, needle: str, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while True:
            msg = self.kc.get_iopub_msg(timeout=max(0.1, end - time.monotonic()))
            if msg["msg_type"] == "stream" and needle in msg["content"]["text"]:
                return

    def log_text(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def close(self) -> None:
        self.kc.stop_channels()
        if self.km.is_alive():
            self.km.shutdown_kernel(now=True)
        self.km.cleanup_resources()
        self.kc.context.destroy(linger=0)
        self.km.context.destroy(linger=0)
        self.log.close()
        import asyncio

        from jupyter_core.utils import ensure_event_loop

        ensure_event_loop().close()  # jupyter_client's sync API ran on a loop of its own
        asyncio.set_event_loop(None)


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    k = Kernel()
    try:
        yield k
    finally:
        k.close()


@pytest.mark.slow
def test_interrupt_kills_the_contained_run(kernel: Kernel) -> None:
    kernel.execute("%load_ext fork110")
    msg_id = kernel.kc.execute(
        "%%contained --timeout 60\nimport os, time\nos.fork()\nprint('started', flush=True)\ntime.sleep(60)\n"
    )
    kernel.wait_output(msg_id, "started")
    run_pids = kernel_descendants(kernel.pid)
    assert len(run_pids) >= 3  # supervisor, parent, child
    kernel.km.interrupt_kernel()
    text, reply = kernel.collect(msg_id)
    assert reply["status"] == "error" and "KeyboardInterrupt" in text
    assert "interrupted: the run was killed" in text
    until(lambda: gone(run_pids), 5)
    out, _ = kernel.execute("print(_contained.killed, _contained.leaked)")
    assert out == "killed 0\n"
    out, _ = kernel.execute(
        "import threading; print([t.name for t in threading.enumerate() if t.name == 'fork110-treeview'])"
    )
    assert out == "[]\n"
    assert "Traceback" not in kernel.log_text()


# A DemoPanel whose run (the deadlock demo, 60 s watchdog) is alive when the cell returns
LONG_PANEL_CELL = (
    "from fork110.widgets import DemoPanel\n"
    "p = DemoPanel('threads_lock', timeout=60)\n"
    "p.run()\n"
    "import time\n"
    "while p.tree.snapshot is None: time.sleep(0.05)\n"
    "print('running', flush=True)\n"
)


@pytest.mark.slow
def test_restart_and_kill_the_kernel_mid_run(kernel: Kernel) -> None:
    start = LONG_PANEL_CELL
    out, _ = kernel.execute(start)
    assert "running" in out
    run_pids = kernel_descendants(kernel.pid)
    assert len(run_pids) >= 2
    kernel.km.restart_kernel(now=True)
    until(lambda: gone(run_pids), 5)  # the supervisor saw its lifeline close and killed the run
    kernel.kc.wait_for_ready(timeout=60)
    out, _ = kernel.execute(start)
    assert "running" in out
    run_pids = kernel_descendants(kernel.pid)
    kernel.km.shutdown_kernel(now=True)  # SIGKILL
    until(lambda: gone(run_pids), 5)
    assert "Traceback" not in kernel.log_text()


@pytest.mark.slow
def test_rerunning_a_cell_kills_the_run_of_its_old_widget(kernel: Kernel) -> None:
    cell = LONG_PANEL_CELL
    out, _ = kernel.execute(cell, cell="cell-1")
    assert "running" in out
    first = kernel_descendants(kernel.pid)
    out, _ = kernel.execute(cell, cell="cell-1")  # the same cell, run again
    assert "running" in out
    until(lambda: gone(first), 5)
    assert kernel_descendants(kernel.pid)  # the new run lives
    out, _ = kernel.execute("p.kill(); print(p.wait(10).run.leaked)")
    assert out == "0\n"
    assert "Traceback" not in kernel.log_text()


@pytest.mark.slow
def test_interrupting_an_idle_kernel_kills_the_widgets_runs(kernel: Kernel) -> None:
    out, _ = kernel.execute(LONG_PANEL_CELL)
    assert "running" in out
    run_pids = kernel_descendants(kernel.pid)
    kernel.km.interrupt_kernel()  # the kernel is idle: no cell to interrupt
    until(lambda: gone(run_pids), 5)
    out, _ = kernel.execute("r = p.wait(10); print(r.run.killed, r.run.leaked, p.tree.status)")
    assert out == "killed 0 killed\n"
    assert "Traceback" not in kernel.log_text()
