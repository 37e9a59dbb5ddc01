"""Seeded questions about random fork programs, answered by reasoning and confirmed by real runs.

>>> q = generate(7, kind="prints")
>>> q.check(q.solution())
✓ Right: ...
>>> generate(7, kind="prints").text == q.text  # the same seed, the same question, anywhere
True
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from fork110.exercises import _answers, _facts
from fork110.exercises._answers import _kind
from fork110.exercises._program import Program, Simulation, random_program
from fork110.exercises._question import AnswerError, Question, Verdict

__all__ = ["DIFFICULTIES", "KINDS", "generate", "kinds"]

KINDS: dict[str, str] = {
    "tree": "the final tree: who forked whom",
    "trees": "the tree of processes created so far, after each action",
    "prints": "how many times each line prints",
    "reapers": "who reaps each process: its parent, or init (zombies and orphans)",
    "missing-exit": "the inverse question: which action lost its _exit?",
    "orderings": "which output orderings are possible?",
}
DIFFICULTIES = {"easy": 3, "medium": 4, "hard": 5}
MAX_PROCESSES = 16
NAMING = (
    "Name the processes as the course does: the first is `parent`; its children are `child-1`, "
    "`child-2`, ... in the order it forks them; the children of `child-1` are `child-1.1`, "
    "`child-1.2`, ... (and so on down)."
)
INIT_WORDS = {"init", "pid 1", "pid1", "1", "supervisor", "init (pid 1 of the run)", "subreaper"}


def kinds() -> list[str]:
    """The kinds of question :func:`generate` makes.

    >>> kinds()
    ['tree', 'trees', 'prints', 'reapers', 'missing-exit', 'orderings']
    """
    return list(KINDS)


def generate(
    seed: int,
    kind: str | None = None,
    *,
    difficulty: str = "medium",
    actions: int | None = None,
    fork: float = 0.3,
    child: float = 0.3,
    exit: float = 0.7,
    wait: float = 0.15,
    language: str = "python",
    runs: int = 8,
) -> Question:
    """A question about a random program made from ``seed`` (the same on every machine).

    ``kind`` is one of :func:`kinds` (None: chosen by the seed); ``difficulty`` sets the number of
    actions (easy 3, medium 4, hard 5) unless ``actions`` is given; ``fork``, ``child``, ``exit``
    and ``wait`` are the probabilities of a bare fork, of a forked child block, that such a block
    ends with ``_exit``, and of a wait; ``language`` the form shown (``python`` or ``c``; runs
    use the Python form); ``runs`` how many runs confirm an ``orderings`` answer.

    >>> generate(3, kind="tree", actions=2).kind
    'tree'
    >>> generate(-1)
    Traceback (most recent call last):
    ...
    ValueError: seed must be a whole number, 0 or more, not -1
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be a whole number, not a {type(seed).__name__} ({seed!r})")
    if seed < 0:
        raise ValueError(f"seed must be a whole number, 0 or more, not {seed}")
    if kind is None:
        kind = kinds()[random.Random(f"fork110-kind-{seed}").randrange(len(KINDS))]
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; not {kind!r}")
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty must be one of {', '.join(DIFFICULTIES)}; not {difficulty!r}")
    n = DIFFICULTIES[difficulty] if actions is None else actions
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 8:
        raise ValueError(f"actions must be a whole number from 1 to 8, not {n!r}")
    for name, p in (("fork", fork), ("child", child), ("exit", exit), ("wait", wait)):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise ValueError(f"{name} must be a probability from 0 to 1, not {p!r}")
    if fork + child + wait > 1:
        raise ValueError(f"fork + child + wait must be at most 1, not {fork + child + wait:g}")
    if language not in ("python", "c"):
        raise ValueError(f"language must be 'python' or 'c', not {language!r}")
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise ValueError(f"runs must be a whole number, 1 or more, not {runs!r}")
    rng = random.Random(f"fork110-{kind}-{seed}")
    knobs = {"actions": n, "fork": fork, "child": child, "exit": exit, "wait": wait}
    return _BUILDERS[kind](rng, knobs, language, runs)


def _pick(
    rng: random.Random, knobs: dict[str, Any], ok: Callable[[Program, Simulation], bool]
) -> tuple[Program, Simulation]:
    """A random program that suits the kind (falls back to easier programs if none turns up)."""
    for attempt in range(400):
        loosen = attempt // 100  # after 100 misses, fewer forks, and so on
        prog = random_program(
            rng,
            actions=max(1, knobs["actions"] - loosen),
            fork=knobs["fork"] / (1 + loosen),
            child=knobs["child"],
            exit=knobs["exit"],
            wait=knobs["wait"],
        )
        sim = prog.simulate()
        if len(sim.procs) <= MAX_PROCESSES and ok(prog, sim):
            return prog, sim
    raise ValueError(f"no program of this kind fits these knobs ({knobs}); try other probabilities")


