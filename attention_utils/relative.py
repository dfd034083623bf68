"""Relative position schemes: rotary embeddings (RoPE), ALiBi and a learned relative bias.

Sinusoidal and learned *absolute* encodings add a vector per position to the input. The schemes here
act on the attention scores instead, so that the score of query ``i`` and key ``j`` depends on the
offset ``j - i`` (key position minus query position, what ``relative_offsets`` returns) and not on
where the pair sits in the sequence:

- **RoPE** (Su et al., 2021, "RoFormer") rotates each pair of query/key features by an angle
  proportional to the position. Rotations compose as ``R_a^T R_b = R_{b - a}``, so
  ``score(i, j) = (R_i q_i)^T (R_j k_j) = q_i^T R_{j - i} k_j``: only the offset survives.
  ``apply_rotary`` pairs features ``(2t, 2t + 1)`` as the RoFormer paper does (``layout="interleaved"``);
  Llama, GPT-NeoX and Hugging Face ``transformers`` pair ``(t, t + d/2)`` ("rotate-half",
  ``layout="half"``). The two are the same map up to a fixed permutation of the features
  (``rotary_permutation``).
- **ALiBi** (Press et al., 2022) adds ``-slope_h * (i - j)`` to head ``h``'s score for a key at or
  before the query (``j <= i``); the paper defines it for causal language models only
  (``alibi_bias(..., causal=True)``). The symmetric ``-slope_h * |i - j|`` (the default here) is a
  later adaptation for bidirectional encoders, not the paper's.
- **RelativePositionBias** learns one number per (clipped) offset and head, as T5 (Raffel et al.,
  2020) does per head and offset bucket (without T5's logarithmic buckets). Shaw et al. (2018), the
  first relative scheme, learned one *vector* per clipped offset instead, added to the keys (inside
  the score) and, in a second table, to the values (inside the weighted sum).

Shapes: feature layouts end in ``(..., num_steps, d)``; biases are ``(num_heads, num_queries, num_keys)``,
ready to be added to scores of shape ``(batch, num_heads, num_queries, num_keys)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._checks import as_tensor, check_floating, check_positive_int

__all__ = [
    "rotary_angles",
    "apply_rotary",
    "rotate_half",
    "rotary_permutation",
    "RotaryEmbedding",
    "alibi_slopes",
    "alibi_bias",
    "relative_offsets",
    "RelativePositionBias",
]


def _check_base(base) -> float:
    if isinstance(base, bool) or not isinstance(base, int | float) or not base > 1:
        raise ValueError(f"base must be a number greater than 1, got {base!r}")
    return float(base)


def _positions(positions, num_steps: int, device) -> torch.Tensor:
    if positions is None:
        return torch.arange(num_steps, device=device, dtype=torch.float32)  # (n,)
    p = as_tensor("positions", positions).to(device=device, dtype=torch.float32)
    if p.dim() != 1 or p.shape[0] != num_steps:
        raise ValueError(
            f"positions must have shape ({num_steps},), one per step, got shape {tuple(p.shape)}"
        )
    return p


def rotary_angles(positions: torch.Tensor, dim: int, base: float = 10000.0) -> torch.Tensor:
    """Rotation angles ``(n, dim // 2)``: pair ``i`` at position ``p`` turns by ``p * base**(-2i / dim)``.

    These are the same frequencies as the sinusoidal table's (``sinusoidal_table``).
    """
    dim = check_positive_int("dim", dim)
    base = _check_base(base)
    two_i = torch.arange(0, dim - 1, 2, dtype=torch.float32, device=positions.device)  # (dim//2,)
    freqs = base ** (-two_i / dim)  # (dim//2,)
    return positions.float()[:, None] * freqs  # (n, dim//2)


_LAYOUTS = ("interleaved", "half")


def _check_layout(layout) -> str:
    if layout not in _LAYOUTS:
        raise ValueError(f"layout must be 'interleaved' or 'half', got {layout!r}")
    return layout


def rotate_half(X: torch.Tensor) -> torch.Tensor:
    """``(x1, x2) -> (-x2, x1)`` on the two halves of the last axis (Hugging Face's ``rotate_half``).

    ``X`` is ``(..., d)`` with an even ``d``; returns the same shape. With it the rotate-half layout of
    RoPE reads ``X * cos + rotate_half(X) * sin`` (``cos``/``sin`` repeated over both halves).
    """
    X = as_tensor("X", X)
    d = X.shape[-1]
    if d % 2:
        raise ValueError(f"the last dimension of X must be even to split it in halves, got {d}")
    x1, x2 = X[..., : d // 2], X[..., d // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def rotary_permutation(dim: int, device=None) -> torch.Tensor:
    """Feature order ``(dim,)`` that turns the interleaved RoPE layout into the rotate-half one.

    ``perm = [0, 2, 4, ..., dim - 2, 1, 3, ..., dim - 1]``: interleaved pair ``(2t, 2t + 1)`` lands on
    ``(t, t + dim/2)``, the pair rotate-half rotates together. For any ``X`` of shape ``(..., n, dim)``::

        apply_rotary(X, layout="interleaved")[..., perm] == apply_rotary(X[..., perm], layout="half")

    Permuting queries and keys by the same ``perm`` leaves every dot product unchanged, so the two
    layouts give the same attention scores; converting weights between them (as the Llama conversion
    scripts do) permutes the output rows of ``W_q`` and ``W_k`` per head. ``torch.argsort(perm)``
    goes back.
    """
    dim = check_positive_int("dim", dim)
    if dim % 2:
        raise ValueError(f"dim must be even (features are rotated in pairs), got {dim}")
    return torch.cat(
        (torch.arange(0, dim, 2, device=device), torch.arange(1, dim, 2, device=device))
    )


def apply_rotary(
    X: torch.Tensor, positions=None, *, base: float = 10000.0, layout: str = "interleaved"
) -> torch.Tensor:
    """Rotate feature pairs by the position's angle (RoPE).

    Args:
        X: queries or keys of shape ``(..., num_steps, d)`` with an even ``d`` (for multi-head
            attention, ``(B, h, n, d_head)``: rotate each head separately).
        positions: ``None`` (``0 .. num_steps - 1``) or a 1-D tensor of ``num_steps`` positions.
        base: the wavelengths run from ``2 * pi`` to ``2 * pi * base**((d - 2) / d)``, just under
            ``2 * pi * base`` for a large ``d``.
        layout: which features form pair ``t`` (it turns by ``p * base**(-2t / d)``):
            ``"interleaved"`` (default): ``(X[..., 2t], X[..., 2t + 1])``, as in the RoFormer paper
            (Su et al.); ``"half"``: ``(X[..., t], X[..., t + d/2])``, "rotate-half" as in Llama,
            GPT-NeoX and Hugging Face ``transformers``. See ``rotary_permutation``.

    Returns:
        A tensor of the same shape and dtype as ``X``. Norms are unchanged (it is a rotation), and
        ``apply_rotary(q, [m]) · apply_rotary(k, [n])`` depends on ``n - m`` only.
    """
    X = as_tensor("X", X)
    check_floating("X", X)
    layout = _check_layout(layout)
    if X.dim() < 2:
        raise ValueError(f"X must be at least 2-D (..., num_steps, d), got shape {tuple(X.shape)}")
    d = X.shape[-1]
    if d % 2:
        raise ValueError(
            f"rotary embeddings rotate pairs of features, so the last dimension of X must be even, got {d}"
        )
    angles = rotary_angles(_positions(positions, X.shape[-2], X.device), d, base)  # (n, d/2)
    cos, sin = torch.cos(angles).to(X.dtype), torch.sin(angles).to(X.dtype)  # (n, d/2) each
    if layout == "half":
        cos2, sin2 = torch.cat((cos, cos), dim=-1), torch.cat((sin, sin), dim=-1)  # (n, d)
        return X * cos2 + rotate_half(X) * sin2
    x_even, x_odd = X[..., 0::2], X[..., 1::2]  # (..., n, d/2) each
    out = torch.empty_like(X)
    out[..., 0::2] = x_even * cos - x_odd * sin  # 2-D rotation of each (even, odd) pair
    out[..., 1::2] = x_even * sin + x_odd * cos
    return out


class RotaryEmbedding(nn.Module):
    """``RotaryEmbedding(dim, base=10000.0, layout="interleaved")``: a module wrapper of
    ``apply_rotary`` (no parameters).

    ``forward(X, positions=None)``: ``X`` is ``(..., num_steps, dim)``; returns the same shape.
    """

    def __init__(self, dim: int, base: float = 10000.0, layout: str = "interleaved"):
        super().__init__()
        self.dim = check_positive_int("dim", dim)
        if self.dim % 2:
            raise ValueError(f"dim must be even (features are rotated in pairs), got {dim}")
        self.base = _check_base(base)
        self.layout = _check_layout(layout)

    def forward(self, X, positions=None):
        X = as_tensor("X", X)
        if X.shape[-1] != self.dim:
            raise ValueError(
                f"X must have dim={self.dim} features in its last axis, got shape {tuple(X.shape)}"
            )
        return apply_rotary(X, positions, base=self.base, layout=self.layout)


def alibi_slopes(num_heads: int) -> torch.Tensor:
    """ALiBi's per-head slopes ``(num_heads,)``: a geometric sequence starting at ``2**(-8 / n)``.

    For a power of two ``n = num_heads`` the slopes are ``2**(-8 k / n)``, ``k = 1..n``. Otherwise the
    slopes of the next lower power of two are followed by every other slope of the next higher one, as
    in the paper's reference code.
    """
    num_heads = check_positive_int("num_heads", num_heads)

    def power_of_two(n: int) -> list[float]:
        start = 2.0 ** (-8.0 / n)
        return [start ** (k + 1) for k in range(n)]

    if math.log2(num_heads).is_integer():
        return torch.tensor(power_of_two(num_heads))
    lower = 2 ** math.floor(math.log2(num_heads))
    extra = power_of_two(2 * lower)[0::2][: num_heads - lower]
    return torch.tensor(power_of_two(lower) + extra)


def _check_offset(query_offset) -> int:
    if isinstance(query_offset, bool) or not isinstance(query_offset, int):
        raise TypeError(f"query_offset must be an int, got {type(query_offset).__name__}")
    if query_offset < 0:
        raise ValueError(f"query_offset must be >= 0, got {query_offset}")
    return int(query_offset)


def relative_offsets(
    num_queries: int, num_keys: int | None = None, device=None, *, query_offset: int = 0
) -> torch.Tensor:
    """Integer matrix ``(num_queries, num_keys)`` of offsets ``j - i`` (key position minus query position).

    Keys sit at positions ``0 .. num_keys - 1``; queries at ``query_offset .. query_offset +
    num_queries - 1`` (``query_offset = 0`` unless a KV cache holds earlier keys: then the new
    queries come after them).
    """
    num_queries = check_positive_int("num_queries", num_queries)
    num_keys = num_queries if num_keys is None else check_positive_int("num_keys", num_keys)
    query_offset = _check_offset(query_offset)
    i = torch.arange(query_offset, query_offset + num_queries, device=device)[:, None]  # (Q, 1)
    j = torch.arange(num_keys, device=device)[None, :]  # (1, K)
    return j - i  # (Q, K)


def alibi_bias(
    num_heads: int,
    num_queries: int,
    num_keys: int | None = None,
    device=None,
    *,
    query_offset: int = 0,
    causal: bool = False,
) -> torch.Tensor:
    """ALiBi's additive score bias ``(num_heads, num_queries, num_keys)``.

    Query ``r`` sits at position ``i = query_offset + r`` and key ``j`` at position ``j``
    (``query_offset`` is the number of cached positions before the new queries; with a KV cache,
    the rows for the new queries equal the matching rows of the full, uncached bias).

    - ``causal=False`` (default): ``-slope_h * |i - j|``, the symmetric form used for
      bidirectional encoders, a later adaptation (Press et al. define ALiBi for causal models only).
    - ``causal=True``: the paper's form, ``-slope_h * (i - j)`` for ``j <= i`` and ``-inf`` for
      future keys ``j > i``, so the causal mask is built in (use it as an additive float mask, e.g.
      ``attn_mask=`` of ``F.scaled_dot_product_attention``, without ``is_causal``).

    Add it to scores of shape ``(B, num_heads, Q, K)`` before the softmax. Every head penalizes far
    keys linearly, each with its own slope. It has no parameters and no maximum length.
    """
    if not isinstance(causal, bool):
        raise TypeError(f"causal must be True or False, got {type(causal).__name__}")
    slopes = alibi_slopes(num_heads).to(device)  # (h,)
    offsets = relative_offsets(num_queries, num_keys, device, query_offset=query_offset)  # (Q, K)
    bias = -slopes[:, None, None] * offsets.abs().float()  # (h, Q, K)
    if causal:
        bias = bias.masked_fill(offsets > 0, float("-inf"))  # keys after the query
    return bias


class RelativePositionBias(nn.Module):
    """A learned bias per head and per offset, clipped to ``[-max_distance, max_distance]``.

    ``RelativePositionBias(num_heads, max_distance)`` holds ``self.bias``, an ``nn.Embedding`` with
    ``2 * max_distance + 1`` rows (one per offset) and ``num_heads`` columns. ``forward(num_queries,
    num_keys=None)`` returns ``(num_heads, num_queries, num_keys)`` to add to the scores. Offsets beyond
    ``max_distance`` share the last row, so any length works.
    """

    def __init__(self, num_heads: int, max_distance: int):
        super().__init__()
        self.num_heads = check_positive_int("num_heads", num_heads)
        self.max_distance = check_positive_int("max_distance", max_distance)
        self.bias = nn.Embedding(2 * self.max_distance + 1, self.num_heads)

    def forward(self, num_queries: int, num_keys: int | None = None) -> torch.Tensor:
        offsets = relative_offsets(num_queries, num_keys, self.bias.weight.device)  # (Q, K)
        m = self.max_distance
        idx = offsets.clamp(-m, m) + m  # (Q, K), rows 0 .. 2m of the table
        return self.bias(idx).permute(2, 0, 1)  # (Q, K, h) -> (h, Q, K)
