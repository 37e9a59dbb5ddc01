"""fork110.exercises: the reasoning about fork programs against real runs, answers in every form,
bad input (clear messages, no traceback, no process left), the terminal quiz and predictions."""

from __future__ import annotations

import os
import subprocess

import pytest
from conftest import PY

from fork110 import sandbox
from fork110.exercises import (
    AnswerError,
    Practice,
    Verdict,
    _facts,
    fields,
    generate,
    kinds,
    predict,
    run_facts,
)
from fork110.exercises._program import Action, Program

FORK3 = Program((Action("fork"), Action("fork"), Action("fork"), Action("print", "A")))


def test_three_bare_forks_make_eight_processes_and_the_kernel_agrees() -> None:
    sim = FORK3.simulate()
    assert len(sim.procs) == 8 and sim.counts() == {"A": 8}
    run = sandbox.run(FORK3.python())
    assert _facts.tree(run) == sim.tree()
    assert _facts.counts(run) == {"A": 8}
    assert set(sim.reapers().values()) == {"init"} == set(_facts.reapers(run).values())


def test_a_child_without_exit_runs_the_rest_of_the_program() -> None:
    prog = Program((Action("child", "A", exits=False), Action("print", "B"), Action("wait")))
    sim = prog.simulate()
    assert sim.counts() == {"A": 1, "B": 2}
    assert sim.reapers() == {"child-1": "parent"}
    run = sandbox.run(prog.python())
    assert _facts.counts(run) == sim.counts() and _facts.reapers(run) == sim.reapers()


def test_orderings_follow_fork_and_wait() -> None:
    waited = Program((Action("child", "A"), Action("wait"), Action("print", "B")))
    assert waited.simulate().orderings() == {"AB"}
    unwaited = Program((Action("child", "A"), Action("print", "B")))
    assert unwaited.simulate().orderings() == {"AB", "BA"}
    before = Program((Action("print", "A"), Action("child", "B")))
    assert before.simulate().orderings() == {"AB"}


def test_the_c_form_says_the_same_program() -> None:
    prog = Program((Action("print", "A"), Action("child", "B"), Action("wait")))
    c = prog.c()
    assert 'printf("A\\n");  /* 1 */' in c and "_exit(0);" in c and "wait(NULL)" in c
    assert "setvbuf(stdout, NULL, _IOLBF, 0)" in c  # else a fork would duplicate buffered lines
    assert generate(4, kind="prints", language="c").program.startswith("#include")


def test_born_at_reads_the_action_of_each_fork_from_markers() -> None:
    prog = Program((Action("print", "A"), Action("fork"), Action("child", "B")))
    run = sandbox.run(prog.python(markers=True))
    assert _facts.born_at(run) == {
        n: p.born_at for n, p in prog.simulate().procs.items() if p.parent
    }


@pytest.mark.parametrize("kind", kinds())
def test_every_kind_accepts_its_solution_rejects_a_wrong_answer_and_is_confirmed(kind: str) -> None:
    q = generate(11, kind=kind, runs=3)
    assert q.kind == kind and q.text and q.program
    assert q.check(q.solution())
    assert q.verify(), q.last_run
    wrong = {
        "tree": "parent\n└── child-1",
        "trees": ["parent"] * len(q.solution()) if kind == "trees" else [],
        "prints": {k: v + 1 for k, v in q.solution().items()} if kind == "prints" else {},
        "reapers": {k: "init" if v != "init" else "parent" for k, v in q.solution().items()}
        if kind == "reapers"
        else {},
        "missing-exit": 999,
        "orderings": set(),
    }[kind]
    verdict = q.check(wrong)
    assert not verdict and verdict.message


def test_the_same_seed_gives_the_same_question_in_any_interpreter() -> None:
    code = "from fork110.exercises import generate; q = generate(123); print(q.kind); print(q.text); print(q.program)"
    outs = {
        subprocess.run(
            [PY, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": str(h)},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        for h in (1, 2)
    }
    assert len(outs) == 1
    assert (
        outs.pop()
        == "\n".join((generate(123).kind, generate(123).text, generate(123).program)) + "\n"
    )


def test_seeds_and_kinds_vary() -> None:
    assert len({generate(s, kind="tree").program for s in range(10)}) > 5
    assert {generate(s).kind for s in range(40)} == set(kinds())


def test_knobs_shape_the_programs() -> None:
    only_prints = generate(1, kind="prints", fork=0, child=1.0, wait=0, actions=3)
    assert "os.fork()  #" not in only_prints.program  # no bare fork with fork=0
    big = generate(1, kind="tree", actions=6)
    assert big.program.count("  # ") >= 4


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"seed": "1"}, TypeError, "seed must be a whole number"),
        ({"seed": -1}, ValueError, "0 or more"),
        ({"seed": 1, "kind": "nope"}, ValueError, "kind must be one of tree"),
        ({"seed": 1, "difficulty": "insane"}, ValueError, "difficulty must be one of"),
        ({"seed": 1, "fork": 2}, ValueError, "fork must be a probability"),
        ({"seed": 1, "actions": 0}, ValueError, "actions must be a whole number from 1 to 8"),
        ({"seed": 1, "language": "rust"}, ValueError, "language must be"),
    ],
)
def test_bad_knobs_get_a_clear_message(kwargs: dict[str, object], error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        generate(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "answer", "words"),
    [
        ("prints", 3.5, "expected counts per line as a dict"),
        ("prints", {"A": -1}, "is negative"),
        ("prints", "A=lots", "expected a whole number of times"),
        ("tree", 42, "expected a tree as text"),
        ("tree", "parent\n  child-9", "no process of this program has that name"),
        ("reapers", {"pid-7": "init"}, "no process of this program has that name"),
        ("missing-exit", -2, "0 or more"),
        ("missing-exit", "three", "whole number"),
        ("orderings", 7, "expected the orderings as a set of strings"),
        ("orderings", {"ZZZZZZZZ"}, "is not an ordering of this program's lines"),
        ("trees", {"a": 1}, "one tree per action"),
    ],
)
def test_malformed_answers_get_a_verdict_naming_the_expected_form(
    kind: str, answer: object, words: str
) -> None:
    verdict = generate(5, kind=kind).check(answer)
    assert isinstance(verdict, Verdict) and not verdict
    assert words in verdict.message


