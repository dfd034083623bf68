"""Explorers for lesson 08: the online softmax on one row, and how far sliding-window attention reaches.

* :func:`online_softmax_explorer`: a block-size slider and a "blocks visited" slider over one row of
  scores. It draws the scores coloured by block with the running max ``m`` as a step line, and the
  running sum ``ℓ`` after each block; every block that raises the max (where the old sum is rescaled
  by ``e^{m - m'}``) is highlighted in the figure and in the table under the controls.
* :func:`window_reach_explorer`: window and layers sliders (and a causal switch) over a sequence of
  ``n`` tokens. It draws which inputs each output can depend on after that many stacked
  sliding-window layers: a band of half-width ``layers · window``.

Both draw functions (:func:`draw_online_softmax`, :func:`draw_window_reach`) take a matplotlib
Figure, so the lesson's static twin is the same picture as the widget's. Everything a move needs is
computed in milliseconds from small tensors (the traces and reach matrices are cached), so nothing is
retrained or recomputed at scale on a move.
"""

from __future__ import annotations

import html
import math
from functools import lru_cache

import torch
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from ..efficient import online_softmax_trace, sliding_window_reach
from ._base import Explorer, LiveFigure, figure_png

__all__ = [
    "demo_scores",
    "draw_online_softmax",
    "online_softmax_explorer",
    "draw_window_reach",
    "window_reach_explorer",
    "benchmark_cases",
]

RISE = "#d62728"  # the colour of "the running max rose here"
RESCALE = r"$e^{m - m'}$"
BLOCK_COLOURS = ("#4c72b0", "#8fb0d9")  # alternate blocks, so their borders show


