"""Build the static site of the series (`make book`): Jupyter Book 1.x from the stored outputs.

Nothing is re-executed: the notebooks' stored outputs (what nbval compares) are what the site shows.
Steps: copy book/ and the notebooks into a staging folder (_build/src), write its table of contents
from notebooks/NN_*.ipynb and notebooks/solutions/NN_*.ipynb (a new lesson is picked up by its file
name alone), fill the index page's lesson table, point each lesson's Colab badge at a local copy of
the badge picture (the link still goes to Colab), copy MathJax 2.7 from the jupyter-server-mathjax
package (math renders offline), and run `jupyter-book build`. The site lands in _build/html.

    python tools/build_book.py            # or: make book
    python -m http.server -d _build/html  # then open http://127.0.0.1:8000
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
COLAB_BADGE_URL = "https://colab.research.google.com/assets/colab-badge.svg"
LESSON_GLOB = "[0-9][0-9]_*.ipynb"
TABLE_MARKER = "<!-- lessons: filled in by tools/build_book.py from notebooks/NN_*.ipynb -->"


def lessons(root: Path = ROOT) -> list[Path]:
    """The lesson notebooks, in order (notebooks/NN_name.ipynb)."""
    return sorted((root / "notebooks").glob(LESSON_GLOB))


def solutions(root: Path = ROOT) -> list[Path]:
    return sorted((root / "notebooks" / "solutions").glob(LESSON_GLOB))


def notebook_title(path: Path) -> str:
    """The text of the notebook's first level-1 heading, without the "NN · " prefix."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if match:
                return re.sub(r"^\d+\s*[·.:-]\s*", "", match.group(1).strip())
    return path.stem


def readme_summaries(root: Path = ROOT) -> dict[str, str]:
    """Lesson number -> the README table's "What you check by running it" cell (one source of truth)."""
    out = {}
    for line in (root / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and re.fullmatch(r"\d\d", cells[0]):
            out[cells[0]] = cells[2]
    return out


def lesson_table(root: Path = ROOT) -> str:
    summaries = readme_summaries(root)
    rows = ["| # | Lesson | What you check by running it |", "|---|--------|------|"]
    for path in lessons(root):
        number = path.name[:2]
        link = f"[{notebook_title(path)}](notebooks/{path.name})"
        rows.append(f"| {number} | {link} | {summaries.get(number, '')} |")
    return "\n".join(rows)


def toc(root: Path = ROOT) -> str:
    lines = [
        "# Written by tools/build_book.py from the notebooks present; do not edit.",
        "format: jb-book",
        "root: intro",
        "parts:",
    ]
    lines += ["  - caption: Lessons", "    chapters:"]
    lines += [f"      - file: notebooks/{p.stem}" for p in lessons(root)]
    sols = solutions(root)
    if sols:
        lines += ["  - caption: Worked solutions", "    chapters:"]
        lines += [f"      - file: notebooks/solutions/{p.stem}" for p in sols]
    return "\n".join(lines) + "\n"


def mathjax_dir() -> Path:
    spec = importlib.util.find_spec("jupyter_server_mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "jupyter-server-mathjax is not installed (it ships MathJax for offline math): run make setup"
        )
    static = Path(next(iter(spec.submodule_search_locations))) / "static"
    if not (static / "MathJax.js").is_file():
        raise SystemExit(f"no MathJax.js in {static}")
    return static


def stage(src: Path, root: Path = ROOT) -> None:
    """Copy the book's sources and the notebooks into src, ready for jupyter-book."""
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(BOOK, src)
    (src / "_toc.yml").write_text(toc(root), encoding="utf-8")
    intro = (src / "intro.md").read_text(encoding="utf-8")
    if TABLE_MARKER not in intro:
        raise SystemExit(f"book/intro.md lost its marker line {TABLE_MARKER!r}")
    (src / "intro.md").write_text(intro.replace(TABLE_MARKER, lesson_table(root)), encoding="utf-8")
    for path, sub in [(p, "notebooks") for p in lessons(root)] + [
        (p, "notebooks/solutions") for p in solutions(root)
    ]:
        depth = sub.count("/") + 1
        badge = "../" * depth + "_static/colab-badge.svg"
        text = path.read_text(encoding="utf-8").replace(COLAB_BADGE_URL, badge)
        (src / sub).mkdir(parents=True, exist_ok=True)
        (src / sub / path.name).write_text(text, encoding="utf-8")
    shutil.copytree(mathjax_dir(), src / "_mathjax_extra" / "_static" / "mathjax")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strict", action="store_true", help="fail on any Sphinx warning")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    build = ROOT / "_build"
    src = build / "src"
    stage(src)
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", str(src), "--path-output", str(ROOT), "--all", "-q"]
    if args.strict:
        cmd += ["-W", "--keep-going"]
    done = subprocess.run(cmd, cwd=ROOT)
    if done.returncode:
        return done.returncode
    html = build / "html"
    pages = sorted(p.relative_to(html) for p in html.rglob("*.html") if "_static" not in p.parts)
    seconds = time.perf_counter() - start
    print(f"book: {len(pages)} pages in {seconds:.1f} s -> {html.relative_to(ROOT)}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
