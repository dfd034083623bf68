"""Sinusoidal positional encoding with d2l's signature."""

from __future__ import annotations

import torch
from torch import nn

from ._checks import as_tensor, check_floating, check_ndim, check_positive_int, check_probability

__all__ = ["PositionalEncoding", "sinusoidal_table"]


def sinusoidal_table(max_len: int, num_hiddens: int, base: float = 10000.0) -> torch.Tensor:
    """The ``(max_len, num_hiddens)`` table of Vaswani et al. (2017).

    Column ``2i`` holds ``sin(p / base**(2i / num_hiddens))`` and column ``2i + 1`` the cosine at the
    same frequency. An odd ``num_hiddens`` is fine: the last column is a sine.
    """
    max_len = check_positive_int("max_len", max_len)
    num_hiddens = check_positive_int("num_hiddens", num_hiddens)
    pos = torch.arange(max_len, dtype=torch.float32)[:, None]  # (max_len, 1)
    freqs = base ** (-torch.arange(0, num_hiddens, 2, dtype=torch.float32) / num_hiddens)  # (ceil(d/2),)
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
        self.register_buffer("P", sinusoidal_table(self.max_len, self.num_hiddens)[None], persistent=False)

    def forward(self, X):
        X = as_tensor("X", X)
        check_floating("X", X)
        check_ndim("X", X, 3, "(batch, num_steps, num_hiddens)")
        if X.shape[-1] != self.num_hiddens:
            raise ValueError(f"X must have num_hiddens={self.num_hiddens} features, got shape {tuple(X.shape)}")
        if X.shape[1] > self.max_len:
            raise ValueError(
                f"X has {X.shape[1]} steps but this PositionalEncoding was built with max_len={self.max_len}; "
                "build it with a larger max_len"
            )
        X = X + self.P[:, : X.shape[1], :].to(X.dtype)
        return self.dropout(X)
