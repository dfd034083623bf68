"""A Transformer encoder built from the series' own parts, with d2l's names and signatures.

``PositionWiseFFN``, ``AddNorm`` and ``TransformerEncoderBlock`` take the same arguments and have the
same parameter names as d2l's, so a d2l block's ``state_dict`` loads into ours and back.
``TransformerEncoder`` is d2l's encoder (embedding, sinusoidal positions, a stack of blocks), and
``SequenceTagger`` puts a linear read-out on top: one prediction per position, which is what the
synthetic tasks of lesson 07 (reverse a sequence, sort it) need.

The block is *post-norm*, as in Vaswani et al. (2017), d2l and BERT::

    Y = LayerNorm(X + Dropout(MultiHeadAttention(X, X, X)))
    Z = LayerNorm(Y + Dropout(FFN(Y)))
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ._checks import as_tensor, check_ndim, check_positive_int, check_probability
from .multihead import MultiHeadAttention
from .positional import PositionalEncoding

__all__ = [
    "PositionWiseFFN",
    "AddNorm",
    "TransformerEncoderBlock",
    "TransformerEncoder",
    "SequenceTagger",
]

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU}


def _check_norm_shape(norm_shape) -> tuple[int, ...]:
    """``norm_shape`` as LayerNorm wants it: an int or a non-empty tuple of positive ints."""
    if isinstance(norm_shape, int | np.integer) and not isinstance(norm_shape, bool):
        return (check_positive_int("norm_shape", norm_shape),)
    if isinstance(norm_shape, tuple | list | torch.Size) and len(norm_shape) > 0:
        return tuple(check_positive_int("norm_shape", n) for n in norm_shape)
    raise TypeError(f"norm_shape must be an int or a non-empty tuple of ints, got {norm_shape!r}")


def _check_positive_float(name: str, value) -> float:
    """``value`` as a float if it is a real number > 0 and finite; else TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a positive float, got {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive, finite float, got {value}")
    return float(value)


class PositionWiseFFN(nn.Module):
    """The same two-layer MLP applied to every position on its own.

    ``PositionWiseFFN(ffn_num_hiddens, ffn_num_outputs)`` as in d2l: ``dense1`` (lazy, so the input
    size is learned on the first call, or from a loaded ``state_dict``) maps to ``ffn_num_hiddens`` features, an activation follows, and
    ``dense2`` maps to ``ffn_num_outputs``. ``activation`` (keyword-only) is ``"relu"`` (d2l, Vaswani et
    al.) or ``"gelu"`` (BERT and MiniLM use the exact, erf-based GELU). The activation module is the
    attribute ``relu`` (an ``nn.ReLU``, named as in d2l) or ``gelu`` (an ``nn.GELU``).

    ``forward(X)``: ``(B, T, d_in)`` -> ``(B, T, ffn_num_outputs)``. Positions never mix here.
    """

    def __init__(self, ffn_num_hiddens: int, ffn_num_outputs: int, *, activation: str = "relu"):
        super().__init__()
        ffn_num_hiddens = check_positive_int("ffn_num_hiddens", ffn_num_hiddens)
        ffn_num_outputs = check_positive_int("ffn_num_outputs", ffn_num_outputs)
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}"
            )
        self.dense1 = nn.LazyLinear(ffn_num_hiddens)
        # The attribute that holds the activation module: d2l's `relu`, or `gelu`.
        self._activation = activation
        setattr(self, activation, _ACTIVATIONS[activation]())
        self.dense2 = nn.LazyLinear(ffn_num_outputs)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        act = getattr(self, self._activation)
        return self.dense2(act(self.dense1(X)))  # (B, T, ffn_num_outputs)


