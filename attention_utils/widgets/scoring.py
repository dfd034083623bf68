"""Lesson 03 explorers: why divide by sqrt(d), and the two opposite boolean-mask conventions.

``scaling_explorer``: a ``d`` slider and a "divide by sqrt(d)" checkbox. It shows the histogram of
the attention weights of 200 random queries (16 keys each), the mean largest weight, and the median
gradient norm that reaches the scores and the queries (all precomputed once, so a move only redraws).

``mask_explorer``: a valid-length slider and a switch for how *you* built the boolean mask
(``True`` means keep, or ``True`` means ignore). The same mask goes to
``F.scaled_dot_product_attention(attn_mask=mask)`` (which reads True = may attend) and to
``nn.MultiheadAttention(key_padding_mask=mask)`` (which reads True = ignore); their weights are
drawn side by side, NaN in grey.

``scaling_figure`` and ``mask_figure`` are the static twins for the lesson.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator
from torch import nn
from torch.nn import functional as F

from ..masking import masked_softmax
from ._base import Explorer, LiveFigure

__all__ = [
    "DIMS",
    "saturation_stats",
    "draw_scaling",
    "scaling_figure",
    "scaling_explorer",
    "CONVENTIONS",
    "mask_weights",
    "draw_masks",
    "mask_figure",
    "mask_explorer",
    "benchmark_cases",
]

DIMS = (4, 16, 64, 256, 1024)


@lru_cache(maxsize=64)
def saturation_stats(d: int, scaled: bool, num_keys: int = 16, trials: int = 200) -> dict:
    """Softmax saturation for random queries and keys with entries N(0, 1), measured.

    ``trials`` queries ``(trials, 1, d)``, each against ``num_keys`` keys and scalar values, drawn
    from ``torch.Generator().manual_seed(d)`` (the same draws for both settings of ``scaled``);
    scores ``q k^T`` divided by ``sqrt(d)`` if ``scaled``; loss ``sum(softmax(scores) @ v)``.

    Returns a dict: ``weights`` (numpy, ``(trials, num_keys)``), ``mean_max`` (the mean largest
    weight), ``grad_scores`` and ``grad_q`` (median L2 norm of the loss's gradient with respect to
    each query's scores ``(num_keys,)`` and to the query itself ``(d,)``).
    """
    if d < 1 or num_keys < 1 or trials < 1:
        raise ValueError(f"d, num_keys and trials must be >= 1, got {d}, {num_keys}, {trials}")
    gen = torch.Generator().manual_seed(d)
    q = torch.randn(trials, 1, d, generator=gen).requires_grad_()  # (T, 1, d)
    k = torch.randn(trials, num_keys, d, generator=gen)  # (T, K, d)
    v = torch.randn(trials, num_keys, 1, generator=gen)  # (T, K, 1)
    scores = q @ k.transpose(1, 2) / (math.sqrt(d) if scaled else 1.0)  # (T, 1, K)
    scores.retain_grad()
    w = torch.softmax(scores, dim=-1)  # (T, 1, K)
    (w @ v).sum().backward()
    return {
        "weights": w.detach()[:, 0].numpy(),
        "mean_max": w.detach().max(-1).values.mean().item(),
        "grad_scores": scores.grad.norm(dim=-1).median().item(),
        "grad_q": q.grad.norm(dim=-1).median().item(),
    }


def draw_scaling(fig, d: int, scaled: bool, dims=DIMS) -> dict:
    """Left: histogram of the weights at ``d``. Right: median gradient norms against d."""
    stats = saturation_stats(int(d), bool(scaled))
    left, right = fig.subplots(1, 2)
    left.hist(
        stats["weights"].ravel(), bins=np.linspace(0, 1, 21), color="C3" if not scaled else "C0"
    )
    left.set_yscale("log")
    left.set_ylim(0.8, stats["weights"].size)
    left.axvline(stats["mean_max"], color="k", lw=1, ls="--")
    left.set_xlabel("attention weight (16 keys: uniform is 1/16)")
    left.set_ylabel("count (log)")
    label = "q.k / sqrt(d)" if scaled else "q.k (unscaled)"
    left.set_title(f"d = {d}, {label}: mean largest weight {stats['mean_max']:.2f}", fontsize=9)
    for s, ls in ((False, ":"), (True, "-")):
        curve = [saturation_stats(x, s) for x in dims]
        tag = "scaled" if s else "unscaled"
        right.plot(dims, [c["grad_scores"] for c in curve], "C1" + ls, label=f"to scores, {tag}")
        right.plot(dims, [c["grad_q"] for c in curve], "C4" + ls, label=f"to q, {tag}")
    right.plot([d], [stats["grad_scores"]], "o", color="C1", ms=7)
    right.plot([d], [stats["grad_q"]], "o", color="C4", ms=7)
    right.set(xscale="log", yscale="log", xlabel="dimension d", ylabel="median gradient norm")
    for axis in (left.yaxis, right.xaxis, right.yaxis):  # fewer log ticks: a faster redraw
        axis.set_minor_locator(NullLocator())
    right.yaxis.set_major_locator(LogLocator(numticks=4))
    for axis in (left.yaxis, right.xaxis, right.yaxis):  # plain labels: no mathtext to typeset
        axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    right.set_title("gradient (dots: this setting)", fontsize=9)
    right.legend(fontsize=6)
    return {
        "text": (
            f"d = {d}, {label}: mean largest weight {stats['mean_max']:.3f}; median gradient norm "
            f"to the scores {stats['grad_scores']:.2g}, to q {stats['grad_q']:.2g}"
        ),
        "mean_max": stats["mean_max"],
        "grad_scores": stats["grad_scores"],
        "grad_q": stats["grad_q"],
    }


def scaling_figure(d: int = 1024, scaled: bool = False):
    """The static twin of ``scaling_explorer``."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(8, 3), layout="constrained")
    draw_scaling(fig, d, scaled)
    return fig


def scaling_explorer(dims=DIMS, d: int = 256, scaled: bool = False) -> Explorer:
    """A ``d`` slider and a scaling checkbox; histogram, largest weight and gradients redraw live.

    Controls: ``d`` (SelectionSlider over ``dims``), ``scaled`` (Checkbox).
    ``state``: ``mean_max``, ``grad_scores``, ``grad_q``.
    """
    import ipywidgets as widgets

    dims = tuple(int(x) for x in dims)
    for x in dims:  # precompute, so that a move only redraws
        saturation_stats(x, False), saturation_stats(x, True)
    controls = {
        "d": widgets.SelectionSlider(options=list(dims), value=d, description="d"),
        "scaled": widgets.Checkbox(value=scaled, description="divide by sqrt(d)"),
    }

    def draw(fig, d, scaled):
        return draw_scaling(fig, d, scaled, dims)

    live = LiveFigure(
        draw, figsize=(8, 3), margins=dict(left=0.08, right=0.98, bottom=0.25, top=0.9, wspace=0.3)
    )
    return Explorer(controls, figure=live)


CONVENTIONS = ("True means keep", "True means ignore")


@lru_cache(maxsize=4)
def _mask_data(num_queries: int = 3, num_keys: int = 6, d: int = 4):
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(1, num_queries, d, generator=gen)  # (1, Q, d)
    k = torch.randn(1, num_keys, d, generator=gen)  # (1, K, d)
    mha = nn.MultiheadAttention(d, num_heads=1, bias=False, batch_first=True)
    with torch.no_grad():  # identity projections: one head of plain scaled dot-product attention
        mha.in_proj_weight.copy_(torch.cat([torch.eye(d)] * 3))
        mha.out_proj.weight.copy_(torch.eye(d))
    return q, k, mha


def mask_weights(valid_len: int, convention: str, num_queries=3, num_keys=6, d=4) -> dict:
    """Build one boolean key mask by ``convention`` and pass it to SDPA and nn.MultiheadAttention.

    The first ``valid_len`` keys are real. With ``"True means keep"`` the mask is
    ``positions < valid_len``; with ``"True means ignore"`` it is ``positions >= valid_len``.
    SDPA gets it as ``attn_mask`` (True = may attend); ``nn.MultiheadAttention`` as
    ``key_padding_mask`` (True = ignore), with ``need_weights=True`` (its default).

    Returns a dict: ``mask`` ``(K,)`` bool, ``want`` / ``sdpa`` / ``mha`` weights ``(Q, K)`` (SDPA's
    read off by using the identity matrix as the values), and ``sdpa_ok`` / ``mha_ok`` (equal to
    ``want``, the masked softmax that keeps the first ``valid_len`` keys; NaN is never ok).
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    if not 0 <= valid_len <= num_keys:
        raise ValueError(f"valid_len must be in [0, {num_keys}], got {valid_len}")
    q, k, mha = _mask_data(num_queries, num_keys, d)
    positions = torch.arange(num_keys)  # (K,)
    mask = positions < valid_len if convention == CONVENTIONS[0] else positions >= valid_len
    want = masked_softmax(q @ k.transpose(1, 2) / math.sqrt(d), torch.tensor([valid_len]))[0]
    with torch.no_grad():
        eye = torch.eye(num_keys)[None]  # (1, K, K): one-hot values, so the output is the weights
        sdpa = F.scaled_dot_product_attention(q, k, eye, attn_mask=mask[None, None, :])[0]
        _, mha_w = mha(q, k, k, key_padding_mask=mask[None, :])  # (1, Q, K)
    mha_w = mha_w[0]

    def ok(w):
        return bool(torch.isfinite(w).all() and torch.allclose(w, want, atol=1e-5))

    return {
        "mask": mask,
        "want": want,
        "sdpa": sdpa,
        "mha": mha_w,
        "sdpa_ok": ok(sdpa),
        "mha_ok": ok(mha_w),
    }


def draw_masks(fig, valid_len: int, convention: str) -> dict:
    """The mask, then SDPA's and nn.MultiheadAttention's weights side by side (NaN in grey)."""
    import matplotlib

    res = mask_weights(valid_len, convention)
    num_keys = len(res["mask"])
    cmap = matplotlib.colormaps["Reds"].with_extremes(bad="0.6")
    grid = fig.add_gridspec(2, 2, height_ratios=[1, 3])
    strip = fig.add_subplot(grid[0, :])
    strip.imshow(res["mask"][None].float().numpy(), cmap="Greys", vmin=0, vmax=1.4, aspect="auto")
    for j, m in enumerate(res["mask"].tolist()):
        strip.text(j, 0, str(m), ha="center", va="center", fontsize=8, color="w" if m else "k")
    strip.set_yticks([])
    strip.set_xticks(range(num_keys))
    strip.set_title(
        f"one mask (built as '{convention}', valid_len {valid_len}), passed to both", fontsize=8
    )
    axes = [fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])]
    panels = [
        ("SDPA(attn_mask=mask)", res["sdpa"], res["sdpa_ok"]),
        ("MHA(key_padding_mask=mask)", res["mha"], res["mha_ok"]),
    ]
    for ax, (name, w, good) in zip(axes, panels, strict=True):
        ax.imshow(np.ma.masked_invalid(w.numpy()), cmap=cmap, vmin=0, vmax=1, aspect="auto")
        nan = bool(torch.isnan(w).any())
        verdict = "right" if good else ("NaN" if nan else "wrong")
        ax.set_title(f"{name}: {verdict}", fontsize=8, color="C2" if good else "C3")
        ax.set_xlabel("key")
        ax.set_xticks(range(num_keys))
        ax.set_yticks(range(w.shape[0]))
    axes[0].set_ylabel("query")
    return {
        "text": (
            f"valid_len {valid_len}, mask built as '{convention}': SDPA "
            f"{'right' if res['sdpa_ok'] else 'wrong'}, nn.MultiheadAttention "
            f"{'right' if res['mha_ok'] else 'wrong'}"
            + (" (NaN)" if torch.isnan(res["mha"]).any() else "")
        ),
        "mask": res["mask"].tolist(),
        "sdpa_ok": res["sdpa_ok"],
        "mha_ok": res["mha_ok"],
        "sdpa_nan": bool(torch.isnan(res["sdpa"]).any()),
        "mha_nan": bool(torch.isnan(res["mha"]).any()),
    }


def mask_figure(valid_len: int = 4, convention: str = CONVENTIONS[0]):
    """The static twin of ``mask_explorer``."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(7, 3.2), layout="constrained")
    draw_masks(fig, valid_len, convention)
    return fig


def mask_explorer(valid_len: int = 4, convention: str = CONVENTIONS[0]) -> Explorer:
    """A valid-length slider and a mask-convention switch; SDPA and nn.MultiheadAttention redraw.

    Controls: ``valid_len`` (IntSlider 0..6), ``convention`` (ToggleButtons, ``CONVENTIONS``).
    ``state``: ``mask``, ``sdpa_ok``, ``mha_ok``, ``sdpa_nan``, ``mha_nan``.
    """
    import ipywidgets as widgets

    controls = {
        "valid_len": widgets.IntSlider(value=valid_len, min=0, max=6, description="valid_len"),
        "convention": widgets.ToggleButtons(options=list(CONVENTIONS), value=convention),
    }
    live = LiveFigure(
        draw_masks,
        figsize=(7, 3.2),
        margins=dict(left=0.07, right=0.98, bottom=0.14, top=0.92, hspace=0.6),
    )
    return Explorer(controls, figure=live)


def benchmark_cases():
    """``(name, make_explorer, control, values)`` for the shared redraw benchmark."""
    return [
        ("scoring.scaling_explorer (d)", scaling_explorer, "d", [4, 64, 1024, 16]),
        ("scoring.scaling_explorer (scaled)", scaling_explorer, "scaled", [True, False]),
        ("scoring.mask_explorer (valid_len)", mask_explorer, "valid_len", [0, 2, 6, 3]),
        (
            "scoring.mask_explorer (convention)",
            mask_explorer,
            "convention",
            list(CONVENTIONS[::-1]),
        ),
    ]
