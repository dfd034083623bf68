"""Absolute positional encodings: the sinusoidal table (d2l's signature) and a learned embedding."""

from __future__ import annotations

import torch
from torch import nn

from ._checks import as_tensor, check_floating, check_ndim, check_positive_int, check_probability

__all__ = ["PositionalEncoding", "LearnedPositionalEmbedding", "sinusoidal_table"]


def sinusoidal_table(max_len: int, num_hiddens: int, base: float = 10000.0) -> torch.Tensor:
    """The ``(max_len, num_hiddens)`` table of Vaswani et al. (2017).

    Column ``2i`` holds ``sin(p / base**(2i / num_hiddens))`` and column ``2i + 1`` the cosine at the
    same frequency. An odd ``num_hiddens`` is fine: the last column is a sine.
    """
    max_len = check_positive_int("max_len", max_len)
    num_hiddens = check_positive_int("num_hiddens", num_hiddens)
    pos = torch.arange(max_len, dtype=torch.float32)[:, None]  # (max_len, 1)
    two_i = torch.arange(0, num_hiddens, 2, dtype=torch.float32)  # (ceil(d/2),): 0, 2, 4, ...
    freqs = base ** (-two_i / num_hiddens)  # (ceil(d/2),)
    angles = pos * freqs  # (max_len, ceil(d/2))
    table = torch.zeros(max_len, num_hiddens)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles[:, : num_hiddens // 2])
    return table


class PositionalEncoding(nn.Module):
    """Add sinusoidal position information to a batch of embeddings, then apply dropout.

    ``PositionalEncoding(num_hiddens, dropout, max_len=1000)``; ``forward(X)`` takes ``X`` of shape
    ``(batch, num_steps, num_hiddens)`` with ``num_steps <= max_len`` and returns the same shape.
    The table is ``self.P`` of shape ``(1, max_len, num_hiddens)``, a non-persistent buffer: it
    follows ``.to(device)`` and stays out of the ``state_dict``, as in d2l.
    """

    def __init__(self, num_hiddens: int, dropout: float = 0.0, max_len: int = 1000, **kwargs):
        super().__init__(**kwargs)
        self.num_hiddens = check_positive_int("num_hiddens", num_hiddens)
        self.max_len = check_positive_int("max_len", max_len)
        self.dropout = nn.Dropout(check_probability("dropout", dropout))
        self.register_buffer(
            "P", sinusoidal_table(self.max_len, self.num_hiddens)[None], persistent=False
        )

    def forward(self, X):
        X = _check_steps(self, X)  # (B, n, num_hiddens)
        P = self.P[:, : X.shape[1], :].to(X.dtype)  # (1, n, num_hiddens)
        X = X + P  # broadcasts over the batch
        return self.dropout(X)


class LearnedPositionalEmbedding(nn.Module):
    """Add a *learned* vector per position (as in BERT and GPT-2), then apply dropout.

    ``LearnedPositionalEmbedding(num_hiddens, dropout, max_len=1000)`` holds ``self.P``, an
    ``nn.Embedding(max_len, num_hiddens)`` trained with the model. ``forward(X)`` takes
    ``(batch, num_steps, num_hiddens)`` with ``num_steps <= max_len`` and returns the same shape.
    Unlike the sinusoidal table it has ``max_len * num_hiddens`` parameters, no vector beyond
    ``max_len``, and a row whose position never occurs in training gets no gradient, so it keeps its
    random initial value.
    """

    def __init__(self, num_hiddens: int, dropout: float = 0.0, max_len: int = 1000, **kwargs):
        super().__init__(**kwargs)
        self.num_hiddens = check_positive_int("num_hiddens", num_hiddens)
        self.max_len = check_positive_int("max_len", max_len)
        self.dropout = nn.Dropout(check_probability("dropout", dropout))
        self.P = nn.Embedding(self.max_len, self.num_hiddens)

    def forward(self, X):
        X = _check_steps(self, X)  # (B, n, num_hiddens)
        pos = torch.arange(X.shape[1], device=X.device)  # (n,)
        X = X + self.P(pos)[None].to(X.dtype)  # (1, n, num_hiddens) broadcasts over the batch
        return self.dropout(X)


def _check_steps(module, X) -> torch.Tensor:
    name = type(module).__name__
    X = as_tensor("X", X)
    check_floating("X", X)
    check_ndim("X", X, 3, "(batch, num_steps, num_hiddens)")
    if X.shape[-1] != module.num_hiddens:
        raise ValueError(
            f"X must have num_hiddens={module.num_hiddens} features, got shape {tuple(X.shape)}"
        )
    if X.shape[1] > module.max_len:
        raise ValueError(
            f"X has {X.shape[1]} steps but this {name} was built with max_len={module.max_len}; "
            "build it with a larger max_len"
        )
    return X
