"""Benchmark: the cost of a process-tree snapshot against ``ps``, and of a live 10 Hz view.

Run: ``python bench/snapshot.py`` (``--quick`` for a smoke run). For trees of 10, 50 and 200 sleeping processes it times,
interleaved round by round in one run:

* ``Inspector.snapshot()`` - the live-view path (one Inspector, refreshed);
* ``snapshot()``           - a fresh snapshot (a full read of /proc each time);
* ``ps``                   - ``ps -e --forest -o pid,ppid,stat,args`` run as a subprocess, its
                             output parsed and the tree under the root picked out;
* ``psutil``               - for reference: ``children(recursive=True)`` plus the same fields.

and prints medians and ratios to ``ps`` (targets: <= 0.5x at 50 processes, <= 1.0x at 200).
Then it refreshes a 50-process tree at 10 Hz for about 3 s (snapshot plus text rendering) and
prints the CPU used as a percentage of one core (target: <= 5%). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import select
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import psutil

from fork110.ps import Inspector, snapshot

SIZES = (10, 50, 200)
ROUNDS = 101
LIVE_SECONDS = 3.0
LIVE_HZ = 10.0

# Builds a tree of N processes (root included): the root forks branches of up to 5 (a child and
# its children). Every member signals readiness on a pipe, then blocks on a lifeline pipe that
# only the root writes; at the root's exit they all see EOF, and each reaps its own children.
BUILDER = r"""
import os, sys
total = int(sys.argv[1])
life_r, life_w = os.pipe()
ready_r, ready_w = os.pipe()

def member(nkids):
    kids = []
    for _ in range(nkids):
        pid = os.fork()
        if pid == 0:
            try:
                member(0)
            finally:
                os._exit(1)
        kids.append(pid)
    os.write(ready_w, b".")
    os.read(life_r, 1)
    for pid in kids:
        os.waitpid(pid, 0)
    os._exit(0)

left = total - 1
kids = []
while left > 0:
    branch = min(5, left)
    pid = os.fork()
    if pid == 0:
        try:
            os.close(life_w)
            member(branch - 1)
        finally:
            os._exit(1)
    kids.append(pid)
    left -= branch
got = 0
while got < total - 1:
    got += len(os.read(ready_r, 4096))
print("ready", flush=True)
sys.stdin.read()
os.close(life_w)
for pid in kids:
    os.waitpid(pid, 0)
"""


@contextlib.contextmanager
def tree_of(total: int) -> Iterator[int]:
    """A tree of *total* sleeping processes; yields the root pid; always torn down."""
    proc = subprocess.Popen(
        [sys.executable, "-c", BUILDER, str(total)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        if not ready or proc.stdout.readline().strip() != b"ready":
            raise RuntimeError(f"the {total}-process tree did not start")
        yield proc.pid
    finally:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        proc.stdout.close()


def ps_tree(root: int) -> list[tuple[int, int, str, str]]:
    """``ps -e --forest`` as a subprocess, parsed, with the subtree under *root* picked out."""
    out = subprocess.run(
        ["ps", "-e", "--forest", "-o", "pid,ppid,stat,args"],
        capture_output=True,
        check=True,
    ).stdout
    rows = []
    for line in out.decode("utf-8", "replace").splitlines()[1:]:
        pid, ppid, stat, args = line.split(None, 3)
        rows.append((int(pid), int(ppid), stat, args))
    members = {root}
    picked = []
    for row in rows:  # --forest lists a parent before its children
        if row[0] == root or row[1] in members:
            members.add(row[0])
            picked.append(row)
    return picked


def psutil_tree(root: int) -> list[dict[str, Any]]:
    """psutil's way: children(recursive=True) and the same fields for each process."""
    attrs = ["pid", "ppid", "status", "cmdline", "num_threads"]
    out: list[dict[str, Any]] = []
    try:
        top = psutil.Process(root)
        procs = [top, *top.children(recursive=True)]
    except psutil.NoSuchProcess:
        return out
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            out.append(p.as_dict(attrs))
    return out


def time_interleaved(methods: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Median seconds per call, the methods taking turns (rotating who goes first)."""
    names = list(methods)
    samples: dict[str, list[float]] = {n: [] for n in names}
    for r in range(ROUNDS):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = time.perf_counter()
            methods[name]()
            samples[name].append(time.perf_counter() - start)
    return {n: statistics.median(s) for n, s in samples.items()}


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def bench_sizes() -> None:
    print(f"snapshot cost: median of {ROUNDS} interleaved rounds; /proc lists {n_procs()} pids")
    header = f"{'procs':>5}  {'Inspector':>9}  {'fresh':>9}  {'ps':>9}  {'psutil':>9}"
    print(f"{header}  {'Insp/ps':>7}  {'fresh/ps':>8}  {'psutil/ps':>9}")
    results = {}
    for size in SIZES:
        with tree_of(size) as root:
            inspector = Inspector(root)
            got = len(inspector.snapshot())
            if got != size:
                print(f"  (warning: expected {size} processes, saw {got})")
            med = time_interleaved(
                {
                    "inspector": inspector.snapshot,
                    "fresh": functools.partial(snapshot, root),
                    "ps": functools.partial(ps_tree, root),
                    "psutil": functools.partial(psutil_tree, root),
                }
            )
        ms = {k: v * 1e3 for k, v in med.items()}
        ratio = {k: med[k] / med["ps"] for k in med}
        results[size] = ratio
        print(
            f"{size:>5}  {ms['inspector']:>7.2f}ms  {ms['fresh']:>7.2f}ms  {ms['ps']:>7.2f}ms"
            f"  {ms['psutil']:>7.2f}ms  {ratio['inspector']:>6.2f}x  {ratio['fresh']:>7.2f}x"
            f"  {ratio['psutil']:>8.2f}x"
        )
    for size, limit in ((50, 0.5), (200, 1.0)):
        r = results[size]
        print(
            f"target <= {limit}x ps at {size} processes: Inspector {r['inspector']:.2f}x "
            f"{verdict(r['inspector'] <= limit)}, fresh snapshot {r['fresh']:.2f}x "
            f"{verdict(r['fresh'] <= limit)}"
        )


def bench_live() -> None:
    with tree_of(50) as root:
        inspector = Inspector(root)
        period = 1.0 / LIVE_HZ
        ticks = int(LIVE_SECONDS * LIVE_HZ)
        cpu0, wall0 = time.process_time(), time.monotonic()
        for i in range(ticks):
            text = inspector.snapshot().tree()
            assert text
            delay = wall0 + (i + 1) * period - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    share = 100 * cpu / wall
    print(
        f"live refresh of a 50-process tree at {LIVE_HZ:g} Hz for {wall:.1f} s "
        f"(snapshot + tree text): {share:.2f}% of one core "
        f"-> target <= 5% {verdict(share <= 5.0)}"
    )


def n_procs() -> int:
    return sum(n.isdigit() for n in os.listdir("/proc"))


def main() -> None:
    global ROUNDS, LIVE_SECONDS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few rounds: a smoke run")
    if parser.parse_args().quick:
        ROUNDS, LIVE_SECONDS = 11, 0.5
    bench_sizes()
    bench_live()


if __name__ == "__main__":
    main()