class AddNorm(nn.Module):
    """The residual connection followed by layer normalization: ``LayerNorm(X + Dropout(Y))``.

    ``AddNorm(norm_shape, dropout)`` as in d2l; ``eps`` (keyword-only) is LayerNorm's epsilon, a
    positive finite float (PyTorch's default 1e-5; BERT checkpoints use 1e-12).

    ``forward(X, Y)``: ``X`` and ``Y`` of the same shape ``(B, T, d)`` -> ``(B, T, d)``.
    """

    def __init__(self, norm_shape, dropout: float = 0.0, *, eps: float = 1e-5):
        super().__init__()
        self.dropout = nn.Dropout(check_probability("dropout", dropout))
        self.ln = nn.LayerNorm(_check_norm_shape(norm_shape), eps=_check_positive_float("eps", eps))

    def forward(self, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        if X.shape != Y.shape:
            raise ValueError(
                f"X and Y must have the same shape to be added, got {tuple(X.shape)} and {tuple(Y.shape)}"
            )
        return self.ln(self.dropout(Y) + X)  # (B, T, d)


class TransformerEncoderBlock(nn.Module):
    """One post-norm encoder block: self-attention, add & norm, position-wise FFN, add & norm.

    ``TransformerEncoderBlock(num_hiddens, ffn_num_hiddens, num_heads, dropout, use_bias=False)`` as
    in d2l. Keyword-only extras: ``activation`` of the FFN (``"relu"`` or ``"gelu"``) and ``eps`` of
    both LayerNorms. Submodules: ``attention`` (our ``MultiHeadAttention``), ``addnorm1``, ``ffn``,
    ``addnorm2``.

    ``forward(X, valid_lens=None)``: ``X`` ``(B, T, num_hiddens)``, valid_lens ``None``, ``(B,)`` or
    ``(B, T)`` -> ``(B, T, num_hiddens)``. The per-head weights of the last call are in
    ``self.attention.attention_weights`` as ``(B, num_heads, T, T)``.
    """

    def __init__(
        self,
        num_hiddens: int,
        ffn_num_hiddens: int,
        num_heads: int,
        dropout: float = 0.0,
        use_bias: bool = False,
        *,
        activation: str = "relu",
        eps: float = 1e-5,
    ):
        super().__init__()
        self.attention = MultiHeadAttention(num_hiddens, num_heads, dropout, use_bias)
        self.addnorm1 = AddNorm(num_hiddens, dropout, eps=eps)
        self.ffn = PositionWiseFFN(ffn_num_hiddens, num_hiddens, activation=activation)
        self.addnorm2 = AddNorm(num_hiddens, dropout, eps=eps)

    def forward(self, X: torch.Tensor, valid_lens=None) -> torch.Tensor:
        X = as_tensor("X", X)
        check_ndim("X", X, 3, "(batch, num_steps, num_hiddens)")
        Y = self.addnorm1(X, self.attention(X, X, X, valid_lens))  # (B, T, d): self-attention
        return self.addnorm2(Y, self.ffn(Y))  # (B, T, d)


class TransformerEncoder(nn.Module):
    """d2l's Transformer encoder: token embedding, sinusoidal positions, ``num_blks`` blocks.

    ``TransformerEncoder(vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_blks, dropout,
    use_bias=False)``; ``max_len`` (keyword-only) bounds the sequence length.

    ``forward(X, valid_lens=None)``: token ids ``(B, T)`` -> ``(B, T, num_hiddens)``. Afterwards
    ``self.attention_weights`` is a list with one ``(B, num_heads, T, T)`` tensor per block.
    The embedding is multiplied by ``sqrt(num_hiddens)`` before the positions are added, as in d2l.
    Unlike d2l it *starts* with standard deviation ``1 / sqrt(num_hiddens)`` (not PyTorch's 1), so
    that after the scaling token and position vectors have a similar size. Parameter names are
    d2l's (``embedding``, ``blks.block0.attention.W_q``, ...), so ``state_dict``s load both ways.
    """

    def __init__(
        self,
        vocab_size: int,
        num_hiddens: int,
        ffn_num_hiddens: int,
        num_heads: int,
        num_blks: int,
        dropout: float = 0.0,
        use_bias: bool = False,
        *,
        max_len: int = 1000,
    ):
        super().__init__()
        self.vocab_size = check_positive_int("vocab_size", vocab_size)
        self.num_hiddens = check_positive_int("num_hiddens", num_hiddens)
        num_blks = check_positive_int("num_blks", num_blks)
        self.embedding = nn.Embedding(vocab_size, num_hiddens)
        # Token vectors start with entries of size 1/sqrt(d): after the sqrt(d) scaling in forward
        # they are O(1), like the sinusoids they are added to. (PyTorch's default N(0, 1) would make
        # them sqrt(d) times larger and drown the positions; lesson 07's exercise 2 measures it.)
        nn.init.normal_(self.embedding.weight, std=num_hiddens**-0.5)
        self.pos_encoding = PositionalEncoding(num_hiddens, dropout, max_len)
        self.blks = nn.Sequential()  # named block0, block1, ... as in d2l, so state_dicts match
        for i in range(num_blks):
            self.blks.add_module(
                f"block{i}",
                TransformerEncoderBlock(num_hiddens, ffn_num_hiddens, num_heads, dropout, use_bias),
            )
        self.attention_weights: list[torch.Tensor | None] = [None] * num_blks

    def forward(self, X: torch.Tensor, valid_lens=None) -> torch.Tensor:
        X = as_tensor("X", X)
        if X.dtype not in (torch.int32, torch.int64):
            raise TypeError(f"X must hold integer token ids, got dtype {X.dtype}")
        check_ndim("X", X, 2, "(batch, num_steps) of token ids")
        if X.numel() and (X.min() < 0 or X.max() >= self.vocab_size):
            raise ValueError(
                f"X must hold token ids in [0, {self.vocab_size}), got min {int(X.min())} and max {int(X.max())}"
            )
        H = self.pos_encoding(self.embedding(X) * math.sqrt(self.num_hiddens))  # (B, T, d)
        for i, blk in enumerate(self.blks):
            H = blk(H, valid_lens)  # (B, T, d)
            self.attention_weights[i] = blk.attention.attention_weights  # (B, h, T, T)
        return H


class SequenceTagger(nn.Module):
    """A ``TransformerEncoder`` with a linear read-out: one class prediction per input position.

    ``SequenceTagger(vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_blks, dropout=0.0,
    use_bias=False, *, num_classes=None, max_len=1000)``: the first seven arguments go to
    ``TransformerEncoder`` as in d2l; ``num_classes`` defaults to ``vocab_size`` (the output
    alphabet is the input alphabet, as for reversing or sorting). Like the encoder, its token
    embedding starts with standard deviation ``1 / sqrt(num_hiddens)``, not d2l's (PyTorch's) 1.

    ``forward(X, valid_lens=None)``: token ids ``(B, T)`` -> logits ``(B, T, num_classes)``.
    ``self.attention_weights`` is the encoder's list of ``(B, num_heads, T, T)`` tensors.
    """

    def __init__(
        self,
        vocab_size: int,
        num_hiddens: int,
        ffn_num_hiddens: int,
        num_heads: int,
        num_blks: int,
        dropout: float = 0.0,
        use_bias: bool = False,
        *,
        num_classes: int | None = None,
        max_len: int = 1000,
    ):
        super().__init__()
        num_classes = (
            vocab_size if num_classes is None else check_positive_int("num_classes", num_classes)
        )
        self.encoder = TransformerEncoder(
            vocab_size,
            num_hiddens,
            ffn_num_hiddens,
            num_heads,
            num_blks,
            dropout,
            use_bias,
            max_len=max_len,
        )
        self.head = nn.Linear(num_hiddens, num_classes)

    @property
    def attention_weights(self) -> list[torch.Tensor | None]:
        return self.encoder.attention_weights

    def forward(self, X: torch.Tensor, valid_lens=None) -> torch.Tensor:
        return self.head(self.encoder(X, valid_lens))  # (B, T, num_classes)
