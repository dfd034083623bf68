"""Lesson 01 explorers: your own query over a tiny search engine, and the softmax axis.

``query_explorer`` scores a typed query against the titles (shared words), divides by a temperature,
takes the softmax and blends the contents: three bar panels, scores -> weights -> output, redrawn as you
type. ``axis_explorer`` applies the softmax along ``dim=-1`` (right) or ``dim=0`` (wrong) and prints
the row and column sums next to the heatmap.

``query_figure`` and ``axis_figure`` draw the same pictures as static pyplot figures for the lesson.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ._base import Explorer, LiveFigure

__all__ = [
    "bag_of_words",
    "search",
    "draw_query",
    "query_figure",
    "query_explorer",
    "draw_axis",
    "axis_figure",
    "axis_explorer",
    "benchmark_cases",
]


def bag_of_words(text: str, vocab: Sequence[str]) -> tuple[torch.Tensor, list[str]]:
    """``(len(vocab),)`` counts of each vocabulary word in ``text``, and the words not in ``vocab``."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    words = text.lower().split()
    unknown = [w for w in words if w not in vocab]
    return torch.tensor([float(words.count(w)) for w in vocab]), unknown


def search(text: str, vocab, titles, contents, temperature: float = 1.0) -> dict:
    """One query through the engine: shared-word scores, softmax(scores / temperature), blend.

    Args:
        text: the query, words separated by spaces.
        vocab: the vocabulary (list of words).
        titles: ``n`` title strings (the keys, as bags of words).
        contents: ``(n, topics)`` tensor (the values).
        temperature: ``> 0``; small sharpens the weights towards the best match, large flattens them.

    Returns:
        dict with ``scores (n,)``, ``weights (n,)``, ``output (topics,)`` and ``unknown`` words.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    contents = torch.as_tensor(contents, dtype=torch.float32)
    if contents.ndim != 2 or contents.shape[0] != len(titles):
        raise ValueError(
            f"contents must be (len(titles), topics) = ({len(titles)}, ...), got {tuple(contents.shape)}"
        )
    q, unknown = bag_of_words(text, vocab)  # (V,)
    keys = torch.stack([bag_of_words(t, vocab)[0] for t in titles])  # (n, V)
    scores = keys @ q  # (n,): shared words with each title
    weights = torch.softmax(scores / temperature, dim=-1)  # (n,)
    return {
        "scores": scores,
        "weights": weights,
        "output": weights @ contents,  # (n,) @ (n, topics) -> (topics,)
        "unknown": unknown,
    }


def draw_query(
    fig, text, temperature, vocab, titles, contents, topics=None, short_titles=None
) -> dict:
    """Draw scores -> weights -> output for one query on ``fig``; return what is shown."""
    res = search(text, vocab, titles, contents, temperature)
    topics = (
        list(topics) if topics is not None else [f"topic {i}" for i in range(len(res["output"]))]
    )
    names = list(short_titles) if short_titles is not None else list(titles)
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 0.8]})
    rows = range(len(names))[::-1]  # the first title on top
    axes[0].barh(rows, res["scores"].numpy(), color="0.5")
    axes[0].set_xlim(0, max(1.0, res["scores"].max().item() + 0.2))
    axes[0].set_yticks(list(rows), names, fontsize=8)
    axes[0].set_title("1. scores (shared words)", fontsize=9)
    axes[1].barh(rows, res["weights"].numpy(), color="C3")
    axes[1].set_xlim(0, 1)
    axes[1].set_yticks(list(rows), [""] * len(names))
    axes[1].set_title(f"2. weights = softmax(s / {temperature:.2g})", fontsize=9)
    axes[2].bar(range(len(topics)), res["output"].numpy(), color="C0")
    axes[2].set_ylim(0, 1)
    axes[2].set_xticks(range(len(topics)), [t.replace(" ", "\n") for t in topics], fontsize=8)
    axes[2].set_title("3. output (blend)", fontsize=9)
    best = int(res["weights"].argmax())
    note = (
        f" (not in the vocabulary, ignored: {', '.join(res['unknown'])})" if res["unknown"] else ""
    )
    fig.suptitle(f"query {text!r}{note}", fontsize=9)
    return {
        "text": (
            f"largest weight {res['weights'].max().item():.3f} on {names[best]!r}; "
            f"weights sum to {res['weights'].sum().item():.3f}"
        ),
        "scores": res["scores"].tolist(),
        "weights": res["weights"].tolist(),
        "output": res["output"].tolist(),
        "unknown": res["unknown"],
        "best": names[best],
    }


def query_figure(text, temperature, vocab, titles, contents, topics=None, short_titles=None):
    """The static twin of ``query_explorer``: a pyplot Figure for one query and temperature."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(8, 2.4), layout="constrained")
    draw_query(fig, text, temperature, vocab, titles, contents, topics, short_titles)
    return fig


