"""Contained-run benchmark: how long a run of ``fork110.sandbox`` takes to get going.

Every figure is measured in this run against a baseline measured in the same run, interleaved
with it (each round runs every case once, in a shuffled order; figures are medians over rounds,
ratios are medians of the per-round ratio, paired):

* baseline: ``python -c pass`` through ``subprocess.run`` (start an interpreter, wait for it);
* first event: ``sandbox.start("pass")`` until the caller holds the run's first event (the
  supervisor is up, the run's cgroup made, the supervisor pid 1 of the run's own pid + mount
  (+ user) namespace with its own /proc, the first process forked) — the issue's target: at
  most 2x the baseline;
* first event without namespaces (``FORK110_SANDBOX_NAMESPACES=0``: the fallback, a subreaper in
  the host's namespaces): the difference between the two is what the run's namespaces cost;
* whole run: ``sandbox.run("pass")`` to the end, clean-up and leak check included (reported;
  it includes the run's first process importing ``site`` and the user's ``sys.path``, which
  ``python -c pass`` also pays, plus the supervisor's);
* first event with 100 MiB of ``stdin`` (it was quadratic: 40 MiB took over 10 s), against the
  first event of a trivial run;
* the kernel's cost of a user + pid + mount namespace with a private /proc, as a namespaced run
  would pay it: ``unshare -U -r -p -f --mount-proc true`` against ``true`` (both through
  :class:`fork110.Command`; skipped where ``unshare`` is missing or not allowed).

Usage::

    python bench/contained.py [--rounds N] [--seed S]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from fork110 import Command, Stdio, sandbox

FIRST_EVENT_MAX = 2.0


def python_pass() -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - t


def first_event() -> float:
    t = time.perf_counter()
    with sandbox.start("pass", snapshots=False) as live:
        while not live.poll(1.0):
            pass
        took = time.perf_counter() - t
        run = live.result()  # not timed: the run finishing and being checked
    assert run.leaked == 0 and run.status.success(), run
    return took


def first_event_shared() -> float:
    os.environ["FORK110_SANDBOX_NAMESPACES"] = "0"
    try:
        return first_event()
    finally:
        del os.environ["FORK110_SANDBOX_NAMESPACES"]


_STDIN = b"x" * (100 << 20)


def first_event_stdin() -> float:
    t = time.perf_counter()
    with sandbox.start("pass", snapshots=False, stdin=_STDIN) as live:
        while not live.poll(1.0):
            pass
        took = time.perf_counter() - t
        run = live.result()
    assert run.leaked == 0 and run.status.success(), run
    return took


_UNSHARE = ["unshare", "-U", "-r", "-p", "-f", "--mount-proc", "true"]


def unshare_true() -> float:
    t = time.perf_counter()
    Command(_UNSHARE[0]).args(_UNSHARE[1:]).stderr(Stdio.null()).status()
    return time.perf_counter() - t


def plain_true() -> float:
    t = time.perf_counter()
    Command("true").status()
    return time.perf_counter() - t


def namespaces_allowed() -> bool:
    try:
        return Command(_UNSHARE[0]).args(_UNSHARE[1:]).stderr(Stdio.null()).status().success()
    except OSError:
        return False


def whole_run() -> float:
    t = time.perf_counter()
    run = sandbox.run("pass", snapshots=False)
    took = time.perf_counter() - t
    assert run.leaked == 0 and run.status.success(), run
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=41)
    parser.add_argument("--seed", type=int, default=110)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    cases: dict[str, Callable[[], float]] = {
        "python -c pass": python_pass,
        "first event": first_event,
        "... no namespace": first_event_shared,
        "whole run": whole_run,
        "stdin 100 MiB": first_event_stdin,
        "true": plain_true,
    }
    if namespaces_allowed():
        cases["namespaces+true"] = unshare_true
    for fn in cases.values():  # warm up: bytecode caches, page cache
        fn()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        order = list(cases)
        rng.shuffle(order)
        for name in order:
            times[name].append(cases[name]())
    base = times["python -c pass"]
    print(f"contained runs, {args.rounds} interleaved rounds (medians)")
    for name, values in times.items():
        ratio = statistics.median(v / b for v, b in zip(values, base))
        print(f"  {name:<16} {statistics.median(values) * 1000:8.2f} ms   {ratio:5.2f}x baseline")
    shared = times["... no namespace"]
    cost = statistics.median(v / b for v, b in zip(times["first event"], shared))
    cost_base = statistics.median(
        (v - s) / b for v, s, b in zip(times["first event"], shared, base)
    )
    print(
        f"  the run's own namespaces: first event {cost:.2f}x the fallback's; the difference is "
        f"{cost_base:.2f}x python -c pass"
    )
    stdin = statistics.median(v / b for v, b in zip(times["stdin 100 MiB"], times["first event"]))
    print(f"  first event with 100 MiB of stdin: {stdin:.2f}x the first event of a trivial run")
    if "namespaces+true" in times:
        ns = statistics.median(v / b for v, b in zip(times["namespaces+true"], times["true"]))
        extra = statistics.median(
            (v - b) / p for v, b, p in zip(times["namespaces+true"], times["true"], base)
        )
        print(
            f"  namespace setup (user+pid+mount, private /proc): {ns:.2f}x `true`; "
            f"the difference is {extra:.2f}x python -c pass"
        )
    else:
        print("  namespace setup: unshare -U -r -p -f --mount-proc is not allowed here")
    ratio = statistics.median(v / b for v, b in zip(times["first event"], base))
    verdict = "PASS" if ratio <= FIRST_EVENT_MAX else "MISS"
    print(
        f"{verdict}  start a contained run, get its first event: {ratio:.2f}x python -c pass "
        f"(target <= {FIRST_EVENT_MAX:g}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