def _run(code: str) -> Any:
    from fork110 import sandbox

    return sandbox.run(code, max_processes=2 * MAX_PROCESSES, timeout=10)


def _listing(prog: Program, language: str) -> str:
    return prog.listing(language)


def _names_check(given: set[str], known: set[str]) -> None:
    unknown = sorted(given - known)
    if unknown:
        raise AnswerError(
            f"{', '.join(map(repr, unknown))}: no process of this program has that name. "
            "Expected names like parent, child-1, child-1.1 (see the naming note)."
        )


def _tree_verdict(given: dict[str, str], want: dict[str, str], where: str = "") -> Verdict:
    if given == want:
        return Verdict(True, f"Right: {len(want) + 1} processes{where}.")
    if len(given) != len(want):
        return Verdict(
            False,
            f"Your tree{where} has {len(given) + 1} processes; count again how many reach each fork.",
        )
    for name in sorted(want):
        if name not in given:
            return Verdict(
                False,
                f"The right number of processes{where}, but the names are off: {name} is missing.",
            )
        if given[name] != want[name]:
            return Verdict(
                False, f"The right number{where}, but {name} is not the child of {given[name]}."
            )
    return Verdict(False, "Not quite.")  # pragma: no cover - covered by the cases above


def _tree(rng: random.Random, knobs: dict[str, Any], language: str, runs: int) -> Question:
    prog, sim = _pick(rng, knobs, lambda p, s: len(s.procs) >= 2)
    want = sim.tree()
    names = set(sim.procs)

    def check(answer: Any) -> Verdict:
        given = _answers.tree(answer)
        _names_check(set(given) | set(given.values()), names | {"parent"})
        return _tree_verdict(given, want)

    def confirm() -> tuple[bool, Any]:
        run = _run(prog.python())
        return _facts.tree(run) == want and run.success(), run

    return Question(
        "Draw the tree of every process this program makes (who forked whom), one process a "
        "line, each child indented under its parent.\n" + NAMING,
        check,
        hints=(
            "A bare fork doubles the processes that reach it: parent and child both go on.",
            "A child block with _exit stops at its end; without _exit the child goes on with the "
            "rest of the program, forks included.",
            f"The program makes {len(sim.procs)} processes in all.",
        ),
        answer=_facts.render_tree(want),
        program=_listing(prog, language),
        kind="tree",
        explanation=_explain(prog, sim),
        confirm=confirm,
    )


def _trees(rng: random.Random, knobs: dict[str, Any], language: str, runs: int) -> Question:
    prog, sim = _pick(rng, knobs, lambda p, s: len(s.procs) >= 2)
    want = sim.created_after(len(prog))
    names = set(sim.procs)

    def check(answer: Any) -> Verdict:
        if isinstance(answer, str):
            parts: list[Any] = [t for t in answer.split("\n\n") if t.strip()]
        elif isinstance(answer, (list, tuple)):
            parts = list(answer)
        else:
            raise AnswerError(
                f"expected one tree per action ({len(want)}), as a list or as texts separated by "
                f"blank lines, not {_kind(answer)}"
            )
        if len(parts) != len(want):
            raise AnswerError(f"expected one tree per action: {len(want)} trees, not {len(parts)}")
        for k, (part, tree) in enumerate(zip(parts, want), 1):
            given = _answers.tree(part)
            _names_check(set(given) | set(given.values()), names | {"parent"})
            verdict = _tree_verdict(given, tree, f" after action {k}")
            if not verdict:
                return verdict
        return Verdict(True, f"Right: all {len(want)} trees.")

    def confirm() -> tuple[bool, Any]:
        run = _run(prog.python(markers=True))
        parents, born = _facts.tree(run), _facts.born_at(run)
        seen = [
            {c: p for c, p in parents.items() if born.get(c, 99) <= k} for k in range(len(prog))
        ]
        return seen == want and run.success(), run

    return Question(
        "After each action of this program, draw the tree of every process created so far "
        "(alive or not; who forked whom). Give one tree per action, in order.\n" + NAMING,
        check,
        hints=(
            "Only forks change the tree: after a print or a wait it is the same as before.",
            "Every process that reaches a fork makes one child there, so the number of new "
            "processes at a fork is the number of processes that reach it.",
            f"After the last action there are {len(sim.procs)} processes.",
        ),
        answer=[_facts.render_tree(t) for t in want],
        program=_listing(prog, language),
        kind="trees",
        explanation=_explain(prog, sim),
        confirm=confirm,
    )


