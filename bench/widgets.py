"""Benchmark: what the live widgets cost the kernel, and what they send to the browser.

Run: ``python bench/widgets.py`` (``--quick`` for a smoke run). It measures, in one run:

* a contained run of 50 processes held for a few seconds, shown by a ``TreeView`` refreshing at
  10 Hz: the process's CPU time as a percentage of one core, against the same run read by a
  plain event loop with no view (the difference is the view's cost; target <= 5% of a core);
* the bytes the view's widgets would send to the browser (comm messages, counted at the comm
  layer) per second (target <= 50 KB/s), and per refresh;
* ``%load_ext fork110`` in a fresh IPython shell, median of several fresh processes, against
  ``%load_ext autoreload`` measured the same way (target <= 150 ms).

Nothing is asserted: whether a target holds depends on the machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any

HOLD = """
import os, time
kids = []
for i in range({n} - 1):
    pid = os.fork()
    if pid == 0:
        time.sleep({hold})
        os._exit(0)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
"""


def _run(n: int, hold: float, view: bool) -> tuple[float, float, int, int]:
    """CPU seconds, wall seconds, comm bytes, refreshes for one held run."""
    import comm

    from fork110.sandbox import start
    from fork110.widgets import TreeView

    sent = [0]

    def publish_msg(self: Any, msg_type: str, data: Any = None, *args: Any, **kwargs: Any) -> None:
        if msg_type == "comm_msg":
            sent[0] += len(json.dumps(data))

    comm.DummyComm.publish_msg = publish_msg  # type: ignore[method-assign]
    live = start(HOLD.format(n=n, hold=hold), max_processes=n + 4, timeout=hold + 30)
    cpu0, t0 = time.process_time(), time.monotonic()
    refreshes = 0
    if view:
        tree = TreeView(live, budget=n + 4, interval=0.1)
        tree.wait(hold + 30)
        refreshes = tree.refreshes
        peak = tree.peak
        tree.close()
    else:
        with live:
            for _ in live:
                pass
            peak = live.result().peak_processes
    cpu, wall = time.process_time() - cpu0, time.monotonic() - t0
    if peak < n:
        print(f"  (note: peak {peak} of {n} processes)")
    return cpu, wall, sent[0], refreshes


def _kill_s() -> float:
    """Seconds from ``kill()`` to the view showing the end of a run of 10 sleeping processes."""
    from fork110.sandbox import start
    from fork110.widgets import TreeView

    code = "import os, time\nfor i in range(9):\n    if os.fork() == 0:\n        break\ntime.sleep(60)\n"
    tree = TreeView(start(code, timeout=120), budget=16)
    while tree.snapshot is None or len(tree.snapshot) < 10:
        time.sleep(0.02)
    t = time.monotonic()
    tree.kill()
    tree.wait(30)
    took = time.monotonic() - t
    tree.close()
    return took


def _load_ext_ms(ext: str) -> float:
    code = (
        "import time\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "sh = InteractiveShell.instance(history_length=0)\n"
        "t = time.perf_counter()\n"
        f"sh.run_line_magic('load_ext', '{ext}')\n"
        "print((time.perf_counter() - t) * 1000)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run (less time)")
    args = parser.parse_args()
    n = 50
    hold = 1.0 if args.quick else 4.0
    rounds = 1 if args.quick else 3
    print(f"A contained run of {n} processes held {hold:g} s, shown at 10 Hz ({rounds} rounds)")
    with_view, without, traffic, per_refresh, rate = [], [], [], [], []
    for _ in range(rounds):
        cpu, wall, _, _ = _run(n, hold, view=False)
        without.append(100 * cpu / wall)
        cpu, wall, sent, refreshes = _run(n, hold, view=True)
        with_view.append(100 * cpu / wall)
        traffic.append(sent / wall / 1000)
        per_refresh.append(sent / max(1, refreshes) / 1000)
        rate.append(refreshes / wall)
    view_cost = statistics.median(w - b for w, b in zip(with_view, without))
    print(f"  kernel CPU, plain event loop:   {statistics.median(without):5.1f}% of one core")
    print(f"  kernel CPU, with the TreeView:  {statistics.median(with_view):5.1f}% of one core")
    print(f"  the view's own cost:            {view_cost:5.1f}% of one core   (target <= 5%)")
    print(
        f"  comm traffic to the browser:    {statistics.median(traffic):5.1f} KB/s "
        f"({statistics.median(per_refresh):.2f} KB per refresh)   (target <= 50 KB/s)"
    )
    print(f"  refreshes per second:           {statistics.median(rate):5.1f}   (target >= 5)")
    print(
        f"Kill to the end of the run, shown: {statistics.median(_kill_s() for _ in range(rounds)):.2f} s (target <= 1 s)"
    )
    k = 3 if args.quick else 7
    ours = statistics.median(_load_ext_ms("fork110") for _ in range(k))
    base = statistics.median(_load_ext_ms("autoreload") for _ in range(k))
    print(
        f"%load_ext fork110: {ours:.1f} ms (median of {k} fresh shells); %load_ext autoreload: "
        f"{base:.1f} ms; ratio {ours / base:.2f}x   (target <= 150 ms)"
    )


if __name__ == "__main__":
    main()
