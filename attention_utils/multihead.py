"""Multi-head attention with d2l's signature and parameter names (``W_q``, ``W_k``, ``W_v``, ``W_o``)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ._checks import check_positive_int, check_valid_lens
from .scoring import DotProductAttention, check_qkv

__all__ = ["MultiHeadAttention"]


class MultiHeadAttention(nn.Module):
    """Multi-head scaled dot-product attention.

    ``MultiHeadAttention(num_hiddens, num_heads, dropout, bias=False)``: queries, keys and values are
    each projected to ``num_hiddens`` features, split into ``num_heads`` heads of
    ``num_hiddens // num_heads`` features, attended per head, concatenated, and mixed by ``W_o``.
    Input sizes are inferred on the first call (lazy layers), as in d2l 1.0, so a d2l model's
    ``state_dict`` loads into this one and back. A module that was never called takes a
    ``state_dict`` too (the loaded weights set the input sizes), as PyTorch's lazy layers do.

    ``forward(queries, keys, values, valid_lens=None, need_weights=True)``:
        queries ``(B, Q, d_q)``, keys ``(B, K, d_k)``, values ``(B, K, d_v)``, valid_lens ``None``,
        ``(B,)`` or ``(B, Q)``. Returns ``(B, Q, num_hiddens)``. With ``need_weights=True`` (the
        readable reference path) the per-head weights are kept in ``self.attention_weights`` as
        ``(B, num_heads, Q, K)``. With ``need_weights=False`` it calls
        ``F.scaled_dot_product_attention`` (the fast path) and keeps no weights.

    Parameters: ``W_q.weight`` is ``(num_hiddens, d_q)``, ``W_k.weight`` ``(num_hiddens, d_k)``,
    ``W_v.weight`` ``(num_hiddens, d_v)`` and ``W_o.weight`` ``(num_hiddens, num_hiddens)``; with
    ``d_q = d_k = d_v = num_hiddens`` that is ``4 * num_hiddens**2`` (plus ``4 * num_hiddens`` biases),
    whatever the number of heads. Splitting into heads adds no parameters.
    """

    def __init__(
        self, num_hiddens: int, num_heads: int, dropout: float = 0.0, bias: bool = False, **kwargs
    ):
        super().__init__(**kwargs)
        num_hiddens = check_positive_int("num_hiddens", num_hiddens)
        num_heads = check_positive_int("num_heads", num_heads)
        if num_hiddens % num_heads:
            divisors = [h for h in range(1, num_hiddens + 1) if num_hiddens % h == 0]
            raise ValueError(
                f"num_hiddens ({num_hiddens}) must be divisible by num_heads ({num_heads}), "
                f"so that every head gets the same number of features; num_heads could be one of {divisors}"
            )
        if not isinstance(bias, bool):
            raise TypeError(f"bias must be True or False, got {type(bias).__name__}")
        self.num_heads = num_heads
        self.num_hiddens = num_hiddens
        self.attention = DotProductAttention(dropout)
        self.W_q = nn.LazyLinear(num_hiddens, bias=bias)
        self.W_k = nn.LazyLinear(num_hiddens, bias=bias)
        self.W_v = nn.LazyLinear(num_hiddens, bias=bias)
        self.W_o = nn.LazyLinear(num_hiddens, bias=bias)
        self.attention_weights: torch.Tensor | None = None

    def transpose_qkv(self, X: torch.Tensor) -> torch.Tensor:
        """(B, n, num_hiddens) -> (B * num_heads, n, num_hiddens / num_heads), as in d2l."""
        B, n, _ = X.shape
        X = X.reshape(B, n, self.num_heads, -1)  # (B, n, h, d_head)
        X = X.permute(0, 2, 1, 3)  # (B, h, n, d_head)
        return X.reshape(B * self.num_heads, n, -1)  # (B*h, n, d_head)

    def transpose_output(self, X: torch.Tensor) -> torch.Tensor:
        """Undo ``transpose_qkv``: (B * num_heads, n, d_head) -> (B, n, num_hiddens)."""
        X = X.reshape(-1, self.num_heads, X.shape[1], X.shape[2])  # (B, h, n, d_head)
        X = X.permute(0, 2, 1, 3)  # (B, n, h, d_head)
        return X.reshape(X.shape[0], X.shape[1], -1)  # (B, n, num_hiddens)

    def _check_feature_sizes(self, queries, keys, values) -> None:
        """Once a projection has weights (from its first call or from ``load_state_dict``), a
        mismatched input size raises ValueError naming the argument.

        The size is read from ``weight.shape[1]``, not ``in_features``: a lazy layer that received a
        ``state_dict`` before its first call has its weight but still ``in_features == 0``.
        """
        for name, x, W in (
            ("queries", queries, "W_q"),
            ("keys", keys, "W_k"),
            ("values", values, "W_v"),
        ):
            weight = getattr(self, W).weight
            if nn.parameter.is_lazy(weight):
                continue  # the first call sets the size
            if x.shape[-1] != weight.shape[1]:
                raise ValueError(
                    f"{name} must have {weight.shape[1]} features (the input size of {W}, set by its "
                    f"first call or by a loaded state_dict), got shape {tuple(x.shape)}"
                )

    def forward(self, queries, keys, values, valid_lens=None, need_weights: bool = True):
        queries, keys, values = check_qkv(queries, keys, values, same_qk_size=False)
        B, Q, K = queries.shape[0], queries.shape[1], keys.shape[1]
        lens = check_valid_lens(valid_lens, B, Q, K)  # (B, Q) or None
        self._check_feature_sizes(queries, keys, values)
        if not need_weights:
            self.attention_weights = None
            return self._fast_attention(queries, keys, values, lens)  # (B, Q, num_hiddens)
        q = self.transpose_qkv(self.W_q(queries))  # (B*h, Q, d_head)
        k = self.transpose_qkv(self.W_k(keys))  # (B*h, K, d_head)
        v = self.transpose_qkv(self.W_v(values))  # (B*h, K, d_head)
        if lens is not None:
            # q's rows are batch-major: row b * h + head. repeat_interleave gives the same order
            # (each example's lengths h times in a row); repeat would cycle the batch instead.
            lens = lens.repeat_interleave(self.num_heads, dim=0)  # (B*h, Q)
        out = self.attention(q, k, v, lens)  # (B*h, Q, d_head)
        self.attention_weights = self.attention.attention_weights.reshape(B, self.num_heads, Q, K)
        return self.W_o(self.transpose_output(out))  # (B, Q, num_hiddens)

    def _fast_attention(self, queries, keys, values, lens):
        """The ``need_weights=False`` path: same numbers as the reference path, no weights kept.

        queries ``(B, Q, d_q)``, keys ``(B, K, d_k)``, values ``(B, K, d_v)``, lens ``(B, Q)`` or
        ``None`` -> ``(B, Q, num_hiddens)``. For self-attention (one tensor passed three times) the
        three projections run as one matmul, as in ``nn.MultiheadAttention``; heads are views, not
        copies, and ``F.scaled_dot_product_attention`` does the attention without storing weights.
        """
        B, Q, K, h = queries.shape[0], queries.shape[1], keys.shape[1], self.num_heads
        projections = (self.W_q, self.W_k, self.W_v)
        lazy = any(nn.parameter.is_lazy(W.weight) for W in projections)
        if queries is keys and keys is values and not lazy:
            # The cat copies 3 * num_hiddens * d_in numbers on every call instead of caching them (a
            # cache would have to notice every change of the weights). It is cheap next to the
            # B * Q * num_hiddens * d_in matmuls: width 768, B = 8, n = 1024 on CPU, 0.5 ms of ~430 ms.
            weight = torch.cat([W.weight for W in projections])  # (3 * num_hiddens, d_in)
            bias = None if self.W_q.bias is None else torch.cat([W.bias for W in projections])
            qkv = F.linear(queries, weight, bias)  # (B, Q, 3 * num_hiddens)
            q, k, v = qkv.split(self.num_hiddens, dim=-1)  # 3 x (B, Q, num_hiddens)
        else:  # cross-attention, or the lazy layers' first call (which sets their sizes)
            q, k, v = self.W_q(queries), self.W_k(keys), self.W_v(values)
        q = q.view(B, Q, h, -1).transpose(1, 2)  # (B, h, Q, d_head), a view
        k = k.view(B, K, h, -1).transpose(1, 2)  # (B, h, K, d_head)
        v = v.view(B, K, h, -1).transpose(1, 2)  # (B, h, K, d_head)
        mask = None
        if lens is not None:
            # SDPA's boolean mask: True = may attend. (B, 1, Q, K) broadcasts over heads.
            mask = (torch.arange(K, device=k.device) < lens.to(k.device)[..., None])[:, None]
        p = self.attention.dropout.p if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)  # (B, h, Q, d)
        if mask is not None:
            # A query with no valid key: our convention is a zero output. SDPA on torch >= 2.5 CPU
            # returns 0 there already (measured on 2.14: exactly 0, gradient 0); older versions
            # returned NaN, and other backends are not checked here, so the guard states it.
            out = out.masked_fill(~mask.any(-1, keepdim=True), 0.0)
        out = out.transpose(1, 2).reshape(B, Q, self.num_hiddens)  # (B, Q, num_hiddens)
        return self.W_o(out)  # (B, Q, num_hiddens)