def test_hints_are_graded_and_the_solution_is_accepted_as_text_too() -> None:
    q = generate(8, kind="reapers")
    first, second, third, again = q.hint(), q.hint(), q.hint(), q.hint()
    assert first.startswith("Hint 1/3") and second.startswith("Hint 2/3") and third == again
    text = ", ".join(f"{k}={v}" for k, v in q.solution().items())
    assert q.check(text)
    assert q.check(
        {k: "init (pid 1 of the run)" if v == "init" else v for k, v in q.solution().items()}
    )


def test_answer_error_is_a_value_error() -> None:
    assert issubclass(AnswerError, ValueError)


def _quiz(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "fork110", "quiz", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_quiz_reads_the_answer_from_stdin_and_exits_0_when_right() -> None:
    q = generate(21, kind="prints")
    right = _quiz(
        "--seed",
        "21",
        "--kind",
        "prints",
        stdin=", ".join(f"{k}={v}" for k, v in q.solution().items()),
    )
    assert right.returncode == 0, right.stdout + right.stderr
    assert q.text.splitlines()[0] in right.stdout and "✓" in right.stdout
    wrong = _quiz("--seed", "21", "--kind", "prints", stdin="A=100")
    assert wrong.returncode == 1 and "✗" in wrong.stdout and "Hint 1/" in wrong.stdout
    garbage = _quiz("--seed", "21", "--kind", "prints", stdin="}{")
    assert garbage.returncode == 1 and "Traceback" not in garbage.stdout + garbage.stderr


def test_quiz_reveal_prints_question_answer_and_the_confirming_run() -> None:
    out = _quiz("--seed", "3", "--kind", "reapers", "--reveal")
    assert out.returncode == 0, out.stderr
    assert "Answer:" in out.stdout and "Confirmed by a contained run:" in out.stdout
    assert "end: parent exit status: 0" in out.stdout and "the kernel agrees" in out.stdout


def test_quiz_bad_arguments_say_what_was_expected_without_a_traceback() -> None:
    out = _quiz("--kind", "nope")
    assert (
        out.returncode == 2
        and "kind must be one of" in out.stderr
        and "Traceback" not in out.stderr
    )
    listed = _quiz("--list")
    assert listed.returncode == 0 and listed.stdout.split()[0] == "tree"


def test_predict_compares_field_by_field_with_one_line_per_miss() -> None:
    run = sandbox.run("import os\nif os.fork() == 0:\n    print('x')\n    os._exit(0)\nos.wait()\n")
    cmp = predict(processes=2, lines=2, exit_code=0).compare(run)
    assert not cmp and cmp.misses == ("lines",)
    assert str(cmp).splitlines() == [
        "✓ processes: 2",
        "✗ lines: you said 2, the run shows 1 (fewer than you thought)",
        "✓ exit_code: 0",
        "2 of 3 right.",
    ]
    assert predict(tree={"child-1": "parent"}).compare(run)
    assert "no such fact" in str(predict(nonsense=1).compare(run))
    reason = predict({"lines": "only the child prints"}, lines=5).compare(run)
    assert "✗ lines: you said 5, the run shows 1: only the child prints" in str(reason)
    assert set(fields()) <= set(run_facts(run))


def test_predict_bad_input() -> None:
    with pytest.raises(ValueError, match="a count: 0 or more"):
        predict(processes=-1)
    with pytest.raises(TypeError, match="expected a run to compare with"):
        predict(processes=1).compare("not a run")


def test_predict_uses_a_demos_own_facts() -> None:
    from fork110.demos import nested_forks

    result = nested_forks.run()
    cmp = predict(processes=4, proc1=2, orphans=1).compare(result)
    assert cmp, str(cmp)


def test_practice_logic_and_the_lazy_widget() -> None:
    p = Practice(seed=5, kind="tree")
    assert not p.check("parent")
    assert p.check(p.question.solution())
    assert "parent" in p.reveal()
    agrees, run = p.run_for_real()
    assert agrees and run.leaked == 0
    assert p.next().seed == 6
    out = subprocess.run(
        [PY, "-c", "import sys, fork110, fork110.exercises; print('ipywidgets' in sys.modules)"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "False"
    import ipywidgets

    from fork110.exercises import practice

    widget = practice(seed=2, kind="prints")
    assert isinstance(widget, ipywidgets.VBox)
    assert repr(widget) == "Practice(seed=2, kind='prints')"  # not the children's long repr


def test_a_code_exercise_names_who_reaped_the_unwaited_child() -> None:
    from types import SimpleNamespace

    from fork110.exercises._course import _adopter
    from fork110.exercises.nb01 import q4

    forgetful = (
        "import os\nfor _ in range(3):\n    if os.fork() == 0:\n"
        "        print('do_stuff', flush=True)\n        os._exit(0)\n"
    )
    verdict = str(q4.check(forgetful))
    run = sandbox.run(forgetful)
    assert f"was not waited for by the parent ({_adopter(run)} reaped it)" in verdict
    assert _adopter(SimpleNamespace(namespace=True)) == "the run's init (pid 1)"
    assert _adopter(SimpleNamespace(namespace=False)).startswith(
        "the run's supervisor, a subreaper"
    )