def _prints(rng: random.Random, knobs: dict[str, Any], language: str, runs: int) -> Question:
    prog, sim = _pick(rng, knobs, lambda p, s: bool(s.nodes) and len(s.procs) >= 2)
    want = sim.counts()

    def check(answer: Any) -> Verdict:
        given = _answers.counts(answer)
        unknown = sorted(set(given) - set(want))
        if unknown:
            raise AnswerError(
                f"{', '.join(unknown)}: no such line; the program prints {', '.join(want)}"
            )
        missing = [k for k in want if k not in given]
        if missing:
            raise AnswerError(f"expected a count for every line: {', '.join(missing)} has none")
        wrong = [k for k in want if given[k] != want[k]]
        if not wrong:
            return Verdict(True, f"Right: {sum(want.values())} lines in all.")
        return Verdict(
            False,
            f"{', '.join(wrong)}: not that many times. Which processes reach {'them' if len(wrong) > 1 else 'it'}?",
        )

    def confirm() -> tuple[bool, Any]:
        run = _run(prog.python())
        return _facts.counts(run) == want and run.success(), run

    return Question(
        "How many times does each letter print? Answer with a count per letter, e.g. "
        "{'A': 1, 'B': 2} (or A=1, B=2).",
        check,
        hints=(
            "A line prints once in every process that reaches it.",
            "A child block's print runs in the child only; a child without _exit also runs every "
            "line after its block.",
            f"{sum(want.values())} lines are printed in all.",
        ),
        answer=want,
        program=_listing(prog, language),
        kind="prints",
        explanation=_explain(prog, sim),
        confirm=confirm,
    )


def _init(word: str) -> str:
    return "init" if word.strip().lower() in INIT_WORDS or word.lower().startswith("init") else word


def _reapers(rng: random.Random, knobs: dict[str, Any], language: str, runs: int) -> Question:
    def varied(p: Program, s: Simulation) -> bool:
        who = set(s.reapers().values())
        return len(s.procs) >= 2 and (len(who) > 1 or rng.random() < 0.2)

    prog, sim = _pick(rng, knobs, varied)
    want = sim.reapers()

    def check(answer: Any) -> Verdict:
        given = {k: _init(v) for k, v in _answers.pairs(answer, "reapers").items()}
        _names_check(set(given) | (set(given.values()) - {"init"}), set(sim.procs))
        missing = sorted(set(want) - set(given))
        if missing:
            raise AnswerError(
                f"expected a reaper for every process but parent; {', '.join(missing)} has none"
            )
        if "parent" in given:
            raise AnswerError(
                "leave parent out: the run's supervisor always reaps the first process"
            )
        wrong = [k for k in want if given[k] != want[k]]
        if not wrong:
            return Verdict(True, "Right: " + _reap_words(want))
        return Verdict(
            False, f"Not {wrong[0]}: does its parent reach a wait_all() after forking it?"
        )

    def confirm() -> tuple[bool, Any]:
        run = _run(prog.python())
        return _facts.reapers(run) == want and run.success(), run

    return Question(
        "Who reaps each process (all but parent)? Its parent, with wait_all(), or init (pid 1 of "
        "the run): a process its parent never waits for is left a zombie (if it ends first) or an "
        "orphan (if its parent ends first), and init reaps it. Answer like "
        "{'child-1': 'parent', 'child-1.1': 'init'}.\n" + NAMING,
        check,
        hints=(
            "wait_all() reaps every child the process has when it reaches the wait, and only its "
            "own children, never grandchildren.",
            "A child forked after the process's last wait_all() is never waited for.",
            f"init reaps {sum(v == 'init' for v in want.values())} of the {len(want)}.",
        ),
        answer=want,
        program=_listing(prog, language),
        kind="reapers",
        explanation=_explain(prog, sim),
        confirm=confirm,
    )


def _reap_words(want: dict[str, str]) -> str:
    by_init = [k for k, v in want.items() if v == "init"]
    if not by_init:
        return "every process is waited for by its parent; no zombie or orphan is left to init."
    return f"{', '.join(by_init)} {'is' if len(by_init) == 1 else 'are'} reaped by init (pid 1 of the run)."


