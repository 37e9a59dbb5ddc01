"""Helpers for the widget tests: what is alive, seen from outside through /proc."""

from __future__ import annotations

import os
import threading

from fork110.testing import live_descendants


def alive(pids: set[int]) -> set[int]:
    """Those of *pids* still in the process table (zombies included)."""
    return {p for p in pids if os.path.exists(f"/proc/{p}")}


def treeview_threads() -> list[threading.Thread]:
    """The widgets' refresh threads still running in this process."""
    return [t for t in threading.enumerate() if t.name == "fork110-treeview" and t.is_alive()]


def descendants() -> set[int]:
    """Every process below this one."""
    return {p.pid for p in live_descendants()}


def until(condition: object, timeout: float = 20.0) -> None:
    """Wait until *condition()* holds; fail the test after *timeout* seconds (a watchdog)."""
    import time

    assert callable(condition)
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, f"still not true after {timeout} s"
        time.sleep(0.02)
