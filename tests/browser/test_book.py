"""The static book (`make book`, in _build/html) in headless Chromium, served on 127.0.0.1.

Checks: every page opens; no broken internal link (file and #anchor) or image; every lesson page has
as many figures as its notebook stores, each with a non-zero size, its Colab badge and prev/next
links; math is typeset by the book's own offline MathJax (output elements present, no error, no raw
`$$` or `\\(` left in the text); the index lists every lesson; the search page finds "softmax".
Screenshots: _screenshots/book_index.png and _screenshots/book_lesson.png.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import nbformat
import pytest

from .conftest import ROOT, static_server

HTML = ROOT / "_build" / "html"
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((ROOT / "notebooks" / "solutions").glob("[0-9][0-9]_*.ipynb"))
NOTEBOOKS = LESSONS + SOLUTIONS


def _stale() -> bool:
    index = HTML / "index.html"
    if not index.exists():
        return True
    built = index.stat().st_mtime
    sources = [*NOTEBOOKS, *(ROOT / "book").rglob("*"), ROOT / "tools" / "build_book.py"]
    return any(p.is_file() and p.stat().st_mtime > built for p in sources)


@pytest.fixture(scope="module")
def site():
    if _stale():
        done = subprocess.run(
            [sys.executable, str(ROOT / "tools" / "build_book.py")], cwd=ROOT, timeout=600
        )
        assert done.returncode == 0, "make book failed"
    with static_server(HTML) as base:
        yield base


def page_of(nb: Path) -> str:
    return nb.relative_to(ROOT).with_suffix(".html").as_posix()


def stored_figures(nb: Path) -> int:
    book = nbformat.read(nb, as_version=4)
    return sum(
        1
        for cell in book.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if any(k.startswith("image/") for k in out.get("data", {}))
    )


def has_math(nb: Path) -> bool:
    book = nbformat.read(nb, as_version=4)
    return any(c.cell_type == "markdown" and "$" in c.source for c in book.cells)


WAIT_FOR_MATHJAX = """() => new Promise(resolve => {
    if (!window.MathJax || !MathJax.Hub) { resolve(false); return; }
    MathJax.Hub.Queue(() => resolve(true));
})"""

PAGE_FACTS = """() => {
    const main = document.querySelector('main') || document.body;
    const clone = main.cloneNode(true);
    clone.querySelectorAll('pre, code, script, .MathJax_Preview').forEach(e => e.remove());
    return {
        links: [...document.querySelectorAll('a[href]')].map(a => a.href),
        images: [...document.querySelectorAll('img')].map(i => ({
            src: i.currentSrc || i.src, w: i.naturalWidth, h: i.naturalHeight,
            output: !!i.closest('.cell_output'), box: i.getBoundingClientRect().width,
        })),
        ids: [...document.querySelectorAll('[id]')].map(e => e.id),
        mathjax: document.querySelectorAll('.MathJax, .MathJax_Display, .MathJax_CHTML, .MathJax_SVG').length,
        mathErrors: document.querySelectorAll('.MathJax_Error, merror, .mjx-merror').length,
        text: clone.innerText,
        colab: [...document.querySelectorAll('a[href*="colab.research.google.com"] img')]
            .map(i => i.naturalWidth),
        prevNext: [...document.querySelectorAll('.prev-next-area a')].map(a => a.href),
        mathjaxSrc: [...document.querySelectorAll('script[src*="MathJax"]')].map(s => s.src),
    };
}"""


def visit(page, url: str) -> dict:
    page.goto(url, wait_until="load", timeout=60_000)
    page.wait_for_function("() => [...document.images].every(i => i.complete)", timeout=30_000)
    facts = page.evaluate(PAGE_FACTS)
    if facts["mathjaxSrc"]:
        assert page.evaluate(WAIT_FOR_MATHJAX), f"{url}: MathJax did not start"
        facts = page.evaluate(PAGE_FACTS)
    return facts


def test_every_page(site, page, screenshots):
    pages = sorted(
        p.relative_to(HTML).as_posix() for p in HTML.rglob("*.html") if "_static" not in p.parts
    )
    assert len(pages) >= 3 + len(NOTEBOOKS), pages
    facts = {}
    for rel in pages:
        facts[rel] = visit(page, f"{site}/{rel}")
        if rel == "intro.html":
            page.screenshot(path=str(screenshots / "book_index.png"), full_page=False)
        if LESSONS and rel == page_of(LESSONS[min(2, len(LESSONS) - 1)]):
            page.screenshot(path=str(screenshots / "book_lesson.png"), full_page=False)

    problems = []
    ids = {rel: set(f["ids"]) for rel, f in facts.items()}
    checked = set()
    for rel, f in facts.items():
        for link in f["links"] + [img["src"] for img in f["images"]]:
            if not link.startswith(site) or link in checked:
                continue
            checked.add(link)
            parsed = urllib.parse.urlsplit(link)
            path = urllib.parse.unquote(parsed.path).lstrip("/") or "index.html"
            if path.endswith("/"):
                path += "index.html"
            if not (HTML / path).is_file():
                problems.append(f"{rel}: broken link {link}")
            elif parsed.fragment and path in ids and parsed.fragment not in ids[path]:
                problems.append(f"{rel}: no #{parsed.fragment} in {path}")
        for img in f["images"]:
            if img["src"].startswith(site) and (img["w"] == 0 or img["h"] == 0):
                problems.append(f"{rel}: image {img['src']} did not load")
        if "$$" in f["text"] or "\\(" in f["text"] or "\\[" in f["text"]:
            problems.append(f"{rel}: raw math delimiters left in the text")
        if f["mathErrors"]:
            problems.append(f"{rel}: {f['mathErrors']} MathJax errors")
        if any("://" in s and not s.startswith(site) for s in f["mathjaxSrc"]):
            problems.append(f"{rel}: MathJax loaded from outside the book {f['mathjaxSrc']}")
    assert not problems, "\n".join(problems)

    for nb in NOTEBOOKS:
        rel = page_of(nb)
        assert rel in facts, f"no page for {nb.name}"
        f = facts[rel]
        shown = [i for i in f["images"] if i["output"] and i["w"] > 0 and i["box"] > 0]
        want = stored_figures(nb)
        assert len(shown) >= want, f"{rel}: {len(shown)} figures shown, {want} stored"
        if nb in LESSONS:
            assert f["colab"] and all(w > 0 for w in f["colab"]), f"{rel}: no Colab badge"
        assert f["prevNext"], f"{rel}: no prev/next links"
        if has_math(nb):
            assert f["mathjax"] > 0, f"{rel}: math not typeset"

    index_links = {
        urllib.parse.urlsplit(link).path.lstrip("/") for link in facts["intro.html"]["links"]
    }
    for nb in LESSONS:
        assert page_of(nb) in index_links, f"the index does not link {nb.name}"


def test_search_finds_softmax(site, page, screenshots):
    page.goto(f"{site}/search.html?q=softmax", wait_until="load", timeout=60_000)
    page.wait_for_function(
        "() => document.querySelectorAll('#search-results li, ul.search li').length > 0",
        timeout=60_000,
    )
    hits = page.eval_on_selector_all("ul.search li a", "els => els.map(a => a.href)")
    assert any("notebooks/" in h for h in hits), hits
    page.screenshot(path=str(screenshots / "book_search.png"))


def test_the_book_is_served_offline(site):
    # The MathJax the pages load comes from the book itself.
    with urllib.request.urlopen(f"{site}/_static/mathjax/MathJax.js", timeout=10) as r:
        assert r.status == 200 and b"MathJax" in r.read(2000)
