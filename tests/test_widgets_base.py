"""The shared explorer plumbing: controls redraw, state follows, margins replace constrained layout."""

import ipywidgets as widgets
import pytest

from attention_utils.widgets import Explorer, LiveFigure


def test_text_explorer_follows_its_control():
    slider = widgets.IntSlider(value=2, min=0, max=9)
    ex = Explorer({"n": slider}, update=lambda n: {"text": f"square {n * n}", "square": n * n})
    assert ex.state["square"] == 4 and ex.text.value == "square 4" and ex.image is None
    slider.value = 7
    assert ex.state["square"] == 49 and ex.redraws == 2
    assert repr(ex) == "Explorer(n)", "no memory address in a stored repr"


def test_figure_explorer_renders_png_and_css_hooks():
    def draw(fig, width):
        ax = fig.add_subplot()
        ax.plot([0, width], [0, 1])
        return {"width": width}

    box = widgets.FloatSlider(value=1.0, min=0.5, max=2.0)
    ex = Explorer({"width": box}, figure=LiveFigure(draw, figsize=(2, 1.5), margins={"left": 0.2}))
    first = ex.image.value
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    box.value = 2.0
    assert ex.state == {"width": 2.0} and ex.image.value != first
    assert "au-explorer" in ex.widget._dom_classes and "au-control-width" in box._dom_classes


def test_margins_replace_constrained_layout():
    fixed = LiveFigure(lambda fig: None, margins={"left": 0.3, "bottom": 0.25})
    fixed.render()
    assert fixed.fig.get_layout_engine() is None
    assert fixed.fig.subplotpars.left == pytest.approx(0.3)
    assert LiveFigure(lambda fig: None).fig.get_layout_engine() is not None


def test_exactly_one_of_update_and_figure():
    with pytest.raises(ValueError, match="exactly one"):
        Explorer({}, update=None, figure=None)
