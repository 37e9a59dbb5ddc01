"""The terminal entry point: ``python -m fork110 demo NAME`` runs a slide's demo contained and prints
the process tree as it changes, then what went wrong. ``python -m fork110 demo --list`` lists them.
``python -m fork110 quiz [--seed N] [--kind K] [--reveal]`` asks a seeded question about a fork
program, reads the answer from stdin and checks it (exit status 0 when right)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    >>> main(["demo", "--list"])  # doctest: +ELLIPSIS
    runaway ...
    0
    """
    parser = argparse.ArgumentParser(prog="python -m fork110", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run one of the slides' demos, contained")
    demo.add_argument("name", nargs="?", help="the demo (see --list)")
    demo.add_argument("--list", action="store_true", help="list the demos and their variants")
    demo.add_argument(
        "--fixed", nargs="?", const=True, default=False, metavar="VARIANT",
        help="run the fix (or the named variant) instead of the code as on the slide",
    )  # fmt: skip
    demo.add_argument("--c", action="store_true", help="run the completed C program (needs cc)")
    demo.add_argument(
        "--rust", action="store_true", help="run the Rust program, where there is one (needs rustc)"
    )
    demo.add_argument("--timeout", type=float, help="the watchdog, in seconds")
    demo.add_argument("--max-processes", type=int, help="the fork budget")
    demo.add_argument("--quiet", action="store_true", help="print only the explanation")
    quiz = sub.add_parser(
        "quiz", help="a seeded question about a fork program, checked by a real run"
    )
    quiz.add_argument("--seed", type=int, help="the question's seed (default: a random one)")
    quiz.add_argument("--kind", help="the kind of question (see --list)")
    quiz.add_argument("--difficulty", default="medium", help="easy, medium or hard")
    quiz.add_argument("--c", action="store_true", help="show the program in C")
    quiz.add_argument(
        "--reveal", action="store_true", help="print the answer and the run that confirms it"
    )
    quiz.add_argument("--list", action="store_true", help="list the kinds of question")
    args = parser.parse_args(argv)
    if args.command == "quiz":
        return _quiz(args)
    return _demo(args)


def _quiz(args: argparse.Namespace) -> int:
    """Ask, read the answer (all of stdin), check; or, with --reveal, show the answer and its run."""
    import random

    from fork110 import exercises
    from fork110.exercises._generate import KINDS

    if args.list:
        for kind, what in KINDS.items():
            print(f"{kind:13} {what}")
        return 0
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    try:
        q = exercises.generate(
            seed, kind=args.kind, difficulty=args.difficulty, language="c" if args.c else "python"
        )
    except (ValueError, TypeError) as exc:
        print(f"fork110 quiz: {exc}", file=sys.stderr)
        return 2
    print(f"Question (seed {seed}, {q.kind}):")
    print(q.text)
    print()
    print(q.program)
    if args.reveal:
        print("Answer:")
        print(_shown(q.solution()))
        print()
        print(q.explanation)
        agrees = q.verify()
        runs = q.last_run if isinstance(q.last_run, list) else [q.last_run]
        print()
        print(
            f"Confirmed by {'a contained run' if len(runs) == 1 else f'{len(runs)} contained runs'}:"
        )
        print(runs[-1].transcript(output=True))
        print("the kernel agrees" if agrees else "the kernel DISAGREES with the reference answer")
        return 0 if agrees else 1
    if sys.stdin.isatty():
        print("Your answer (end with Ctrl-D):", flush=True)
    answer = sys.stdin.read().strip()
    verdict = q.check(answer)
    print(verdict)
    if not verdict:
        print(f"(again: --seed {seed}; a hint: {q.hint()})")
    return 0 if verdict else 1


def _shown(answer: object) -> str:
    """An answer as the terminal takes it back."""
    if isinstance(answer, dict):
        return ", ".join(f"{k}={v}" for k, v in answer.items())
    if isinstance(answer, (set, frozenset)):
        return " ".join(sorted(answer))
    if isinstance(answer, list):
        return "\n\n".join(str(a) for a in answer)
    return str(answer)


def _demo(args: argparse.Namespace) -> int:
    from fork110 import demos

    if args.list or not args.name:
        for name in demos.names():
            try:
                d = demos.get(name)
            except ImportError:
                continue
            print(f"{name:14} {d.title}")
            print(f"{'':14} variants: {', '.join(d.variants)}")
        return 0
    try:
        demo = demos.get(args.name)
        limits = {
            k: v
            for k, v in (("timeout", args.timeout), ("max_processes", args.max_processes))
            if v is not None
        }
        language = "rust" if args.rust else "c" if args.c else "python"
        live = demo.start(args.fixed, language=language, **limits)
    except (ValueError, TypeError) as exc:
        print(f"fork110 demo: {exc}", file=sys.stderr)
        return 2
    with live:
        if not args.quiet:
            _header(demo.title, live.variant.title, live.language)
        try:
            _follow(live, quiet=args.quiet)
        except KeyboardInterrupt:
            print("\ninterrupted: the run was killed and reaped", file=sys.stderr)
            return 130
        result = live.result()
    print()
    print(result.explanation)
    print()
    print(result.run.summary())
    for note in result.notes:
        print(f"note: {note}")
    return 0


def _header(title: str, variant: str, language: str) -> None:
    line = f"{title} ({variant}, {language})"
    print(line)
    print("=" * len(line))


def _follow(live: object, quiet: bool) -> None:
    from fork110.demos._base import DemoRun

    assert isinstance(live, DemoRun)
    shown: tuple[tuple[str, str], ...] = ()
    last_tree = 0.0
    while not live.live.done:
        for event in live.live.poll(0.05):
            if not quiet and event.kind not in ("end",):
                print(f"  {event.describe()}")
        now = time.monotonic()
        if quiet or now - last_tree < 0.25 or live.live.done:
            continue
        snap = live.live.snapshot()
        shape = tuple((p.name, p.state) for p in snap)
        if shape and shape != shown:
            print(f"\n  process tree ({len(snap)} {'process' if len(snap) == 1 else 'processes'}):")
            print("\n".join("    " + line for line in snap.tree().splitlines()))
            print()
            shown, last_tree = shape, now
    if not quiet:
        for event in live.live.poll(0.0):
            print(f"  {event.describe()}")


if __name__ == "__main__":
    sys.exit(main())
