"""Masks and the masked softmax.

Scores in this package are laid out as ``(batch, num_queries, num_keys)``: one row per query, one
column per key. Softmax always runs along the **last** axis, so that every query's row of weights is a
probability distribution over the keys.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from ._checks import as_tensor, check_floating, check_ndim, check_positive_int, check_valid_lens

__all__ = ["sequence_mask", "masked_softmax", "causal_mask"]


def sequence_mask(X: torch.Tensor, valid_len, value: float = 0.0) -> torch.Tensor:
    """Replace the entries of ``X`` past each row's valid length by ``value`` (d2l's helper).

    Shapes: ``X`` is ``(batch, max_len, ...)`` and ``valid_len`` is ``(batch,)``. Returns a new
    tensor of the same shape as ``X``; ``X`` itself is not modified.
    """
    X = as_tensor("X", X)
    if X.dim() < 2:
        raise ValueError(
            f"X must be at least 2-D (batch, max_len, ...), got shape {tuple(X.shape)}"
        )
    v = check_valid_lens(valid_len, X.shape[0], 1, X.shape[1], name="valid_len")
    keep = torch.arange(X.shape[1], device=X.device)[None, :] < v.to(X.device)  # (batch, max_len)
    keep = keep.reshape(keep.shape + (1,) * (X.dim() - 2))
    return torch.where(keep, X, torch.as_tensor(value, dtype=X.dtype, device=X.device))


def masked_softmax(X: torch.Tensor, valid_lens=None) -> torch.Tensor:
    """Softmax over the last axis of ``X`` that ignores keys past each valid length.

    Args:
        X: scores of shape ``(batch, num_queries, num_keys)``.
        valid_lens: ``None`` (every key is valid), shape ``(batch,)`` (one length per sequence) or
            ``(batch, num_queries)`` (one length per query). Whole numbers in ``[0, num_keys]``.

    Returns:
        Weights of shape ``(batch, num_queries, num_keys)``. Masked keys get exactly 0. Each row with
        at least one valid key sums to 1. **A row whose valid length is 0 has no key to attend to and
        is all zeros**, so the attention output for that query is the zero vector (never NaN, and
        never a uniform average over padding). Huge scores are fine: the softmax is computed stably.
    """
    X = as_tensor("X", X)
    check_floating("X", X)
    check_ndim("X", X, 3, "(batch, num_queries, num_keys)")
    if valid_lens is None:
        return F.softmax(X, dim=-1)
    batch, num_queries, num_keys = X.shape
    v = check_valid_lens(valid_lens, batch, num_queries, num_keys).to(X.device)
    keep = torch.arange(num_keys, device=X.device) < v[..., None]  # (batch, num_queries, num_keys)
    weights = F.softmax(X.masked_fill(~keep, float("-inf")), dim=-1)
    # Rows with no valid key are all -inf, and their softmax is NaN: set every masked entry to 0.
    return weights.masked_fill(~keep, 0.0)


def causal_mask(num_queries: int, num_keys: int | None = None, device=None) -> torch.Tensor:
    """Boolean ``(num_queries, num_keys)`` mask, ``True`` where query i may attend to key j (j <= i).

    This follows the convention of ``F.scaled_dot_product_attention``'s ``attn_mask``: True = keep.
    """
    num_queries = check_positive_int("num_queries", num_queries)
    num_keys = num_queries if num_keys is None else check_positive_int("num_keys", num_keys)
    return torch.ones(num_queries, num_keys, dtype=torch.bool, device=device).tril()
