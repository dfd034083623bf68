"""Every notebook has a MyST Markdown twin in sources/ with the same cells (see jupytext.toml).

A reviewer reads and diffs the .md; nbval and Colab use the .ipynb with its outputs. If this fails,
run `make sync` (the newer file of each pair wins), then `make execute NB=...` for a changed notebook.
"""

from pathlib import Path

import nbformat
import pytest

jupytext = pytest.importorskip("jupytext")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("**/*.ipynb"))
NOTEBOOKS = [p for p in NOTEBOOKS if ".ipynb_checkpoints" not in p.parts]


def twin(path: Path) -> Path:
    return ROOT / "sources" / path.relative_to(ROOT / "notebooks").with_suffix(".md")


def cells(nb) -> list[tuple[str, str, tuple[str, ...]]]:
    return [
        (c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", [])))
        for c in nb.cells
        if c.cell_type in ("code", "markdown")
    ]


def test_every_notebook_is_paired():
    assert len(NOTEBOOKS) >= 16
    missing = [str(p.relative_to(ROOT)) for p in NOTEBOOKS if not twin(p).exists()]
    assert not missing, f"no sources/ twin for {missing}: run `make sync`"
    stray = [
        str(md.relative_to(ROOT))
        for md in (ROOT / "sources").glob("**/*.md")
        if not (ROOT / "notebooks" / md.relative_to(ROOT / "sources"))
        .with_suffix(".ipynb")
        .exists()
    ]
    assert not stray, f"sources without a notebook: {stray}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_pair_has_the_same_cells(path):
    ipynb = cells(nbformat.read(path, as_version=4))
    md = cells(jupytext.read(twin(path)))
    assert len(md) == len(ipynb), (
        f"{path.name}: {len(ipynb)} cells, its twin {len(md)}: run `make sync`"
    )
    for i, (a, b) in enumerate(zip(ipynb, md, strict=True)):
        assert a == b, f"{path.name}: cell {i} differs from {twin(path).name}: run `make sync`"
