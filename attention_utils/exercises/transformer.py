"""Checkers for lesson 07: the forward pass of a Transformer encoder block, post-norm and pre-norm.

Lesson 07 builds the post-norm block (Vaswani et al., d2l, BERT) as a worked example; its exercise
asks for the pre-norm block (GPT-2 and most later models). Both checkers recognise the typical
mistakes, including writing the other variant, and say which one was made.
"""

from __future__ import annotations

import torch
from torch import nn

from ._harness import Mismatch, expect_finite, expect_shape, run_checks

__all__ = [
    "check_encoder_block",
    "reference_encoder_block",
    "check_pre_norm_block",
    "reference_pre_norm_block",
]


def reference_encoder_block(X, valid_lens, attention, ffn, ln1, ln2):
    """The post-norm block: ``Y = ln1(X + attention(X, X, X, valid_lens))``, ``ln2(Y + ffn(Y))``."""
    Y = ln1(X + attention(X, X, X, valid_lens))  # (B, T, d)
    return ln2(Y + ffn(Y))  # (B, T, d)


def reference_pre_norm_block(X, valid_lens, attention, ffn, ln1, ln2):
    """The pre-norm block: ``Y = X + attention(H, H, H, valid_lens)`` with ``H = ln1(X)``, then
    ``Y + ffn(ln2(Y))``. Each sublayer reads a normalized copy; the residual stream is never normalized."""
    H = ln1(X)  # (B, T, d)
    Y = X + attention(H, H, H, valid_lens)  # (B, T, d)
    return Y + ffn(ln2(Y))  # (B, T, d)


def _parts(d: int = 8, heads: int = 2, seed: int = 0):
    """Attention, FFN and two LayerNorms with random (non-trivial) weights, all in eval mode."""
    from ..multihead import MultiHeadAttention
    from ..transformer import PositionWiseFFN

    torch.manual_seed(seed)  # restored by the caller's fork_rng
    attention = MultiHeadAttention(d, heads, 0.0, bias=True)
    ffn = PositionWiseFFN(2 * d, d)
    attention(*(torch.zeros(1, 1, d),) * 3)  # materialize lazy layers: (1, 1, d)
    ffn(torch.zeros(1, 1, d))
    ln1, ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
    with torch.no_grad():
        for ln in (ln1, ln2):  # not 1 and 0, so that skipping a LayerNorm shows
            ln.weight.uniform_(0.5, 1.5)
            ln.bias.uniform_(-0.5, 0.5)
    return tuple(m.eval() for m in (attention, ffn, ln1, ln2))


# Typical wrong versions, each with the hint a learner gets when their output matches it.
_WRONG = (
    (
        "pre-norm: you normalized *before* each sublayer (X + sublayer(LayerNorm(X))); this block is "
        "post-norm: LayerNorm(X + sublayer(X))",
        lambda X, v, a, f, n1, n2: (lambda Y: Y + f(n2(Y)))(X + a(n1(X), n1(X), n1(X), v)),
    ),
    (
        "the residual is missing: add the sublayer's input before each LayerNorm, LayerNorm(X + sublayer(X))",
        lambda X, v, a, f, n1, n2: (lambda Y: n2(f(Y)))(n1(a(X, X, X, v))),
    ),
    (
        "the FFN must read Y, the output of the first add & norm, not the block's input X",
        lambda X, v, a, f, n1, n2: n2(n1(X + a(X, X, X, v)) + f(X)),
    ),
    (
        "normalize the sum: LayerNorm(X + sublayer(X)), not X + LayerNorm(sublayer(X))",
        lambda X, v, a, f, n1, n2: (lambda Y: Y + n2(f(Y)))(X + n1(a(X, X, X, v))),
    ),
    (
        "you stopped after the attention sublayer: the FFN sublayer (with its own add & norm) comes next",
        lambda X, v, a, f, n1, n2: n1(X + a(X, X, X, v)),
    ),
)


_WRONG_PRE = (
    (
        "post-norm: you normalized *after* adding (LayerNorm(X + sublayer(X))); pre-norm normalizes "
        "only the sublayer's input: X + sublayer(LayerNorm(X))",
        reference_encoder_block,
    ),
    (
        "the residual is missing: add each sublayer's output to its input, Y = X + attention(...), "
        "Z = Y + ffn(...)",
        lambda X, v, a, f, n1, n2: (lambda Y: f(n2(Y)))(a(n1(X), n1(X), n1(X), v)),
    ),
    (
        "the residual must carry the un-normalized X: Y = X + attention(H, H, H, ...), not "
        "H + attention(...) with H = LayerNorm(X)",
        lambda X, v, a, f, n1, n2: (lambda H: (lambda Y: n2(Y) + f(n2(Y)))(H + a(H, H, H, v)))(
            n1(X)
        ),
    ),
    (
        "queries, keys and values all come from the normalized H = ln1(X): attention(H, H, H, ...)",
        lambda X, v, a, f, n1, n2: (lambda Y: Y + f(n2(Y)))(X + a(n1(X), X, X, v)),
    ),
    (
        "the FFN sublayer reads Y, the output of the attention sublayer: Z = Y + ffn(ln2(Y)), not "
        "ffn(ln2(X))",
        lambda X, v, a, f, n1, n2: (lambda Y: Y + f(n2(X)))(X + a(n1(X), n1(X), n1(X), v)),
    ),
    (
        "normalize the FFN's input too: Z = Y + ffn(ln2(Y)), not Y + ffn(Y)",
        lambda X, v, a, f, n1, n2: (lambda Y: Y + f(Y))(X + a(n1(X), n1(X), n1(X), v)),
    ),
    (
        "ln1 goes before the attention and ln2 before the FFN: you swapped them",
        lambda X, v, a, f, n1, n2: reference_pre_norm_block(X, v, a, f, n2, n1),
    ),
    (
        "no LayerNorm after the residual sum in a pre-norm block: Z = Y + ffn(ln2(Y)), not "
        "ln(Y + ffn(...))",
        lambda X, v, a, f, n1, n2: (lambda Y: n2(Y + f(n2(Y))))(X + a(n1(X), n1(X), n1(X), v)),
    ),
    (
        "you stopped after the attention sublayer: the FFN sublayer, Z = Y + ffn(ln2(Y)), comes next",
        lambda X, v, a, f, n1, n2: X + a(n1(X), n1(X), n1(X), v),
    ),
)


