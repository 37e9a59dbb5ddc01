"""DemoPanel, driven headless: buttons clicked, sliders moved, real contained runs watched."""

from __future__ import annotations

import shutil
import threading
import time

import pytest
from conftest import fd_count
from widgets_helpers import alive, descendants, treeview_threads, until

from fork110 import demos
from fork110.widgets import DemoPanel


@pytest.mark.parametrize("name", demos.names())
def test_every_demo_has_a_panel(name: str) -> None:
    panel = DemoPanel(name)
    demo = demos.get(name)
    assert len(panel.code.children) == 1 + len(demo.variants)
    has_c = demo.variant(False).c is not None
    assert panel.c_button.disabled == (not has_c or shutil.which("cc") is None)
    if panel.c_button.disabled:
        assert "no C" in panel.c_button.tooltip
    assert (panel.fix_choice.layout.display != "none") == (len(demo.variants) > 2)
    assert repr(panel) == f"DemoPanel({name!r})" == panel._repr_mimebundle_()["text/plain"]
    panel.close()


def test_zombies_button_shows_z_then_explains() -> None:
    panel = DemoPanel("zombies")
    panel.run_button.click()
    assert panel.tree is not None and not panel.kill_button.disabled
    result = panel.wait(30)
    assert "Z" in panel.tree.states_seen
    assert result.facts["zombies_asleep"] == 3
    assert "zombie" in panel.explanation.value and "What happened" in panel.explanation.value
    assert "child-1 exited" in panel.output.value
    assert panel.kill_button.disabled and not panel.tree.refreshing
    assert "What happened" in panel.static_html()
    panel.close()


def test_run_fixed_uses_the_dropdown() -> None:
    panel = DemoPanel("zombies")
    panel.fix_choice.value = "fixed-with"
    panel.fixed_button.click()
    result = panel.wait(30)
    assert result.variant == "fixed-with" and result.facts["zombies_asleep"] == 0
    panel.close()


def test_runaway_reaches_the_budget_slider() -> None:
    panel = DemoPanel("runaway")
    panel.budget.value = 5
    panel.run_button.click()
    result = panel.wait(30)
    assert result.run.peak_processes == 5 and max(n for _, n in panel.tree._points) == 5
    assert "budget 5" in panel.tree._chart.value
    panel.close()


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc)")
def test_run_c() -> None:
    panel = DemoPanel("zombies")
    panel.c_button.click()
    result = panel.wait(60)
    assert result.language == "c" and "Z" in panel.tree.states_seen
    panel.close()


def test_kill_during_a_run() -> None:
    panel = DemoPanel("threads_lock")
    panel.timeout.value = 30.0
    panel.run(False)
    until(
        lambda: (
            panel.tree is not None
            and panel.tree.snapshot is not None
            and len(panel.tree.snapshot) >= 2
        )
    )
    pids = descendants()  # (host pids: the tree's are the run's own)
    panel.kill_button.click()
    result = panel.wait(10)  # well before the 30 s watchdog
    assert result.run.killed == "killed" and not result.run.timed_out
    assert "You killed this run" in panel.explanation.value
    assert not alive(pids) and result.run.leaked == 0
    panel.close()


def test_watchdog_kill_is_said() -> None:
    panel = DemoPanel("threads_lock")
    panel.timeout.value = 1.0
    result = panel.run().wait(30)
    assert result.run.timed_out
    assert "watchdog killed this run" in panel.explanation.value
    assert "timed out" in panel.tree._state.value
    panel.close()


def test_run_twice_kills_the_first_run() -> None:
    panel = DemoPanel("threads_lock")
    panel.timeout.value = 30.0
    panel.run()
    until(lambda: panel.tree is not None and panel.tree.snapshot is not None)
    first = panel.tree
    first_pids = descendants()  # (host pids: the tree's are the run's own)
    panel.run_button.click()  # again, while the first run lives
    assert panel.tree is not first and not first.refreshing
    assert not alive(first_pids) and first.status == "closed"
    panel.kill()
    panel.wait(10)
    panel.close()


def test_close_mid_run_leaves_nothing() -> None:
    panel = DemoPanel("runaway")
    panel.timeout.value = 30.0
    panel.run()
    until(lambda: panel.tree is not None and panel.tree.snapshot is not None)
    panel.close()
    assert not descendants() and not treeview_threads()


def test_twenty_runs_keep_fds_and_threads_flat() -> None:
    panel = DemoPanel("say_hello")
    panel.run().wait(30)  # warm up (imports, caches)
    fds, threads = fd_count(), threading.active_count()
    for _ in range(20):
        panel.run().wait(30)
    time.sleep(0.1)
    assert fd_count() == fds and threading.active_count() == threads
    panel.close()