def _missing_exit(rng: random.Random, knobs: dict[str, Any], language: str, runs: int) -> Question:
    chosen: list[int] = []

    def unique(p: Program, s: Simulation) -> bool:
        blocks = [i for i, a in enumerate(p) if a.kind == "child"]
        if not blocks or not all(p.actions[i].exits for i in blocks):
            return False
        outcomes = {i: p.without_exit(i).simulate() for i in blocks}
        i = rng.choice(blocks)
        bad = outcomes[i]
        if len(bad.procs) > MAX_PROCESSES or bad.tree() == s.tree():
            return False
        if any(
            o.tree() == bad.tree() and o.counts() == bad.counts()
            for j, o in outcomes.items()
            if j != i
        ):
            return False
        chosen[:] = [i]
        return True

    knobs = dict(knobs, exit=1.0, child=max(knobs["child"], 0.4))
    prog, _ = _pick(rng, knobs, unique)
    index = chosen[0]
    buggy = prog.without_exit(index)
    bad = buggy.simulate()
    blocks = [i + 1 for i, a in enumerate(prog) if a.kind == "child"]

    def check(answer: Any) -> Verdict:
        k = _answers.number(answer, "the number of an action")
        if k not in blocks:
            raise AnswerError(
                f"action {k} has no _exit to lose; the actions with one are {', '.join(map(str, blocks))}"
            )
        if k == index + 1:
            return Verdict(
                True,
                f"Right: without its _exit, action {k}'s child goes on with the rest of the program.",
            )
        return Verdict(
            False,
            f"Without action {k}'s _exit the tree would look different: which extra processes are there?",
        )

    def confirm() -> tuple[bool, Any]:
        run = _run(buggy.python())
        return _facts.tree(run) == bad.tree() and _facts.counts(
            run
        ) == bad.counts() and run.success(), run

    shown = _facts.render_tree(bad.tree())
    counts = ", ".join(f"{k} {v} time{'s' if v > 1 else ''}" for k, v in bad.counts().items())
    return Question(
        "This program was run with one `_exit` deleted. The run made this tree:\n\n"
        f"{shown}\n\nand printed {counts}. Which action (its number) lost its `_exit`?",
        check,
        hints=(
            "A child without _exit goes on with every action after its block, like its parent.",
            "Extra processes appear below the child that went on: look for the deepest unexpected names.",
            f"It is one of the actions {', '.join(map(str, blocks))}.",
        ),
        answer=index + 1,
        program=_listing(prog, language),
        kind="missing-exit",
        explanation=f"Action {index + 1} lost its _exit.\n" + _explain(buggy, bad),
        confirm=confirm,
    )


def _orderings(rng: random.Random, knobs: dict[str, Any], language: str, runs: int) -> Question:
    found: list[set[str]] = []

    def small(p: Program, s: Simulation) -> bool:
        if not 2 <= len(s.nodes) <= 6:
            return False
        orders = s.orderings(limit=40)
        if orders is None or not 2 <= len(orders) <= 24:
            return False
        found[:] = [orders]
        return True

    prog, sim = _pick(rng, knobs, small)
    want = found[0]

    def check(answer: Any) -> Verdict:
        given = _answers.orderings(answer)
        letters = sorted("".join(sorted(next(iter(want)))))
        odd = sorted(g for g in given if sorted(g) != letters)
        if odd:
            raise AnswerError(
                f"{odd[0]!r} is not an ordering of this program's lines: each ordering holds every "
                f"printed line once, here {''.join(letters)} in some order"
            )
        if given == want:
            return Verdict(
                True, f"Right: {len(want)} possible ordering{'s' if len(want) > 1 else ''}."
            )
        extra = sorted(given - want)
        if extra:
            return Verdict(False, f"{extra[0]} cannot happen: what must come before what?")
        return Verdict(False, f"You have {len(given)} of the {len(want)} possible orderings.")

    def confirm() -> tuple[bool, Any]:
        seen: list[Any] = []
        for _ in range(runs):
            run = _run(prog.python())
            seen.append(run)
            if _facts.ordering(run) not in want or not run.success():
                return False, seen
        return True, seen

    return Question(
        "Which orders can the printed lines come in? Give every possible output as a string "
        "of letters (e.g. {'ABB', 'BAB'}).",
        check,
        hints=(
            "Within one process, lines come in program order; a child's lines come after "
            "everything its parent printed before the fork.",
            "After wait_all(), a process's lines come after all its children's lines; without "
            "a wait, nothing orders them.",
            f"There are {len(want)} possible orderings.",
        ),
        answer=want,
        program=_listing(prog, language),
        kind="orderings",
        explanation=_explain(prog, sim),
        confirm=confirm,
    )


def _explain(prog: Program, sim: Simulation) -> str:
    """Which process runs which actions, and what each prints."""
    lines = []
    for name, proc in sim.procs.items():
        acts = ", ".join(str(k + 1) for k in proc.ran)
        made = f" (forked by {proc.parent} at action {proc.born_at + 1})" if proc.parent else ""
        block = proc.starts_at < 0
        ran = ("runs its block" if block else "") + (
            f"{', then' if block else 'runs'} actions {acts}" if acts else ""
        )
        printed = "".join(proc.lines) or "nothing"
        lines.append(
            f"{name}{made}: {ran or 'runs nothing more'}; prints {printed}; reaped by {proc.reaper}"
        )
    return "\n".join(lines)


_BUILDERS: dict[str, Callable[[random.Random, dict[str, Any], str, int], Question]] = {
    "tree": _tree,
    "trees": _trees,
    "prints": _prints,
    "reapers": _reapers,
    "missing-exit": _missing_exit,
    "orderings": _orderings,
}