def demo_scores(n: int = 16, seed: int = 0) -> torch.Tensor:
    """A row of ``n`` scores ``(n,)`` whose running max rises a few times: noise on a slow upward drift.

    Rounded to one decimal, so the same row (and the same figure) comes out on every machine.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an int >= 2, got {n!r}")
    g = torch.Generator().manual_seed(seed)
    drift = torch.linspace(0.0, 3.0, n)  # (n,)
    return torch.round((drift + 1.5 * torch.randn(n, generator=g)) * 10) / 10  # (n,)


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "−∞" if x < 0 else "∞"
    return f"{x:.3g}"


def draw_online_softmax(
    fig: Figure, scores: torch.Tensor, block_size: int, step: int | None = None
):
    """Draw the online softmax of one row ``scores`` ``(K,)`` after ``step`` blocks (default: all).

    Top: the scores as bars (visited blocks in blue, alternating shades; unvisited in grey) with the
    running max ``m`` as a step line; blocks that raised the max are outlined in red. Bottom: the
    running sum ``ℓ`` after each visited block, a red marker and the factor ``e^{m - m'}`` where the
    max rose. Returns what it shows: ``block_size``, ``n_blocks``, ``step`` (clamped to
    ``1..n_blocks``), ``m``, ``ell`` (after ``step`` blocks), ``rescale`` (``e^{m - m'}`` of every
    visited block), ``rises`` (indices of visited blocks that raised the max) and ``text`` (an HTML
    table of the same numbers, rises highlighted).
    """
    trace = online_softmax_trace(scores, block_size)
    n_blocks = len(trace["starts"])
    step = n_blocks if step is None else max(1, min(int(step), n_blocks))
    K = scores.numel()
    starts = trace["starts"].tolist()
    stops = starts[1:] + [K]
    rose = trace["rose"].tolist()
    ax_s, ax_l = _axes(
        fig,
        "online_softmax",
        lambda: fig.subplots(2, 1, height_ratios=(3, 2)),
        left=0.11,
        right=0.97,
        bottom=0.12,
        top=0.93,
        hspace=0.5,
    )

    colours = [
        BLOCK_COLOURS[t % 2] if t < step else "#cccccc"
        for t, (a, b) in enumerate(zip(starts, stops, strict=True))
        for _ in range(a, b)
    ]
    finite = scores.clamp_min(-1e9)  # masked keys (-inf) draw as empty bars
    ax_s.bar(
        range(K), torch.where(torch.isinf(scores), 0.0, finite).tolist(), color=colours, width=0.8
    )
    ax_s.axhline(0, color="grey", lw=0.5)
    for t, (a, b) in enumerate(zip(starts, stops, strict=True)):
        if t < step:
            m_t = trace["m"][t].item()
            if math.isfinite(m_t):
                ax_s.hlines(m_t, a - 0.5, b - 0.5, color="black", lw=2)
            if rose[t]:
                lo = min(0.0, torch.where(torch.isinf(scores[a:b]), 0.0, finite[a:b]).min().item())
                ax_s.add_patch(_rect(a - 0.5, lo - 0.3, b - a, max(m_t, 0.0) - lo + 0.6, edge=RISE))
    ax_s.relim()
    ax_s.autoscale_view()
    ax_s.set_xlim(-0.7, K - 0.3)
    ax_s.set_ylabel(r"score $s_j$")
    ax_s.set_xlabel("key j (colour: block; black: running max m; red: m rose)")
    ax_s.set_title(f"block size {block_size}: {step} of {n_blocks} blocks visited", fontsize=10)

    ts = list(range(step))
    ell = trace["ell"][:step].tolist()
    ax_l.plot(ts, ell, marker="o", color="black", lw=1)
    for t in ts:
        if rose[t] and t > 0:
            ax_l.plot([t], [ell[t]], marker="o", color=RISE, ms=9)
            ax_l.annotate(
                f"×{trace['rescale'][t].item():.2f}",
                (t, ell[t]),
                textcoords="offset points",
                xytext=(0, 7),
                ha="center",
                color=RISE,
                fontsize=8,
            )
    ax_l.set_xlim(-0.5, max(n_blocks - 0.5, 0.5))
    ax_l.set_xticks(range(n_blocks))
    ax_l.set_ylim(0, max(trace["ell"].max().item(), 1.0) * 1.35)
    ax_l.set_xlabel(f"block t (red: the max rose, so the old ℓ was multiplied by {RESCALE})")
    ax_l.set_ylabel(r"running sum $\ell$")

    rows = []
    for t in ts:
        style = f' style="color:{RISE};font-weight:bold"' if rose[t] else ""
        rows.append(
            f"<tr{style}><td>{t}</td><td>{starts[t]}–{stops[t] - 1}</td>"
            f"<td>{_fmt(trace['block_max'][t].item())}</td><td>{_fmt(trace['m'][t].item())}</td>"
            f"<td>{_fmt(trace['rescale'][t].item())}</td><td>{_fmt(ell[t])}</td></tr>"
        )
    text = (
        "<table><tr><th>block</th><th>keys</th><th>block max</th><th>m</th>"
        "<th>e<sup>m−m′</sup></th><th>ℓ</th></tr>" + "".join(rows) + "</table>"
    )
    return {
        "block_size": int(block_size),
        "n_blocks": n_blocks,
        "step": step,
        "m": trace["m"][step - 1].item(),
        "ell": ell[-1],
        "rescale": trace["rescale"][:step].tolist(),
        "rises": [t for t in ts if rose[t]],
        "text": text,
    }


class _CachedFigure(LiveFigure):
    """A LiveFigure that remembers its last render: asking again for the same values costs nothing.

    When the block size changes, the "blocks visited" slider follows it and both changes ask for a
    redraw with the same values; the second is served from here. Only the last render is kept, so
    every move to a new value is a real redraw (and the redraw benchmark measures real redraws).
    """

    def __init__(self, draw, figsize, size: int = 1):
        super().__init__(draw, figsize=figsize)
        # Constrained layout costs more than half of a redraw: use a figure without a layout engine,
        # where the draw functions place their axes by hand.
        self.fig = Figure(figsize=figsize)
        self._cache: dict[tuple, tuple[bytes, dict]] = {}
        self._size = size

    def render(self, **values):
        key = tuple(sorted(values.items()))
        if key not in self._cache:
            if len(self._cache) >= self._size:
                self._cache.pop(next(iter(self._cache)))
            # No fig.clear(): the draw functions keep their axes and replace only what they drew
            # (clearing and re-creating the axes is about half of a redraw).
            shown = self.draw(self.fig, **values) or {}
            self._cache[key] = (figure_png(self.fig, self.dpi), dict(shown))
        png, shown = self._cache[key]
        return png, dict(shown)


def _axes(fig: Figure, layout: str, make, **margins) -> list:
    """The figure's axes for ``layout``: made by ``make()`` the first time, then reused.

    On reuse, everything drawn into them before (lines, bars, patches, texts, images, legends) is
    removed, so the caller draws from scratch on the same axes. ``margins`` go to
    ``subplots_adjust`` when the figure has no layout engine (the widgets' figures).
    """
    if getattr(fig, "_au_layout", None) == layout and fig.axes:
        axes = list(fig.axes)
        for ax in axes:
            for artist in (*ax.lines, *ax.patches, *ax.texts, *ax.collections, *ax.images):
                artist.remove()
            ax.containers.clear()
            if ax.get_legend() is not None:
                ax.get_legend().remove()
        return axes
    fig.clear()
    axes = list(make())
    fig._au_layout = layout
    if fig.get_layout_engine() is None:
        fig.subplots_adjust(**margins)
    return axes


def _rect(x, y, w, h, edge):
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), w, h, fill=False, edgecolor=edge, lw=1.5, ls="--", clip_on=False)


def online_softmax_explorer(scores: torch.Tensor | None = None, *, block_size: int = 3) -> Explorer:
    """Step through the online softmax of one row: sliders ``block_size`` and ``step`` (blocks visited).

    ``scores`` ``(K,)`` defaults to :func:`demo_scores`. ``step`` runs from 1 to the number of blocks
    (its maximum follows the block size). ``explorer.state`` is what :func:`draw_online_softmax`
    returns.
    """
    import ipywidgets as widgets

    scores = demo_scores() if scores is None else scores
    online_softmax_trace(scores, block_size)  # validate the inputs before building widgets
    K = scores.numel()
    size = widgets.IntSlider(value=block_size, min=1, max=K, description="block size")
    n0 = -(-K // block_size)
    step = widgets.IntSlider(value=n0, min=1, max=n0, description="blocks visited")

    def follow(change):  # registered before the Explorer's observer, so it runs first
        n_blocks = -(-K // change["new"])
        at_end = step.value == step.max
        step.max = max(n_blocks, 1)
        if at_end:
            step.value = step.max

    size.observe(follow, names="value")
    figure = _CachedFigure(
        lambda fig, block_size, step: draw_online_softmax(fig, scores, block_size, step),
        figsize=(6, 4.2),
    )
    return Explorer(
        {"block_size": size, "step": step},
        figure=figure,
        title="The online softmax on one row: red = the running max rose",
    )


@lru_cache(maxsize=128)
def _reach(n: int, window: int, layers: int, causal: bool) -> torch.Tensor:
    return sliding_window_reach(n, window, layers, causal=causal)  # (n, n) bool


def draw_window_reach(
    fig: Figure, n: int, window: int, layers: int, causal: bool = False, query: int | None = None
):
    """Draw which inputs each output can depend on after ``layers`` sliding-window layers.

    Left: the ``(n, n)`` reach matrix (dark = output i can depend on input j), the one-layer band
    shaded darker, the inputs of ``query`` (default: the middle position, the last if causal) outlined
    in red. Right: how far that
    query reaches against the number of layers. Returns ``window``, ``layers``, ``causal``,
    ``query``, ``reach`` (``min(layers · window, n - 1)``), ``field`` (the first and last input the
    query can depend on), ``layers_to_first`` (layers until the last position can depend on
    position 0) and ``text``.
    """
    query = (n - 1 if causal else n // 2) if query is None else int(query)
    reach = _reach(n, window, layers, causal)  # (n, n)
    one = _reach(n, window, 1, causal)
    row = reach[query].nonzero().flatten()
    field = (int(row.min()), int(row.max()))
    ax_m, ax_r = _axes(
        fig,
        "window_reach",
        lambda: fig.subplots(1, 2),
        left=0.06,
        right=0.98,
        bottom=0.17,
        top=0.9,
        wspace=0.45,
    )
    shade = ListedColormap(["white", "#a6c8e6", "#2b6cb0"])  # none, added by more layers, 1 layer
    ax_m.imshow(
        (reach.int() + one.int()).numpy(), cmap=shade, vmin=0, vmax=2, interpolation="nearest"
    )
    ax_m.add_patch(_rect(field[0] - 0.5, query - 0.5, field[1] - field[0] + 1, 1, edge=RISE))
    ax_m.set_xlabel("input position j")
    ax_m.set_ylabel("output position i")
    ax_m.set_title(
        f"w = {window}, L = {layers}: dark = 1 layer, light = added by L layers", fontsize=8
    )

    max_layers = max(6, layers)
    ls = list(range(1, max_layers + 1))
    far = [query - int(_reach(n, window, L, causal)[query].nonzero().min()) for L in ls]
    ax_r.plot(
        ls, [min(L * window, query) for L in ls], color="grey", lw=4, alpha=0.4, label="min(L·w, i)"
    )
    ax_r.plot(ls, far, marker="o", ls="none", color="#2b6cb0", label="read off the masks")
    ax_r.plot([layers], [query - field[0]], marker="o", color=RISE, ms=10)
    ax_r.relim()
    ax_r.autoscale_view()
    ax_r.set_xticks(ls)
    ax_r.set_xlabel("layers L")
    ax_r.set_ylabel(f"positions output {query} reaches back")
    ax_r.legend(fontsize=7, loc="lower right")
    layers_to_first = math.ceil(query / window)
    text = html.escape(
        f"After {layers} layer(s) with window {window}, output {query} can depend on inputs "
        f"{field[0]}…{field[1]} ({field[1] - field[0] + 1} of {n}). Reaching input 0 from "
        f"output {query} takes {layers_to_first} layers."
    )
    return {
        "window": window,
        "layers": layers,
        "causal": causal,
        "query": query,
        "reach": min(layers * window, n - 1),
        "field": field,
        "layers_to_first": layers_to_first,
        "text": text,
    }


def window_reach_explorer(
    n: int = 40, *, window: int = 2, layers: int = 2, causal: bool = False
) -> Explorer:
    """How far information travels through stacked sliding-window layers (a receptive field).

    Controls: ``window`` (1..8), ``layers`` (1..8), ``causal`` (a checkbox). ``explorer.state`` is
    what :func:`draw_window_reach` returns for its default query (the middle position; the last one
    when causal).
    """
    import ipywidgets as widgets

    sliding_window_reach(n, window, layers, causal=causal)  # validate before building widgets
    controls = {
        "window": widgets.IntSlider(value=window, min=1, max=8, description="window w"),
        "layers": widgets.IntSlider(value=layers, min=1, max=8, description="layers L"),
        "causal": widgets.Checkbox(value=causal, description="causal"),
    }
    figure = _CachedFigure(
        lambda fig, window, layers, causal: draw_window_reach(fig, n, window, layers, causal),
        figsize=(7, 3.2),
    )
    return Explorer(
        controls, figure=figure, title="Sliding-window attention: what a stack of layers can see"
    )


def benchmark_cases():
    """``(name, make_explorer, control_name, values)`` for the shared redraw benchmark."""
    return [
        ("online_softmax/block_size", online_softmax_explorer, "block_size", [1, 2, 3, 5, 8, 16]),
        ("online_softmax/step", online_softmax_explorer, "step", [1, 2, 3, 4]),
        ("window_reach/window", window_reach_explorer, "window", [1, 3, 5, 8]),
        ("window_reach/layers", window_reach_explorer, "layers", [1, 3, 5, 8]),
    ]
