"""Write copies of the lessons without outputs, for students who want to type along.

Usage: python tools/student_copies.py [OUT_DIR]   (default: student/, which git ignores)

Only the lessons are copied (notebooks/NN_*.ipynb), never the solutions. Outputs and execution counts
are cleared; the exercises stay as they are in the lessons, unsolved.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def write_student_copies(out_dir: Path, notebooks: Path = ROOT / "notebooks") -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(notebooks.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
                cell.metadata.pop("execution", None)
        nb.metadata.pop("widgets", None)
        target = out_dir / path.name
        nbformat.write(nb, target)
        written.append(target)
    return written


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "student"
    for p in write_student_copies(out):
        print(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p)
