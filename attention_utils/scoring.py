"""Attention scoring functions as modules, with d2l's names, signatures and parameter names.

Layout used throughout: queries ``(batch, num_queries, query_size)``, keys
``(batch, num_kv, key_size)``, values ``(batch, num_kv, value_size)``. The output is
``(batch, num_queries, value_size)`` and the weights ``(batch, num_queries, num_kv)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.parameter import is_lazy

from ._checks import as_tensor, check_floating, check_ndim, check_positive_int, check_probability
from .masking import masked_softmax

__all__ = ["DotProductAttention", "AdditiveAttention", "BilinearAttention", "check_qkv"]


def _check_in_features(name: str, x: torch.Tensor, layer: nn.Module, size_name: str) -> None:
    """A clear error when ``x``'s last size does not fit an ``nn.Linear`` whose weight is known.

    The size is read from ``weight.shape[1]``, not ``in_features``: a lazy layer that received a
    ``state_dict`` before its first call has its weight, while some torch versions still report
    ``in_features == 0`` for it. A weight that is still uninitialized (lazy) is not checked.
    """
    weight = getattr(layer, "weight", None)
    if not isinstance(layer, nn.Linear) or weight is None or is_lazy(weight):
        return
    expected = weight.shape[1]
    if x.shape[-1] != expected:
        raise ValueError(
            f"{name} must have {size_name}={expected} features in its last dimension (the size this "
            f"layer was built for), got shape {tuple(x.shape)}"
        )


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


def _check_optional_size(name: str, value) -> int | None:
    """``None`` (a lazy layer that learns its input size) or a positive int."""
    return None if value is None else check_positive_int(name, value)


class AdditiveAttention(nn.Module):
    """Additive (Bahdanau) attention: ``s(q, k) = w_v^T tanh(W_q q + W_k k)``.

    Same positional signature and parameter names as d2l, ``AdditiveAttention(num_hiddens,
    dropout)``: ``W_q``, ``W_k`` (no bias) and ``w_v`` (1 output, no bias, so ``w_v.weight`` is
    ``(1, num_hiddens)``). The extras ``query_size`` and ``key_size`` are keyword-only and
    optional: without them the layers are lazy and learn their input sizes on the first call, as
    in d2l 1.0.

    ``forward(queries, keys, values, valid_lens=None)``: queries ``(B, Q, q)``, keys ``(B, K, k)``,
    values ``(B, K, v)`` -> ``(B, Q, v)``; weights ``(B, Q, K)`` in ``self.attention_weights``.
    """

    def __init__(
        self,
        num_hiddens: int,
        dropout: float = 0.0,
        *,
        query_size: int | None = None,
        key_size: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        num_hiddens = check_positive_int("num_hiddens", num_hiddens)
        query_size = _check_optional_size("query_size", query_size)
        key_size = _check_optional_size("key_size", key_size)
        self.W_k = (
            nn.Linear(key_size, num_hiddens, bias=False)
            if key_size is not None
            else nn.LazyLinear(num_hiddens, bias=False)
        )
        self.W_q = (
            nn.Linear(query_size, num_hiddens, bias=False)
            if query_size is not None
            else nn.LazyLinear(num_hiddens, bias=False)
        )
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)
        self.dropout = nn.Dropout(check_probability("dropout", dropout))
        self.attention_weights: torch.Tensor | None = None

    def forward(self, queries, keys, values, valid_lens=None, *, key_features=None):
        """``key_features`` (keyword-only): ``W_k(keys)`` of shape ``(B, K, num_hiddens)``, computed
        once by a caller that queries the same keys many times (a decoder loop) to save work."""
        queries, keys, values = check_qkv(queries, keys, values, same_qk_size=False)
        _check_in_features("queries", queries, self.W_q, "query_size")
        _check_in_features("keys", keys, self.W_k, "key_size")
        if key_features is not None:
            key_features = as_tensor("key_features", key_features)
            want = (*keys.shape[:2], self.w_v.in_features)
            if tuple(key_features.shape) != want:
                raise ValueError(
                    f"key_features must be W_k(keys), of shape (batch, num_kv, num_hiddens) = {want}, "
                    f"got {tuple(key_features.shape)}"
                )
        q = self.W_q(queries)  # (B, Q, h)
        k = self.W_k(keys) if key_features is None else key_features  # (B, K, h)
        features = torch.tanh(q.unsqueeze(2) + k.unsqueeze(1))  # (B, Q, K, h) by broadcasting
        scores = self.w_v(features).squeeze(-1)  # (B, Q, K, 1) -> (B, Q, K)
        self.attention_weights = masked_softmax(scores, valid_lens)
        return torch.bmm(self.dropout(self.attention_weights), values)  # (B, Q, v)


class BilinearAttention(nn.Module):
    """General (bilinear) attention: ``a(q, k) = k^T W q``, optionally low rank, ``W = W_k^T W_q``.

    Queries and keys may have different sizes: ``W`` is ``(key_size, query_size)``. With
    ``rank=r`` the layer stores the projections ``W_k`` ``(r, key_size)`` and ``W_q``
    ``(r, query_size)`` instead (as ``nn.Linear`` layers without bias, so ``W_k.weight`` is the
    matrix ``W_k``), and computes ``a = (W_k k)^T (W_q q)``: ``r (key_size + query_size)`` parameters instead of
    ``key_size * query_size``. ``full_weight()`` returns the full ``W`` in both cases. Both forms
    are initialised so that, for unit-variance queries and keys, the scores start with variance
    about 1 (like a scaled dot product).

    ``forward(queries, keys, values, valid_lens=None)``: queries ``(B, Q, query_size)``, keys
    ``(B, K, key_size)``, values ``(B, K, v)`` -> ``(B, Q, v)``; weights ``(B, Q, K)`` in
    ``self.attention_weights``. ``scores(queries, keys)`` gives the raw scores ``(B, Q, K)``.
    """

    def __init__(
        self,
        query_size: int,
        key_size: int,
        dropout: float = 0.0,
        *,
        rank: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.query_size = check_positive_int("query_size", query_size)
        self.key_size = check_positive_int("key_size", key_size)
        self.rank = None if rank is None else check_positive_int("rank", rank)
        if self.rank is None:
            # Scaled so that scores start with a variance near 1 for unit-variance inputs.
            self.W = nn.Parameter(
                torch.randn(key_size, query_size) / math.sqrt(key_size * query_size)
            )
        else:
            self.W_k = nn.Linear(key_size, self.rank, bias=False)  # weight (r, key_size) = W_k
            self.W_q = nn.Linear(query_size, self.rank, bias=False)  # weight (r, query_size) = W_q
            # a = sum_r (W_k k)_r (W_q q)_r. With std 1 / sqrt(size * sqrt(r)) per entry, each
            # factor has variance 1 / sqrt(r), so a has variance r * (1 / sqrt(r))^2 = 1, as for the
            # full W (nn.Linear's default init would give r / 9).
            nn.init.normal_(self.W_k.weight, std=(key_size * math.sqrt(self.rank)) ** -0.5)
            nn.init.normal_(self.W_q.weight, std=(query_size * math.sqrt(self.rank)) ** -0.5)
        self.dropout = nn.Dropout(check_probability("dropout", dropout))
        self.attention_weights: torch.Tensor | None = None

    def full_weight(self) -> torch.Tensor:
        """The full ``(key_size, query_size)`` matrix W (``W_k^T W_q`` for a low-rank layer)."""
        if self.rank is None:
            return self.W
        return self.W_k.weight.T @ self.W_q.weight  # (key_size, r) @ (r, query_size)

    def scores(self, queries, keys) -> torch.Tensor:
        """Raw scores ``(B, Q, K)`` from queries ``(B, Q, query_size)`` and keys ``(B, K, key_size)``."""
        q, k = as_tensor("queries", queries), as_tensor("keys", keys)
        for name, x, size_name, size in (
            ("queries", q, "query_size", self.query_size),
            ("keys", k, "key_size", self.key_size),
        ):
            check_floating(name, x)
            check_ndim(name, x, 3)
            if x.shape[-1] != size:
                raise ValueError(
                    f"{name} must have {size_name}={size} features in its last dimension, got shape {tuple(x.shape)}"
                )
        if self.rank is None:
            Wq = q @ self.W.T  # (B, Q, query_size) @ (query_size, key_size) -> (B, Q, key_size)
            return torch.bmm(
                Wq, k.transpose(1, 2)
            )  # (B, Q, key_size) @ (B, key_size, K) -> (B, Q, K)
        q_r, k_r = self.W_q(q), self.W_k(k)  # (B, Q, r), (B, K, r)
        return torch.bmm(q_r, k_r.transpose(1, 2))  # (B, Q, r) @ (B, r, K) -> (B, Q, K)

    def forward(self, queries, keys, values, valid_lens=None):
        queries, keys, values = check_qkv(queries, keys, values, same_qk_size=False)
        self.attention_weights = masked_softmax(self.scores(queries, keys), valid_lens)  # (B, Q, K)
        return torch.bmm(self.dropout(self.attention_weights), values)  # (B, Q, v)
