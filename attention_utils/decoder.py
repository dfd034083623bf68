"""Attention as today's decoders use it: causal, grouped-query, rotary, with a key/value cache.

A *decoder* (GPT-2, Llama, Mistral, ...) predicts each token from the tokens before it, so its
self-attention is **causal**: query ``i`` may read keys ``j <= i`` only. Three ideas make such models
fast and small at generation time, and this module has all three:

- **The KV cache.** When generating token by token, the keys and values of earlier positions never
  change (they only depend on earlier tokens), so each layer stores them (:class:`KVCache`) and a new
  step computes the projections of the *new* token only.
- **Grouped-query attention (GQA)**, Ainslie et al. (2023): ``num_kv_heads`` key/value heads, each
  shared by ``num_heads // num_kv_heads`` query heads. ``num_kv_heads == num_heads`` is ordinary
  multi-head attention, ``num_kv_heads == 1`` is multi-query attention (Shazeer, 2019). The cache
  shrinks by ``num_heads / num_kv_heads``.
- **Rotary embeddings (RoPE)** on queries and keys, in either layout: ``"interleaved"`` rotates the
  feature pairs ``(2i, 2i+1)`` (the paper, lesson 06); ``"half"`` rotates the pairs ``(i, i + d/2)``
  (Hugging Face's Llama). Both are ``attention_utils.apply_rotary(..., layout=...)``; they are the
  same rotation up to a fixed permutation of each head's features (``rotary_permutation``).

Shapes: model inputs are ``(batch, num_steps, num_hiddens)``; per-head tensors are
``(batch, heads, num_steps, head_dim)``; attention weights are ``(batch, num_heads, num_queries,
num_keys)``.

Also here: :class:`DecoderBlock` (pre-norm, as GPT-2 and Llama), :class:`DecoderLM` (a small causal
language model with greedy ``generate``), and ``attention_from_gpt2`` / ``attention_from_llama``, which
copy the attention weights of Hugging Face ``transformers`` models into :class:`DecoderAttention`.
"""

from __future__ import annotations

import inspect
import math
import time

import torch
from torch import nn
from torch.nn import functional as F

from ._checks import as_tensor, check_floating, check_ndim, check_positive_int, check_probability
from .relative import alibi_slopes, rotary_angles, rotary_permutation

__all__ = [
    "ROTARY_LAYOUTS",
    "repeat_kv",
    "kv_cache_bytes",
    "KVCache",
    "DecoderAttention",
    "DecoderBlock",
    "DecoderLM",
    "timed_generation",
    "attention_from_gpt2",
    "attention_from_llama",
]

#: The two feature layouts of rotary embeddings.
ROTARY_LAYOUTS = ("interleaved", "half")

# torch >= 2.5 lets SDPA share key/value heads between query heads itself (enable_gqa=True).
try:
    _SDPA_HAS_GQA = "enable_gqa" in inspect.signature(F.scaled_dot_product_attention).parameters
except (TypeError, ValueError):  # a builtin without a readable signature: read the docstring
    _SDPA_HAS_GQA = "enable_gqa" in (F.scaled_dot_product_attention.__doc__ or "")


