"""Checkers for lesson 03 (scaled dot-product attention, the additive score) and lesson 04 (one
Bahdanau context step)."""

from __future__ import annotations

import math

import torch

from ._harness import Mismatch, expect_close, expect_finite, expect_shape, run_checks

__all__ = ["check_scaled_dot_product", "check_additive_score", "check_bahdanau_context"]


def _randn(*shape: int, seed: int = 0, scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _sdpa_reference(q, k, v, valid_lens=None):
    from ..masking import masked_softmax

    scores = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])  # (B, Q, K)
    return masked_softmax(scores, valid_lens) @ v  # (B, Q, v)


def check_scaled_dot_product(fn, verbose: bool = True) -> bool:
    """Check ``fn(queries, keys, values, valid_lens=None) -> output``.

    queries ``(B, Q, d)``, keys ``(B, K, d)``, values ``(B, K, v)``, valid_lens ``None``, ``(B,)``
    (one length per sequence) or ``(B, Q)`` (one length per query); the output is ``(B, Q, v)`` = ``masked_softmax(Q K^T / sqrt(d)) V``. A query whose valid length
    is 0 has nothing to attend to and must give the zero vector, never NaN.
    """

    def shapes():
        q, k, v = _randn(2, 3, 4), _randn(2, 5, 4, seed=1), _randn(2, 5, 6, seed=2)
        expect_shape(
            fn(q, k, v), (2, 3, 6), "the output for 3 queries, 5 keys and values of size 6"
        )

    def values():
        q, k, v = _randn(2, 3, 16), _randn(2, 5, 16, seed=1), _randn(2, 5, 2, seed=2)
        got = expect_shape(fn(q, k, v), (2, 3, 2))
        expect_finite(got)
        scores = q @ k.transpose(1, 2)  # (B, Q, K)
        if torch.allclose(got, torch.softmax(scores, -1) @ v, atol=1e-5):
            raise Mismatch("you forgot to divide the scores by sqrt(d) (d = 16 here)")
        if torch.allclose(got, torch.softmax(scores / 16, -1) @ v, atol=1e-5):
            raise Mismatch("you divided by d; divide by sqrt(d) (math.sqrt(queries.shape[-1]))")
        if torch.allclose(got, torch.softmax(scores / 4, 1) @ v, atol=1e-5):
            raise Mismatch(
                "softmax along the queries axis: each query's weights over the keys must sum to 1 (dim=-1)"
            )
        expect_close(
            got, _sdpa_reference(q, k, v), "wrong output: it should be softmax(Q K^T / sqrt(d)) V"
        )

    def masked():
        q, k, v = _randn(2, 3, 4, seed=3), _randn(2, 5, 4, seed=4), _randn(2, 5, 3, seed=5)
        lens = torch.tensor([2, 5])
        got = expect_shape(fn(q, k, v, lens), (2, 3, 3))
        expect_finite(got)
        expect_close(
            got,
            _sdpa_reference(q, k, v, lens),
            "with valid_lens, keys at or past each length must get weight 0",
        )

    def empty_row():
        q, k, v = _randn(2, 2, 4, seed=6), _randn(2, 3, 4, seed=7), _randn(2, 3, 2, seed=8)
        got = fn(q, k, v, torch.tensor([0, 3]))
        if torch.isfinite(got).all() and torch.allclose(
            got[0], v[0].mean(0).expand(2, 2), atol=1e-5
        ):
            raise Mismatch(
                "a sequence with valid length 0 should give zeros, but your output for it is the "
                "plain average of all its values: filling the masked scores with -1e6 (as d2l does) "
                "spreads that row's weight evenly over the padding; set the weights of masked keys "
                "to 0 after the softmax (check_masked_softmax says the same for the masked softmax)"
            )
        if torch.isnan(got).any():
            raise Mismatch(
                "a sequence with valid length 0 gave NaN; its output should be zeros (a row that is all "
                "-inf has a NaN softmax: set the masked weights to 0 after the softmax)"
            )
        expect_close(
            got[0],
            torch.zeros(2, 2),
            "a sequence with valid length 0 has no key to attend to: output zeros",
        )
        expect_close(
            got[1], _sdpa_reference(q, k, v)[1], "a full-length sequence should be unmasked"
        )

    def per_query():
        q, k, v = _randn(2, 3, 4, seed=12), _randn(2, 5, 4, seed=13), _randn(2, 5, 2, seed=14)
        lens = torch.tensor([[1, 3, 5], [2, 0, 4]])  # (B, Q): one length per query
        try:
            got = fn(q, k, v, lens)
        except NotImplementedError:
            raise
        except Exception as err:
            raise Mismatch(
                f"valid_lens of shape (B, Q), one length per query, made your code raise "
                f"{type(err).__name__}: {err}; compare the key positions with valid_lens[..., None]"
            ) from None
        got = expect_shape(got, (2, 3, 2), "the output with valid_lens of shape (B, Q)")
        expect_finite(got)
        expect_close(
            got,
            _sdpa_reference(q, k, v, lens),
            "with valid_lens of shape (B, Q), query i of sequence b may only use keys "
            "j < valid_lens[b, i]",
        )

    def large():
        q, k, v = (
            _randn(1, 2, 8, seed=9, scale=100.0),
            _randn(1, 4, 8, seed=10, scale=100.0),
            _randn(1, 4, 2, seed=11),
        )
        got = fn(q, k, v)
        try:
            expect_finite(got)
        except Mismatch as miss:
            raise Mismatch(
                f"{miss} for large scores: use torch.softmax, which subtracts the max"
            ) from None
        expect_close(got, _sdpa_reference(q, k, v), "wrong output for large scores")

    cases = [
        ("shapes", shapes),
        ("values", values),
        ("valid_lens", masked),
        ("valid length 0", empty_row),
        ("valid_lens (B, Q)", per_query),
        ("large scores", large),
    ]
    return run_checks("check_scaled_dot_product", cases, verbose=verbose)


