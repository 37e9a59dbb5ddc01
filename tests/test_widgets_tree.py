"""TreeView, driven headless: the models' values while a real contained run lives and after."""

from __future__ import annotations

import time

from widgets_helpers import alive, descendants, treeview_threads, until

from fork110 import Command
from fork110.sandbox import start
from fork110.widgets import TreeView
from fork110.widgets._render import chart_svg, tree_svg

ZOMBIE = """
import os, time
pid = os.fork()
if pid == 0:
    os._exit(7)
time.sleep(1.0)      # the child is a zombie for a second
os.waitpid(pid, 0)
"""


def test_zombie_shows_in_state_z_then_refresh_stops() -> None:
    view = TreeView(start(ZOMBIE, timeout=20, max_processes=4), budget=4)
    seen_z_live = False
    while not view.ended:
        if view.snapshot is not None and any(p.state == "Z" for p in view.snapshot):
            seen_z_live = seen_z_live or 'data-state="Z"' in view._picture.value
        time.sleep(0.02)
    run = view.wait(1)
    assert seen_z_live
    assert run.status_of("child-1") is not None and run.status_of("child-1").code() == 7
    assert not view.refreshing and not treeview_threads()
    assert view.refreshes >= 5  # a run of more than a second, refreshed every 0.1 s
    count = view.refreshes
    time.sleep(0.3)
    assert view.refreshes == count  # it stopped
    assert view.status == "over" and "peak 2 of 4" in view._state.value
    assert "child-1: exit status: 7" in view._summary.value
    view.close()


def test_runaway_chart_reaches_the_budget() -> None:
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except BlockingIOError:\n        pass\n"
    view = TreeView(start(bomb, max_processes=6, timeout=1.0), budget=6)
    run = view.wait(20)
    assert run.timed_out and view.status == "timed out"
    assert max(n for _, n in view._points) == 6 == run.peak_processes
    assert "budget 6" in view._chart.value
    assert "watchdog" in view._state.value and "refused" in view._summary.value
    view.close()


def test_close_while_running_kills_the_run_and_the_thread() -> None:
    view = TreeView(start("import os, time\nos.fork()\ntime.sleep(60)", timeout=120))
    until(lambda: view.snapshot is not None and len(view.snapshot) == 2)
    pids = descendants()  # (host pids: the tree's are the run's own)
    view.close()
    assert not alive(pids) and not descendants()
    assert not treeview_threads() and not view.refreshing
    assert view.status == "closed" and view.result is not None


def test_kill_ends_the_run_soon() -> None:
    view = TreeView(start("import time; time.sleep(60)", timeout=120))
    until(lambda: view.snapshot is not None)
    view.kill()
    run = view.wait(5)  # far less than the 120 s the watchdog would wait
    assert run.killed == "killed" and view.status == "killed" and run.leaked == 0
    view.close()


def test_text_mode_is_one_toggle_away() -> None:
    view = TreeView(
        start(
            "import os, time\nif os.fork() == 0:\n    time.sleep(0.3)\nelse:\n    time.sleep(0.6)"
        )
    )
    view.wait(20)
    view._mode.value = "text (├──)"
    assert "└──" in view._text.value and view._picture.layout.display == "none"
    view._mode.value = "picture"
    assert view._text.layout.display == "none"
    view.close()


def test_a_pid_view_follows_a_process_until_it_is_gone() -> None:
    with Command("sleep").arg("30").spawn() as child:
        view = TreeView(child.id())
        until(lambda: view.snapshot is not None)
        assert view.snapshot.find(child.id()) is not None
        child.kill()
        child.wait()
        view._thread.join(5)
        assert not view.refreshing
    view.close()


def test_pictures_escape_and_mark_states() -> None:
    from fork110.ps import ProcessInfo, Snapshot

    snap = Snapshot(0.0, 1, (ProcessInfo(9, 1, "T", "<b>x</b>", 1, None, 0.0, "parent", 0),))
    svg = tree_svg(snap)
    assert "&lt;b&gt;" in svg and "stopped" in svg
    assert chart_svg([], None).startswith("<svg")


def test_static_copy_and_stable_text_plain() -> None:
    view = TreeView(start("print('hi')"), title="t")
    view.wait(20)
    assert repr(view) == "TreeView(a contained run: t)"
    bundle = view._repr_mimebundle_()
    assert bundle["text/plain"] == "TreeView(a contained run: t)"
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "exit status: 0" in view.static_html()
    view.close()
