"""Run notebooks top to bottom in a fresh kernel and store their outputs in place.

Usage: python tools/execute_notebooks.py notebooks/01_attention_cues.ipynb [more.ipynb ...]

This is how stored outputs are made, so they are exactly what strict nbval sees: one clean run,
execution counts 1..n, no saved widget state. Use it through `make execute NB=...`, which sets the
same thread count and seeds as `make test`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def execute(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        # nbclient's Output-widget handling raises a KeyError when widget state is not stored
        # (ipywidgets.interact uses Output widgets), so store it here and drop it below.
        store_widget_state=True,
    )
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    nb.metadata.pop("widgets", None)  # saved widget state breaks GitHub's rendering
    for cell in nb.cells:  # without their state, widget outputs only show "VBox(children=...)"
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if WIDGET_MIME not in o.get("data", {})]
    nbformat.write(nb, path)
    return elapsed


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__)
        return 2
    for p in paths:
        seconds = execute(Path(p))
        print(f"{seconds:6.1f} s  {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
