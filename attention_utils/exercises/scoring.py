"""Checkers for lesson 03 (scaled dot-product attention) and lesson 04 (the additive score)."""

from __future__ import annotations

import math

import torch

from ._harness import Mismatch, expect_close, expect_finite, expect_shape, run_checks

__all__ = ["check_scaled_dot_product", "check_additive_score"]


def _randn(*shape: int, seed: int = 0, scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _sdpa_reference(q, k, v, valid_lens=None):
    from ..masking import masked_softmax

    scores = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])  # (B, Q, K)
    return masked_softmax(scores, valid_lens) @ v  # (B, Q, v)


def check_scaled_dot_product(fn, verbose: bool = True) -> bool:
    """Check ``fn(queries, keys, values, valid_lens=None) -> output``.

    queries ``(B, Q, d)``, keys ``(B, K, d)``, values ``(B, K, v)``, valid_lens ``None`` or ``(B,)``;
    the output is ``(B, Q, v)`` = ``masked_softmax(Q K^T / sqrt(d)) V``. A query whose valid length
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
        if torch.isnan(got).any():
            raise Mismatch(
                "a sequence with valid length 0 gave NaN; its output should be zeros (use au.masked_softmax)"
            )
        expect_close(
            got[0],
            torch.zeros(2, 2),
            "a sequence with valid length 0 has no key to attend to: output zeros",
        )
        expect_close(
            got[1], _sdpa_reference(q, k, v)[1], "a full-length sequence should be unmasked"
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
