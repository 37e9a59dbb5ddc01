"""Be the parent: a widget whose buttons make a contained process fork, reap and exit.

The kernel never forks. A small driver program runs contained (:data:`DRIVER`); it is the parent.
The kernel sends it one word per button press through a named pipe (FIFO) in a private temporary
directory, and the driver does it: ``fork``, ``exit`` (tell the oldest running child to exit),
``wait`` (``waitpid`` one child), ``waitall`` (``waitpid(-1, WNOHANG)`` until none is left),
``kill`` (SIGKILL a zombie), ``quit`` (the parent exits; its children become orphans, go to
pid 1, the run's init, or where the run has no pid namespace of its own to the subreaper, and
are reaped). The live :class:`TreeView` shows each state change.
"""

from __future__ import annotations

import contextlib
import html
import os
import shutil
import tempfile
from typing import Any

import ipywidgets as w

from fork110 import sandbox
from fork110.sandbox import ContainedRun, Event

from ._static import Static, StaticCopy, replace_in_cell
from ._tree import TreeView

__all__ = ["DRIVER", "BeTheParent"]

DRIVER = r"""
import os, signal, sys, time

fifo = sys.argv[1] if len(sys.argv) > 1 else FIFO
kids = {}        # pid -> the write end of the pipe the child waits on (None once told to exit)
exited = []      # pids told to exit, oldest first (maybe zombies now)
print(f"I am the parent, pid {os.getpid()}. Press the buttons.")

def state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"

def reaped(pid, status):
    kids.pop(pid, None)
    if pid in exited:
        exited.remove(pid)
    print(f"waitpid returned {pid}: exit status {os.waitstatus_to_exitcode(status)}; "
          f"child {pid} is gone from the process table")

with open(fifo) as commands:
    for line in commands:
        word = line.strip()
        if word == "fork":
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(w)
                data = os.read(r, 1)               # wait until the parent says exit
                os._exit(data[0] if data else 0)   # end of file: the parent is gone
            os.close(r)
            kids[pid] = w
            print(f"fork() returned {pid}: child {pid} is running (sleeping until told to exit)")
        elif word == "exit":
            running = [p for p, w in kids.items() if w is not None]
            if not running:
                print("no running child to tell to exit: fork one first")
                continue
            pid = running[0]
            code = len(exited) + 1
            os.write(kids[pid], bytes([code]))
            os.close(kids[pid])
            kids[pid] = None
            exited.append(pid)
            time.sleep(0.05)
            print(f"child {pid} called _exit({code}); it is now {state(pid)} (Z: a zombie, "
                  "until its parent waits for it)")
        elif word == "wait":
            if not kids:
                print("waitpid: no child at all (ECHILD): nothing to wait for")
                continue
            pid = exited[0] if exited else next(iter(kids))
            got, status = os.waitpid(pid, os.WNOHANG)
            if got:
                reaped(got, status)
            else:
                print(f"waitpid({pid}, 0) would block: child {pid} is still running, so the "
                      "parent would sleep until it exits (this widget used WNOHANG instead)")
        elif word == "waitall":
            n = 0
            while True:
                try:
                    got, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if got == 0:
                    break
                reaped(got, status)
                n += 1
            left = len(kids)
            print(f"waitpid(-1, WNOHANG) reaped {n} zombie{'s' if n != 1 else ''}; "
                  f"{left} child{'ren' if left != 1 else ''} still running")
        elif word == "kill":
            zombies = [p for p in exited if state(p) == "Z"]
            if not zombies:
                print("no zombie to kill: let a child exit first")
                continue
            pid = zombies[0]
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
            print(f"kill({pid}, SIGKILL) returned 0, and nothing happened: child {pid} is "
                  f"still {state(pid)}. A zombie is already dead; no signal can kill it "
                  "again. Only its parent's waitpid removes it.")
        elif word == "quit":
            left = len(kids)
            who = "its child becomes an orphan" if left == 1 else f"its {left} children become orphans"
            them = "it" if left == 1 else "them"
            print(f"the parent exits without waiting: {who}; the kernel hands {them} to the "
                  f"run's reaper (pid 1 of the run, or the nearest subreaper), which reaps {them}"
                  if left else "the parent exits; it has no child left")
            sys.stdout.flush()
            os._exit(0)
"""
"""The parent's program: reads one word per line from the FIFO named by its argument."""

