"""Lesson 06 explorers: positions as rotations, shifts and score biases.

- ``shift_explorer``: shift every position of a sequence by ``s``. RoPE's score matrix stays the
  same (it depends on offsets only); with sinusoids added to the input, the scores change.
- ``slope_explorer``: one ALiBi slope ``m`` on a causal row of ``n`` keys with no content signal
  (``Q = K = 0``): the last query's weights and their entropy.
- ``clock_explorer``: one ``(sin, cos)`` pair of the sinusoidal table as a clock hand. Moving ``k``
  positions turns the hand of pair ``i`` by ``k * omega_i`` from *every* starting position: the
  fixed rotation ``M_k`` of the lesson.

``shift_figure``, ``slope_figure`` and ``clock_figure`` draw the same pictures as static pyplot
figures (the static twins in the lesson).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .._checks import as_tensor, check_positive_int
from ..positional import sinusoidal_table
from ..relative import apply_rotary, relative_offsets
from ._base import Explorer, LiveFigure

__all__ = [
    "shift_scores",
    "draw_shift",
    "shift_figure",
    "shift_explorer",
    "alibi_row",
    "draw_slope",
    "slope_figure",
    "slope_explorer",
    "clock_hands",
    "draw_clock",
    "clock_figure",
    "clock_explorer",
    "benchmark_cases",
]


# --------------------------------------------------------------------------- shift: RoPE vs absolute


def shift_scores(x, W_q, W_k, shift: int) -> dict[str, torch.Tensor]:
    """Scaled scores ``(n, n)`` of ``n`` tokens placed at positions ``shift .. shift + n - 1``.

    Args:
        x: token contents ``(n, D)``, no positions yet.
        W_q, W_k: projections ``(D, d)`` with an even ``d``.
        shift: the first position, an int ``>= 0``.

    Returns:
        ``{"rope": q_r k_r^T / sqrt(d), "absolute": q_a k_a^T / sqrt(d)}``, each ``(n, n)``: RoPE
        rotates the projected queries and keys by their positions; "absolute" adds the sinusoidal
        table's rows to ``x`` before projecting.
    """
    x, W_q, W_k = (as_tensor(name, v).float() for name, v in (("x", x), ("W_q", W_q), ("W_k", W_k)))
    if x.dim() != 2 or W_q.dim() != 2 or W_q.shape != W_k.shape or W_q.shape[0] != x.shape[1]:
        raise ValueError(
            f"x must be (n, D) and W_q, W_k both (D, d), got {tuple(x.shape)}, "
            f"{tuple(W_q.shape)}, {tuple(W_k.shape)}"
        )
    if isinstance(shift, bool) or not isinstance(shift, int) or shift < 0:
        raise ValueError(f"shift must be an int >= 0, got {shift!r}")
    n, D = x.shape
    d = W_q.shape[1]
    positions = torch.arange(shift, shift + n)  # (n,)
    qr, kr = apply_rotary(x @ W_q, positions), apply_rotary(x @ W_k, positions)  # (n, d) each
    xa = x + sinusoidal_table(shift + n, D)[shift:]  # (n, D)
    return {
        "rope": qr @ kr.T / math.sqrt(d),  # (n, n)
        "absolute": (xa @ W_q) @ (xa @ W_k).T / math.sqrt(d),  # (n, n)
    }


def _heat(ax, S, vmax, title):
    im = ax.imshow(S.numpy(), cmap="RdBu_r", vmin=-vmax, vmax=vmax)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("key", fontsize=8)
    ax.set_ylabel("query", fontsize=8)
    ax.tick_params(labelsize=7)
    return im


def draw_shift(fig, scores: dict, reference: dict, shift: int, vmax: float) -> dict:
    """Draw RoPE's and the absolute scheme's scores at ``shift`` (two panels) on ``fig``.

    ``scores`` and ``reference`` are ``shift_scores`` results (``reference`` at shift 0).
    Returns what is shown: the largest change of each score matrix against shift 0.
    """
    rope_change = (scores["rope"] - reference["rope"]).abs().max().item()
    abs_change = (scores["absolute"] - reference["absolute"]).abs().max().item()
    axes = fig.subplots(1, 2)
    _heat(
        axes[0], scores["rope"], vmax, f"RoPE, positions {shift}..\nchange vs 0: {rope_change:.1e}"
    )
    im = _heat(
        axes[1],
        scores["absolute"],
        vmax,
        f"sinusoids added, positions {shift}..\nchange vs 0: {abs_change:.2f}",
    )
    fig.colorbar(im, ax=list(axes), shrink=0.8, label="score")
    return {
        "shift": shift,
        "rope_change": rope_change,
        "absolute_change": abs_change,
        "text": (
            f"shift s = {shift}: largest change of the scores against s = 0: "
            f"RoPE {rope_change:.1e}, absolute {abs_change:.2f}"
        ),
    }


def shift_figure(x, W_q, W_k, shifts=(0, 100)):
    """Static twin of ``shift_explorer``: one row of (RoPE, absolute) panels per shift."""
    import matplotlib.pyplot as plt

    shifts = list(shifts)
    cached = {s: shift_scores(x, W_q, W_k, s) for s in shifts}
    ref = shift_scores(x, W_q, W_k, 0)
    vmax = max(S.abs().max().item() for c in cached.values() for S in c.values())
    fig = plt.figure(figsize=(6, 2.9 * len(shifts)), layout="constrained")
    for sub, s in zip(fig.subfigures(len(shifts), 1, squeeze=False)[:, 0], shifts, strict=True):
        draw_shift(sub, cached[s], ref, s, vmax)
    return fig


def shift_explorer(x, W_q, W_k, max_shift: int = 200, step: int = 10) -> Explorer:
    """A slider for the shift ``s`` (0 .. ``max_shift``); all shifts are computed once, up front."""
    import ipywidgets as widgets

    max_shift = check_positive_int("max_shift", max_shift)
    step = check_positive_int("step", step)
    cached = {s: shift_scores(x, W_q, W_k, s) for s in range(0, max_shift + 1, step)}
    vmax = max(S.abs().max().item() for c in cached.values() for S in c.values())

    def draw(fig, shift):
        return draw_shift(fig, cached[shift], cached[0], shift, vmax)

    controls = {
        "shift": widgets.IntSlider(
            value=0,
            min=0,
            max=max(cached),
            step=step,
            description="shift s",
            continuous_update=False,
        )
    }
    return Explorer(
        controls,
        figure=LiveFigure(draw, figsize=(6, 2.9)),
        title="shift every position by s: which scores move?",
    )


# --------------------------------------------------------------------------- ALiBi slope


def alibi_row(slope: float, n: int) -> torch.Tensor:
    """The last query's weights ``(n,)`` with ALiBi slope ``slope`` alone (causal, ``Q = K = 0``).

    The query sits at position ``n - 1`` and sees keys ``0 .. n - 1``; key ``j`` gets weight
    proportional to ``exp(-slope * (n - 1 - j))``.
    """
    n = check_positive_int("n", n)
    if isinstance(slope, bool) or not isinstance(slope, int | float) or slope < 0:
        raise ValueError(f"slope must be a number >= 0, got {slope!r}")
    offsets = relative_offsets(1, n, query_offset=n - 1)[0].double()  # (n,): j - i <= 0
    return torch.softmax(slope * offsets, dim=-1)  # -slope * (i - j)


def _entropy(w: torch.Tensor) -> float:
    return float(-(w * w.clamp_min(1e-300).log()).sum())


def _fraction(m: float) -> str:
    return f"{m:g}" if m >= 1 or (1 / m) % 1 else f"1/{round(1 / m)}"


def draw_slope(fig, slope: float, n: int, curve: tuple[list[float], list[float]]) -> dict:
    """Bars of the last row's weights for ``slope``; beside them, entropy against slope (``curve``)."""
    w = alibi_row(slope, n)
    ent = _entropy(w)
    ax0, ax1 = fig.subplots(1, 2, width_ratios=[1.6, 1])
    ax0.bar(np.arange(n), w.numpy(), color="tab:red", width=0.8)
    ax0.set_ylim(0, 1.02)
    ax0.set_xlabel(f"key j (query i = {n - 1})", fontsize=8)
    ax0.set_ylabel("attention weight", fontsize=8)
    ax0.set_title(f"slope m = {_fraction(slope)}: last row's weights", fontsize=9)
    ax0.tick_params(labelsize=7)
    slopes, ents = curve
    ax1.plot(np.log2(slopes), ents, "-", color="0.5")
    ax1.plot([math.log2(slope)], [ent], "o", color="tab:red")
    ax1.set_xticks([-8, -4, 0, 2], ["1/256", "1/16", "1", "4"])
    ax1.axhline(math.log(n), ls=":", color="0.4")
    ax1.text(math.log2(slopes[0]), math.log(n), f" log {n} (uniform)", va="bottom", fontsize=7)
    ax1.set_ylim(0, math.log(n) * 1.15)
    ax1.set_xlabel("slope m (log scale)", fontsize=8)
    ax1.set_ylabel("entropy (nats)", fontsize=8)
    ax1.set_title(f"entropy {ent:.2f}", fontsize=9)
    ax1.tick_params(labelsize=7)
    return {
        "slope": slope,
        "entropy": ent,
        "self_weight": float(w[-1]),
        "argmax": int(w.argmax()),
        "text": f"m = {_fraction(slope)}: weight on the query's own key {float(w[-1]):.2f}, entropy {ent:.2f} "
        f"(0 = one key, log {n} = {math.log(n):.2f} = all keys equally)",
    }