def _additive_reference(queries, keys, W_q, W_k, w_v):
    q = queries @ W_q.T  # (B, Q, h)
    k = keys @ W_k.T  # (B, K, h)
    return torch.tanh(q[:, :, None, :] + k[:, None, :, :]) @ w_v  # (B, Q, K, h) @ (h,) -> (B, Q, K)


def check_additive_score(fn, verbose: bool = True) -> bool:
    """Check ``fn(queries, keys, W_q, W_k, w_v) -> scores``, Bahdanau's additive score.

    queries ``(B, Q, q)``, keys ``(B, K, k)``, ``W_q`` ``(h, q)``, ``W_k`` ``(h, k)``, ``w_v`` ``(h,)``;
    scores ``(B, Q, K)`` with ``scores[b, i, j] = w_v . tanh(W_q q_i + W_k k_j)`` (no softmax).
    """

    def make(seed: int, B: int = 2, Q: int = 3, K: int = 5, dq: int = 4, dk: int = 6, h: int = 7):
        return (
            _randn(B, Q, dq, seed=seed),
            _randn(B, K, dk, seed=seed + 1),
            _randn(h, dq, seed=seed + 2),
            _randn(h, dk, seed=seed + 3),
            _randn(h, seed=seed + 4),
        )

    def shape():
        args = make(0)
        expect_shape(fn(*args), (2, 3, 5), "the scores for 3 queries and 5 keys")

    def values():
        args = make(10)
        got = expect_shape(fn(*args), (2, 3, 5))
        expect_finite(got)
        q, k, W_q, W_k, w_v = args
        feats = q @ W_q.T  # (B, Q, h)
        keys = k @ W_k.T  # (B, K, h)
        no_tanh = (feats[:, :, None] + keys[:, None]) @ w_v  # (B, Q, K)
        if torch.allclose(got, no_tanh, atol=1e-5):
            raise Mismatch(
                "you forgot the tanh: without it the score is linear and splits into a part per query plus a part per key"
            )
        if torch.allclose(got, torch.softmax(_additive_reference(*args), -1), atol=1e-5):
            raise Mismatch("return the raw scores; the softmax comes later (masked_softmax)")
        expect_close(
            got,
            _additive_reference(*args),
            "scores[b, i, j] should be w_v . tanh(W_q q_i + W_k k_j)",
        )

    def one_query():
        args = make(20, B=1, Q=1, K=4, dq=3, dk=3, h=2)
        got = expect_shape(fn(*args), (1, 1, 4), "the scores for a single query (a decoder step)")
        expect_close(got, _additive_reference(*args), "wrong scores for a single query")

    def bounded():
        args = list(make(30))
        args[0] = args[0] * 1e4  # huge queries: tanh saturates, the score stays within sum(|w_v|)
        got = fn(*args)
        expect_finite(got)
        if got.abs().max() > args[4].abs().sum() + 1e-4:
            raise Mismatch(
                "an additive score can never exceed sum(|w_v|) because tanh is in [-1, 1]"
            )

    cases = [
        ("shape", shape),
        ("values", values),
        ("one query", one_query),
        ("huge inputs", bounded),
    ]
    return run_checks("check_additive_score", cases, verbose=verbose)


