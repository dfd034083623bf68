"""Explorers and figures for lesson 04 (Bahdanau attention on date normalization).

* :func:`date_explorer`: a text box. Type a date; the trained attention model decodes it greedily and
  the figure shows the alignment: one row per output character, one column per input character.
* :func:`curve_explorer`: a training-step slider over held-out exact-match curves computed **once**
  during training (``train_seq2seq(..., eval_pairs=..., eval_every=...)``). It shows each model's
  accuracy up to the chosen step; nothing is retrained.
* :func:`draw_encoder_decoder`: the GRU encoder-decoder diagram of the lesson's recap.

:func:`draw_alignment` and :func:`draw_curves` take a matplotlib Figure, so the lesson's static twins
are the very same pictures.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from functools import lru_cache

import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from ..dates import DATE_VOCAB, CharVocab
from ._base import Explorer, LiveFigure

__all__ = [
    "decode_one",
    "draw_alignment",
    "date_explorer",
    "draw_curves",
    "curve_explorer",
    "draw_encoder_decoder",
    "demo_model",
    "demo_curves",
    "benchmark_cases",
]

MAX_CHARS = 40  # longer inputs are cut (the longest format has 36 characters)
COLOURS = {"attention": "#1f77b4", "baseline": "#ff7f0e"}


def _eos_trimmed(pred: str, weights: torch.Tensor, max_len: int) -> tuple[list[str], torch.Tensor]:
    """Output labels (the characters, then ``<eos>`` if it was written) and their weight rows."""
    rows = len(pred) + 1 if len(pred) < max_len else len(pred)
    labels = list(pred) + (["<eos>"] if rows > len(pred) else [])
    return labels, weights[:rows]


def decode_one(model, text: str, vocab: CharVocab = DATE_VOCAB, max_len: int = 12):
    """Greedy-decode one string: returns ``(prediction, weights)``.

    ``weights`` is ``(R, S)`` (R output rows: the characters and, if written, ``<eos>``; S = the
    input's length) for an attention model, or None for a model without attention weights.
    """
    from ..seq2seq import greedy_decode

    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not text:
        raise ValueError("text is empty: type at least one character")
    preds, weights = greedy_decode(model, [text], vocab, max_len=max_len)
    if weights is None:
        return preds[0], None
    return preds[0], _eos_trimmed(preds[0], weights[0, :, : len(text)], max_len)[1]


def draw_alignment(fig: Figure, text: str, pred: str, weights, target: str | None = None) -> dict:
    """Draw the alignment heatmap of one decoded input on ``fig``.

    ``weights`` ``(R, S)``: rows are the output characters (and ``<eos>``), columns the input's S
    characters (spaces drawn as ␣). The colour scale is fixed at [0, 1], so a colour means the same
    weight from one input to the next. With ``target``, the title says whether the output is right.
    Returns ``decoded``, ``rows``, ``cols``, ``right`` (None without target) and ``text``.
    """
    w = torch.as_tensor(weights, dtype=torch.float32)
    if w.dim() != 2 or w.shape[1] != len(text):
        raise ValueError(
            f"weights must be (rows, len(text)) = (*, {len(text)}), got shape {tuple(w.shape)}"
        )
    if w.shape[0] not in (len(pred), len(pred) + 1):
        raise ValueError(
            f"weights must have one row per output character (+ <eos>): {len(pred)} or "
            f"{len(pred) + 1}, got {w.shape[0]}"
        )
    out = list(pred) + ["<eos>"] * (w.shape[0] - len(pred))
    ax = fig.subplots()
    im = ax.imshow(w.numpy(), cmap="Reds", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(text)), list(text.replace(" ", "␣")), fontsize=8)
    ax.set_yticks(range(len(out)), out, fontsize=8)
    ax.set_xlabel("input character")
    ax.set_ylabel("output character")
    right = None if target is None else pred == target
    verdict = "" if target is None else ("  ✓" if right else f"  ✗ (want {target})")
    ax.set_title(f"{text!r} → {pred!r}{verdict}", fontsize=9)
    fig.colorbar(im, ax=ax, label="attention weight", shrink=0.9)
    return {
        "decoded": pred,
        "rows": int(w.shape[0]),
        "cols": int(w.shape[1]),
        "right": right,
        "text": html.escape(f"{text!r} is decoded as {pred!r}."),
    }


def _draw_message(fig: Figure, message: str) -> None:
    ax = fig.subplots()
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=10)


def date_explorer(model, *, text: str = "3 Mar 2021", vocab: CharVocab = DATE_VOCAB) -> Explorer:
    """Type a date, see the trained model's greedy output and where each output character looked.

    Control: ``date`` (a text box). ``model`` is a trained attention ``EncoderDecoder``; decoding one
    string is a few milliseconds and nothing is trained. ``explorer.state`` holds ``decoded`` (the
    output string, or None when the box is empty), ``rows``, ``cols`` and ``text``. Inputs longer than
    40 characters are cut to 40.
    """
    import ipywidgets as widgets

    if getattr(model, "decoder", None) is None or not hasattr(model.decoder, "attention"):
        raise TypeError("model must be an EncoderDecoder whose decoder has attention")
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")

    @lru_cache(maxsize=128)
    def decoded(s: str):
        return decode_one(model, s, vocab)

    def draw(fig, date):
        s = date.strip()[:MAX_CHARS]
        if not s:
            _draw_message(fig, "type a date, e.g. 3 Mar 2021")
            return {"decoded": None, "rows": 0, "cols": 0, "text": "Type a date."}
        pred, w = decoded(s)
        shown = draw_alignment(fig, s, pred, w)
        if len(date.strip()) > MAX_CHARS:
            shown["text"] += f" (cut to its first {MAX_CHARS} characters)"
        return shown

    controls = {
        "date": widgets.Text(value=text, description="date", placeholder="3 Mar 2021"),
    }
    return Explorer(
        controls,
        figure=LiveFigure(draw, figsize=(6.4, 3.4)),
        title="Type a date: the decoded string and where each character looked",
    )


def _curve_steps(curves: Mapping[str, Sequence[tuple[int, float]]]) -> list[int]:
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError("curves must be a non-empty dict: name -> [(step, accuracy), ...]")
    steps = None
    for name, curve in curves.items():
        s = [int(step) for step, _ in curve]
        if not s or s != sorted(set(s)):
            raise ValueError(f"curves[{name!r}] must list (step, accuracy) with increasing steps")
        if steps is not None and s != steps:
            raise ValueError("every curve must be evaluated at the same steps")
        steps = s
    return steps


def draw_curves(fig: Figure, curves, step: int | None = None, threshold: float = 0.5) -> dict:
    """Held-out exact match against training steps, one line per model, drawn up to ``step``.

    ``curves``: name -> ``[(step, accuracy), ...]`` (as ``train_seq2seq`` returns them under
    ``"curve"``), all evaluated at the same steps. Only the part up to ``step`` (default: the last)
    is drawn: the accuracy so far. Returns ``step`` (the last evaluated step <= ``step``), ``accuracy`` (name -> value
    there), ``reached`` (name -> first step with accuracy >= ``threshold``, or None) and ``text``.
    """
    steps = _curve_steps(curves)
    step = steps[-1] if step is None else int(step)
    shown_step = max([s for s in steps if s <= step], default=steps[0])
    ax = fig.subplots()
    accuracy, reached = {}, {}
    for i, (name, curve) in enumerate(curves.items()):
        colour = COLOURS.get(name, f"C{i}")
        xs = [s for s, _ in curve]
        ys = [float(a) for _, a in curve]
        k = xs.index(shown_step) + 1
        ax.plot(xs[:k], ys[:k], "o-", color=colour, ms=3, label=f"{name}: {ys[k - 1]:.2f}")
        accuracy[name] = ys[k - 1]
        reached[name] = next((s for s, a in zip(xs, ys, strict=True) if a >= threshold), None)
    ax.axvline(shown_step, color="grey", lw=0.8, ls=":")
    ax.axhline(threshold, color="grey", lw=0.5)
    ax.set(
        xlabel="training step",
        ylabel="held-out exact match",
        ylim=(0, 1),
        xlim=(steps[0], steps[-1]),
        title=f"after {shown_step} steps",
    )
    ax.legend(loc="upper left", fontsize=8)
    parts = ", ".join(f"{n} {a:.2f}" for n, a in accuracy.items())
    return {
        "step": shown_step,
        "accuracy": accuracy,
        "reached": reached,
        "text": html.escape(f"Held-out exact match after {shown_step} steps: {parts}."),
    }


class _CachedCurves(LiveFigure):
    """A LiveFigure that remembers the PNG of every step it has drawn (the curves never change)."""

    def __init__(self, draw, **kwargs):
        super().__init__(draw, **kwargs)
        self._render = lru_cache(maxsize=512)(self._render_once)

    def _render_once(self, step: int):
        png, shown = super().render(step=step)
        return png, tuple(shown.items())

    def render(self, **values):
        png, shown = self._render(int(values["step"]))
        return png, dict(shown)


def curve_explorer(curves, *, step: int | None = None) -> Explorer:
    """A training-step slider over precomputed held-out accuracy curves (nothing is retrained).

    Control: ``step`` (an integer slider over the evaluated steps). ``curves`` as in
    :func:`draw_curves`. ``explorer.state`` is what :func:`draw_curves` returns.
    """
    import ipywidgets as widgets

    steps = _curve_steps(curves)
    curves = {name: [(int(s), float(a)) for s, a in c] for name, c in curves.items()}
    gaps = {b - a for a, b in zip(steps, steps[1:], strict=False)}
    stride = min(gaps) if gaps else 1
    step = steps[-1] if step is None else int(step)
    controls = {
        "step": widgets.IntSlider(
            value=step, min=steps[0], max=steps[-1], step=stride, description="step"
        )
    }
    figure = _CachedCurves(lambda fig, step: draw_curves(fig, curves, step), figsize=(5.6, 3.0))
    return Explorer(
        controls, figure=figure, title="Held-out accuracy so far, at each training step"
    )


def _box(ax, x, y, text, colour, w=0.8, h=0.5, fontsize=9):
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02", fc=colour, ec="black", lw=0.8
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start, end, **kw):
    style = {"arrowstyle": "-|>", "mutation_scale": 9, "lw": 0.9, "color": "black"} | kw
    ax.add_patch(FancyArrowPatch(start, end, shrinkA=0, shrinkB=0, **style))


def draw_encoder_decoder(fig: Figure, source: str = "3 Mar", target: str = "03") -> dict:
    """The GRU encoder-decoder of the lesson, drawn with boxes and arrows (no attention).

    The encoder reads ``source`` one character per step (states h_1..h_S); its last state h_S starts
    the decoder (s_0) and is also the context c fed at every decoder step (dashed). The decoder reads
    ``<bos>`` and then the right previous character (teacher forcing) and writes ``target`` then
    ``<eos>``. Returns ``encoder_steps`` and ``decoder_steps``.
    """
    if not source or not target:
        raise ValueError("source and target must be non-empty strings")
    S, T = len(source), len(target) + 1
    ax = fig.subplots()
    ax.set_xlim(-0.8, S + T + 0.4)
    ax.set_ylim(-0.6, 3.3)
    ax.axis("off")
    enc_c, dec_c, io_c = "#c6dbef", "#fdd0a2", "#f0f0f0"
    for j, ch in enumerate(source):
        x = j
        _box(ax, x, 0, repr(ch).strip("'") if ch != " " else "␣", io_c, w=0.5, h=0.4)
        _box(ax, x, 1.2, f"GRU\nh{j + 1}", enc_c)
        _arrow(ax, (x, 0.2), (x, 0.95))
        if j:
            _arrow(ax, (x - 0.6, 1.2), (x - 0.4, 1.2))
    ins = ["<bos>"] + list(target)
    outs = list(target) + ["<eos>"]
    x0 = S + 0.6
    for t in range(T):
        x = x0 + t
        _box(ax, x, 0, ins[t], io_c, w=0.62, h=0.4, fontsize=8 if len(ins[t]) > 1 else 9)
        _box(ax, x, 1.2, f"GRU\ns{t + 1}", dec_c)
        _box(ax, x, 2.55, outs[t], io_c, w=0.62, h=0.4, fontsize=8 if len(outs[t]) > 1 else 9)
        _arrow(ax, (x, 0.2), (x, 0.95))
        _arrow(ax, (x, 1.45), (x, 2.35))
        if t:
            _arrow(ax, (x - 0.6, 1.2), (x - 0.4, 1.2))
            # teacher forcing: the right previous character is the next input
            _arrow(ax, (x - 1 + 0.3, 2.4), (x - 0.25, 0.2), color="grey", lw=0.7, ls=":")
    # h_S starts the decoder and is the fixed context at every decoder step
    _arrow(ax, (S - 1 + 0.4, 1.2), (x0 - 0.4, 1.2), color="#08519c", lw=1.4)
    ax.text((S - 1 + x0) / 2, 1.3, "s0 = hS", ha="center", va="bottom", fontsize=8, color="#08519c")
    for t in range(T):
        _arrow(
            ax,
            (S - 1 + 0.1, 1.5),
            (x0 + t - 0.3, 1.47),
            color="#08519c",
            lw=0.6,
            ls="--",
            connectionstyle="arc3,rad=-0.25",
        )
    ax.text((S - 1) / 2, -0.5, "encoder: reads the input", ha="center", fontsize=9)
    ax.text(x0 + (T - 1) / 2, -0.5, "decoder: writes the output", ha="center", fontsize=9)
    ax.text(
        x0 + (T - 1) / 2,
        3.1,
        "dashed: the same context c = hS at every step; dotted: teacher forcing",
        ha="center",
        fontsize=8,
        color="#444444",
    )
    return {"encoder_steps": S, "decoder_steps": T}


def demo_model(hidden: int = 16, seed: int = 0):
    """A small untrained attention ``EncoderDecoder`` for tests and benchmarks (random weights)."""
    from ..seq2seq import EncoderDecoder, Seq2SeqAttentionDecoder, Seq2SeqEncoder

    g = torch.random.fork_rng()
    with g:
        torch.manual_seed(seed)
        V = len(DATE_VOCAB)
        model = EncoderDecoder(
            Seq2SeqEncoder(V, 8, hidden), Seq2SeqAttentionDecoder(V, 8, hidden)
        ).eval()
    return model


def demo_curves(every: int = 20, num_steps: int = 300) -> dict[str, list[tuple[int, float]]]:
    """Synthetic S-shaped accuracy curves (attention rising earlier), for tests and benchmarks."""
    import math

    def s_curve(mid, top):
        return [
            (s, round(top / (1 + math.exp(-(s - mid) / 25)), 4))
            for s in range(0, num_steps + 1, every)
        ]

    return {"attention": s_curve(110, 0.93), "baseline": s_curve(240, 0.85)}


def benchmark_cases():
    """``(name, make_explorer, control_name, values)`` for the shared redraw benchmark."""
    model = demo_model()
    curves = demo_curves()
    return [
        (
            "date_explorer",
            lambda: date_explorer(model),
            "date",
            ["3 Mar 2021", "the 21st of june 1987", "09.11.04", "Wednesday the 3rd of March, 2021"],
        ),
        ("curve_explorer", lambda: curve_explorer(curves), "step", [0, 100, 160, 240, 300]),
    ]
