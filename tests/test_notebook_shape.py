"""Every notebook follows the lesson template in CONTRIBUTING.md and is stored from one clean run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from attention_utils._project import COLAB_INSTALL, colab_badge

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((ROOT / "notebooks" / "solutions").glob("[0-9][0-9]_*.ipynb"))
MAX_BYTES = 1_500_000


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def outputs_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if "text" in out:
            parts.append("".join(out["text"]))
        parts.append("".join(out.get("data", {}).get("text/plain", "")))
    return "".join(parts)


def test_the_series_has_lessons_and_solutions():
    assert len(LESSONS) >= 2, "notebooks/ should hold the numbered lessons"
    assert {p.name[:2] for p in SOLUTIONS} == {p.name[:2] for p in LESSONS}, (
        "every lesson needs a solutions notebook with the same number in notebooks/solutions/"
    )
    numbers = [int(p.name[:2]) for p in LESSONS]
    assert numbers == list(range(1, len(LESSONS) + 1)), (
        f"lessons must be numbered 01..NN without gaps: {numbers}"
    )


@pytest.mark.parametrize("path", LESSONS + SOLUTIONS, ids=rel)
def test_stored_state_is_one_clean_run(path):
    assert path.stat().st_size < MAX_BYTES, (
        f"{rel(path)} is {path.stat().st_size} bytes; keep figures small"
    )
    nb = load(path)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    counts = [c.get("execution_count") for c in code]
    assert counts == list(range(1, len(code) + 1)), "re-run top to bottom: make execute NB=..."
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"error output stored: {errors[0].get('ename')}"
    assert "widgets" not in nb["metadata"], (
        "saved widget state breaks GitHub rendering; do not store it"
    )
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", LESSONS + SOLUTIONS, ids=rel)
def test_title_badge_and_setup_cell(path):
    cells = load(path)["cells"]
    first = source(cells[0])
    assert cells[0]["cell_type"] == "markdown"
    assert re.match(rf"# {path.name[:2]} · \S", first), "the first line is '# NN · Title'"
    assert colab_badge(rel(path)) in first, (
        "the Colab badge must come from attention_utils._project.colab_badge"
    )
    setup = next(c for c in cells if c["cell_type"] == "code")
    text = source(setup)
    assert COLAB_INSTALL in text, (
        "the setup cell installs the package on Colab with _project.COLAB_INSTALL"
    )
    assert 'if "google.colab" in sys.modules:' in text, "install only when running on Colab"
    assert "au.setup_lesson(" in text, "the setup cell seeds everything with au.setup_lesson"


def headings(cells) -> list[str]:
    return [
        line
        for c in cells
        if c["cell_type"] == "markdown"
        for line in source(c).splitlines()
        if line.startswith("#")
    ]


@pytest.mark.parametrize("path", LESSONS, ids=rel)
def test_lesson_template(path):
    cells = load(path)["cells"]
    heads = headings(cells)
    for part in ("## What you will learn", "## Summary", "## Exercises"):
        assert any(h.strip().startswith(part) for h in heads), f"missing section '{part}'"
    start = next(
        i
        for i, c in enumerate(cells)
        if c["cell_type"] == "markdown" and "## Exercises" in source(c)
    )
    after = cells[start:]
    text = "\n".join(source(c) for c in after if c["cell_type"] == "markdown")
    numbered = set(re.findall(r"(?m)^\s*(?:#{2,4}\s*)?(?:\*\*)?(?:Exercise\s+)?(\d+)[.):]", text))
    assert len(numbered) >= 3, f"at least 3 numbered exercises, found {sorted(numbered)}"
    checks = [
        c for c in after if c["cell_type"] == "code" and re.search(r"\bcheck_\w+\(", source(c))
    ]
    assert checks, (
        "at least one exercise is auto-checked with a checker from attention_utils.exercises"
    )
    assert any("NotImplementedError" in source(c) for c in after), (
        "the lesson leaves exercise stubs unsolved"
    )


@pytest.mark.parametrize("path", SOLUTIONS, ids=rel)
def test_solutions_pass_their_checkers(path):
    cells = load(path)["cells"]
    text = "".join(outputs_text(c) for c in cells if c["cell_type"] == "code")
    assert "✅" in text, "a solutions notebook shows at least one checker passing"
    assert "❌" not in text, "a solutions notebook must not leave a checker failing"