def query_explorer(
    vocab, titles, contents, topics=None, short_titles=None, text="kernel regression"
) -> Explorer:
    """A text box for your own query and a temperature slider; scores, weights and output redraw live.

    Controls: ``query`` (Text), ``temperature`` (FloatLogSlider, 0.1 to 10).
    ``state``: ``scores``, ``weights``, ``output`` (lists), ``unknown`` (words ignored), ``best``.
    """
    import ipywidgets as widgets

    controls = {
        "query": widgets.Text(value=text, description="query"),
        "temperature": widgets.FloatLogSlider(
            value=1.0, base=10, min=-1, max=1, step=0.1, description="temperature"
        ),
    }

    def draw(fig, query, temperature):
        return draw_query(fig, query, temperature, vocab, titles, contents, topics, short_titles)

    return Explorer(
        controls,
        figure=LiveFigure(
            draw,
            figsize=(8, 2.4),
            margins=dict(left=0.06, right=0.99, bottom=0.33, top=0.84, wspace=0.3),
        ),
        title="Type a query (words from the vocabulary: "
        + ", ".join(vocab)
        + "); move the temperature",
    )


def _sums_text(weights: torch.Tensor) -> tuple[list[float], list[float]]:
    return weights.sum(-1).tolist(), weights.sum(0).tolist()


def draw_axis(fig, scores: torch.Tensor, dim: int, labels=None) -> dict:
    """Heatmap of ``softmax(scores, dim)`` with its row sums (right) and column sums (below)."""
    if dim not in (-1, 0, 1):
        raise ValueError(f"dim must be -1, 0 or 1, got {dim}")
    scores = torch.as_tensor(scores, dtype=torch.float32)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (queries, keys), got shape {tuple(scores.shape)}")
    weights = torch.softmax(scores, dim=dim)  # (Q, K)
    rows, cols = _sums_text(weights)
    grid = fig.add_gridspec(2, 2, width_ratios=[6, 1.3], height_ratios=[6, 1.3])
    ax = fig.add_subplot(grid[0, 0])
    ax_rows = fig.add_subplot(grid[0, 1], sharey=ax)
    ax_cols = fig.add_subplot(grid[1, 0], sharex=ax)
    ax.imshow(weights.numpy(), cmap="Reds", vmin=0, vmax=1, aspect="auto")
    ax.set_ylabel("queries")
    ax.set_title(f"softmax(scores, dim={dim}): {'right' if dim != 0 else 'wrong'}", fontsize=9)
    ax_rows.barh(range(len(rows)), rows, color=["C2" if abs(r - 1) < 1e-5 else "C3" for r in rows])
    ax_rows.axvline(1, color="k", lw=0.8)
    ax_rows.set_title("row sums", fontsize=8)
    ax_rows.tick_params(labelleft=False)
    ax_cols.bar(range(len(cols)), cols, color="0.5")
    ax_cols.axhline(1, color="k", lw=0.8)
    ax_cols.set_ylabel("col sums", fontsize=8)
    ax_cols.set_xlabel("keys")
    if labels is not None:
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        ax_cols.set_xticks(range(len(labels)), labels, rotation=90, fontsize=8)
    ax.tick_params(labelbottom=False)
    ok = bool(np.allclose(rows, 1.0, atol=1e-5))
    return {
        "text": f"dim={dim}: every row sums to 1: {ok}",
        "rows_sum_to_one": ok,
        "row_sums": rows,
        "col_sums": cols,
    }


def axis_figure(scores, dim: int, labels=None):
    """The static twin of ``axis_explorer``."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(4.2, 3.6), layout="constrained")
    draw_axis(fig, scores, dim, labels)
    return fig


def axis_explorer(scores, labels=None) -> Explorer:
    """A ``dim`` toggle (-1 right, 0 wrong) over one score matrix; row and column sums drawn live.

    Controls: ``dim`` (ToggleButtons). ``state``: ``rows_sum_to_one``, ``row_sums``, ``col_sums``.
    """
    import ipywidgets as widgets

    controls = {"dim": widgets.ToggleButtons(options=[-1, 0], value=-1, description="dim")}

    def draw(fig, dim):
        return draw_axis(fig, scores, dim, labels)

    return Explorer(
        controls,
        figure=LiveFigure(
            draw, figsize=(4.2, 3.6), margins=dict(left=0.14, right=0.97, bottom=0.15, top=0.92)
        ),
        title="softmax along which axis?",
    )


_VOCAB = ["attention", "softmax", "kernel", "regression", "pasta", "sauce"]
_TITLES = [
    "attention and softmax",
    "kernel regression",
    "attention as kernel regression",
    "pasta sauce",
]
_CONTENTS = [[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.6, 0.4, 0.0], [0.0, 0.0, 1.0]]


def benchmark_cases():
    """``(name, make_explorer, control, values)`` for the shared redraw benchmark."""
    scores = torch.randn(7, 7, generator=torch.Generator().manual_seed(0))
    return [
        (
            "cues.query_explorer",
            lambda: query_explorer(_VOCAB, _TITLES, torch.tensor(_CONTENTS)),
            "temperature",
            [0.1, 0.5, 2.0, 10.0],
        ),
        (
            "cues.query_explorer (typing)",
            lambda: query_explorer(_VOCAB, _TITLES, torch.tensor(_CONTENTS)),
            "query",
            ["pasta", "pasta sauce", "softmax attention", "kernel"],
        ),
        ("cues.axis_explorer", lambda: axis_explorer(scores), "dim", [0, -1, 0]),
    ]
