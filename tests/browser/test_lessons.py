"""Lessons in a real browser: JupyterLab and Notebook 7, driven by headless Chromium.

For each chosen lesson (AU_BROWSER_LESSONS, default "01 02 07") and each interface: open a copy of the
notebook, clear its outputs, run all cells, wait (bounded) until the kernel is idle with every cell
run, then assert
- no cell has an error output;
- every static figure the run produced is an <img> that loaded with a non-zero size;
- every widget output rendered as a widget (no "Error displaying widget");
- in every explorer (`.au-explorer`, see attention_utils/widgets/_base.py; for a lesson with widgets
  but no explorer, each widget output), moving its first control changes what it shows: a slider is
  dragged with the mouse (keyboard arrows do not reach sliders in Notebook 7), else a text box gets
  new text (its old text reversed), else a dropdown another option, else toggle buttons or radio
  buttons another option, else a checkbox a click; the image's src or the text must change.
The test knows nothing about a particular widget. Screenshots: _screenshots/<app>_<lesson>_*.png.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

import nbformat
import pytest

from .conftest import ROOT, TOKEN, jupyter_server

LESSONS = os.environ.get("AU_BROWSER_LESSONS", "01 02 07").split()
RUN_TIMEOUT = float(os.environ.get("AU_BROWSER_RUN_TIMEOUT", "600"))  # seconds per notebook


def notebook_for(number: str) -> Path:
    found = sorted((ROOT / "notebooks").glob(f"{number}_*.ipynb"))
    if not found:
        pytest.skip(f"no lesson {number} in notebooks/")
    return found[0]


def uses_widgets(nb: Path) -> bool:
    book = nbformat.read(nb, as_version=4)
    return any(c.cell_type == "code" and "widgets" in c.source for c in book.cells)


@pytest.fixture(scope="module", params=["lab", "notebook"])
def server(request):
    with jupyter_server(request.param) as base:
        yield request.param, base


KERNEL_STATUS = """() => {
    const app = window.jupyterapp;
    const w = app && app.shell && app.shell.currentWidget;
    const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
    return k ? k.status : (app ? 'no kernel yet' : 'no app yet');
}"""

RUN_ALL = """async () => {
    const app = window.jupyterapp;
    await app.commands.execute('notebook:clear-all-cell-outputs');
    await app.commands.execute('notebook:run-all-cells');
    return true;
}"""

PROGRESS = """() => {
    const w = window.jupyterapp.shell.currentWidget;
    const k = w.sessionContext.session && w.sessionContext.session.kernel;
    const cells = w.content.widgets.filter(c => c.model.type === 'code');
    const errors = [], images = [], widgets = [];
    let pending = 0, running = 0;
    for (const c of cells) {
        if (c.model.sharedModel.getSource().trim() && c.model.executionCount === null) pending++;
        const prompt = c.node.querySelector('.jp-InputPrompt');
        if (prompt && prompt.textContent.includes('*')) running++;
        for (const o of c.model.outputs.toJSON()) {
            if (o.output_type === 'error') errors.push(`${o.ename}: ${o.evalue}`);
            const data = o.data || {};
            if (data['application/vnd.jupyter.widget-view+json']) widgets.push(1);
            else if (Object.keys(data).some(m => m.startsWith('image/'))) images.push(1);
        }
    }
    return {status: k ? k.status : 'none', cells: cells.length, pending, running, errors,
            images: images.length, widgets: widgets.length};
}"""

# Every query is scoped to the notebook on show (JupyterLab keeps other tabs' nodes, hidden).
ROOT_NODE = "window.jupyterapp.shell.currentWidget.node"

STATIC_IMAGES = f"""() => [...{ROOT_NODE}.querySelectorAll('.jp-OutputArea-output img')]
    .filter(i => !i.closest('.jupyter-widgets'))
    .map(i => {{ i.scrollIntoView({{block: 'center'}}); const r = i.getBoundingClientRect();
        return {{w: i.naturalWidth, h: i.naturalHeight, bw: r.width, bh: r.height, complete: i.complete}}; }})"""

# A widget output is an output area without a MIME type attribute (JupyterLab and Notebook 7 set one
# for every other output), not nested inside another widget (an ipywidgets Output has its own).
WIDGET_OUTPUTS = f"""[...{ROOT_NODE}.querySelectorAll('.jp-OutputArea-output:not([data-mime-type])')]
    .filter(o => !o.parentElement.closest('.jupyter-widgets'))"""

WIDGET_VIEWS = f"""() => ({WIDGET_OUTPUTS}).map(o => ({{
    rendered: !!o.querySelector(':scope > .jupyter-widgets'), text: o.innerText.slice(0, 200)}}))"""

# Mark the explorers (or, for a lesson with widgets but no explorer, each widget output) and return
# how many there are. Marking with a data attribute lets playwright address each one.
MARK_EXPLORERS = """() => {
    document.querySelectorAll('[data-au-test]').forEach(e => e.removeAttribute('data-au-test'));
    let found = [...ROOT_NODE_HERE.querySelectorAll('.au-explorer')];
    let kind = 'au-explorer';
    if (!found.length) {
        kind = 'widget output';
        found = WIDGET_OUTPUTS_HERE;
    }
    found.forEach((e, i) => e.setAttribute('data-au-test', String(i)));
    return {kind, n: found.length};
}""".replace("WIDGET_OUTPUTS_HERE", WIDGET_OUTPUTS).replace("ROOT_NODE_HERE", ROOT_NODE)

SHOWN = """(e) => {
    const imgs = [...e.querySelectorAll('img')].map(i => i.currentSrc || i.src);
    const texts = [...e.querySelectorAll('.au-text, .widget-html, .widget-output, .widget-readout')]
        .map(t => t.innerText);
    return JSON.stringify({imgs, texts});
}"""


def wait_until(page, fn, timeout: float, what: str, poll: float = 1.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = page.evaluate(fn)
        if (
            last is not None
            and last is not False
            and (not isinstance(last, dict) or last.get("ok"))
        ):
            return last
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last: {last}")


def run_all_and_wait(page, name: str) -> dict:
    deadline = time.monotonic() + RUN_TIMEOUT
    wait_until(
        page, f"() => ({KERNEL_STATUS})() === 'idle'", 180, f"{name}: kernel to start and go idle"
    )
    page.evaluate(RUN_ALL)
    time.sleep(2)
    idle_polls = 0
    state = None
    while time.monotonic() < deadline:
        state = page.evaluate(PROGRESS)
        finished = state["status"] == "idle" and state["running"] == 0
        finished = finished and (state["pending"] == 0 or state["errors"])
        idle_polls = idle_polls + 1 if finished else 0
        if idle_polls >= 3:  # idle three polls in a row: not a gap between two cells
            return state
        time.sleep(1)
    raise AssertionError(f"{name}: not finished within {RUN_TIMEOUT:.0f} s; last state {state}")


def move_control(page, explorer) -> str:
    """Move the explorer's first control; return what was moved."""
    handle = explorer.locator(".noUi-handle, .ui-slider-handle").first
    if handle.count():
        track = explorer.locator(".noUi-base, .ui-slider").first
        handle.scroll_into_view_if_needed()
        h, t = handle.bounding_box(), track.bounding_box()
        x0, y = h["x"] + h["width"] / 2, h["y"] + h["height"] / 2
        left, right = t["x"] + 0.2 * t["width"], t["x"] + 0.8 * t["width"]
        x1 = left if abs(x0 - left) > abs(x0 - right) else right
        page.mouse.move(x0, y)
        page.mouse.down()
        page.mouse.move(x1, y, steps=12)
        page.mouse.up()
        return f"dragged the slider {x1 - x0:+.0f} px"
    box = explorer.locator("input[type=text], textarea").first
    if box.count():
        old = box.input_value()
        new = old[::-1] if old[::-1] != old else old + "1"
        box.fill(new)
        box.press("Enter")
        return f"typed {new!r} (was {old!r})"
    select = explorer.locator("select").first
    if select.count():
        options = select.locator("option").all_inner_texts()
        current = select.input_value()
        other = next(o for o in options if o != current)
        select.select_option(label=other)
        return f"chose {other!r} (was {current!r})"
    toggles = explorer.locator(".widget-toggle-buttons button, .widget-radio-box input")
    if toggles.count() > 1:
        for i in range(toggles.count()):
            button = toggles.nth(i)
            active = button.evaluate(
                "b => b.classList.contains('mod-active') || b.checked === true"
            )
            if not active:
                label = button.inner_text() or button.evaluate("b => b.value")
                button.click()
                return f"clicked the option {label!r}"
    checkbox = explorer.locator("input[type=checkbox], .widget-toggle-button").first
    if checkbox.count():
        checkbox.click()
        return "clicked the checkbox"
    number = explorer.locator("input[type=number]").first
    if number.count():
        old = number.input_value()
        number.fill(str(float(old or 0) + 1))
        number.press("Enter")
        return f"typed {float(old or 0) + 1} (was {old})"
    html = explorer.evaluate("e => e.outerHTML.slice(0, 1500)")
    raise AssertionError(
        f"the explorer has no slider, text box, dropdown, option or checkbox: {html}"
    )