def _bahdanau_reference(s, enc_outputs, valid_len, W_q, W_k, w_v):
    from ..masking import masked_softmax

    feats = torch.tanh((s @ W_q.T)[:, None, :] + enc_outputs @ W_k.T)  # (B, 1, h) + (B, S, h)
    alpha = masked_softmax((feats @ w_v)[:, None, :], valid_len)[:, 0]  # (B, S)
    return (alpha[:, None, :] @ enc_outputs)[:, 0], alpha  # (B, H), (B, S)


_INVERTED = (
    "your mask is inverted: it hides the real source positions and keeps the padding. "
    "Positions j < valid_len are real characters (keep them); j >= valid_len are padding "
    "(give them -inf before the softmax). Note the opposite conventions: a mask built as "
    "`positions < valid_len` means True = keep (like SDPA's attn_mask), while "
    "nn.MultiheadAttention's key_padding_mask means True = ignore"
)


def _mask_convention(alpha: torch.Tensor, lens: torch.Tensor) -> None:
    """Raise a hint naming the mask convention when ``alpha`` looks like an inverted mask.

    Signs: a row with no padding (valid_len = S) comes out NaN or all zero, since an inverted mask
    hides every position; or a row with padding puts (almost) all its weight on the padding.
    """
    S = alpha.shape[-1]
    real = torch.arange(S)[None, :] < lens[:, None]  # (B, S): True = a real position
    full = lens == S  # rows without padding
    bad_full = bool(
        full.any()
        and (alpha[full].isnan().any() or alpha[full].nan_to_num().abs().sum(-1).max() < 1e-6)
    )
    padded = (lens < S) & (lens > 0) & alpha.isfinite().all(-1)
    on_padding = (alpha.nan_to_num() * ~real).sum(-1)  # (B,) weight on the padding
    bad_padded = bool(padded.any() and (on_padding[padded] > 0.999).all())
    if bad_full and (bad_padded or not padded.any() or alpha[padded].isnan().all()):
        raise Mismatch(_INVERTED)
    if bad_padded:
        raise Mismatch(_INVERTED)


