"""Shared test helpers. Every test also runs under fork110.testing (no leaked child, zombie or fd)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import warnings
from collections.abc import Iterator
from types import FrameType

import pytest

PY = sys.executable
WATCHDOG_SECONDS = 120


class WatchdogTimeout(Exception):
    """A test ran past the per-test watchdog."""


@pytest.fixture(autouse=True)
def watchdog() -> Iterator[None]:
    """Interrupt any test that runs past WATCHDOG_SECONDS, so nothing in the suite can hang for ever.

    The alarm raises in the main thread; fork110's blocking calls kill and reap their child on the way out.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def fire(signum: int, frame: FrameType | None) -> None:
        raise WatchdogTimeout(f"test ran longer than {WATCHDOG_SECONDS} s (watchdog)")

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(WATCHDOG_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def fd_count() -> int:
    """How many fds this process has open."""
    return len(os.listdir("/proc/self/fd"))


@contextlib.contextmanager
def quiet_hooks() -> Iterator[None]:
    """Silence ThreadedForkWarning: pytest's faulthandler watchdog is a second thread, so every
    pre_exec spawn under pytest warns; tests that are about the warning check it without this."""
    from fork110 import ThreadedForkWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ThreadedForkWarning)
        yield