_BUTTONS = (
    ("fork()", "fork", "fork a child (it sleeps until told to exit)"),
    ("let a child exit", "exit", "tell the oldest running child to call _exit(n)"),
    ("waitpid one", "wait", "waitpid() on the oldest child (reaps a zombie)"),
    ("waitpid(-1, WNOHANG) all", "waitall", "reap every zombie at once, never block"),
    ("SIGKILL a zombie", "kill", "send SIGKILL to a zombie and see nothing happen"),
    ("exit the parent", "quit", "the parent exits: its children become orphans"),
)


class BeTheParent(StaticCopy, w.VBox):  # type: ignore[misc]
    """You are the parent process: buttons fork a child, let one exit, ``waitpid`` one or all,
    send SIGKILL to a zombie, and exit the parent; the live tree shows each state change.

    In a notebook cell: ``BeTheParent()``. :meth:`press` is the buttons' twin.

    >>> parent = BeTheParent()
    >>> parent.press("fork"); parent.press("exit")
    >>> parent.wait_for(lambda: "Z" in parent.tree.states_seen, 10)
    True
    >>> parent.press("quit"); parent.tree.wait(10).leaked
    0
    >>> parent.close()
    """

    def __init__(self, *, budget: int = 8, timeout: float = 600.0) -> None:
        """Start the parent contained (at most *budget* processes, for *timeout* seconds)."""
        self._dir = tempfile.mkdtemp(prefix="fork110-parent-")
        self.fifo = os.path.join(self._dir, "commands")
        os.mkfifo(self.fifo, 0o600)
        self._fd = os.open(self.fifo, os.O_RDWR | os.O_CLOEXEC)  # never blocks, never ENXIO
        self._static = Static(repr(self))
        self.lines: list[str] = []
        code = DRIVER.replace("FIFO", repr(self.fifo))
        live = sandbox.start(
            code, max_processes=budget, timeout=timeout, filename="parent.py", share=[self._dir]
        )
        self.tree = TreeView(live, budget=budget, title="you are the parent")
        self.journal = w.HTML(layout=w.Layout(max_height="200px", overflow="auto"))
        self.buttons: dict[str, w.Button] = {}
        for label, word, tip in _BUTTONS:
            b = w.Button(description=label, tooltip=tip, layout=w.Layout(width="auto"))
            b.on_click(lambda _b, word=word: self.press(word))
            self.buttons[word] = b
        self.buttons["quit"].button_style = "warning"
        self.buttons["kill"].button_style = "danger"
        replace_in_cell(self)
        self.tree.on_events(self._on_events)
        self.tree.on_end(self._on_end)
        super().__init__(
            [
                w.HTML(self._static.hide_style()),
                w.HBox(list(self.buttons.values()), layout=w.Layout(flex_flow="row wrap")),
                self.tree,
                self.journal,
            ]
        )
        self.add_class("fork110-parent")

    def press(self, word: str) -> None:
        """Do what a button does: ``fork``, ``exit``, ``wait``, ``waitall``, ``kill`` or ``quit``."""
        if word not in {b[1] for b in _BUTTONS}:
            raise ValueError(f"no button {word!r}; they are: {', '.join(b[1] for b in _BUTTONS)}")
        if self.tree.ended:
            return
        with contextlib.suppress(OSError):
            os.write(self._fd, f"{word}\n".encode())

    def wait_for(self, condition: Any, timeout: float) -> bool:
        """Wait until *condition()* is true (checked 20 times a second); whether it became true."""
        import time

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if condition():
                return True
            time.sleep(0.05)
        return bool(condition())

    def close(self) -> None:
        """End the parent (the run is killed, everything reaped) and close the widget."""
        self.tree.close()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        shutil.rmtree(self._dir, ignore_errors=True)
        super().close()

    def __repr__(self) -> str:
        return "BeTheParent()"

    def static_html(self) -> str:
        """The tree and the parent's log, for readers without a kernel."""
        return self.tree.static_html() + str(self.journal.value)

    def _on_events(self, events: list[Event]) -> None:
        for e in events:
            if e.kind in ("stdout", "stderr") and e.process == "parent":
                self.lines += e.detail.splitlines()
            elif e.kind in ("exit", "reap", "appear") or (e.kind == "stdout"):
                self.lines.append(e.describe())
        text = "\n".join(self.lines[-200:])
        self.journal.value = f"<pre style='margin:0;white-space:pre-wrap'>{html.escape(text)}</pre>"

    def _on_end(self, run: ContainedRun | None) -> None:
        for b in self.buttons.values():
            b.disabled = True
        self._static.update(self.static_html())
