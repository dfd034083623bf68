"""Lesson 05 explorers: the hand-set toy heads, and where ``view`` and ``transpose`` put each number.

- ``toy_heads_explorer``: the toy sentence of lesson 05, with its hand-set weights. Pick the query
  token, the sharpness ``s`` (the factor in ``W_q``, 10 in the lesson) and one or two heads; the
  heads' heatmaps and the chosen query's weights redraw.
- ``view_transpose_explorer``: pick ``n`` tokens, ``h`` heads and ``d_head`` features per head and see a
  tensor whose entry is ``10 * token + feature`` cut into heads the right way
  (``view(n, h, d_head).transpose(0, 1)``) and the wrong way (``view(h, n, d_head)``); the misplaced
  numbers are marked.

``toy_heads_figure`` and ``split_merge_figure`` are the static twins (pyplot figures for the lesson).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

from .._checks import check_positive_int
from ._base import Explorer, LiveFigure

__all__ = [
    "TOY_TOKENS",
    "toy_inputs",
    "toy_state_dict",
    "toy_weights",
    "draw_toy_heads",
    "toy_heads_figure",
    "toy_heads_explorer",
    "split_heads",
    "draw_split_merge",
    "split_merge_figure",
    "draw_view_transpose",
    "view_transpose_figure",
    "view_transpose_explorer",
    "benchmark_cases",
]

#: Lesson 05's toy sentence.
TOY_TOKENS = ("the", "cat", "sat", "on", "the", "mat", ".")


# --------------------------------------------------------------------------- the toy heads


def _check_tokens(tokens) -> tuple[str, ...]:
    if isinstance(tokens, str) or not all(isinstance(t, str) for t in tokens):
        raise TypeError("tokens must be a list of strings")
    tokens = tuple(tokens)
    if not 2 <= len(tokens) <= 16:
        raise ValueError(f"tokens must hold 2 to 16 tokens, got {len(tokens)}")
    return tokens


def _width(tokens) -> int:
    """Features per block: one-hot words and one-hot positions get the same width, at least 8."""
    return max(8, len(tokens), len(set(tokens)))


def toy_inputs(tokens=TOY_TOKENS) -> torch.Tensor:
    """Lesson 05's inputs: ``(1, n, 2m)``, one-hot word (first ``m``) then one-hot position (last ``m``).

    ``m = max(8, n, vocabulary size)``; the vocabulary is ``sorted(set(tokens))``.
    """
    tokens = _check_tokens(tokens)
    m, vocab = _width(tokens), sorted(set(tokens))
    word = torch.eye(m)[[vocab.index(t) for t in tokens]]  # (n, m)
    place = torch.eye(m)[: len(tokens)]  # (n, m)
    return torch.cat([word, place], dim=-1)[None]  # (1, n, 2m)


def toy_state_dict(tokens=TOY_TOKENS, sharpness: float = 10.0, num_heads: int = 2) -> dict:
    """The hand-set weights of lesson 05 for ``MultiHeadAttention(2m, num_heads)``, as a state_dict.

    Two heads: head 0's queries are ``sharpness * word`` and its keys the word (same word wins); head
    1's queries are ``sharpness * shifted position`` and its keys the position (previous token wins).
    One head: the query asks both questions at once. Values and ``W_o`` copy the input.
    """
    tokens = _check_tokens(tokens)
    if num_heads not in (1, 2):
        raise ValueError(f"num_heads must be 1 or 2, got {num_heads!r}")
    if isinstance(sharpness, bool) or not isinstance(sharpness, int | float):
        raise TypeError(f"sharpness must be a number, got {type(sharpness).__name__}")
    if not (math.isfinite(sharpness) and sharpness >= 0):
        raise ValueError(f"sharpness must be finite and >= 0, got {sharpness}")
    m = _width(tokens)
    D = 2 * m
    shift = torch.diag(torch.ones(m - 1), diagonal=1)  # shift @ onehot(i) = onehot(i - 1)
    W_q = torch.zeros(D, D)
    W_q[:m, :m] = sharpness * torch.eye(m)  # asks for the same word
    W_q[m:, m:] = sharpness * shift  # asks for the previous place
    # Two heads: rows 0..m-1 are head 0 (words), rows m..2m-1 head 1 (places). One head sees both.
    return {"W_q.weight": W_q, "W_k.weight": torch.eye(D), "W_v.weight": torch.eye(D),
            "W_o.weight": torch.eye(D)}  # fmt: skip


@lru_cache(maxsize=256)
def _toy_weights_cached(tokens: tuple, sharpness: float, num_heads: int) -> torch.Tensor:
    from ..multihead import MultiHeadAttention

    X = toy_inputs(tokens)
    mha = MultiHeadAttention(X.shape[-1], num_heads, 0.0).eval()
    mha.load_state_dict(toy_state_dict(tokens, sharpness, num_heads))
    with torch.no_grad():
        mha(X, X, X)
    return mha.attention_weights[0].clone()  # (num_heads, n, n)


def toy_weights(tokens=TOY_TOKENS, sharpness: float = 10.0, num_heads: int = 2) -> torch.Tensor:
    """The toy model's attention weights ``(num_heads, n, n)``, from the package's
    ``MultiHeadAttention`` (which divides the scores by ``sqrt(d_head)``). Cached."""
    tokens = _check_tokens(tokens)
    toy_state_dict(tokens, sharpness, num_heads)  # validates
    return _toy_weights_cached(tokens, float(sharpness), int(num_heads)).clone()


def _head_titles(num_heads):
    return (
        ["one head: both questions"]
        if num_heads == 1
        else ["head 0: same word", "head 1: previous token"]
    )


def draw_toy_heads(fig, tokens, query: int, sharpness: float, num_heads: int) -> dict:
    """Draw the heads' heatmaps (the query's row boxed) and the query's weights as bars."""
    tokens = _check_tokens(tokens)
    n = len(tokens)
    if isinstance(query, bool) or not isinstance(query, int) or not 0 <= query < n:
        raise ValueError(f"query must be an int in [0, {n}), got {query!r}")
    W = toy_weights(tokens, sharpness, num_heads)  # (heads, n, n)
    fig.set_layout_engine("none")  # fixed margins: a layout engine would cost most of a redraw
    grid = {"width_ratios": [1] * num_heads + [1.3], "left": 0.09, "right": 0.98, "bottom": 0.27,
            "top": 0.9, "wspace": 0.42}  # fmt: skip
    axes = fig.subplots(1, num_heads + 1, gridspec_kw=grid)
    labels = [f"{i}:{t}" for i, t in enumerate(tokens)]
    for head, ax in enumerate(axes[:-1]):
        ax.imshow(W[head].numpy(), cmap="Reds", vmin=0, vmax=1, interpolation="nearest")
        ax.add_patch(_row_box(query, n))
        ax.set_xticks(range(n), labels, rotation=90, fontsize=7)
        ax.set_yticks(range(n), labels if head == 0 else [""] * n, fontsize=7)
        ax.set_xlabel("keys")
        if head == 0:
            ax.set_ylabel("queries")
        ax.set_title(_head_titles(num_heads)[head], fontsize=8)
    bars = axes[-1]
    width = 0.8 / num_heads
    for head in range(num_heads):
        x = np.arange(n) + (head - (num_heads - 1) / 2) * width
        bars.bar(x, W[head, query].numpy(), width=width, label=_head_titles(num_heads)[head])
    bars.set_ylim(0, 1)
    bars.set_xticks(range(n), labels, rotation=90, fontsize=7)
    bars.set_xlabel("keys")
    bars.set_ylabel("weight")
    bars.set_title(f"query {labels[query]}, s = {sharpness:g}", fontsize=8)
    bars.legend(fontsize=6, loc="upper left")
    rows = W[:, query]  # (heads, n)
    d_head = 2 * _width(tokens) // num_heads
    top = [int(r.argmax()) for r in rows]
    text = (
        f"query {labels[query]}, sharpness s = {sharpness:g}, {num_heads} head(s): a matching key "
        f"scores s / sqrt(d_head) = {sharpness:g} / sqrt({d_head}) = {sharpness / math.sqrt(d_head):.2f}; "
        + "; ".join(f"{_head_titles(num_heads)[i]}: largest weight {rows[i].max():.2f} on {labels[top[i]]}"
                    for i in range(num_heads))
    )  # fmt: skip
    return {
        "query": query,
        "sharpness": float(sharpness),
        "num_heads": num_heads,
        "weights": [[round(float(w), 4) for w in r] for r in rows],
        "top_keys": top,
        "largest": [float(r.max()) for r in rows],
        "text": text,
    }


