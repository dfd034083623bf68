"""The plumbing every explorer shares: a reusable figure rendered to PNG, and controls wired to it.

Why an ``Image`` widget and not ``interactive_output``: the image's bytes are replaced in place, so the
page keeps one ``<img>`` element (a browser test can re-query it), nothing flickers, and the figure
object is reused between moves (no new pyplot figure per move, no backend needed).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import Any

from matplotlib.figure import Figure

__all__ = ["Explorer", "LiveFigure", "figure_png"]


def figure_png(fig: Figure, dpi: int = 80) -> bytes:
    """Render a matplotlib Figure (made with ``matplotlib.figure.Figure``, no pyplot) to PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


class LiveFigure:
    """One Figure that ``draw(fig, **values)`` clears and redraws; ``png()`` renders it.

    ``draw`` receives the figure and the controls' current values and returns a dict of what it now
    shows (numbers, strings), which becomes the explorer's ``state``.

    ``margins`` (a dict for ``Figure.subplots_adjust``, e.g. ``dict(left=0.1, bottom=0.15)``) swaps
    matplotlib's constrained layout, which is most of a redraw's time, for fixed margins.
    """

    def __init__(
        self,
        draw: Callable[..., Mapping[str, Any] | None],
        figsize=(6, 3.2),
        dpi=80,
        *,
        margins: Mapping[str, float] | None = None,
    ):
        self.margins = dict(margins) if margins is not None else None
        layout = "constrained" if self.margins is None else None
        self.fig = Figure(figsize=figsize, layout=layout)
        self.draw = draw
        self.dpi = dpi

    def render(self, **values) -> tuple[bytes, dict[str, Any]]:
        self.fig.clear()
        if self.margins is not None:
            self.fig.subplots_adjust(**self.margins)  # again after every clear()
        shown = self.draw(self.fig, **values) or {}
        return figure_png(self.fig, self.dpi), dict(shown)


class Explorer:
    """A widget made of named controls and outputs, redrawn whenever a control's value changes.

    Parameters
    ----------
    controls:
        name -> an ipywidgets control with a ``value`` (slider, dropdown, checkbox, text box).
    update:
        ``update(**values) -> dict``: computes what to show. If ``figure`` is given, it is called as
        ``draw(fig, **values)`` instead (see :class:`LiveFigure`). The returned dict is stored in
        ``state``; its ``"text"`` entry, if any, is shown as HTML under the controls.
    figure:
        a :class:`LiveFigure`, or None for a text-only explorer.

    Attributes
    ----------
    controls, state (what is shown now), image (the ``ipywidgets.Image`` or None), text (an
    ``ipywidgets.HTML``), widget (the container to display), redraws (how many times it redrew).
    """

    def __init__(
        self,
        controls: Mapping[str, Any],
        update: Callable[..., Mapping[str, Any] | None] | None = None,
        figure: LiveFigure | None = None,
        title: str | None = None,
    ):
        import ipywidgets as widgets

        if (update is None) == (figure is None):
            raise ValueError("give exactly one of update= and figure=")
        self.controls = dict(controls)
        self._update = update
        self._figure = figure
        self.state: dict[str, Any] = {}
        self.redraws = 0
        self.text = widgets.HTML()
        self.image = widgets.Image(format="png") if figure is not None else None
        for name, control in self.controls.items():
            control.observe(self._on_change, names="value")
            control.add_class(f"au-control-{name}")  # stable hooks for the browser test
        children = []
        if title:
            children.append(widgets.HTML(f"<b>{title}</b>"))
        children.append(widgets.HBox(list(self.controls.values())))
        children.append(self.text)
        if self.image is not None:
            children.append(self.image)
        self.text.add_class("au-text")
        if self.image is not None:
            self.image.add_class("au-image")
        self.widget = widgets.VBox(children)
        self.widget.add_class("au-explorer")
        self.refresh()

    def values(self) -> dict[str, Any]:
        return {name: control.value for name, control in self.controls.items()}

    def refresh(self) -> None:
        """Recompute and redraw from the controls' current values."""
        values = self.values()
        if self._figure is not None:
            png, shown = self._figure.render(**values)
            self.image.value = png
        else:
            shown = dict(self._update(**values) or {})
        self.state = shown
        self.text.value = str(shown.get("text", ""))
        self.redraws += 1

    def _on_change(self, _change) -> None:
        self.refresh()

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    def __repr__(self) -> str:
        # A plain repr, so a stray text/plain output never holds a memory address.
        return f"Explorer({', '.join(self.controls)})"