SLOPES = [2.0**-k for k in range(-2, 9)]  # 4, 2, 1, 1/2, ..., 1/256


def _curve(n: int) -> tuple[list[float], list[float]]:
    fine = [2.0 ** (e / 4) for e in range(-40, 13)]  # 2^-10 .. 2^3
    return fine, [_entropy(alibi_row(m, n)) for m in fine]


def slope_figure(n: int = 32, slopes=(1 / 2, 1 / 16, 1 / 256)):
    """Static twin of ``slope_explorer``: one row (weights, entropy) per slope."""
    import matplotlib.pyplot as plt

    slopes = list(slopes)
    curve = _curve(n)
    fig = plt.figure(figsize=(6.4, 2.4 * len(slopes)), layout="constrained")
    for sub, m in zip(fig.subfigures(len(slopes), 1, squeeze=False)[:, 0], slopes, strict=True):
        draw_slope(sub, m, n, curve)
    return fig


def slope_explorer(n: int = 32) -> Explorer:
    """A slider over ALiBi slopes 4, 2, 1, 1/2, ..., 1/256 for the last query of ``n`` causal keys."""
    import ipywidgets as widgets

    n = check_positive_int("n", n)
    curve = _curve(n)
    options = [(_fraction(m), m) for m in SLOPES]

    def draw(fig, slope):
        return draw_slope(fig, slope, n, curve)

    controls = {
        "slope": widgets.SelectionSlider(
            options=options, value=SLOPES[3], description="slope m", continuous_update=False
        )
    }
    return Explorer(
        controls,
        figure=LiveFigure(draw, figsize=(6.4, 2.4)),
        title="ALiBi: one slope, the last query's weights",
    )


