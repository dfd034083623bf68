"""Checkers for lesson 09: sharing key/value heads between groups of query heads (GQA).

The classic bug: ``kv.repeat(1, g, 1, 1)`` tiles the whole stack of key/value heads (``0, 1, 0, 1``)
while grouped-query attention gives query head ``h`` the key/value head ``h // g`` (``0, 0, 1, 1``).
Both have the right shape, both run, and the model is quietly wrong. The checker recognises that
mistake (and its twin written with ``expand``/``reshape``) and says so.
"""

from __future__ import annotations

import torch

from ._harness import Mismatch, expect_shape, run_checks

__all__ = ["check_repeat_kv", "reference_repeat_kv"]


def reference_repeat_kv(kv: torch.Tensor, num_heads: int) -> torch.Tensor:
    """``(B, kv_heads, n, d) -> (B, num_heads, n, d)``: each key/value head repeated for its group."""
    return kv.repeat_interleave(num_heads // kv.shape[1], dim=1)


def _labelled(B: int, kv_heads: int, n: int, d: int) -> torch.Tensor:
    """Entry = 100 * kv head + 10 * step + feature (+ 1000 * batch): every number says where it is from."""
    b = torch.arange(B)[:, None, None, None]
    h = torch.arange(kv_heads)[None, :, None, None]
    t = torch.arange(n)[None, None, :, None]
    f = torch.arange(d)[None, None, None, :]
    return (1000 * b + 100 * h + 10 * t + f).float()  # (B, kv_heads, n, d)


def _which_head(got: torch.Tensor) -> list[int]:
    return [int(x) // 100 % 10 for x in got[0, :, 0, 0].tolist()]


def check_repeat_kv(fn, *, verbose: bool = True) -> bool:
    """Check ``fn(kv, num_heads)``: ``(B, kv_heads, n, d) -> (B, num_heads, n, d)``, groups contiguous."""

    def run(B, kv_heads, num_heads, n=3, d=4):
        kv = _labelled(B, kv_heads, n, d)
        before = kv.clone()
        got = fn(kv, num_heads)
        got = expect_shape(
            got, (B, num_heads, n, d), f"fn(kv, {num_heads}) for {kv_heads} kv heads"
        )
        if not torch.equal(kv, before):
            raise Mismatch("your function changed kv in place; return a new tensor")
        want = reference_repeat_kv(kv, num_heads)
        if torch.equal(got, want):
            return
        g = num_heads // kv_heads
        if torch.equal(got, kv.repeat(1, g, 1, 1)):
            raise Mismatch(
                f"query heads read kv heads {_which_head(got)}, but GQA's groups are contiguous: "
                f"query head h belongs to kv head h // {g}, i.e. {_which_head(want)}. "
                "kv.repeat tiles the whole stack (0,1,0,1); GQA keeps each head's copies together "
                "(0,0,1,1). Add a group axis right after the head axis, expand it, then merge it "
                "into the head axis"
            )
        raise Mismatch(
            f"query heads read kv heads {_which_head(got)} (first entries), expected {_which_head(want)}"
        )

    cases = [
        ("4 query heads, 2 kv heads", lambda: run(1, 2, 4)),
        ("6 query heads, 3 kv heads, batch 2", lambda: run(2, 3, 6)),
        ("8 query heads, 2 kv heads", lambda: run(1, 2, 8)),
        ("multi-query: 4 query heads, 1 kv head", lambda: run(2, 1, 4)),
        ("multi-head: 3 query heads, 3 kv heads", lambda: run(1, 3, 3)),
    ]
    return run_checks("check_repeat_kv", cases, verbose=verbose)
