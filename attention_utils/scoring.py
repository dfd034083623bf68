"""Attention scoring functions as modules, with d2l's names, signatures and parameter names.

Layout used throughout: queries ``(batch, num_queries, query_size)``, keys
``(batch, num_kv, key_size)``, values ``(batch, num_kv, value_size)``. The output is
``(batch, num_queries, value_size)`` and the weights ``(batch, num_queries, num_kv)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._checks import as_tensor, check_floating, check_ndim, check_probability
from .masking import masked_softmax

__all__ = ["DotProductAttention", "AdditiveAttention", "check_qkv"]


def check_qkv(queries, keys, values, *, same_qk_size: bool) -> tuple[torch.Tensor, ...]:
    """Validate the three inputs of an attention layer and return them as tensors."""
    q, k, v = as_tensor("queries", queries), as_tensor("keys", keys), as_tensor("values", values)
    for name, x, layout in (
        ("queries", q, "(batch, num_queries, query_size)"),
        ("keys", k, "(batch, num_kv, key_size)"),
        ("values", v, "(batch, num_kv, value_size)"),
    ):
        check_floating(name, x)
        check_ndim(name, x, 3, layout)
    if not q.shape[0] == k.shape[0] == v.shape[0]:
        raise ValueError(
            "queries, keys and values must have the same batch size, got "
            f"{q.shape[0]}, {k.shape[0]} and {v.shape[0]}"
        )
    if k.shape[1] != v.shape[1]:
        raise ValueError(
            f"keys and values must have the same length (one value per key), got {k.shape[1]} keys "
            f"and {v.shape[1]} values"
        )
    if same_qk_size and q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"dot-product scores need queries and keys of the same size, got query_size={q.shape[-1]} "
            f"and key_size={k.shape[-1]}; use AdditiveAttention or project them first"
        )
    return q, k, v


class DotProductAttention(nn.Module):
    """Scaled dot-product attention: ``softmax(Q K^T / sqrt(d)) V``, with an optional mask.

    ``forward(queries, keys, values, valid_lens=None)`` takes queries ``(B, Q, d)``, keys ``(B, K, d)``,
    values ``(B, K, v)`` and valid_lens ``None``, ``(B,)`` or ``(B, Q)``; it returns ``(B, Q, v)`` and
    keeps the weights ``(B, Q, K)`` in ``self.attention_weights``.
    """

    def __init__(self, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.dropout = nn.Dropout(check_probability("dropout", dropout))
        self.attention_weights: torch.Tensor | None = None

    def forward(self, queries, keys, values, valid_lens=None):
        queries, keys, values = check_qkv(queries, keys, values, same_qk_size=True)
        d = queries.shape[-1]
        scores = torch.bmm(queries, keys.transpose(1, 2)) / math.sqrt(d)  # (B, Q, K)
        self.attention_weights = masked_softmax(scores, valid_lens)
        return torch.bmm(self.dropout(self.attention_weights), values)  # (B, Q, v)


class AdditiveAttention(nn.Module):
    """Additive (Bahdanau) attention: ``s(q, k) = w_v^T tanh(W_q q + W_k k)``.

    Same signature and parameter names as d2l: ``W_q``, ``W_k`` (no bias) and ``w_v`` (1 output, no
    bias). ``query_size`` and ``key_size`` are optional: without them the layers are lazy and learn
    their input sizes on the first call, as in d2l 1.0.

    ``forward(queries, keys, values, valid_lens=None)``: queries ``(B, Q, q)``, keys ``(B, K, k)``,
    values ``(B, K, v)`` -> ``(B, Q, v)``; weights ``(B, Q, K)`` in ``self.attention_weights``.
    """

    def __init__(self, num_hiddens: int, dropout: float = 0.0, query_size=None, key_size=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(num_hiddens, bool) or not isinstance(num_hiddens, int) or num_hiddens <= 0:
            raise ValueError(f"num_hiddens must be a positive int, got {num_hiddens!r}")
        self.W_k = nn.Linear(key_size, num_hiddens, bias=False) if key_size else nn.LazyLinear(num_hiddens, bias=False)
        self.W_q = (
            nn.Linear(query_size, num_hiddens, bias=False) if query_size else nn.LazyLinear(num_hiddens, bias=False)
        )
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)
        self.dropout = nn.Dropout(check_probability("dropout", dropout))
        self.attention_weights: torch.Tensor | None = None

    def forward(self, queries, keys, values, valid_lens=None):
        queries, keys, values = check_qkv(queries, keys, values, same_qk_size=False)
        q, k = self.W_q(queries), self.W_k(keys)  # (B, Q, h), (B, K, h)
        features = torch.tanh(q.unsqueeze(2) + k.unsqueeze(1))  # (B, Q, K, h) by broadcasting
        scores = self.w_v(features).squeeze(-1)  # (B, Q, K)
        self.attention_weights = masked_softmax(scores, valid_lens)
        return torch.bmm(self.dropout(self.attention_weights), values)  # (B, Q, v)