@pytest.mark.parametrize("number", LESSONS)
def test_lesson_runs_and_widgets_respond(server, number, page, screenshots):
    app, base = server
    nb = notebook_for(number)
    # ?reset: JupyterLab opens this notebook alone, not the tabs of the tests before.
    url = f"{base}/lab/tree/{nb.name}?reset&" if app == "lab" else f"{base}/notebooks/{nb.name}?"
    page.goto(f"{url}token={TOKEN}", wait_until="domcontentloaded", timeout=120_000)
    try:
        check_lesson(app, number, nb, page, screenshots)
    finally:
        # Stop the kernel and drop the (unsaved) notebook, so the next lesson starts alone.
        with contextlib.suppress(Exception):
            page.evaluate(SHUT_DOWN)


SHUT_DOWN = """async () => {
    const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    if (w && w.sessionContext) { await w.sessionContext.shutdown(); w.dispose(); }
}"""


def check_lesson(app, number, nb, page, screenshots):
    state = run_all_and_wait(page, f"{app} {nb.name}")
    tag = f"{app}_{number}"
    page.screenshot(path=str(screenshots / f"{tag}_after_run.png"))
    report = [
        f"{app} {nb.name}: {state['cells']} code cells, {state['images']} figures, {state['widgets']} widget outputs"
    ]

    assert not state["errors"], f"{nb.name} raised: {state['errors']}"
    assert state["pending"] == 0, f"{nb.name}: {state['pending']} cells never ran"

    images = wait_until(
        page,
        f"() => {{ const i = ({STATIC_IMAGES})(); return i.every(x => x.complete) ? i : null; }}",
        60,
        "figures to load",
    )
    assert len(images) >= state["images"], f"{len(images)} <img> for {state['images']} figures"
    bad = [i for i in images if not (i["w"] > 0 and i["h"] > 0 and i["bw"] > 0 and i["bh"] > 0)]
    assert not bad, f"{nb.name}: figures with zero size: {bad}"

    if uses_widgets(nb):
        assert state["widgets"] > 0, f"{nb.name} builds widgets but shows none"
    if state["widgets"]:
        views = wait_until(
            page,
            f"() => {{ const v = ({WIDGET_VIEWS})(); return v.length && v.every(x => x.rendered) ? v : null; }}",
            60,
            "widgets to render",
        )
        assert len(views) == state["widgets"]
        broken = [v["text"] for v in views if "Error displaying widget" in v["text"]]
        assert not broken, broken
        marked = page.evaluate(MARK_EXPLORERS)
        assert marked["n"] > 0
        for i in range(marked["n"]):
            explorer = page.locator(f'[data-au-test="{i}"]')
            explorer.scroll_into_view_if_needed()
            # The explorer's image (if any) must have loaded before the move.
            before = explorer.evaluate(SHOWN)
            explorer.screenshot(path=str(screenshots / f"{tag}_explorer{i}_before.png"))
            moved = move_control(page, explorer)
            deadline = time.monotonic() + 60
            after = before
            while time.monotonic() < deadline and after == before:
                time.sleep(0.5)
                after = explorer.evaluate(SHOWN)
            # Let the rest of the redraw land (text and image arrive as separate messages).
            settle = time.monotonic() + 20
            while time.monotonic() < settle:
                time.sleep(1.5)
                latest = explorer.evaluate(SHOWN)
                if latest == after:
                    break
                after = latest
            explorer.screenshot(path=str(screenshots / f"{tag}_explorer{i}_after.png"))
            assert after != before, f"{nb.name} {marked['kind']} {i}: {moved}, but nothing changed"
            what = json.loads(after)
            was = json.loads(before)
            changed = " and ".join(
                part
                for part, key in (("image", "imgs"), ("text", "texts"))
                if what[key] != was[key]
            )
            report.append(f"  {marked['kind']} {i}: {moved} -> the {changed} changed")
    (screenshots / f"{tag}_report.txt").write_text("\n".join(report) + "\n")
    print("\n".join(report))
