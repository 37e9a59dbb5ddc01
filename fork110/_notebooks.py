"""Re-execute course notebooks in place, storing fresh outputs (``make notebooks``).

Each notebook runs top to bottom in a fresh kernel of this interpreter, with a time limit per cell;
execution counts are renumbered and timing metadata dropped so that diffs show only real changes.
After the run, no process the notebook started may still be alive (the kernel's own tree is checked).

Each notebook is stamped (``metadata.fork110.package``) with :func:`package_hash`, a hash of the
package's sources it was executed against; ``tests/test_exercises_notebooks.py`` fails when a
stamp differs from the sources now (the stored outputs are stale: run ``make notebooks``).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

__all__ = ["SOURCES", "execute", "main", "package_hash", "stamp"]

SOURCES = (".py", ".c", ".cpp", ".h")
"""The files whose content the stamp covers: what a notebook's outputs can depend on."""


def package_hash(root: Path | None = None) -> str:
    """A hash of the package's sources (every ``.py``, ``.c``, ``.cpp``, ``.h`` under ``fork110/``,
    by relative path and content), the same on every machine.

    >>> len(package_hash()), package_hash() == package_hash()
    (64, True)
    """
    base = Path(__file__).resolve().parent if root is None else root
    digest = hashlib.sha256()
    for path in sorted(
        p for p in base.rglob("*") if p.suffix in SOURCES and "__pycache__" not in p.parts
    ):
        digest.update(path.relative_to(base).as_posix().encode() + b"\0")
        digest.update(path.read_bytes().replace(b"\r\n", b"\n") + b"\0")
    return digest.hexdigest()


def stamp(nb: object) -> str | None:
    """The package hash a notebook (as nbformat reads it) was executed against, if stamped."""
    meta = getattr(nb, "metadata", {})
    value = meta.get("fork110", {}).get("package") if isinstance(meta, dict) else None
    return value if isinstance(value, str) else None


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
    nb.metadata.setdefault("fork110", {})["package"] = package_hash()
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
