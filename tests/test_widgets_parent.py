"""BeTheParent, driven headless: every button, each state change seen in the live tree."""

from __future__ import annotations

from widgets_helpers import alive, descendants, treeview_threads, until

from fork110.widgets import BeTheParent


def states(parent: BeTheParent) -> dict[str, str]:
    snap = parent.tree.snapshot
    return {} if snap is None else {p.name: p.state for p in snap}


def test_fork_exit_kill_wait_quit() -> None:
    parent = BeTheParent()
    parent.buttons["fork"].click()
    parent.buttons["fork"].click()
    until(lambda: {"child-1", "child-2"} <= states(parent).keys())
    parent.buttons["exit"].click()
    until(lambda: states(parent).get("child-1") == "Z")
    parent.buttons["kill"].click()  # SIGKILL to a zombie: nothing happens, and it says why
    until(lambda: any("nothing happened" in line for line in parent.lines))
    assert states(parent).get("child-1") == "Z"
    assert any("Only its parent's waitpid removes it" in line for line in parent.lines)
    parent.buttons["wait"].click()
    until(lambda: "child-1" not in states(parent))
    parent.buttons["wait"].click()  # child-2 still runs: waitpid would block, and it says so
    until(lambda: any("would block" in line for line in parent.lines))
    parent.buttons["exit"].click()
    until(lambda: states(parent).get("child-2") == "Z")
    parent.buttons["waitall"].click()
    until(lambda: any("reaped 1 zombie" in line for line in parent.lines))
    parent.buttons["fork"].click()
    until(lambda: "child-3" in states(parent))
    pids = descendants()  # (host pids: the tree's are the run's own)
    parent.buttons["quit"].click()  # child-3 becomes an orphan, and is reaped
    run = parent.tree.wait(10)
    assert run.leaked == 0 and not alive(pids)
    assert any("orphan" in line for line in parent.lines)
    assert all(b.disabled for b in parent.buttons.values())
    parent.close()


def test_close_ends_the_parent() -> None:
    parent = BeTheParent()
    parent.press("fork")
    until(lambda: "child-1" in states(parent))
    parent.close()
    assert not descendants() and not treeview_threads()
    parent.press("fork")  # after the end: nothing happens