def check_bahdanau_context(fn, verbose: bool = True) -> bool:
    """Check ``fn(s, enc_outputs, valid_len, W_q, W_k, w_v) -> (context, alpha)``: one decoder step.

    ``s`` ``(B, H)`` is the decoder's previous state (the query), ``enc_outputs`` ``(B, S, H)`` the
    encoder states (keys **and** values), ``valid_len`` ``(B,)`` the real length of each source,
    ``W_q`` ``(h, H)``, ``W_k`` ``(h, H)``, ``w_v`` ``(h,)``. It returns ``alpha`` ``(B, S)``, the
    masked softmax over the source positions of ``w_v . tanh(W_q s + W_k h_j)`` (0 on the padding),
    and the context ``(B, H)`` = ``sum_j alpha_j h_j``.
    """

    def make(seed: int, B: int = 3, S: int = 6, H: int = 5, h: int = 4):
        return (
            _randn(B, H, seed=seed),
            _randn(B, S, H, seed=seed + 1),
            torch.tensor([6, 2, 4])[:B],
            _randn(h, H, seed=seed + 2),
            _randn(h, H, seed=seed + 3),
            _randn(h, seed=seed + 4),
        )

    def unpack(out, B, S, H, lens=None):
        if not isinstance(out, tuple | list) or len(out) != 2:
            raise Mismatch("return a pair (context, alpha)")
        context = expect_shape(out[0], (B, H), "context (the first result)")
        alpha = expect_shape(out[1], (B, S), "alpha (the second result)")
        if lens is not None:
            _mask_convention(alpha.detach(), lens)
        expect_finite(context, "context")
        expect_finite(alpha, "alpha")
        return context, alpha

    def shapes():
        args = make(0, h=5)
        unpack(fn(*args), 3, 6, 5, lens=args[2])

    def weights():
        args = make(10, h=5)  # h = H, so that averaging W_k h_j has the right shape and is caught
        context, alpha = unpack(fn(*args), 3, 6, 5, lens=args[2])
        want_ctx, want_alpha = _bahdanau_reference(*args)
        if not torch.allclose(alpha.sum(-1), torch.ones(3), atol=1e-5):
            if torch.allclose(alpha.sum(0), torch.ones(6), atol=1e-5):
                raise Mismatch(
                    "alpha sums to 1 over the batch: take the softmax over the source positions (dim=-1)"
                )
            raise Mismatch(
                "each row of alpha must sum to 1; mask the padding BEFORE the softmax (-inf), "
                "not by zeroing weights after it"
            )
        if (alpha[1, 2:] != 0).any() or (alpha[2, 4:] != 0).any():
            raise Mismatch(
                "positions at or past valid_len are padding and must get weight exactly 0"
            )
        s, h, lens, W_q, W_k, w_v = args
        no_tanh = ((s @ W_q.T)[:, None, :] + h @ W_k.T) @ w_v  # (B, S)
        from ..masking import masked_softmax

        if torch.allclose(alpha, masked_softmax(no_tanh[:, None], lens)[:, 0], atol=1e-5):
            raise Mismatch("you forgot the tanh in the score w_v . tanh(W_q s + W_k h_j)")
        expect_close(alpha, want_alpha, "alpha should be softmax_j(w_v . tanh(W_q s + W_k h_j))")
        if torch.allclose(context, (alpha[:, None] @ (h @ W_k.T))[:, 0], atol=1e-5):
            raise Mismatch("the context averages the encoder states h_j themselves, not W_k h_j")
        expect_close(context, want_ctx, "context should be sum_j alpha_j h_j")

    def full_length():
        args = list(make(20, B=2, S=4, H=3, h=2))
        args[2] = torch.tensor([4, 1])  # a full source and a one-character one
        context, alpha = unpack(fn(*args), 2, 4, 3)
        want_ctx, want_alpha = _bahdanau_reference(*args)
        expect_close(alpha, want_alpha, "wrong weights for valid lengths [4, 1]")
        expect_close(
            context[1],
            args[1][1, 0],
            "with valid_len 1 the only real position gets weight 1: the context is h_1",
        )

    def huge():
        args = list(make(30))
        args[0] = args[0] * 1e4  # tanh saturates; the scores stay within sum(|w_v|)
        context, alpha = unpack(fn(*args), 3, 6, 5)
        expect_close(alpha, _bahdanau_reference(*args)[1], "wrong weights for a huge query")

    cases = [
        ("shapes", shapes),
        ("weights and context", weights),
        ("valid lengths [4, 1]", full_length),
        ("huge query", huge),
    ]
    return run_checks("check_bahdanau_context", cases, verbose=verbose)
