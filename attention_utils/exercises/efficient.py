"""Checkers for lesson 08 (efficient attention): the online softmax and the sliding-window mask."""

from __future__ import annotations

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from ._harness import Mismatch, expect_close, expect_finite, expect_shape, run_checks

__all__ = ["check_online_softmax", "check_window_mask"]


def _scores(*shape: int, scale: float = 1.0, seed: int = 0) -> torch.Tensor:
    return scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


class _ShapeSpy(TorchFunctionMode):
    """Records the shape of every tensor that a torch function or Tensor method returns."""

    def __init__(self):
        super().__init__()
        self.shapes: list[tuple[int, ...]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.shapes += [tuple(t.shape) for t in tree_leaves(out) if isinstance(t, torch.Tensor)]
        return out


def check_online_softmax(fn, verbose: bool = True) -> bool:
    """Check ``fn(scores, block_size) -> weights``: a softmax over the last axis, computed block by block.

    ``scores`` has shape ``(num_queries, num_keys)``; the function visits the keys in blocks of
    ``block_size`` keeping, per row, a running max ``m`` and a running sum ``ell = Σ exp(s - m)``, then
    returns ``exp(scores - m) / ell`` of the same shape. Entries equal to ``-inf`` are masked keys
    (weight 0); a row that is entirely ``-inf`` must come out as zeros, never NaN.

    The first case watches the torch operations the function runs (a ``TorchFunctionMode``): one of
    them must return a tensor with an axis of length ``block_size``, i.e. a block of keys. A plain
    ``torch.softmax`` gives the right numbers (except NaN for an all-masked row) but never looks at a
    block, so it is rejected first, with that hint, before any check of the numbers.
    """

    def visits_blocks():
        s = _scores(2, 8, seed=6)  # blocks of 3, 3 and 2 keys; no other axis has length 3
        with _ShapeSpy() as spy:
            fn(s.clone(), 3)
        if not any(3 in shape for shape in spy.shapes):
            raise Mismatch(
                "no step of your function looked at a block of block_size keys: visit the keys "
                "block by block (scores[:, start:start + block_size]) with a running max and a "
                "running sum; a plain softmax over all keys is not the exercise"
            )

    def one_block():
        s = _scores(3, 6)
        w = expect_shape(fn(s.clone(), 6), (3, 6))
        expect_finite(w)
        expect_close(
            w,
            torch.softmax(s, dim=-1),
            "with one block (block_size = num_keys) this is a plain softmax over the last axis",
        )

    def partial_block():
        s = _scores(2, 7, seed=1)
        s[:, 0] = 5.0  # the max sits in the first block, so only the short last block can go wrong
        w = expect_shape(fn(s.clone(), 3), (2, 7))
        expect_finite(w)
        if (
            torch.allclose(w[:, :6], torch.softmax(s[:, :6], dim=-1), atol=1e-5)
            and w[:, 6].abs().max() < 1e-6
        ):
            raise Mismatch(
                "the last key was dropped: when block_size does not divide num_keys the last block is shorter; "
                "loop with range(0, num_keys, block_size) and slice [start:start + block_size]"
            )
        expect_close(
            w, torch.softmax(s, dim=-1), "wrong weights when block_size does not divide num_keys"
        )

    def rising_max():
        # every block raises the max
        s = torch.arange(8.0).repeat(2, 1) + _scores(2, 8, scale=0.1, seed=2)
        w = expect_shape(fn(s.clone(), 2), (2, 8))
        expect_finite(w)
        expect_close(
            w,
            torch.softmax(s, dim=-1),
            "when a later block raises the running max, rescale the running sum: ell = ell * exp(m_old - m_new) + block sum",
        )

    def large_scores():
        s = _scores(2, 6, scale=1000.0, seed=3)
        w = expect_shape(fn(s.clone(), 4), (2, 6))
        try:
            expect_finite(w)
        except Mismatch as miss:
            raise Mismatch(
                f"{miss} for large scores: subtract the running max before exp"
            ) from None
        expect_close(w, torch.softmax(s, dim=-1), "wrong weights for large scores")

    def masked_block():
        s = _scores(2, 6, seed=4)
        s[0, :3] = float("-inf")  # row 0: the whole first block is masked
        s[1, :] = float("-inf")  # row 1: every key is masked
        w = expect_shape(fn(s.clone(), 3), (2, 6))
        if torch.isnan(w).any():
            raise Mismatch(
                "NaN for a block of -inf scores: while the running max is still -inf, exp(-inf - (-inf)) is NaN; "
                "shift by 0 instead of by an infinite max"
            )
        expect_close(
            w[0],
            torch.softmax(s[0], dim=-1),
            "masked (-inf) keys should get weight 0 and the others a softmax",
        )
        if w[1].abs().max() > 0:
            raise Mismatch("a row whose keys are all masked (-inf) should be all zeros")

    def leaves_input_alone():
        s = _scores(3, 5, seed=5)
        before = s.clone()
        fn(s, 2)
        if not torch.equal(s, before):
            raise Mismatch("your function changed its input in place; return a new tensor")

    cases = [
        ("visits blocks", visits_blocks),
        ("one block", one_block),
        ("partial last block", partial_block),
        ("rising max", rising_max),
        ("large scores", large_scores),
        ("masked block", masked_block),
        ("input", leaves_input_alone),
    ]
    return run_checks("check_online_softmax", cases, verbose=verbose)


def _band(n: int, window: int, causal: bool) -> torch.Tensor:
    i = torch.arange(n)[:, None]
    j = torch.arange(n)[None, :]
    return ((i - j >= 0) & (i - j <= window)) if causal else ((i - j).abs() <= window)


INVERTED_HINT = (
    "your mask is inverted: here True means 'query i may attend to key j' (the convention of "
    "F.scaled_dot_product_attention's boolean attn_mask and of this package); you returned True for "
    "the keys to ignore, the convention of nn.MultiheadAttention's masks. Return ~mask"
)


def _expect_band(m, n: int, window: int, causal: bool) -> torch.Tensor:
    """The wanted band; raises the mask-convention hint if ``m`` is exactly its complement."""
    want = _band(n, window, causal)
    if isinstance(m, torch.Tensor) and m.shape == want.shape and torch.equal(m.bool(), ~want):
        raise Mismatch(INVERTED_HINT)
    return want


def check_window_mask(fn, verbose: bool = True) -> bool:
    """Check ``fn(n, window, causal) -> mask``: a boolean ``(n, n)`` mask, True where query i may see key j.

    Non-causal: ``|i - j| <= window``. Causal: ``0 <= i - j <= window`` (the window looks back only).
    True means "may attend" (SDPA's convention); a mask with True = ignore gets a hint that says so.
    """

    def boolean_shape():
        m = expect_shape(fn(5, 1, False), (5, 5))
        _expect_band(m, 5, 1, False)
        if m.dtype != torch.bool:
            raise Mismatch(
                f"the mask should be a boolean tensor (True = may attend), got dtype {m.dtype}"
            )

    def symmetric():
        m = expect_shape(fn(6, 2, False), (6, 6))
        want = _expect_band(m, 6, 2, False)
        if torch.equal(m, (torch.arange(6)[:, None] - torch.arange(6)[None, :]).abs() < 2):
            raise Mismatch(
                "off by one: a window of 2 includes keys at distance exactly 2 (use <=, not <)"
            )
        if not torch.equal(m, want):
            raise Mismatch(
                "non-causal: query i should see every key j with |i - j| <= window, itself included"
            )

    def causal():
        m = expect_shape(fn(6, 2, True), (6, 6))
        want = _expect_band(m, 6, 2, True)
        if torch.equal(m, want.T):
            raise Mismatch(
                "your causal window looks into the future: query i should see keys i - window .. i (lower triangle)"
            )
        if not torch.equal(m, want):
            raise Mismatch("causal: query i should see keys j with 0 <= i - j <= window")

    def edges():
        if not torch.equal(fn(4, 0, False), torch.eye(4, dtype=torch.bool)):
            raise Mismatch("window = 0 should keep only the diagonal (each position sees itself)")
        if not torch.equal(fn(3, 10, False), torch.ones(3, 3, dtype=torch.bool)):
            raise Mismatch("a window wider than the sequence should keep every key")

    cases = [
        ("dtype and shape", boolean_shape),
        ("symmetric window", symmetric),
        ("causal window", causal),
        ("edges", edges),
    ]
    return run_checks("check_window_mask", cases, verbose=verbose)
