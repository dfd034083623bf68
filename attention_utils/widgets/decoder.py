"""Explorer for lesson 09: what the two heads of an induction circuit read, query by query.

* :func:`induction_explorer`: a query slider and a layer dropdown over one sequence (a block of
  tokens repeated twice) and the trained model's two heads. It draws the chosen query's row of
  attention weights as bars over the keys (labelled with their tokens) and outlines in red the key
  the head *should* read: the previous position for layer 1 (a previous-token head), and the position
  right after the earlier occurrence of the current token for layer 2 (an induction head).

:func:`draw_induction_row` takes a matplotlib Figure, so the lesson's static twin can be the same
picture. The weights are computed once in the lesson and passed in: a move only redraws bars.
"""

from __future__ import annotations

import html
from functools import lru_cache

import torch
from matplotlib.figure import Figure

from ._base import Explorer, LiveFigure

__all__ = [
    "expected_key",
    "draw_induction_row",
    "induction_explorer",
    "demo_induction",
    "benchmark_cases",
]

EXPECTED = "#d62728"  # the key the head should read
LAYER_NAMES = ("layer 1: previous token", "layer 2: induction")


def expected_key(tokens: list, query: int, layer: int) -> int | None:
    """The key a previous-token head (``layer=0``) or an induction head (``layer=1``) should read.

    Layer 0: ``query - 1`` (None at position 0). Layer 1: ``j + 1`` for the latest earlier position
    ``j < query`` holding the same token as ``query`` (None if the token has not occurred before).
    """
    if layer == 0:
        return query - 1 if query > 0 else None
    earlier = [j for j in range(query) if tokens[j] == tokens[query]]
    return earlier[-1] + 1 if earlier else None


def _check(tokens, weights) -> tuple[list[str], torch.Tensor]:
    w = torch.as_tensor(weights, dtype=torch.float32)
    if w.dim() != 3 or w.shape[0] != 2 or w.shape[1] != w.shape[2]:
        raise ValueError(
            f"weights must be (2, T, T): layer 1's and layer 2's head, got shape {tuple(w.shape)}"
        )
    labels = [str(t) for t in (tokens.tolist() if isinstance(tokens, torch.Tensor) else tokens)]
    if len(labels) != w.shape[-1]:
        raise ValueError(f"tokens must have T={w.shape[-1]} entries, got {len(labels)}")
    return labels, w