# --------------------------------------------------------------------------- clock hands


def clock_hands(pair: int, k: int, d: int = 32, starts=(0, 1, 2, 3)) -> dict:
    """Pair ``pair``'s ``(sin, cos)`` hands at positions ``p`` and ``p + k`` for each ``p`` in ``starts``.

    Returns ``{"omega": omega_pair, "angle": k * omega_pair (radians), "before": (len(starts), 2),
    "after": (len(starts), 2), "turn": (len(starts),)}`` where ``turn`` is the measured angle from
    each ``before`` hand to its ``after`` hand, in ``[0, 2 pi)``: the same for every start.
    """
    d = check_positive_int("d", d)
    if isinstance(pair, bool) or not isinstance(pair, int) or not 0 <= pair < d // 2:
        raise ValueError(f"pair must be an int in [0, {d // 2 - 1}], got {pair!r}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"k must be an int >= 0, got {k!r}")
    starts = [int(p) for p in starts]
    P = sinusoidal_table(max(starts) + k + 1, d).double()  # (positions, d)
    before = P[starts][:, 2 * pair : 2 * pair + 2]  # (S, 2): (sin, cos)
    after = P[[p + k for p in starts]][:, 2 * pair : 2 * pair + 2]
    # the hand's angle, read clockwise from 12 o'clock: x = sin, y = cos
    phi = lambda H: torch.atan2(H[:, 0], H[:, 1])  # noqa: E731
    turn = torch.remainder(phi(after) - phi(before), 2 * math.pi)
    omega = 10000.0 ** (-2 * pair / d)
    return {
        "omega": omega,
        "angle": (k * omega) % (2 * math.pi),
        "before": before,
        "after": after,
        "turn": turn,
    }


def draw_clock(fig, pair: int, k: int, d: int = 32) -> dict:
    """The clock face of pair ``pair``: hands at ``p = 0..3`` (solid) and ``p + k`` (dashed)."""
    hands = clock_hands(pair, k, d)
    ax = fig.subplots()
    t = np.linspace(0, 2 * math.pi, 120)
    ax.plot(np.sin(t), np.cos(t), color="0.8", lw=1)
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:purple"]
    for p, (b, a, c) in enumerate(zip(hands["before"], hands["after"], colors, strict=True)):
        ax.plot([0, b[0]], [0, b[1]], color=c, lw=2.5, solid_capstyle="round")
        ax.plot([0, a[0]], [0, a[1]], color=c, lw=1.5, ls="--")
        ax.plot([a[0]], [a[1]], "o", color=c, ms=4)
        ax.text(*(1.15 * b).tolist(), f"p={p}", color=c, ha="center", va="center", fontsize=7)
    ax.set_aspect("equal")
    ax.set_xlim(-1.35, 1.35)
    ax.set_ylim(-1.35, 1.35)
    ax.set_xlabel(f"PE[p, {2 * pair}] = sin(p ω)", fontsize=8)
    ax.set_ylabel(f"PE[p, {2 * pair + 1}] = cos(p ω)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_title(
        f"pair {pair}, ω = {hands['omega']:.3g}\nsolid: p, dashed: p + {k} (turned {hands['angle']:.2f} rad)",
        fontsize=8,
    )
    same = bool(
        torch.allclose(hands["turn"], hands["turn"][:1].expand_as(hands["turn"]), atol=1e-5)
    )
    return {
        "pair": pair,
        "k": k,
        "angle": hands["angle"],
        "same_turn_for_every_p": same,
        "text": f"pair {pair}, k = {k}: each hand (p = 0, 1, 2, 3) turns clockwise by k·ω = "
        f"{hands['angle']:.3f} rad, whatever p is",
    }


def clock_figure(pairs=(0, 1, 3), k: int = 2, d: int = 32):
    """Static twin of ``clock_explorer``: one clock face per pair, for the same offset ``k``."""
    import matplotlib.pyplot as plt

    pairs = list(pairs)
    fig = plt.figure(figsize=(2.9 * len(pairs), 3.1), layout="constrained")
    for sub, i in zip(fig.subfigures(1, len(pairs), squeeze=False)[0], pairs, strict=True):
        draw_clock(sub, i, k, d)
    return fig


def clock_explorer(d: int = 32, max_k: int = 16) -> Explorer:
    """Sliders for the offset ``k`` and the pair ``i`` of a ``d``-wide sinusoidal table."""
    import ipywidgets as widgets

    d = check_positive_int("d", d)
    max_k = check_positive_int("max_k", max_k)

    def draw(fig, k, pair):
        return draw_clock(fig, pair, k, d)

    controls = {
        "k": widgets.IntSlider(value=1, min=0, max=max_k, description="offset k"),
        "pair": widgets.IntSlider(value=0, min=0, max=d // 2 - 1, description="pair i"),
    }
    return Explorer(
        controls,
        figure=LiveFigure(draw, figsize=(3.6, 3.6)),
        title="one (sin, cos) pair as a clock hand",
    )


def benchmark_cases():
    """``(name, make_explorer, control, values)`` for the shared redraw benchmark."""
    g = torch.Generator().manual_seed(0)
    x, W_q, W_k = (torch.randn(*s, generator=g) for s in ((12, 16), (16, 16), (16, 16)))
    return [
        (
            "positions.shift",
            lambda: shift_explorer(x, W_q / 4, W_k / 4),
            "shift",
            [0, 50, 100, 200],
        ),
        ("positions.slope", lambda: slope_explorer(32), "slope", [4.0, 1.0, 1 / 16, 1 / 256]),
        ("positions.clock_k", lambda: clock_explorer(32), "k", [0, 3, 9, 16]),
        ("positions.clock_pair", lambda: clock_explorer(32), "pair", [0, 2, 7, 15]),
    ]