def _row_box(row, n):
    from matplotlib.patches import Rectangle

    return Rectangle((-0.5, row - 0.5), n, 1, fill=False, edgecolor="black", linewidth=1.5)


def toy_heads_figure(
    tokens=TOY_TOKENS, query: int = 4, sharpness: float = 10.0, num_heads: int = 2
):
    """Static twin of ``toy_heads_explorer``: one query, one sharpness, one or two heads."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(7.5, 2.9))
    draw_toy_heads(fig, tokens, query, sharpness, num_heads)
    return fig


def toy_heads_explorer(tokens=TOY_TOKENS, max_sharpness: int = 20) -> Explorer:
    """Dropdown ``query``, slider ``sharpness`` (0 .. ``max_sharpness``), toggle ``heads`` (1 or 2)."""
    import ipywidgets as widgets

    tokens = _check_tokens(tokens)
    max_sharpness = check_positive_int("max_sharpness", max_sharpness)
    controls = {
        "query": widgets.Dropdown(
            options=[(f"{i}: {t}", i) for i, t in enumerate(tokens)],
            value=min(4, len(tokens) - 1),
            description="query",
        ),
        "sharpness": widgets.IntSlider(
            value=min(10, max_sharpness),
            min=0,
            max=max_sharpness,
            step=1,
            description="sharpness s",
        ),
        "heads": widgets.ToggleButtons(options=[("1 head", 1), ("2 heads", 2)], value=2),
    }

    def draw(fig, query, sharpness, heads):
        return draw_toy_heads(fig, tokens, query, sharpness, heads)

    return Explorer(controls, figure=LiveFigure(draw, figsize=(7.5, 2.9)), title="The toy heads")


# --------------------------------------------------------------------------- view vs transpose


def split_heads(n: int, h: int, d_head: int) -> dict[str, torch.Tensor]:
    """A labelled ``(n, D)`` tensor, ``D = h * d_head``, entry ``10 * token + feature``, cut into heads.

    Returns ``{"X": (n, D), "right": X.view(n, h, d_head).transpose(0, 1) -> (h, n, d_head),
    "wrong": X.view(h, n, d_head) -> (h, n, d_head), "merged": right.transpose(0, 1).reshape(n, D)}``
    (all int64). ``D`` must be at most 10, so that each label reads as token and feature.
    """
    n = check_positive_int("n", n)
    h = check_positive_int("h", h)
    d_head = check_positive_int("d_head", d_head)
    D = h * d_head
    if D > 10:
        raise ValueError(f"h * d_head must be at most 10 for 10 * token + feature labels, got {D}")
    X = 10 * torch.arange(n)[:, None] + torch.arange(D)  # (n, D)
    right = X.view(n, h, d_head).transpose(0, 1)  # (h, n, d_head)
    wrong = X.view(h, n, d_head)  # (h, n, d_head): the right shape only
    merged = right.transpose(0, 1).reshape(n, D)  # (n, D)
    return {"X": X, "right": right, "wrong": wrong, "merged": merged}


_HEAD_COLOURS = ("#cfe2f3", "#fce5cd", "#d9ead3", "#ead1dc")
_GAP = 0.35  # vertical gap between two heads' blocks, in cells


def _draw_grid(ax, table, x0, title, d_head, *, blocks=1, bad=None, row_labels=None) -> float:
    """Draw an int table ``(rows, cols)`` of ``10 * token + feature`` labels as cells at ``x0``.

    Cells are coloured by the head their feature belongs to; ``blocks`` splits the rows into that many
    equal blocks (one per head) with a gap between them; ``bad`` ``(rows, cols)`` cells are drawn in
    red. Returns the x where the next grid may start.
    """
    rows, cols = table.shape
    per_block = rows // blocks
    for r in range(rows):
        y = r + (r // per_block) * _GAP
        for c in range(cols):
            value = int(table[r, c])
            is_bad = bad is not None and bool(bad[r, c])
            face = _HEAD_COLOURS[((value % 10) // d_head) % len(_HEAD_COLOURS)]
            ax.add_patch(_cell(x0 + c, y, face, "#cc0000" if is_bad else "#888888",
                               2.0 if is_bad else 0.6))  # fmt: skip
            ax.text(x0 + c + 0.5, y + 0.5, str(value), ha="center", va="center", fontsize=7,
                    color="#cc0000" if is_bad else "black",
                    fontweight="bold" if is_bad else "normal")  # fmt: skip
        if row_labels:
            ax.text(x0 - 0.15, y + 0.5, row_labels[r], ha="right", va="center", fontsize=6)
    ax.text(x0 + cols / 2, -0.3, title, ha="center", va="bottom", fontsize=8)
    return x0 + cols


def _cell(x, y, face, edge, width):
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), 1, 1, facecolor=face, edgecolor=edge, linewidth=width)


def _stack_heads(t: torch.Tensor) -> torch.Tensor:
    """(h, n, d) -> (h * n, d): the heads' blocks one under the other, for drawing."""
    return t.reshape(-1, t.shape[-1])


