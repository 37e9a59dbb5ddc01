"""Smoke test of bench/spawn.py: it runs to the end and prints every row and every ratio line.

No timing is asserted: whether a target passes depends on the machine; that the benchmark
measures and reports every case does not.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "spawn.py"
TIMEOUT = 300  # --quick takes seconds; the first run also compiles the C and Rust programs

PYTHON_CASES = [
    "Command.status()",
    "subprocess.run()",
    "subprocess.run() again (A/A noise)",
    "Command.output()",
    "subprocess.run(capture_output=True)",
    "Command.spawn().wait()",
    "subprocess.Popen().wait()",
    "os.posix_spawn+waitpid",
]
C_CASES = ["C posix_spawn+waitpid (floor)"]
RUST_CASES = ["Rust Command::status()", "Rust Command::output()"]
MEMORY_CASES = [
    "Command.status()",
    "subprocess.run()",
    "os.posix_spawn+waitpid",
    "os.fork+execv+waitpid",
]
VERDICTS = [
    r"status\(\) / subprocess\.run\(\) \[/bin/true\]: \d+\.\d\dx",
    r"output\(\) / subprocess\.run\(capture_output=True\) \[/bin/true\]: \d+\.\d\dx",
    r"status\(\) / subprocess\.run\(\) \[true\]: \d+\.\d\dx",
    r"output\(\) / subprocess\.run\(capture_output=True\) \[true\]: \d+\.\d\dx",
    r"status\(\) at \d+ MiB / small parent: \d+\.\d\dx",
    r"import fork110 start-up cost \(larger of the two\): [+-]\d+\.\d ms",
    r"import fork110 leaves ipywidgets unimported: (True|False)",
]


def run_quick_bench() -> subprocess.CompletedProcess[str]:
    """Run ``bench/spawn.py --quick`` in its own session; kill the whole session on timeout."""
    with subprocess.Popen(
        [sys.executable, str(BENCH), "--quick"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            pytest.fail(f"bench/spawn.py --quick ran over {TIMEOUT} s:\n{out}\n{err}")
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.fixture(scope="module")
def report() -> str:
    """The output of one quick run, shared by the checks below."""
    done = run_quick_bench()
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("target", ["/bin/true", "true"])
def test_every_case_has_a_row(report: str, target: str) -> None:
    """Each case of the spawn table appears once per target, with a median in microseconds."""
    cases = list(PYTHON_CASES)
    cases += C_CASES if shutil.which("cc") else []
    cases += RUST_CASES if shutil.which("rustc") else []
    for case in cases:
        row = rf"^{re.escape(target)} +{re.escape(case)} +\d+\.\d +\d+-\d+"
        assert len(re.findall(row, report, re.MULTILINE)) == 1, (case, report)


@pytest.mark.slow
def test_rows_compare_with_baseline_and_floor(report: str) -> None:
    """Non-baseline rows carry a ratio against their baseline (and the C floor when built)."""
    with_floor = r" +\d+\.\d\dx$" if shutil.which("cc") else "$"
    for case in ["Command.status()", "Command.output()", "Command.spawn().wait()"]:
        row = rf"^/bin/true +{re.escape(case)} .* \d+\.\d\dx subprocess\.\S+{with_floor}"
        assert re.search(row, report, re.MULTILINE), (case, report)


@pytest.mark.slow
def test_missing_compilers_are_noted(report: str) -> None:
    """Where cc or rustc is missing, the run says what it skipped instead of failing."""
    if not shutil.which("cc"):
        assert "note: no C compiler (cc) on PATH" in report
    if not shutil.which("rustc"):
        assert "note: no rustc on PATH" in report
    assert "note: building" not in report, (
        report
    )  # a compiler that is present must build the source


@pytest.mark.slow
def test_memory_section_rows(report: str) -> None:
    """The 1 GiB section prints small, big and ratio for every case."""
    for case in MEMORY_CASES:
        row = rf"^{re.escape(case)} +\d+\.\d +\d+\.\d +\d+\.\d\dx$"
        assert re.search(row, report, re.MULTILINE), (case, report)


@pytest.mark.slow
def test_every_target_has_a_verdict(report: str) -> None:
    """Each target of the issue ends as one PASS or MISS line with its figure."""
    for line in VERDICTS:
        pattern = rf"^(PASS|MISS)  {line} \(target [^)]+\)$"
        assert len(re.findall(pattern, report, re.MULTILINE)) == 1, (line, report)
