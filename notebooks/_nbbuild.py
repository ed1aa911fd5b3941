"""Shared tail of the notebook builders: write a notebook with stable cell ids, execute it to check
that it runs, and print what its cells printed."""

from __future__ import annotations

import pathlib
import time

import nbformat
from nbformat.v4 import new_notebook

KERNELSPEC = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}


def write(cells, path: pathlib.Path, id_prefix: str | None = None) -> None:
    """Write ``cells`` to ``path`` (ids ``{id_prefix}-00``, ... so that rebuilding does not change
    the file)."""
    nb = new_notebook(cells=cells, metadata=KERNELSPEC)
    if id_prefix is not None:
        for i, cell in enumerate(nb.cells):
            cell.id = f"{id_prefix}-{i:02d}"
    nbformat.write(nb, path)
    print("wrote", path)


def execute(path: pathlib.Path, timeout: int = 600) -> None:
    """Run the notebook at ``path`` in its folder (a failing cell raises) and echo its stdout."""
    from nbclient import NotebookClient

    run = nbformat.read(path, as_version=4)
    t = time.perf_counter()
    NotebookClient(run, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    print(f"executed in {time.perf_counter() - t:.1f} s")
    for cell in run.cells:
        for out in cell.get("outputs", []):
            if out.get("name") == "stdout":
                print(out["text"], end="")