def draw_induction_row(fig: Figure, tokens, weights, layer: int = 1, query: int | None = None):
    """Draw one query's attention weights over the keys, the expected key outlined in red.

    ``tokens`` ``(T,)`` (ids or strings), ``weights`` ``(2, T, T)`` (layer 1's head, layer 2's head).
    ``query`` defaults to the last position. Returns ``query``, ``layer``, ``token``, ``top_key``,
    ``expected`` (the key the head should read, or None), ``weight_on_expected`` (or None) and
    ``text`` (a sentence saying the same).
    """
    labels, w = _check(tokens, weights)
    T = w.shape[-1]
    query = T - 1 if query is None else int(query)
    if not 0 <= query < T:
        raise ValueError(f"query must be in [0, {T}), got {query}")
    if layer not in (0, 1):
        raise ValueError(f"layer must be 0 (layer 1) or 1 (layer 2), got {layer!r}")
    row = w[layer, query]  # (T,)
    expected = expected_key(labels, query, layer)
    ax = fig.subplots()
    if fig.get_layout_engine() is None:
        fig.subplots_adjust(left=0.1, right=0.98, bottom=0.24, top=0.88)
    colours = ["#4c72b0" if j <= query else "#dddddd" for j in range(T)]
    bars = ax.bar(range(T), row.tolist(), color=colours, width=0.8)
    if expected is not None:
        bars[expected].set_edgecolor(EXPECTED)
        bars[expected].set_linewidth(2.5)
    ax.axvline(query, color="black", lw=0.8, ls=":")
    ax.set_xticks(range(T), [f"{t}\n{j}" for j, t in enumerate(labels)], fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("key: token (top) and position (bottom); dotted line = the query's position")
    ax.set_ylabel("attention weight")
    ax.set_title(
        f"{LAYER_NAMES[layer]} head, query {query} (token {labels[query]}); red = should read",
        fontsize=9,
    )
    top = int(row.argmax())
    on = None if expected is None else round(float(row[expected]), 3)
    if expected is None:
        what = "no expected key here (the token has not occurred before)"
        if layer == 0:
            what = "no previous token at position 0"
    else:
        what = f"the expected key {expected} (token {labels[expected]}) gets weight {on:.2f}"
    text = html.escape(
        f"Query {query} (token {labels[query]}), {LAYER_NAMES[layer]}: the largest weight is on key "
        f"{top} (token {labels[top]}); {what}."
    )
    return {
        "query": query,
        "layer": layer,
        "token": labels[query],
        "top_key": top,
        "expected": expected,
        "weight_on_expected": on,
        "text": text,
    }


class _CachedFigure(LiveFigure):
    """A LiveFigure that remembers the PNG of every (layer, query) it has drawn."""

    def __init__(self, draw, **kwargs):
        super().__init__(draw, **kwargs)
        # No layout engine (constrained layout would cost most of a redraw): margins are fixed.
        self.fig = Figure(figsize=kwargs.get("figsize", (7, 2.8)))
        self._render = lru_cache(maxsize=256)(self._render_once)

    def _render_once(self, layer: int, query: int):
        png, shown = super().render(layer=layer, query=query)
        return png, tuple(shown.items())

    def render(self, **values):
        png, shown = self._render(int(values["layer"]), int(values["query"]))
        return png, dict(shown)


def induction_explorer(tokens, weights, *, query: int | None = None, layer: int = 1) -> Explorer:
    """Step through the queries of one sequence and see where each head of the circuit looks.

    Controls: ``query`` (a slider over positions) and ``layer`` (a dropdown: layer 1's previous-token
    head or layer 2's induction head). ``tokens`` ``(T,)`` and ``weights`` ``(2, T, T)`` come from one
    forward pass of the trained model. ``explorer.state`` is what :func:`draw_induction_row` returns.
    """
    import ipywidgets as widgets

    labels, w = _check(tokens, weights)
    T = w.shape[-1]
    query = T - 1 if query is None else query
    draw_induction_row(Figure(), labels, w, layer, query)  # validate before building widgets
    controls = {
        "query": widgets.IntSlider(value=query, min=0, max=T - 1, description="query position"),
        "layer": widgets.Dropdown(
            options=[(name, i) for i, name in enumerate(LAYER_NAMES)],
            value=layer,
            description="head",
        ),
    }
    figure = _CachedFigure(
        lambda fig, layer, query: draw_induction_row(fig, labels, w, layer, query),
        figsize=(7, 2.8),
    )
    return Explorer(controls, figure=figure, title="Induction: where does each head look?")


def demo_induction(block: int = 6, seed: int = 0) -> tuple[list[int], torch.Tensor]:
    """Synthetic data for tests and benchmarks: a block repeated twice and ideal, slightly noisy heads.

    Returns ``tokens`` (``2 * block`` ids) and ``weights`` ``(2, T, T)``: each row puts most weight
    on the expected key (the query itself where there is none), the rest spread over the past.
    """
    g = torch.Generator().manual_seed(seed)
    first = torch.randperm(20, generator=g)[:block].tolist()
    tokens = first + first
    T = len(tokens)
    weights = torch.zeros(2, T, T)
    for layer in (0, 1):
        for q in range(T):
            noise = torch.rand(q + 1, generator=g) * 0.1
            target = expected_key(tokens, q, layer)
            noise[q if target is None else target] += 1.0
            weights[layer, q, : q + 1] = noise / noise.sum()
    return tokens, weights


def benchmark_cases():
    """``(name, make_explorer, control_name, values)`` for the shared redraw benchmark."""
    tokens, weights = demo_induction(8)
    T = len(tokens)
    return [
        (
            "induction_explorer",
            lambda: induction_explorer(tokens, weights),
            "query",
            list(range(T - 1, -1, -3)),
        ),
        ("induction_explorer", lambda: induction_explorer(tokens, weights), "layer", [0, 1]),
    ]