def _diagnose(got: torch.Tensor, X, valid_lens, parts, reference, wrongs, formula) -> None:
    want = reference(X, valid_lens, *parts)
    if torch.allclose(got, want, atol=1e-5, rtol=1e-4):
        return
    for hint, wrong in wrongs:
        if torch.allclose(got, wrong(X, valid_lens, *parts), atol=1e-5, rtol=1e-4):
            raise Mismatch(hint)
    if valid_lens is not None and torch.allclose(
        got, reference(X, None, *parts), atol=1e-5, rtol=1e-4
    ):
        raise Mismatch("padding is not masked: pass valid_lens on to the attention")
    diff = (got - want).abs().max().item()
    raise Mismatch(f"wrong values (largest difference {diff:.3g}): {formula}")


def _check_block(name, fn, reference, wrongs, formula, verbose) -> bool:
    """Run ``fn`` against ``reference`` on random parts, with and without padding."""

    def run(X, valid_lens, seed):
        with torch.random.fork_rng():
            parts = _parts(X.shape[-1], seed=seed)
        with torch.no_grad():
            got = fn(X.clone(), valid_lens, *parts)
            got = expect_shape(got, tuple(X.shape), "the block's output")
            expect_finite(got, "the block's output")
            _diagnose(got, X, valid_lens, parts, reference, wrongs, formula)

    def shape_and_values():
        X = torch.randn(2, 5, 8, generator=torch.Generator().manual_seed(1))
        run(X, None, seed=0)

    def with_padding():
        X = torch.randn(3, 6, 8, generator=torch.Generator().manual_seed(2))
        run(X, torch.tensor([6, 3, 1]), seed=3)

    def leaves_input_alone():
        X = torch.randn(1, 4, 8, generator=torch.Generator().manual_seed(4))
        before = X.clone()
        with torch.random.fork_rng():
            parts = _parts(8, seed=5)
        with torch.no_grad():
            fn(X, None, *parts)
        if not torch.equal(X, before):
            raise Mismatch(
                "your function changed X in place (e.g. X += ...); build new tensors instead"
            )

    cases = [
        ("values", shape_and_values),
        ("padding", with_padding),
        ("input", leaves_input_alone),
    ]
    return run_checks(name, cases, verbose=verbose)


def check_encoder_block(fn, verbose: bool = True) -> bool:
    """Check ``fn(X, valid_lens, attention, ffn, ln1, ln2) -> Z``, the forward of a post-norm block.

    ``X`` is ``(B, T, d)``; ``valid_lens`` is None or ``(B,)``; ``attention`` is a
    ``MultiHeadAttention`` called as ``attention(queries, keys, values, valid_lens)``; ``ffn`` a
    ``PositionWiseFFN``; ``ln1`` and ``ln2`` are ``nn.LayerNorm(d)``. ``Z`` must be ``(B, T, d)``:
    ``Y = ln1(X + attention(X, X, X, valid_lens))`` and ``Z = ln2(Y + ffn(Y))``. The learner's random
    state is left as it was.
    """
    return _check_block(
        "check_encoder_block",
        fn,
        reference_encoder_block,
        _WRONG,
        "Y = ln1(X + attention(X, X, X, valid_lens)), then ln2(Y + ffn(Y))",
        verbose,
    )


def check_pre_norm_block(fn, verbose: bool = True) -> bool:
    """Check ``fn(X, valid_lens, attention, ffn, ln1, ln2) -> Z``, the forward of a pre-norm block.

    Same arguments as ``check_encoder_block``. ``Z`` must be ``(B, T, d)``: with ``H = ln1(X)``,
    ``Y = X + attention(H, H, H, valid_lens)`` and ``Z = Y + ffn(ln2(Y))``. Recognises the post-norm
    block, a missing or normalized residual, un-normalized keys and values, an FFN reading X or an
    un-normalized Y, swapped LayerNorms, an extra LayerNorm at the end, a missing FFN sublayer, and
    unmasked padding. The learner's random state is left as it was.
    """
    return _check_block(
        "check_pre_norm_block",
        fn,
        reference_pre_norm_block,
        _WRONG_PRE,
        "H = ln1(X); Y = X + attention(H, H, H, valid_lens); Z = Y + ffn(ln2(Y))",
        verbose,
    )