def _grid_axes(fig, width: float, height: float):
    """One axes over the whole figure, in cell units, y downwards, no frame; no layout engine (fast)."""
    fig.set_layout_engine("none")
    ax = fig.add_axes((0.01, 0.01, 0.98, 0.98))
    ax.set_xlim(-0.5, width + 0.5)
    ax.set_ylim(height + 0.3, -2.2)  # room for two-line titles above row 0
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def draw_view_transpose(fig, n: int, h: int, d_head: int) -> dict:
    """The labelled ``(n, D)`` input, the right split (one block per head) and the wrong ``view``,
    side by side; in the wrong one, numbers that sit in another token's row are red."""
    parts = split_heads(n, h, d_head)
    X, right, wrong = parts["X"], parts["right"], parts["wrong"]
    D = h * d_head
    token_row = torch.arange(n)[None, :, None].expand(h, n, d_head)  # the token each row stands for
    misplaced = (wrong // 10) != token_row  # (h, n, d_head)
    heads_rows = [f"h{i} t{j}" for i in range(h) for j in range(n)]
    width = 2.2 + D + 3.4 + d_head + 3.4 + d_head
    height = h * n + (h - 1) * _GAP
    ax = _grid_axes(fig, width, height)
    x = _draw_grid(ax, X, 2.2, f"X: (n, D) = ({n}, {D})\n10·token + feature", d_head,
                   row_labels=[f"token {i}" for i in range(n)])  # fmt: skip
    x = _draw_grid(ax, _stack_heads(right), x + 3.4, "view(n, h, d)\n.transpose: right", d_head,
                   blocks=h, row_labels=heads_rows)  # fmt: skip
    _draw_grid(ax, _stack_heads(wrong), x + 3.4, "view(h, n, d):\nwrong", d_head, blocks=h,
               bad=_stack_heads(misplaced), row_labels=heads_rows)  # fmt: skip
    count = int(misplaced.sum())
    same = bool(torch.equal(right, wrong))
    text = (
        f"n = {n}, h = {h}, d_head = {d_head}: the wrong view puts {count} of {n * D} numbers in "
        f"another token's row" + (" (here both layouts agree: n = 1 or h = 1)" if same else "")
    )
    return {
        "n": n,
        "h": h,
        "d_head": d_head,
        "right": right.tolist(),
        "wrong": wrong.tolist(),
        "misplaced": count,
        "same": same,
        "text": text,
    }


def view_transpose_explorer(n: int = 4, h: int = 2, d_head: int = 2) -> Explorer:
    """Sliders ``n`` (1..6), ``h`` (1..3), ``d_head`` (1..3)."""
    import ipywidgets as widgets

    split_heads(n, h, d_head)  # validates the start values
    controls = {
        "n": widgets.IntSlider(value=n, min=1, max=6, description="n tokens"),
        "h": widgets.IntSlider(value=h, min=1, max=3, description="h heads"),
        "d_head": widgets.IntSlider(value=d_head, min=1, max=3, description="d_head"),
    }
    return Explorer(
        controls, figure=LiveFigure(draw_view_transpose, figsize=(7, 4)), title="view vs transpose"
    )


def draw_split_merge(fig, n: int = 3, h: int = 2, d_head: int = 2) -> None:
    """The way there and back: ``(n, D)`` -> ``view`` ``(n, h, d)`` -> ``transpose`` ``(h, n, d)``
    (attention runs here, per head) -> ``transpose`` + ``reshape`` ``(n, D)``. Colours = heads."""
    parts = split_heads(n, h, d_head)
    X, right, merged = parts["X"], parts["right"], parts["merged"]
    D = h * d_head
    tokens = [f"t{i}" for i in range(n)]
    height = h * n + (h - 1) * _GAP
    width = 1.2 + D + 2.5 + (D + h - 1) + 3.2 + d_head + 2.5 + D
    ax = _grid_axes(fig, width, height)
    x = _draw_grid(ax, X, 1.2, f"1. projected X\n(n, D) = ({n}, {D})", d_head, row_labels=tokens)
    # 2. view(n, h, d): the same rows, cut into h groups of d features (drawn with gaps)
    x0 = x + 2.5
    for g in range(h):
        x = _draw_grid(ax, X[:, g * d_head : (g + 1) * d_head], x0 + g * (d_head + 1), "", d_head)
    ax.text((x0 + x) / 2, -0.3, f"2. view(n, h, d)\n({n}, {h}, {d_head}): cut", ha="center",
            va="bottom", fontsize=8)  # fmt: skip
    x = _draw_grid(ax, _stack_heads(right), x + 3.2, f"3. transpose\n({h}, {n}, {d_head}): attend",
                   d_head, blocks=h, row_labels=[f"h{i} t{j}" for i in range(h) for j in range(n)])  # fmt: skip
    _draw_grid(ax, merged, x + 2.5, f"4. transpose+reshape\n({n}, {D}): concatenated", d_head,
               row_labels=tokens)  # fmt: skip
    for x_from, x_to in ((1.2 + D, 1.2 + D + 2.5), (x0 + D + h - 1, x0 + D + h - 1 + 3.2 - 1.2),
                         (x, x + 2.5 - 0.5)):  # fmt: skip
        ax.annotate("", xy=(x_to - 0.1, n / 2), xytext=(x_from + 0.1, n / 2),
                    arrowprops={"arrowstyle": "->", "color": "#444444"})  # fmt: skip


def split_merge_figure(n: int = 3, h: int = 2, d_head: int = 2):
    """Static diagram of split -> transpose -> merge (pyplot figure)."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(8, 2.4))
    draw_split_merge(fig, n, h, d_head)
    return fig


def view_transpose_figure(n: int = 4, h: int = 2, d_head: int = 2):
    """Static twin of ``view_transpose_explorer``."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(7, 4))
    draw_view_transpose(fig, n, h, d_head)
    return fig


def benchmark_cases():
    """``(name, make_explorer, control, values)`` for the shared redraw benchmark."""
    return [
        ("multihead.toy_query", toy_heads_explorer, "query", [0, 2, 4, 6]),
        ("multihead.toy_sharpness", toy_heads_explorer, "sharpness", [0, 5, 10, 20]),
        ("multihead.toy_heads", toy_heads_explorer, "heads", [1, 2, 1, 2]),
        ("multihead.view_n", view_transpose_explorer, "n", [1, 3, 6, 4]),
        ("multihead.view_h", view_transpose_explorer, "h", [1, 3, 2, 1]),
        ("multihead.view_d_head", view_transpose_explorer, "d_head", [1, 3, 2, 3]),
    ]
