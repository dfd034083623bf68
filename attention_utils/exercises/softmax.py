"""Checkers for lesson 01 (row softmax) and lesson 03 (masked softmax)."""

from __future__ import annotations

import torch

from ._harness import Mismatch, expect_close, expect_finite, expect_shape, run_checks

__all__ = ["check_row_softmax", "check_masked_softmax"]


def _scores(*shape: int, scale: float = 1.0, seed: int = 0) -> torch.Tensor:
    return scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def check_row_softmax(fn, verbose: bool = True) -> bool:
    """Check ``fn(scores) -> weights``: one probability distribution over the keys per query.

    ``scores`` has shape ``(num_queries, num_keys)`` or ``(batch, num_queries, num_keys)``; the result
    must have the same shape, with every row (last axis) non-negative and summing to 1.
    """

    def rows_sum_to_one():
        s = _scores(3, 5)
        w = expect_shape(fn(s.clone()), (3, 5))
        expect_finite(w)
        if (w < 0).any():
            raise Mismatch("weights must be non-negative")
        if torch.allclose(w.sum(0), torch.ones(5), atol=1e-5) and not torch.allclose(
            w.sum(1), torch.ones(3), atol=1e-5
        ):
            raise Mismatch(
                "your columns sum to 1, not your rows: normalize along the keys axis (dim=-1)"
            )
        if not torch.allclose(w.sum(-1), torch.ones(3), atol=1e-5):
            raise Mismatch(f"each query's row should sum to 1, got row sums {w.sum(-1).tolist()}")

    def matches_softmax():
        s = _scores(4, 6, seed=1)
        expect_close(
            fn(s.clone()),
            torch.softmax(s, dim=-1),
            "rows sum to 1 but are not softmax(scores): exponentiate first",
        )

    def large_scores():
        s = _scores(2, 4, scale=1000.0, seed=2)
        w = expect_shape(fn(s.clone()), (2, 4))
        try:
            expect_finite(w)
        except Mismatch as miss:
            raise Mismatch(
                f"{miss}: exp overflows for large scores; subtract each row's max first"
            ) from None
        expect_close(w, torch.softmax(s, dim=-1), "wrong weights for large scores")

    def batched():
        s = _scores(2, 3, 4, seed=3)
        w = expect_shape(fn(s.clone()), (2, 3, 4), "the result for a batch of score matrices")
        expect_close(
            w,
            torch.softmax(s, dim=-1),
            "a batch (batch, queries, keys) must be normalized along the last axis; use dim=-1",
        )

    def leaves_input_alone():
        s = _scores(3, 3, seed=4)
        before = s.clone()
        fn(s)
        if not torch.equal(s, before):
            raise Mismatch("your function changed its input in place; return a new tensor")

    cases = [
        ("rows", rows_sum_to_one),
        ("values", matches_softmax),
        ("large scores", large_scores),
        ("batch", batched),
        ("input", leaves_input_alone),
    ]
    cases = [(label, _hint_keepdim(case)) for label, case in cases]
    return run_checks("check_row_softmax", cases, verbose=verbose)


def _hint_keepdim(case):
    """Turn the shape error of a per-row sum or max without ``keepdim`` into a hint."""

    def wrapped():
        try:
            case()
        except RuntimeError as err:
            if "must match the size of tensor" not in str(err):
                raise
            raise Mismatch(
                f"your code raised RuntimeError: {err}. A per-row sum (or max) of a "
                "(queries, keys) tensor has shape (queries,) and does not line up with the keys "
                "axis; keep that axis: .sum(dim=-1, keepdim=True) gives (queries, 1), which "
                "broadcasts along the keys"
            ) from None

    return wrapped


def _reference(X: torch.Tensor, valid_lens) -> torch.Tensor:
    from ..masking import masked_softmax

    return masked_softmax(X, valid_lens)


def check_masked_softmax(fn, verbose: bool = True) -> bool:
    """Check ``fn(X, valid_lens) -> weights`` against the package's convention.

    ``X`` is ``(batch, num_queries, num_keys)``; ``valid_lens`` is ``None``, ``(batch,)`` or
    ``(batch, num_queries)``. Keys at or past the valid length get weight exactly 0, every other row
    sums to 1, and a row with valid length 0 is all zeros (never NaN, never spread over padding).
    """

    def no_mask():
        X = _scores(2, 3, 4)
        expect_close(
            fn(X.clone(), None),
            torch.softmax(X, dim=-1),
            "with valid_lens=None it should be a plain softmax over the last axis",
        )

    def per_sequence():
        X = _scores(2, 3, 5, seed=1)
        lens = torch.tensor([2, 4])
        w = expect_shape(fn(X.clone(), lens), (2, 3, 5))
        expect_finite(w)
        if w[0, :, 2:].abs().max() > 0 or w[1, :, 4:].abs().max() > 0:
            raise Mismatch("keys past the valid length must get weight exactly 0")
        expect_close(w, _reference(X, lens), "valid keys should share the weight by softmax")

    def per_query():
        X = _scores(2, 3, 4, seed=2)
        lens = torch.tensor([[1, 2, 3], [4, 2, 1]])
        w = expect_shape(
            fn(X.clone(), lens), (2, 3, 4), "the result for per-query (2-D) valid_lens"
        )
        expect_finite(w)
        expect_close(
            w,
            _reference(X, lens),
            "2-D valid_lens give one length per query: row j of batch i keeps valid_lens[i, j] keys",
        )

    def large_scores():
        X = _scores(1, 2, 4, scale=1e4, seed=3)
        lens = torch.tensor([3])
        w = fn(X.clone(), lens)
        try:
            expect_finite(w)
        except Mismatch as miss:
            raise Mismatch(
                f"{miss} for large scores: exp overflows, subtract the max (torch.softmax does)"
            ) from None
        expect_close(w, _reference(X, lens), "wrong weights for large scores")

    def empty_rows():
        X = _scores(2, 2, 3, seed=4)
        lens = torch.tensor([0, 3])
        w = expect_shape(fn(X.clone(), lens), (2, 2, 3))
        if torch.isnan(w).any():
            raise Mismatch(
                "a row with valid length 0 came out NaN (softmax of all -inf); set it to zeros"
            )
        if not torch.allclose(w[0], torch.zeros(2, 3)):
            raise Mismatch(
                "a row with valid length 0 should be all zeros, got "
                f"{[round(x, 3) for x in w[0, 0].tolist()]}: filling with -1e6 spreads its weight over the padding"
            )
        expect_close(
            w[1], torch.softmax(X[1], dim=-1), "a full-length row should be a plain softmax"
        )

    cases = [
        ("no mask", no_mask),
        ("per-sequence lengths", per_sequence),
        ("per-query lengths", per_query),
        ("large scores", large_scores),
        ("valid length 0", empty_rows),
    ]
    return run_checks("check_masked_softmax", cases, verbose=verbose)
