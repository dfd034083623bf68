"""Explorers for lesson 09: the two heads of an induction circuit, and what a KV cache saves and costs.

* :func:`induction_explorer`: a query slider and a layer dropdown over one sequence (a block of
  tokens repeated twice) and the trained model's two heads. It draws the chosen query's row of
  attention weights as bars over the keys (labelled with their tokens) and outlines in red the key
  the head *should* read: the previous position for layer 1 (a previous-token head), and the position
  right after the earlier occurrence of the current token for layer 2 (an induction head).

:func:`kv_cache_explorer`: a position slider and a ``num_kv_heads`` dropdown. It draws, for the
step that generates the token at that position, how many positions' keys and values are computed
with and without a cache, and the step times measured in the lesson with a marker at the position;
the text gives the cache's bytes there against multi-head attention's.

The draw functions take a matplotlib Figure, so the lesson's static twins can be the same pictures.
Weights and times are computed once in the lesson and passed in: a move only redraws.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from functools import lru_cache

import torch
from matplotlib.figure import Figure

from ._base import Explorer, LiveFigure

__all__ = [
    "expected_key",
    "draw_induction_row",
    "induction_explorer",
    "demo_induction",
    "draw_kv_cache_step",
    "kv_cache_explorer",
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


def _kv_bytes(layers: int, kv_heads: int, head_dim: int, positions: int) -> int:
    return 2 * layers * kv_heads * head_dim * positions * 4  # float32


def draw_kv_cache_step(
    fig: Figure,
    position: int,
    num_kv_heads: int,
    *,
    num_layers: int,
    num_heads: int,
    head_dim: int,
    step_ms: Mapping[str, Sequence[float]] | None = None,
    first_position: int = 0,
    max_position: int | None = None,
):
    """Draw what the step that generates the token at ``position`` computes, with and without a cache.

    Left: the keys/values of positions ``0..position`` as two rows of cells: recomputing computes
    all of them; with a cache only the last one is new and the others are read back. Right (if
    ``step_ms`` is given: name -> step times in ms, the first for ``first_position``): the measured
    step times against the position, a marker at ``position``. ``max_position`` fixes the left
    axis (so that the bars grow as the position moves). Returns ``position``,
    ``num_kv_heads``, ``computed`` (positions whose keys/values are computed: recompute and cache),
    ``cache_bytes`` (float32, at this position, for ``num_kv_heads``), ``mha_bytes`` (the same with
    ``num_heads`` key/value heads), ``step_ms`` (each curve's time at this position) and ``text``.
    """
    if num_heads % num_kv_heads:
        raise ValueError(f"num_kv_heads ({num_kv_heads}) must divide num_heads ({num_heads})")
    n = position + 1  # positions 0..position are in the cache after this step
    axes = fig.subplots(1, 2 if step_ms else 1, squeeze=False)[0]
    if fig.get_layout_engine() is None:
        fig.subplots_adjust(left=0.13, right=0.98, bottom=0.2, top=0.86, wspace=0.3)
    ax = axes[0]
    red, blue = "#d62728", "#9ecae1"
    ax.barh([1], [n], left=[0], color=red, height=0.6)  # recompute: every position, every step
    if n > 1:
        ax.barh([0], [n - 1], left=[0], color=blue, height=0.6)  # the cache: read back
    ax.barh([0], [1], left=[n - 1], color=red, height=0.6)  # the cache: the one new position
    ax.set_yticks([1, 0], ["recompute", "KV cache"])
    ax.set_xlim(0, max(n, 8, 0 if max_position is None else max_position + 1))
    ax.set_xlabel("position whose key and value the step needs")
    ax.set_title(
        f"step for position {position}: red = computed, blue = read from the cache", fontsize=9
    )
    times = {}
    if step_ms:
        ax_t = axes[1]
        for name, ms in step_ms.items():
            xs = list(range(first_position, first_position + len(ms)))
            ax_t.plot(xs, list(ms), lw=1, label=name)
            if first_position <= position < first_position + len(ms):
                times[name] = float(ms[position - first_position])
                ax_t.plot([position], [times[name]], marker="o", color="black", ms=4)
        ax_t.axvline(position, color="black", lw=0.6, ls=":")
        ax_t.set_xlabel("position of the new token")
        ax_t.set_ylabel("step time (ms)")
        ax_t.legend(fontsize=7)
    cache_bytes = _kv_bytes(num_layers, num_kv_heads, head_dim, n)
    mha_bytes = _kv_bytes(num_layers, num_heads, head_dim, n)
    text = html.escape(
        f"Position {position}: recomputing computes keys and values for {n} positions in each of "
        f"{num_layers} layers, the cache for 1. The cache now holds {n} positions: "
        f"{cache_bytes:,} bytes with {num_kv_heads} key/value heads, {mha_bytes:,} with {num_heads} "
        f"({num_heads // num_kv_heads}x more)."
    )
    return {
        "position": position,
        "num_kv_heads": num_kv_heads,
        "computed": {"recompute": n, "KV cache": 1},
        "cache_bytes": cache_bytes,
        "mha_bytes": mha_bytes,
        "step_ms": times,
        "text": text,
    }


def kv_cache_explorer(
    *,
    num_layers: int,
    num_heads: int,
    head_dim: int,
    max_position: int,
    step_ms: Mapping[str, Sequence[float]] | None = None,
    first_position: int = 0,
    position: int | None = None,
) -> Explorer:
    """Move along a generation: what each step computes with and without a cache, and what it costs.

    Controls: ``position`` (a slider ``first_position..max_position``) and ``num_kv_heads`` (a
    dropdown of the divisors of ``num_heads``). ``step_ms`` (name -> measured step times in ms, the
    first at ``first_position``) is drawn as curves. ``explorer.state`` is what
    :func:`draw_kv_cache_step` returns.
    """
    import ipywidgets as widgets

    position = max_position if position is None else position
    kw = dict(
        num_layers=num_layers,
        num_heads=num_heads,
        head_dim=head_dim,
        step_ms=step_ms,
        first_position=first_position,
        max_position=max_position,
    )
    draw_kv_cache_step(Figure(), position, num_heads, **kw)  # validate before building widgets
    divisors = [k for k in range(num_heads, 0, -1) if num_heads % k == 0]
    controls = {
        "position": widgets.IntSlider(
            value=position, min=first_position, max=max_position, description="position"
        ),
        "num_kv_heads": widgets.Dropdown(options=divisors, value=num_heads, description="kv heads"),
    }

    class _Fig(LiveFigure):
        def __init__(self):
            super().__init__(
                lambda fig, position, num_kv_heads: draw_kv_cache_step(
                    fig, position, num_kv_heads, **kw
                ),
                figsize=(8, 2.6),
            )
            self.fig = Figure(figsize=(8, 2.6))  # no layout engine: fixed margins, faster redraws

    return Explorer(controls, figure=_Fig(), title="The KV cache along a generation")


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
        (
            "kv_cache_explorer",
            lambda: kv_cache_explorer(
                num_layers=3,
                num_heads=4,
                head_dim=24,
                max_position=255,
                first_position=16,
                step_ms={"recompute": [0.02 * t for t in range(16, 256)], "cache": [1.0] * 240},
            ),
            "position",
            [16, 100, 200, 255],
        ),
        (
            "kv_cache_explorer",
            lambda: kv_cache_explorer(num_layers=3, num_heads=4, head_dim=24, max_position=255),
            "num_kv_heads",
            [2, 1],
        ),
    ]