def repeat_kv(X: torch.Tensor, num_heads: int) -> torch.Tensor:
    """Give every query head its key/value head: ``(B, kv_heads, n, d) -> (B, num_heads, n, d)``.

    Query head ``h`` belongs to the group ``h // (num_heads // kv_heads)``: the groups are *contiguous*
    blocks of query heads, so each key/value head is repeated in place (``repeat_interleave``), not
    the whole stack tiled (``repeat``, the classic bug).
    """
    X = as_tensor("X", X)
    check_ndim("X", X, 4, "(batch, kv_heads, num_steps, head_dim)")
    num_heads = check_positive_int("num_heads", num_heads)
    kv_heads = X.shape[1]
    if num_heads % kv_heads:
        raise ValueError(
            f"num_heads ({num_heads}) must be a multiple of the key/value heads ({kv_heads})"
        )
    if num_heads == kv_heads:
        return X
    return X.repeat_interleave(num_heads // kv_heads, dim=1)  # (B, num_heads, n, d)


def kv_cache_bytes(
    num_layers: int, num_kv_heads: int, head_dim: int, num_positions: int, bytes_per_number: int = 4
) -> int:
    """The size of a full key/value cache: ``2 · layers · kv_heads · head_dim · positions · bytes``.

    The 2 is keys and values. Multiply by the batch size for a batch of sequences.
    """
    return (
        2
        * check_positive_int("num_layers", num_layers)
        * check_positive_int("num_kv_heads", num_kv_heads)
        * check_positive_int("head_dim", head_dim)
        * check_positive_int("num_positions", num_positions)
        * check_positive_int("bytes_per_number", bytes_per_number)
    )


class KVCache:
    """One layer's keys and values, kept between decoding steps.

    ``KVCache(batch_size, num_kv_heads, head_dim, max_len=None, *, window=None, dtype=torch.float32,
    device=None)``, three kinds:

    - ``max_len=None, window=None``: **growing**; each step concatenates (``torch.cat`` copies the
      whole cache, so a step costs a little more as it grows).
    - ``max_len=N``: **preallocated**; two ``(B, kv_heads, N, head_dim)`` buffers are made once and
      written in place. Appending past ``N`` positions raises ``ValueError``.
    - ``window=W``: **rolling** (Mistral-style sliding window): only the last ``W`` positions are
      kept, so memory stays bounded however long the generation runs. Use it with an attention
      whose ``window`` is ``W``.

    ``update(k, v)`` takes the new keys and values ``(B, kv_heads, T, head_dim)`` and returns
    ``(keys, values, key_positions)``: everything the new queries may need, ``(B, kv_heads, K,
    head_dim)`` twice, and the absolute position of each of those keys ``(K,)``. ``length`` is the
    number of positions seen so far; ``keys``/``values`` are what is stored now; ``nbytes`` is the
    memory of the stored keys and values (the allocated buffers, for a preallocated cache).
    """

    def __init__(
        self,
        batch_size: int,
        num_kv_heads: int,
        head_dim: int,
        max_len: int | None = None,
        *,
        window: int | None = None,
        dtype: torch.dtype = torch.float32,
        device=None,
    ):
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.num_kv_heads = check_positive_int("num_kv_heads", num_kv_heads)
        self.head_dim = check_positive_int("head_dim", head_dim)
        self.max_len = None if max_len is None else check_positive_int("max_len", max_len)
        self.window = None if window is None else check_positive_int("window", window)
        if self.max_len is not None and self.window is not None:
            raise ValueError(
                "give max_len (a preallocated cache) or window (a rolling one), not both"
            )
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
        self.length = 0
        shape = (self.batch_size, self.num_kv_heads, self.max_len or 0, self.head_dim)
        self._k = torch.zeros(shape, dtype=dtype, device=device)  # (B, kv, N or 0, d)
        self._v = torch.zeros(shape, dtype=dtype, device=device)
        self._pos = torch.zeros(0, dtype=torch.long, device=device)  # rolling: stored positions

    @property
    def kind(self) -> str:
        return "preallocated" if self.max_len else ("rolling" if self.window else "growing")

    @property
    def keys(self) -> torch.Tensor:
        """The stored keys ``(B, kv_heads, stored, head_dim)``."""
        return self._k[:, :, : self.length] if self.max_len else self._k

    @property
    def values(self) -> torch.Tensor:
        """The stored values ``(B, kv_heads, stored, head_dim)``."""
        return self._v[:, :, : self.length] if self.max_len else self._v

    @property
    def nbytes(self) -> int:
        """Bytes held for keys and values (a preallocated cache holds its whole buffers)."""
        return self._k.numel() * self._k.element_size() + self._v.numel() * self._v.element_size()

    def _check(self, name: str, x) -> torch.Tensor:
        x = as_tensor(name, x)
        check_ndim(name, x, 4, "(batch, kv_heads, num_steps, head_dim)")
        if x.shape[0] != self.batch_size:
            raise ValueError(
                f"{name} has batch size {x.shape[0]}, but this cache was made for batch size "
                f"{self.batch_size}: make a new cache for each batch"
            )
        if x.shape[1] != self.num_kv_heads or x.shape[3] != self.head_dim:
            raise ValueError(
                f"{name} must have {self.num_kv_heads} key/value heads of {self.head_dim} features, "
                f"got shape {tuple(x.shape)}"
            )
        if x.dtype != self._k.dtype or x.device != self._k.device:
            raise TypeError(
                f"{name} is {x.dtype} on {x.device}, the cache holds {self._k.dtype} on "
                f"{self._k.device}"
            )
        return x

    def update(self, k, v) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        k, v = self._check("k", k), self._check("v", v)
        if k.shape != v.shape:
            raise ValueError(
                f"k and v must have the same shape, got {tuple(k.shape)}, {tuple(v.shape)}"
            )
        start, T = self.length, k.shape[2]
        new_pos = torch.arange(start, start + T, device=k.device)  # (T,)
        if self.max_len is not None:
            if start + T > self.max_len:
                raise ValueError(
                    f"positions {start}..{start + T - 1} are past the cache's max_len={self.max_len}: "
                    "make the cache larger"
                )
            self._k[:, :, start : start + T] = k  # written in place, no copy of the old entries
            self._v[:, :, start : start + T] = v
            self.length = start + T
            positions = torch.arange(self.length, device=k.device)  # (K,)
            return self.keys, self.values, positions
        keys = torch.cat([self._k, k], dim=2)  # (B, kv, stored + T, d)
        values = torch.cat([self._v, v], dim=2)
        positions = torch.cat([self._pos, new_pos]) if self.window else None
        self.length = start + T
        if self.window is None:
            self._k, self._v = keys, values
            return keys, values, torch.arange(self.length, device=k.device)
        # Rolling: return everything the new queries may see, keep only the last `window` positions.
        self._k = keys[:, :, -self.window :].clone()
        self._v = values[:, :, -self.window :].clone()
        self._pos = positions[-self.window :].clone()
        return keys, values, positions

    def __repr__(self) -> str:
        return (
            f"KVCache({self.kind}, batch_size={self.batch_size}, num_kv_heads={self.num_kv_heads}, "
            f"head_dim={self.head_dim}, length={self.length})"
        )


class DecoderAttention(nn.Module):
    """Causal self-attention with grouped key/value heads, rotary embeddings and a key/value cache.

    ``DecoderAttention(num_hiddens, num_heads, num_kv_heads=None, dropout=0.0, bias=False, *,
    head_dim=None, causal=True, rotary=None, rotary_base=10000.0, window=None, alibi=False)``

    - ``num_kv_heads``: key/value heads (default ``num_heads``); ``num_heads`` must be a multiple.
    - ``head_dim``: features per head (default ``num_hiddens // num_heads``).
    - ``rotary``: ``None``, ``"interleaved"`` (pairs ``2i, 2i+1``) or ``"half"`` (pairs ``i, i+d/2``).
    - ``window``: sliding-window attention, each query reads its last ``window`` keys (itself
      included), as Mistral counts it: ``i - window < j <= i``. (Lesson 08's ``sliding_window_mask``
      counts the largest distance instead: its ``window - 1`` is our ``window``.)
    - ``alibi``: add ALiBi's ``-slope_h * (i - j)`` to the scores.

    Parameters are plain ``nn.Linear`` layers of known sizes (so a fresh module loads a
    ``state_dict``): ``W_q.weight`` ``(num_heads * head_dim, num_hiddens)``, ``W_k.weight`` and
    ``W_v.weight`` ``(num_kv_heads * head_dim, num_hiddens)``, ``W_o.weight``
    ``(num_hiddens, num_heads * head_dim)``.

    ``forward(X, cache=None, need_weights=True)``: ``X`` is ``(B, T, num_hiddens)``, returns
    ``(B, T, num_hiddens)``. With a :class:`KVCache`, ``X`` holds the *new* positions only; their keys
    and values are appended to the cache and the queries read everything cached. With
    ``need_weights=True`` (the readable reference path) the weights are kept in
    ``self.attention_weights`` as ``(B, num_heads, T, K)``; with ``need_weights=False`` it calls
    ``F.scaled_dot_product_attention`` (with ``enable_gqa`` where torch has it) and keeps none.
    """

    def __init__(
        self,
        num_hiddens: int,
        num_heads: int,
        num_kv_heads: int | None = None,
        dropout: float = 0.0,
        bias: bool = False,
        *,
        head_dim: int | None = None,
        causal: bool = True,
        rotary: str | None = None,
        rotary_base: float = 10000.0,
        window: int | None = None,
        alibi: bool = False,
    ):
        super().__init__()
        self.num_hiddens = check_positive_int("num_hiddens", num_hiddens)
        self.num_heads = check_positive_int("num_heads", num_heads)
        self.num_kv_heads = (
            self.num_heads
            if num_kv_heads is None
            else check_positive_int("num_kv_heads", num_kv_heads)
        )
        if self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"num_heads ({num_heads}) must be divisible by num_kv_heads ({self.num_kv_heads}): "
                "each key/value head serves a group of the same number of query heads"
            )
        if head_dim is None:
            if self.num_hiddens % self.num_heads:
                raise ValueError(
                    f"num_hiddens ({num_hiddens}) must be divisible by num_heads ({num_heads}), "
                    "or give head_dim"
                )
            head_dim = self.num_hiddens // self.num_heads
        self.head_dim = check_positive_int("head_dim", head_dim)
        for name, flag in (("bias", bias), ("causal", causal), ("alibi", alibi)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, got {type(flag).__name__}")
        if rotary not in (None, *ROTARY_LAYOUTS):
            raise ValueError(f"rotary must be None, 'interleaved' or 'half', got {rotary!r}")
        if rotary is not None and self.head_dim % 2:
            raise ValueError(f"rotary embeddings need an even head_dim, got {self.head_dim}")
        if (
            isinstance(rotary_base, bool)
            or not isinstance(rotary_base, int | float)
            or rotary_base <= 1
        ):
            raise ValueError(f"rotary_base must be a number greater than 1, got {rotary_base!r}")
        self.window = None if window is None else check_positive_int("window", window)
        if self.window is not None and not causal:
            raise ValueError("window needs causal=True (it keeps the last `window` keys)")
        self.causal, self.rotary, self.rotary_base, self.alibi = causal, rotary, rotary_base, alibi
        self.dropout = nn.Dropout(check_probability("dropout", dropout))
        q_size, kv_size = self.num_heads * self.head_dim, self.num_kv_heads * self.head_dim
        self.W_q = nn.Linear(self.num_hiddens, q_size, bias=bias)
        self.W_k = nn.Linear(self.num_hiddens, kv_size, bias=bias)
        self.W_v = nn.Linear(self.num_hiddens, kv_size, bias=bias)
        self.W_o = nn.Linear(q_size, self.num_hiddens, bias=bias)
        if alibi:
            self.register_buffer("slopes", alibi_slopes(self.num_heads), persistent=False)
        self.attention_weights: torch.Tensor | None = None
        self._rotary_cache: tuple[torch.Tensor, torch.Tensor] | None = None

    def extra_repr(self) -> str:
        return (
            f"num_heads={self.num_heads}, num_kv_heads={self.num_kv_heads}, head_dim={self.head_dim}, "
            f"causal={self.causal}, rotary={self.rotary}, window={self.window}, alibi={self.alibi}"
        )

    def new_cache(self, batch_size: int, max_len: int | None = None, **kwargs) -> KVCache:
        """A :class:`KVCache` that fits this layer (a rolling one if the layer has a ``window``)."""
        p = self.W_k.weight
        window = self.window if max_len is None else None
        return KVCache(
            batch_size, self.num_kv_heads, self.head_dim, max_len, window=window,
            dtype=kwargs.get("dtype", p.dtype), device=kwargs.get("device", p.device),
        )  # fmt: skip

    def _rotary_tables(self, stop: int, device, dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and sin of ``rotary_angles`` for positions ``0 .. stop-1``, ``(stop, head_dim/2)`` each.

        Kept between calls (a decoding step then slices a table instead of recomputing it); the
        table grows by doubling when a longer position is asked for.
        """
        table = self._rotary_cache
        if (
            table is None
            or table[0].shape[0] < stop
            or table[0].device != device
            or table[0].dtype != dtype
        ):
            size = max(stop, 2 * (0 if table is None else table[0].shape[0]), 64)
            angles = rotary_angles(
                torch.arange(size, device=device), self.head_dim, self.rotary_base
            )
            table = (torch.cos(angles).to(dtype), torch.sin(angles).to(dtype))  # (size, d/2) each
            self._rotary_cache = table
        return table[0][:stop], table[1][:stop]

    def _rotate(self, X: torch.Tensor, start: int) -> torch.Tensor:
        """Rotate queries or keys ``(B, heads, T, d)`` at positions ``start .. start+T-1``.

        The same numbers as ``apply_rotary(X, positions, layout=self.rotary)``, with the cos/sin
        table kept between calls.
        """
        T = X.shape[-2]
        cos, sin = self._rotary_tables(start + T, X.device, X.dtype)
        cos, sin = cos[start:], sin[start:]  # (T, d/2)
        if self.rotary == "interleaved":
            x = X.unflatten(-1, (-1, 2))  # (B, h, T, d/2, 2): the pairs (2i, 2i+1)
            x_even, x_odd = x[..., 0], x[..., 1]  # (B, h, T, d/2) each
            out = torch.stack([x_even * cos - x_odd * sin, x_even * sin + x_odd * cos], dim=-1)
            return out.flatten(-2)  # (B, h, T, d)
        half = X.shape[-1] // 2
        x1, x2 = X[..., :half], X[..., half:]  # the pairs (i, i + d/2)
        return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)  # (B, h, T, d)

    def _check_input(self, X) -> torch.Tensor:
        X = as_tensor("X", X)
        check_floating("X", X)
        check_ndim("X", X, 3, "(batch, num_steps, num_hiddens)")
        if X.shape[-1] != self.num_hiddens:
            raise ValueError(
                f"X must have num_hiddens={self.num_hiddens} features, got shape {tuple(X.shape)}"
            )
        if X.shape[1] == 0:
            raise ValueError("X must hold at least one position (num_steps >= 1)")
        return X

    def forward(self, X, cache: KVCache | None = None, need_weights: bool = True) -> torch.Tensor:
        X = self._check_input(X)
        if cache is not None and not isinstance(cache, KVCache):
            raise TypeError(f"cache must be a KVCache or None, got {type(cache).__name__}")
        if cache is not None and not self.causal:
            raise ValueError(
                "a KV cache needs causal=True (later tokens would change earlier outputs)"
            )
        if cache is not None and cache.window is not None and cache.window != self.window:
            raise ValueError(
                f"a rolling cache of window {cache.window} needs window={cache.window}"
            )
        B, T, _ = X.shape
        h, kv, d = self.num_heads, self.num_kv_heads, self.head_dim
        start = 0 if cache is None else cache.length
        q_pos = torch.arange(start, start + T, device=X.device)  # (T,) absolute positions
        q = self.W_q(X).view(B, T, h, d).transpose(1, 2)  # (B, h, T, d)
        k = self.W_k(X).view(B, T, kv, d).transpose(1, 2)  # (B, kv, T, d)
        v = self.W_v(X).view(B, T, kv, d).transpose(1, 2)  # (B, kv, T, d)
        if self.rotary is not None:  # rotate before caching: cached keys keep their positions
            q, k = self._rotate(q, start), self._rotate(k, start)
        if cache is None:
            k_pos = q_pos
        else:
            k, v, k_pos = cache.update(k, v)  # (B, kv, K, d) twice, (K,)
        mask = self._mask(q_pos, k_pos)  # (T, K) bool, True = may attend; None = nothing hidden
        bias = None
        if self.alibi:
            dist = (q_pos[:, None] - k_pos[None, :]).to(q.dtype)  # (T, K): how far back
            bias = -self.slopes.to(q.dtype)[:, None, None] * dist.abs()  # (h, T, K)
        if need_weights:
            out = self._reference(q, k, v, mask, bias)
        else:
            self.attention_weights = None
            out = self._fast(q, k, v, mask, bias, simple_causal=cache is None)
        out = out.transpose(1, 2).reshape(B, T, h * d)  # (B, T, h * d)
        return self.W_o(out)  # (B, T, num_hiddens)

    def _mask(self, q_pos: torch.Tensor, k_pos: torch.Tensor) -> torch.Tensor | None:
        if not self.causal or (q_pos.shape[0] == 1 and self.window is None):
            return None  # one new token, the last position: every cached key is in its past
        keep = k_pos[None, :] <= q_pos[:, None]  # (T, K): no peeking at later positions
        if self.window is not None:
            keep = keep & (k_pos[None, :] > q_pos[:, None] - self.window)  # the last `window` keys
        return keep

    def _reference(self, q, k, v, mask, bias) -> torch.Tensor:
        """softmax(q kᵀ / √d + bias, masked) v, keeping the weights. q (B, h, T, d) -> (B, h, T, d)."""
        k, v = repeat_kv(k, self.num_heads), repeat_kv(v, self.num_heads)  # (B, h, K, d)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)  # (B, h, T, K)
        if bias is not None:
            scores = scores + bias
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))  # every row keeps its own key
        weights = F.softmax(scores, dim=-1)  # (B, h, T, K)
        self.attention_weights = weights
        return self.dropout(weights) @ v  # (B, h, T, d)

    def _fast(self, q, k, v, mask, bias, simple_causal: bool) -> torch.Tensor:
        """The same numbers through ``F.scaled_dot_product_attention``; no weights are kept."""
        p = self.dropout.p if self.training else 0.0
        kwargs = {}
        if self.num_kv_heads != self.num_heads:
            if _SDPA_HAS_GQA:
                kwargs["enable_gqa"] = True  # SDPA shares each key/value head with its group
            else:
                k, v = repeat_kv(k, self.num_heads), repeat_kv(v, self.num_heads)
        T, K = q.shape[-2], k.shape[-2]
        if bias is None and self.window is None and self.causal and simple_causal and T == K:
            return F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True, **kwargs)
        attn_mask = mask
        if bias is not None:  # a float mask: the bias, and -inf where a key is hidden
            attn_mask = bias if mask is None else bias.masked_fill(~mask, float("-inf"))
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=p, **kwargs)


class DecoderBlock(nn.Module):
    """A pre-norm decoder block, as in GPT-2 and Llama: ``Y = X + attn(ln1(X))``, ``Z = Y + ffn(ln2(Y))``.

    ``DecoderBlock(num_hiddens, num_heads, ffn_num_hiddens=0, *, norm=True, **attention_kwargs)``:
    ``ffn_num_hiddens=0`` makes an attention-only block (no FFN sublayer); ``norm=False`` drops the
    LayerNorms (``nn.Identity``). The other keyword arguments go to :class:`DecoderAttention`
    (``num_kv_heads``, ``rotary``, ``window``, ``bias``, ...). The FFN is ``Linear → GELU → Linear``.

    ``forward(X, cache=None, need_weights=True)``: ``(B, T, num_hiddens)`` -> ``(B, T, num_hiddens)``.
    """

    def __init__(
        self,
        num_hiddens: int,
        num_heads: int,
        ffn_num_hiddens: int = 0,
        *,
        norm: bool = True,
        **attention_kwargs,
    ):
        super().__init__()
        if not isinstance(norm, bool):
            raise TypeError(f"norm must be True or False, got {type(norm).__name__}")
        if (
            isinstance(ffn_num_hiddens, bool)
            or not isinstance(ffn_num_hiddens, int)
            or ffn_num_hiddens < 0
        ):
            raise ValueError(f"ffn_num_hiddens must be an int >= 0, got {ffn_num_hiddens!r}")
        self.attention = DecoderAttention(num_hiddens, num_heads, **attention_kwargs)
        self.ln1 = nn.LayerNorm(num_hiddens) if norm else nn.Identity()
        self.ffn = None
        if ffn_num_hiddens:
            self.ln2 = nn.LayerNorm(num_hiddens) if norm else nn.Identity()
            self.ffn = nn.Sequential(
                nn.Linear(num_hiddens, ffn_num_hiddens),
                nn.GELU(),
                nn.Linear(ffn_num_hiddens, num_hiddens),
            )

    def forward(self, X, cache: KVCache | None = None, need_weights: bool = True) -> torch.Tensor:
        X = X + self.attention(self.ln1(X), cache, need_weights)  # (B, T, d)
        if self.ffn is not None:
            X = X + self.ffn(self.ln2(X))  # (B, T, d)
        return X


class DecoderLM(nn.Module):
    """A small causal language model: embeddings, a stack of :class:`DecoderBlock`, a read-out.

    ``DecoderLM(vocab_size, num_hiddens, num_heads, num_layers, ffn_num_hiddens=0, *, norm=True,
    rotary="interleaved", **attention_kwargs)``. Positions come from the rotary embedding inside
    each attention (``rotary=None``: no positions at all, only the causal mask). With ``norm=True``
    a final LayerNorm precedes the read-out ``head`` (``nn.Linear(num_hiddens, vocab_size)``).

    ``forward(tokens, caches=None, need_weights=True)``: ``tokens`` ``(B, T)`` of ids -> logits
    ``(B, T, vocab_size)``. ``caches`` is one :class:`KVCache` per layer (``new_caches``), and then
    ``tokens`` holds the new positions only. ``attention_weights`` lists each layer's
    ``(B, num_heads, T, K)`` weights from the last reference-path call.
    """

    def __init__(
        self,
        vocab_size: int,
        num_hiddens: int,
        num_heads: int,
        num_layers: int,
        ffn_num_hiddens: int = 0,
        *,
        norm: bool = True,
        rotary: str | None = "interleaved",
        **attention_kwargs,
    ):
        super().__init__()
        self.vocab_size = check_positive_int("vocab_size", vocab_size)
        num_layers = check_positive_int("num_layers", num_layers)
        self.embedding = nn.Embedding(self.vocab_size, num_hiddens)
        self.blocks = nn.ModuleList(
            DecoderBlock(
                num_hiddens,
                num_heads,
                ffn_num_hiddens,
                norm=norm,
                rotary=rotary,
                **attention_kwargs,
            )
            for _ in range(num_layers)
        )
        self.ln_f = nn.LayerNorm(num_hiddens) if norm else nn.Identity()
        self.head = nn.Linear(num_hiddens, self.vocab_size, bias=False)

    @property
    def attention_weights(self) -> list[torch.Tensor | None]:
        return [blk.attention.attention_weights for blk in self.blocks]

    def new_caches(self, batch_size: int, max_len: int | None = None) -> list[KVCache]:
        """One empty cache per layer: growing (``max_len=None``) or preallocated for ``max_len``."""
        return [blk.attention.new_cache(batch_size, max_len) for blk in self.blocks]

    def forward(self, tokens, caches: list[KVCache] | None = None, need_weights: bool = True):
        tokens = as_tensor("tokens", tokens)
        if tokens.dtype in (torch.bool,) or torch.is_floating_point(tokens) or tokens.is_complex():
            raise TypeError(f"tokens must hold integer ids, got dtype {tokens.dtype}")
        check_ndim("tokens", tokens, 2, "(batch, num_steps)")
        if tokens.numel() and (tokens.min() < 0 or tokens.max() >= self.vocab_size):
            raise ValueError(
                f"tokens must be ids in [0, {self.vocab_size}), got {tokens.min()}..{tokens.max()}"
            )
        if caches is not None and len(caches) != len(self.blocks):
            raise ValueError(
                f"caches must hold one KVCache per layer ({len(self.blocks)}), got {len(caches)}"
            )
        X = self.embedding(tokens)  # (B, T, d)
        for i, blk in enumerate(self.blocks):
            X = blk(X, None if caches is None else caches[i], need_weights)  # (B, T, d)
        return self.head(self.ln_f(X))  # (B, T, vocab_size)

    @torch.no_grad()
    def generate(
        self, prompt, num_new_tokens: int, *, use_cache: bool = True, preallocate: bool = True,
        return_logits: bool = False,
    ):  # fmt: skip
        """Greedy decoding: append the most likely next token ``num_new_tokens`` times.

        ``prompt`` ``(B, T0)`` -> tokens ``(B, T0 + num_new_tokens)`` (and, with ``return_logits``,
        the logits that chose each new token, ``(B, num_new_tokens, vocab_size)``).
        ``use_cache=False`` recomputes the whole prefix at every step; ``use_cache=True`` feeds only the
        new token and keeps keys and values in per-layer caches (preallocated or growing).
        """
        if not isinstance(use_cache, bool) or not isinstance(preallocate, bool):
            raise TypeError("use_cache and preallocate must be True or False")
        cache = ("preallocated" if preallocate else "growing") if use_cache else None
        tokens, logits, _ = timed_generation(self, prompt, num_new_tokens, cache=cache)
        return (tokens, logits) if return_logits else tokens


CACHE_KINDS = (None, "growing", "preallocated")


@torch.no_grad()
def timed_generation(model: DecoderLM, prompt, num_new_tokens: int, *, cache=None, clock="wall"):
    """Greedy generation that times every step: ``(tokens, logits, seconds)``.

    ``cache``: ``None`` (recompute the whole prefix each step), ``"growing"`` (``torch.cat``) or
    ``"preallocated"``. ``tokens`` is ``(B, T0 + n)``, ``logits`` the logits that chose each new token
    ``(B, n, vocab_size)``, ``seconds`` a list of ``n`` step times. ``clock="wall"`` reads
    ``time.perf_counter`` (synchronizing CUDA); ``clock="thread"`` reads ``time.thread_time``, the
    calling thread's CPU time, steadier on a busy machine (use it with ``torch.set_num_threads(1)``).
    """
    if not isinstance(model, DecoderLM):
        raise TypeError(f"model must be a DecoderLM, got {type(model).__name__}")
    if cache not in CACHE_KINDS:
        raise ValueError(f"cache must be None, 'growing' or 'preallocated', got {cache!r}")
    if clock not in ("wall", "thread"):
        raise ValueError(f"clock must be 'wall' or 'thread', got {clock!r}")
    tokens = as_tensor("prompt", prompt)
    check_ndim("prompt", tokens, 2, "(batch, num_steps)")
    n = check_positive_int("num_new_tokens", num_new_tokens)
    now = time.perf_counter if clock == "wall" else time.thread_time
    cuda = tokens.device.type == "cuda"
    caches = None
    if cache is not None:
        max_len = tokens.shape[1] + n if cache == "preallocated" else None
        caches = model.new_caches(tokens.shape[0], max_len)
    chosen, seconds, step_in = [], [], tokens
    for _ in range(n):
        if cuda:
            torch.cuda.synchronize()
        start = now()
        logits = model(step_in, caches, need_weights=False)[:, -1]  # (B, V)
        nxt = logits.argmax(-1, keepdim=True)  # (B, 1)
        if cuda:
            torch.cuda.synchronize()
        seconds.append(now() - start)
        chosen.append(logits)
        tokens = torch.cat([tokens, nxt], dim=1)  # (B, T + 1)
        step_in = nxt if caches is not None else tokens
    return tokens, torch.stack(chosen, dim=1), seconds


# ---------------------------------------------------------------------------------------------------
# Hugging Face models -> DecoderAttention
# ---------------------------------------------------------------------------------------------------


def _layers(model, names: tuple[str, ...]):
    if not hasattr(model, "config"):
        raise TypeError(
            f"model must be a transformers model with a config, got {type(model).__name__}"
        )
    for path in names:
        obj = model
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if obj is not None:
            return list(obj)
    raise TypeError(
        f"model must be a transformers model with {' or '.join(names)}, got {type(model).__name__}"
    )


def _copy(module: nn.Module, weights: dict[str, torch.Tensor]) -> None:
    """Copy ``weights`` (our name -> tensor) into ``module``, checking every name and shape first."""
    ours = module.state_dict()
    for name, w in weights.items():
        if name not in ours:
            raise KeyError(f"{type(module).__name__} has no parameter {name!r}")
        if tuple(ours[name].shape) != tuple(w.shape):
            raise ValueError(f"{name}: ours is {tuple(ours[name].shape)}, theirs {tuple(w.shape)}")
    missing = set(ours) - set(weights)
    if missing:
        raise ValueError(f"no weights given for {sorted(missing)}")
    module.load_state_dict({k: w.detach().clone() for k, w in weights.items()})


def attention_from_gpt2(model) -> list[DecoderAttention]:
    """Each layer's attention of a ``transformers`` GPT-2 model as a :class:`DecoderAttention`.

    GPT-2 projects with ``Conv1D``, which stores its weight as ``(in, out)`` (transposed against
    ``nn.Linear``) and fuses the three projections: ``c_attn.weight`` is ``(d, 3d)`` with the query,
    key and value columns side by side. We split it and transpose each part. Feed each module
    ``block.ln_1(hidden_states[l])``, the layer's normalized input.
    """
    layers = _layers(model, ("transformer.h", "h"))
    cfg = model.config
    d, heads = cfg.n_embd, cfg.n_head
    if not getattr(cfg, "scale_attn_weights", True) or getattr(
        cfg, "scale_attn_by_inverse_layer_idx", False
    ):
        raise ValueError("only GPT-2's standard 1/sqrt(head_dim) score scaling is supported")
    out = []
    for layer in layers:
        attn = layer.attn
        w, b = attn.c_attn.weight, attn.c_attn.bias  # (d, 3d), (3d,)
        wq, wk, wv = w.split(d, dim=1)  # 3 x (d_in, d_out): Conv1D's layout
        bq, bk, bv = b.split(d)
        mod = DecoderAttention(d, heads, bias=True)
        _copy(
            mod,
            {
                "W_q.weight": wq.T, "W_q.bias": bq,  # .T: Conv1D (in, out) -> Linear (out, in)
                "W_k.weight": wk.T, "W_k.bias": bk,
                "W_v.weight": wv.T, "W_v.bias": bv,
                "W_o.weight": attn.c_proj.weight.T, "W_o.bias": attn.c_proj.bias,
            },
        )  # fmt: skip
        out.append(mod.eval())
    return out


def _rope_theta(cfg) -> float:
    theta = getattr(cfg, "rope_theta", None)
    params = getattr(cfg, "rope_parameters", None) or getattr(cfg, "rope_scaling", None) or {}
    if isinstance(params, dict):
        if params.get("rope_type", "default") not in ("default", None):
            raise ValueError(f"only plain RoPE is supported, got rope_type={params['rope_type']!r}")
        theta = params.get("rope_theta", theta)
    return float(theta if theta is not None else 10000.0)


def attention_from_llama(model, *, rotary: str = "half") -> list[DecoderAttention]:
    """Each layer's attention of a ``transformers`` Llama model as a :class:`DecoderAttention`.

    Llama's ``q_proj``, ``k_proj``, ``v_proj`` and ``o_proj`` are ``nn.Linear`` layers like ours, with
    ``num_key_value_heads`` key/value heads and RoPE in the rotate-half layout. With
    ``rotary="interleaved"`` the rows of each head of ``W_q`` and ``W_k`` are reordered so that the
    interleaved rotation computes the same scores (what conversion scripts between the two layouts
    do). Feed each module ``layer.input_layernorm(hidden_states[l])``.
    """
    if rotary not in ROTARY_LAYOUTS:
        raise ValueError(f"rotary must be 'interleaved' or 'half', got {rotary!r}")
    layers = _layers(model, ("model.layers", "layers"))
    cfg = model.config
    heads, kv = cfg.num_attention_heads, cfg.num_key_value_heads
    d_head = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    out = []
    for layer in layers:
        attn = layer.self_attn
        mod = DecoderAttention(
            cfg.hidden_size, heads, kv, bias=bool(getattr(cfg, "attention_bias", False)),
            head_dim=d_head, rotary=rotary, rotary_base=_rope_theta(cfg),
        )  # fmt: skip
        weights = {}
        for ours, theirs in (
            ("W_q", attn.q_proj),
            ("W_k", attn.k_proj),
            ("W_v", attn.v_proj),
            ("W_o", attn.o_proj),
        ):
            weights[f"{ours}.weight"] = theirs.weight
            if theirs.bias is not None:
                weights[f"{ours}.bias"] = theirs.bias
        if rotary == "interleaved":
            # Interleaved features q_int with q_int[perm] == q_half rotate like q_half does, and
            # q_int = q_half[inv]: within each head, our row j is their row inv[j].
            inv = torch.argsort(rotary_permutation(d_head))  # (d_head,)
            for name, n in (("W_q", heads), ("W_k", kv)):
                w = weights[f"{name}.weight"].reshape(n, d_head, -1)[:, inv]  # (n, d_head, d)
                weights[f"{name}.weight"] = w.reshape(n * d_head, -1)
                if f"{name}.bias" in weights:
                    weights[f"{name}.bias"] = (
                        weights[f"{name}.bias"].reshape(n, d_head)[:, inv].flatten()
                    )
        _copy(mod, weights)
        out.append(mod.eval())
    return out
