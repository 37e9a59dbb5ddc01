"""Demo 1, runaway children: the facts each run must show, read from the run itself."""

from __future__ import annotations

import pytest

from fork110.demos import runaway
from fork110.demos._base import c_build_dir
from fork110.demos._c import compile_c

LANGS = ["python", "c"] if compile_c("runaway", c_build_dir()) is not None else ["python"]


@pytest.mark.parametrize("language", LANGS)
def test_broken_grows_to_the_budget_then_forks_fail_with_eagain(language: str) -> None:
    r = runaway.run(language=language, max_processes=12, timeout=2.0)
    assert r.language == language
    assert r.facts["peak"] == 12 == r.facts["budget"]
    assert r.facts["refused"] > 0
    assert "Resource temporarily unavailable" in r.run.stderr
    assert r.facts["growth"][0] == 1 and r.facts["growth"][-1] == 12
    assert (
        r.facts["do_stuff"] >= 11
    )  # every process but the first ran do_stuff: the loop kept going
    assert r.run.timed_out and r.run.leaked == 0
    assert "budget of 12 processes" in r.explanation and "EAGAIN" in r.explanation


@pytest.mark.parametrize("language", LANGS)
def test_fixed_makes_n_children_and_reaps_them(language: str) -> None:
    r = runaway.run(fixed=True, language=language)
    assert (r.facts["children"], r.facts["do_stuff"], r.facts["reaped"]) == (5, 5, 5)
    assert r.facts["refused"] == 0
    assert r.run.status.success() and not r.run.timed_out and r.run.leaked == 0
    assert "made 5 children" in r.explanation and "reaped all of them" in r.explanation


def test_explanation_follows_the_observations() -> None:
    # a budget too large to reach within the time limit: the explanation must not claim a refusal
    r = runaway.run(max_processes=200, timeout=0.35)
    assert r.facts["refused"] == 0
    assert (
        "refused" not in r.explanation and f"reached {r.facts['peak']} processes" in r.explanation
    )


def test_who_refused_follows_the_enforcement() -> None:
    # where a pids cgroup holds the budget the kernel refuses; with the wrapper alone, the wrapper
    r = runaway.run(enforce="none", max_processes=6, timeout=1.0)
    assert r.run.enforcement == r.facts["enforcement"] == "wrapper"
    assert "the run's fork wrapper refused the next" in r.explanation
    assert "kernel refused" not in r.explanation
    assert runaway.enforcement_meaning("wrapper") in r.explanation
    auto = runaway.run(max_processes=6, timeout=1.0)
    assert auto.facts["enforcement"] in runaway.ENFORCEMENT
    said = "the kernel refused the next" if auto.run.enforcement == "cgroup" else "fork wrapper"
    assert said in auto.explanation


def test_the_growth_is_worded_from_the_samples() -> None:
    r = runaway.run(max_processes=8, timeout=1.0)
    shown = " → ".join(map(str, r.facts["growth"]))
    assert f"the samples saw {shown}" in r.explanation
    steps = list(zip(r.facts["growth"], r.facts["growth"][1:]))
    if all(b == 2 * a for a, b in steps):
        assert "every step a doubling" in r.explanation
    else:
        assert f"of the {len(steps)} steps w" in r.explanation  # was a doubling / were doublings
