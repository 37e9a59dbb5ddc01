"""For 200 seeds, the package's reference answer (by reasoning) and a contained run of the program
(the real kernel) agree. For ``orderings`` questions, every order the runs produced is in the set
the reasoning allows. The seeds are checked in batches of 25, two runs at a time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from fork110.exercises import Question, generate

SEEDS = 200
BATCH = 25


def _disagreement(seed: int) -> str | None:
    q: Question = generate(seed, runs=4)
    if not q.check(q.solution()):
        return f"seed {seed} ({q.kind}): the checker rejects the reference answer"
    if not q.verify():
        runs = q.last_run if isinstance(q.last_run, list) else [q.last_run]
        return (
            f"seed {seed} ({q.kind}): the kernel disagrees with {q.solution()!r}\n{q.program}\n"
            f"{runs[-1].transcript()}"
        )
    return None


@pytest.mark.parametrize(
    "first", range(0, SEEDS, BATCH), ids=lambda s: f"seeds-{s}-{s + BATCH - 1}"
)
def test_reference_answers_agree_with_the_kernel(first: int) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        problems = [p for p in pool.map(_disagreement, range(first, first + BATCH)) if p]
    assert not problems, "\n\n".join(problems)
