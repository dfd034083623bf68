"""What attention costs, and three ways to pay less: blocked (online-softmax), local and linear attention.

Layout throughout: queries ``(B, H, Q, d)``, keys ``(B, H, K, d)``, values ``(B, H, K, d_v)``
(batch, heads, positions, features per head), the layout of ``F.scaled_dot_product_attention``.
Masks follow SDPA too: a boolean ``attn_mask`` broadcastable to ``(B, H, Q, K)``, ``True`` = may
attend; ``is_causal=True`` lets query ``i`` see keys ``j <= i``. A query with no key to attend to
gets a zero output here, never NaN (the package's convention). SDPA agrees on recent PyTorch: on
torch 2.14 (CPU, both the fused and the math backend, boolean or ``-inf`` float mask) it returns 0
for such a row too (measured); ``nn.MultiheadAttention`` and older SDPA builds return NaN there.

* ``naive_attention`` materializes the ``(Q, K)`` weights: O(n²) memory.
* ``blocked_attention`` walks over the keys in blocks with a running max and a running sum (the
  online softmax of Milakov & Gimelshein 2018, used for blocked attention by Rabe & Staats 2021 and
  FlashAttention, Dao et al. 2022): the same numbers, O(n · block) extra memory in a forward pass.
  ``online_softmax_trace`` records its running max and sum on one row, block by block.
* ``sliding_window_attention`` lets query ``i`` see only keys within ``window`` of it: O(n · window)
  time and memory, but a far key is out of reach in one layer.
  ``sliding_window_reach`` says which inputs a stack of such layers can reach.
* ``linear_attention`` replaces ``exp(q·k)`` by ``φ(q)·φ(k)`` with ``φ = elu + 1`` (Katharopoulos
  et al. 2020): O(n) cost, a different model.

The measuring helpers (``time_call``, ``peak_memory``, ``saved_for_backward``, ``attention_flops``,
``fit_slope``) and
``benchmark_attention`` / ``format_table`` are what lesson 08 and ``benchmarks/attention.py`` both use.
"""

from __future__ import annotations

import math
import statistics
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from ._checks import check_floating, check_ndim, check_positive_int

__all__ = [
    "naive_attention",
    "blocked_attention",
    "online_softmax_trace",
    "sliding_window_attention",
    "sliding_window_mask",
    "sliding_window_reach",
    "linear_attention",
    "attention_flops",
    "time_call",
    "peak_memory",
    "saved_for_backward",
    "fit_slope",
    "BenchmarkRow",
    "benchmark_attention",
    "format_table",
]


# ----------------------------------------------------------------------------------------------
# Input checks


def _check_qkv4(q, k, v) -> None:
    for name, x in (("q", q), ("k", k), ("v", v)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        check_floating(name, x)
        check_ndim(name, x, 4, "(batch, heads, positions, features)")
    if q.shape[:2] != k.shape[:2] or k.shape[:2] != v.shape[:2]:
        raise ValueError(
            "q, k and v must share (batch, heads), got "
            f"{tuple(q.shape[:2])}, {tuple(k.shape[:2])} and {tuple(v.shape[:2])}"
        )
    if k.shape[2] != v.shape[2]:
        raise ValueError(
            f"k and v must have the same number of positions, got {k.shape[2]} and {v.shape[2]}"
        )
    if q.shape[3] != k.shape[3]:
        raise ValueError(
            f"q and k must have the same feature size d, got {q.shape[3]} and {k.shape[3]}"
        )


def _scale(scale, d: int) -> float:
    if scale is None:
        return 1.0 / math.sqrt(d)
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not math.isfinite(scale):
        raise TypeError(f"scale must be a finite number or None, got {scale!r}")
    return float(scale)


def _check_causal(is_causal) -> None:
    if not isinstance(is_causal, bool):
        raise TypeError(f"is_causal must be True or False, got {type(is_causal).__name__}")


def _user_mask(attn_mask, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor | None:
    """The caller's boolean mask expanded (as a view, no memory) to (B, H, Q, K), or None."""
    B, H, Q, K = q.shape[0], q.shape[1], q.shape[2], k.shape[2]
    mask = None
    if attn_mask is not None:
        if not isinstance(attn_mask, torch.Tensor) or attn_mask.dtype != torch.bool:
            got = (
                attn_mask.dtype if isinstance(attn_mask, torch.Tensor) else type(attn_mask).__name__
            )
            raise TypeError(f"attn_mask must be a boolean tensor (True = may attend), got {got}")
        try:
            torch.broadcast_shapes(attn_mask.shape, (B, H, Q, K))
            if attn_mask.dim() > 4:
                raise RuntimeError
        except RuntimeError:
            raise ValueError(
                f"attn_mask must broadcast to (B, H, Q, K) = {(B, H, Q, K)}, got shape {tuple(attn_mask.shape)}"
            ) from None
        mask = attn_mask.to(q.device).expand(B, H, Q, K)  # (B, H, Q, K), a view: no memory
    return mask


def _causal_block(n_queries: int, start: int, stop: int, device) -> torch.Tensor:
    """``(Q, stop - start)`` boolean: query i may see key j (start <= j < stop) when j <= i.

    The top-left alignment of SDPA's ``is_causal`` (``torch.ones(Q, K).tril()``), one block of keys at
    a time, so a causal blocked pass never holds a ``(Q, K)`` mask.
    """
    keys = torch.arange(start, stop, device=device)  # (b,)
    return keys <= torch.arange(n_queries, device=device)[:, None]  # (1, b) vs (Q, 1) -> (Q, b)


# ----------------------------------------------------------------------------------------------
# Attention, four ways


def naive_attention(q, k, v, attn_mask=None, is_causal: bool = False, scale=None) -> torch.Tensor:
    """``softmax(q kᵀ · scale) v`` with the whole ``(Q, K)`` weight matrix in memory.

    q ``(B, H, Q, d)``, k ``(B, H, K, d)``, v ``(B, H, K, d_v)`` -> ``(B, H, Q, d_v)``. ``scale``
    defaults to ``1/sqrt(d)``. Memory: several ``(B, H, Q, K)`` tensors, so O(n²).
    """
    _check_qkv4(q, k, v)
    _check_causal(is_causal)
    scale = _scale(scale, q.shape[-1])
    mask = _user_mask(attn_mask, q, k)  # (B, H, Q, K) view or None
    if is_causal:
        causal = _causal_block(q.shape[2], 0, k.shape[2], q.device)  # (Q, K)
        mask = causal if mask is None else mask & causal  # broadcasts to (B, H, Q, K)
    scores = (q @ k.transpose(-2, -1)) * scale  # (B, H, Q, d) @ (B, H, d, K) -> (B, H, Q, K)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # (B, H, Q, K)
    if mask is not None:  # a row with no allowed key is all NaN: make it zeros
        weights = weights.masked_fill(~mask.any(-1, keepdim=True), 0.0)
    return weights @ v  # (B, H, Q, K) @ (B, H, K, d_v) -> (B, H, Q, d_v)


def blocked_attention(
    q, k, v, attn_mask=None, is_causal: bool = False, scale=None, *, block_size: int = 128
) -> torch.Tensor:
    """The same result as ``naive_attention``, one block of keys at a time (the online softmax).

    q ``(B, H, Q, d)``, k ``(B, H, K, d)``, v ``(B, H, K, d_v)`` -> ``(B, H, Q, d_v)``.
    For every query it keeps a running max ``m``, a running sum ``ell = Σ exp(s - m)`` and a running
    output ``acc = Σ exp(s - m) v``; when a new block raises the max, the old ``ell`` and ``acc`` are
    rescaled by ``exp(m_old - m_new)``.

    Memory beyond the inputs and the output: O(B · H · Q · (block_size + d + d_v)) (a few tensors of
    one block of scores, the scaled queries and the running output), never O(Q · K), also with
    ``is_causal=True`` (the causal mask is built one ``(Q, block_size)`` block at a time). A caller's
    ``attn_mask`` is only viewed, block by block. Half-precision inputs are accumulated in float32,
    as FlashAttention does.

    That memory bound holds for a forward pass without gradients. Under autograd, PyTorch saves every
    block's tensors for the backward pass, so a training step holds O(Q · K) again (more than
    ``naive_attention``; see ``saved_for_backward``). FlashAttention avoids that with its own
    backward pass, which recomputes each block's scores from q, k and the per-row max and sum.
    """
    _check_qkv4(q, k, v)
    _check_causal(is_causal)
    block_size = check_positive_int("block_size", block_size)
    scale = _scale(scale, q.shape[-1])
    mask = _user_mask(attn_mask, q, k)  # (B, H, Q, K) view or None
    B, H, Q, K = q.shape[0], q.shape[1], q.shape[2], k.shape[2]
    acc_dtype = torch.float32 if q.dtype in (torch.float16, torch.bfloat16) else q.dtype
    m = torch.full((B, H, Q, 1), float("-inf"), dtype=acc_dtype, device=q.device)  # running max
    ell = torch.zeros((B, H, Q, 1), dtype=acc_dtype, device=q.device)  # running sum of exp
    acc = torch.zeros((B, H, Q, v.shape[-1]), dtype=acc_dtype, device=q.device)  # running output
    qs = q * scale  # (B, H, Q, d): scale once, not once per block
    for start in range(0, K, block_size):
        if is_causal and start > Q - 1:
            break  # every later key lies in every query's future
        stop = min(start + block_size, K)
        kb, vb = k[:, :, start:stop], v[:, :, start:stop]  # (B, H, b, d), (B, H, b, d_v): views
        s = (qs @ kb.transpose(-2, -1)).to(acc_dtype)  # (B, H, Q, d) @ (B, H, d, b) -> (B, H, Q, b)
        allowed = None if mask is None else mask[..., start:stop]  # (B, H, Q, b), a view
        if is_causal:
            causal = _causal_block(Q, start, stop, q.device)  # (Q, b)
            allowed = causal if allowed is None else allowed & causal  # (B, H, Q, b)
        if allowed is not None:
            s = s.masked_fill(~allowed, float("-inf"))
        m_new = torch.maximum(m, s.amax(dim=-1, keepdim=True))  # (B, H, Q, 1)
        # While a row has seen only masked keys its max is -inf; shift by 0 then (exp(-inf) = 0, no NaN).
        shift = torch.nan_to_num(m_new, neginf=0.0)  # (B, H, Q, 1)
        p = torch.exp(s - shift)  # (B, H, Q, b): this block's unnormalized weights
        rescale = torch.exp(m - shift)  # (B, H, Q, 1): exp(m_old - m_new), 0 for the first block
        ell = ell * rescale + p.sum(dim=-1, keepdim=True)  # (B, H, Q, 1)
        # (B, H, Q, b) @ (B, H, b, d_v) -> (B, H, Q, d_v)
        acc = acc * rescale + p @ vb.to(acc_dtype)
        m = m_new
    out = torch.where(
        ell > 0, acc / ell.clamp_min(torch.finfo(acc_dtype).tiny), torch.zeros_like(acc)
    )
    return out.to(q.dtype)  # (B, H, Q, d_v)


def online_softmax_trace(scores, block_size: int) -> dict[str, torch.Tensor]:
    """The online softmax on one row of scores, recorded block by block (for figures and widgets).

    ``scores`` ``(K,)``, with ``-inf`` for masked keys. Visits blocks of ``block_size`` keys; after
    block ``t`` (of ``T = ceil(K / block_size)``) it records

    * ``block_max[t]``: the largest score in block ``t``,
    * ``m[t]``: the running max after block ``t``, ``m_t = max(m_{t-1}, block_max[t])``,
    * ``rescale[t]``: ``exp(m_{t-1} - m_t)``, the factor applied to the old sum (0 at the first
      block, where nothing has been summed; 1 whenever the max did not rise),
    * ``ell[t]``: the running sum ``ell_t = ell_{t-1} · rescale[t] + Σ exp(s_blk - m_t)``,
    * ``rose[t]``: True where block ``t`` raised the running max (block 0 counts when finite).

    Each of these is ``(T,)``; ``starts`` ``(T,)`` holds each block's first key and ``weights``
    ``(K,)`` the final ``exp(scores - m) / ell`` (zeros if every key is masked). While the running
    max is still ``-inf`` (only masked keys so far) the shift is 0, so no NaN appears.
    """
    if not isinstance(scores, torch.Tensor):
        raise TypeError(f"scores must be a torch.Tensor, got {type(scores).__name__}")
    check_floating("scores", scores)
    check_ndim("scores", scores, 1, "(num_keys,)")
    block_size = check_positive_int("block_size", block_size)
    if scores.numel() == 0:
        raise ValueError("scores must hold at least one key")
    if torch.isnan(scores).any() or (scores == float("inf")).any():
        raise ValueError("scores must not contain NaN or +inf (use -inf for a masked key)")
    m = torch.tensor(float("-inf"), dtype=scores.dtype)
    ell = torch.tensor(0.0, dtype=scores.dtype)
    record: dict[str, list] = {
        k: [] for k in ("starts", "block_max", "m", "rescale", "ell", "rose")
    }
    for start in range(0, scores.numel(), block_size):
        block = scores[start : start + block_size]  # (b,)
        m_new = torch.maximum(m, block.max())
        shift = torch.nan_to_num(m_new, neginf=0.0)  # 0 while only masked keys were seen
        rescale = torch.exp(m - shift)  # exp(m_old - m_new); 0 while nothing was summed
        ell = ell * rescale + torch.exp(block - shift).sum()
        record["starts"].append(start)
        record["block_max"].append(block.max())
        record["m"].append(m_new)
        record["rescale"].append(rescale)
        record["ell"].append(ell)
        record["rose"].append(bool(m_new > m))
        m = m_new
    shift = torch.nan_to_num(m, neginf=0.0)
    weights = torch.exp(scores - shift) / ell if ell > 0 else torch.zeros_like(scores)
    out = {k: torch.stack(record[k]) for k in ("block_max", "m", "rescale", "ell")}
    out["starts"] = torch.tensor(record["starts"])
    out["rose"] = torch.tensor(record["rose"])
    out["weights"] = weights
    return out


def sliding_window_mask(n: int, window: int, *, causal: bool = False, device=None) -> torch.Tensor:
    """Boolean ``(n, n)`` mask, ``True`` where query ``i`` may see key ``j``.

    Non-causal: ``|i - j| <= window``. Causal: ``0 <= i - j <= window``. ``window=0`` keeps only
    the diagonal (each position sees itself).
    """
    n = check_positive_int("n", n)
    window = _check_window(window)
    i = torch.arange(n, device=device)[:, None]  # (n, 1)
    j = torch.arange(n, device=device)[None, :]  # (1, n)
    if causal:
        return (i - j >= 0) & (i - j <= window)  # (n, n)
    return (i - j).abs() <= window  # (n, n)


def _check_window(window) -> int:
    if isinstance(window, bool) or not isinstance(window, int):
        raise TypeError(f"window must be an int, got {type(window).__name__}")
    if window < 0:
        raise ValueError(f"window must be >= 0 (0 = each position sees only itself), got {window}")
    return int(window)


def sliding_window_reach(n: int, window: int, layers: int, *, causal: bool = False) -> torch.Tensor:
    """Boolean ``(n, n)``: ``True`` where input position ``j`` can influence output ``i`` after
    ``layers`` stacked sliding-window attention layers (each one ``sliding_window_mask(n, window)``).

    One layer lets ``i`` read ``j`` when ``|i - j| <= window``; a stack chains them, so the reach
    is the boolean matrix power of the mask. It is again a band, of half-width
    ``min(layers · window, n - 1)`` (causal: looking back only). This is what the masks allow; with
    real weights a path's influence can be tiny, but it is never exactly zero on a reachable path.
    """
    layers = check_positive_int("layers", layers)
    one = sliding_window_mask(n, window, causal=causal).double()  # (n, n)
    reach = one
    for _ in range(layers - 1):
        reach = ((reach @ one) > 0).double()  # (n, n) @ (n, n) -> (n, n)
    return reach > 0  # (n, n)


def sliding_window_attention(
    q, k, v, window: int, *, is_causal: bool = False, scale=None, chunk_size: int | None = None
) -> torch.Tensor:
    """Local attention: query ``i`` attends only to keys ``j`` with ``|i - j| <= window``.

    With ``is_causal=True``, only to ``i - window <= j <= i``. Self-attention layout (Q = K = n):
    q ``(B, H, n, d)``, k ``(B, H, n, d)``, v ``(B, H, n, d_v)`` -> ``(B, H, n, d_v)``.
    Equals ``naive_attention`` with ``attn_mask=sliding_window_mask(n, window)``, but never builds the
    ``(n, n)`` scores. The queries are cut into chunks of ``chunk_size`` (default ``max(window, 16)``)
    and each chunk scores only the ``chunk_size + 2·window`` keys around it, so time and memory are
    O(n · (chunk_size + 2·window)): linear in n.
    """
    _check_qkv4(q, k, v)
    window = _check_window(window)
    if not isinstance(is_causal, bool):
        raise TypeError(f"is_causal must be True or False, got {type(is_causal).__name__}")
    B, H, n, d = q.shape
    if k.shape[2] != n:
        raise ValueError(
            f"sliding_window_attention needs as many queries as keys (self-attention), got {n} and {k.shape[2]}"
        )
    scale = _scale(scale, d)
    c = max(window, 16) if chunk_size is None else check_positive_int("chunk_size", chunk_size)
    left, right = window, 0 if is_causal else window
    chunks = -(-n // c)  # ceil(n / c)
    extra = chunks * c - n  # padding that makes n a multiple of c
    span = c + left + right  # keys seen by one chunk of queries
    qc = F.pad(q * scale, (0, 0, 0, extra)).view(B, H, chunks, c, d)  # (B, H, chunks, c, d)
    kw = F.pad(k, (0, 0, left, extra + right)).unfold(2, span, c)  # (B, H, chunks, d, span), a view
    vw = F.pad(v, (0, 0, left, extra + right)).unfold(2, span, c)  # (B, H, chunks, d_v, span)
    scores = qc @ kw  # (B, H, chunks, c, d) @ (B, H, chunks, d, span) -> (B, H, chunks, c, span)
    # Query i = chunk*c + a sees key j = chunk*c - left + s: allowed when 0 <= s - a <= left + right
    # (the band) and 0 <= j < n (not padding).
    a = torch.arange(c, device=q.device)[:, None]  # (c, 1)
    s_ = torch.arange(span, device=q.device)[None, :]  # (1, span)
    band = (s_ - a >= 0) & (s_ - a <= left + right)  # (c, span)
    j = torch.arange(chunks, device=q.device)[:, None, None] * c - left + s_  # (chunks, 1, span)
    allowed = band & (j >= 0) & (j < n)  # (chunks, c, span)
    scores = scores.masked_fill(~allowed, float("-inf"))  # (B, H, chunks, c, span)
    weights = torch.softmax(scores, dim=-1)  # (B, H, chunks, c, span)
    # (B, H, chunks, c, span) @ (B, H, chunks, span, d_v) -> (B, H, chunks, c, d_v)
    out = weights @ vw.transpose(-2, -1)
    return out.reshape(B, H, chunks * c, -1)[:, :, :n]  # (B, H, n, d_v)


def linear_attention(q, k, v, *, eps: float = 1e-6) -> torch.Tensor:
    """Kernelized "linear" attention: ``φ(q) (φ(k)ᵀ v) / (φ(q) Σⱼ φ(kⱼ))`` with ``φ(x) = elu(x) + 1``.

    q ``(B, H, Q, d)``, k ``(B, H, K, d)``, v ``(B, H, K, d_v)`` -> ``(B, H, Q, d_v)``. No mask.
    Summing ``φ(k)ᵀ v`` first costs O(n · d · d_v) instead of O(n² · d): linear in n. It is *not*
    softmax attention (``exp(q·k)`` is replaced by ``φ(q)·φ(k)``), so its outputs differ.
    """
    _check_qkv4(q, k, v)
    fq, fk = F.elu(q) + 1, F.elu(k) + 1  # (B, H, Q, d), (B, H, K, d): positive features
    kv = fk.transpose(-2, -1) @ v  # (B, H, d, K) @ (B, H, K, d_v) -> (B, H, d, d_v)
    # (B, H, Q, d) @ (B, H, d, 1) -> (B, H, Q, 1): each query's normalizer φ(q) · Σⱼ φ(kⱼ)
    z = fq @ fk.sum(dim=2, keepdim=True).transpose(-2, -1)
    return (fq @ kv) / (z + eps)  # (B, H, Q, d_v)


# ----------------------------------------------------------------------------------------------
# Measuring


def attention_flops(batch: int, heads: int, n_queries: int, n_keys: int, head_dim: int) -> int:
    """Floating-point operations of one attention forward: ``4 · B · H · Q · K · d``.

    Two matmuls (``q kᵀ`` and ``weights · v``), each ``2 · Q · K · d`` per head (a multiply and an
    add). The softmax's O(Q · K) work is not counted, following the FlashAttention papers.
    """
    for name, x in (
        ("batch", batch),
        ("heads", heads),
        ("n_queries", n_queries),
        ("n_keys", n_keys),
        ("head_dim", head_dim),
    ):
        check_positive_int(name, x)
    return 4 * batch * heads * n_queries * n_keys * head_dim


def _devices(args) -> set[str]:
    return {t.device.type for t in tree_leaves(args) if isinstance(t, torch.Tensor)}


def _sync(devices: set[str]) -> None:
    if "cuda" in devices:
        torch.cuda.synchronize()


CLOCKS = {"wall": time.perf_counter, "thread": time.thread_time}


def time_call(
    fn: Callable,
    *args,
    warmup: int = 1,
    repeats: int = 5,
    stat: str = "median",
    clock: str = "wall",
    **kwargs,
) -> float:
    """Seconds that ``fn(*args, **kwargs)`` takes: the median (or ``stat="min"``) of ``repeats`` runs.

    ``warmup`` runs come first and are not timed. ``clock="wall"`` reads ``time.perf_counter``; on
    CUDA it synchronizes before and after each run, so the time is the GPU's, not the launch's.
    ``clock="thread"`` reads ``time.thread_time``, the CPU time of the calling thread only: time
    when other programs had the core does not count. It is the steadier clock on a busy machine, but
    it sees only work done on this thread, so it requires ``torch.set_num_threads(1)`` and CPU tensors.
    On a busy machine the minimum is the steadier statistic: other programs can only make a run
    slower, never faster.
    """
    repeats = check_positive_int("repeats", repeats)
    if isinstance(warmup, bool) or not isinstance(warmup, int):
        raise TypeError(f"warmup must be an int, got {type(warmup).__name__}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    if stat not in ("median", "min"):
        raise ValueError(f"stat must be 'median' or 'min', got {stat!r}")
    if clock not in CLOCKS:
        raise ValueError(f"clock must be 'wall' or 'thread', got {clock!r}")
    devices = _devices((args, kwargs))
    if clock == "thread" and devices - {"cpu"}:
        raise ValueError(
            f"clock='thread' measures CPU time only; the inputs are on {sorted(devices)}: use clock='wall'"
        )
    if clock == "thread" and torch.get_num_threads() != 1:
        raise ValueError(
            "clock='thread' sees only the calling thread's work; call torch.set_num_threads(1) first "
            f"(now {torch.get_num_threads()} threads), or use clock='wall'"
        )
    now = CLOCKS[clock]
    for _ in range(warmup):
        fn(*args, **kwargs)
    times = []
    for _ in range(repeats):
        _sync(devices)
        start = now()
        fn(*args, **kwargs)
        _sync(devices)
        times.append(now() - start)
    return statistics.median(times) if stat == "median" else min(times)


class _LiveBytes(TorchDispatchMode):
    """Counts the bytes of every tensor storage created by a PyTorch operator while active.

    A storage is counted from the operator that creates it until it is freed (a weakref finalizer on
    its Python object, which PyTorch keeps alive exactly as long as the storage). Storages of the
    inputs, and views of them, are not counted. Scratch buffers that a kernel allocates *inside* one
    operator are invisible here (for SDPA's CPU kernel: a few small per-thread blocks).
    """

    @classmethod
    def _should_skip_dynamo(cls) -> bool:  # avoid importing torch._dynamo (seconds) on first use
        return False

    def __init__(self):
        super().__init__()
        self.live = 0
        self.peak = 0
        self._tracked: dict[int, int] = {}
        self._finalizers: list[weakref.finalize] = []

    def _free(self, key: int) -> None:
        self.live -= self._tracked.pop(key, 0)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        inputs = {
            id(t.untyped_storage())
            for t in tree_leaves((args, kwargs))
            if isinstance(t, torch.Tensor)
        }
        for t in tree_leaves(out):
            if not isinstance(t, torch.Tensor) or t.device.type != "cpu":
                continue
            storage = t.untyped_storage()
            key = id(storage)
            if key in inputs or key in self._tracked:
                continue
            self._tracked[key] = storage.nbytes()
            self.live += storage.nbytes()
            self.peak = max(self.peak, self.live)
            self._finalizers.append(weakref.finalize(storage, self._free, key))
        return out

    def __exit__(self, *exc):
        for fin in self._finalizers:
            fin.detach()
        return super().__exit__(*exc)


def peak_memory(fn: Callable, *args, **kwargs) -> int:
    """Peak bytes allocated while ``fn(*args, **kwargs)`` runs, above what was allocated before.

    The output counts (it is allocated during the call). On CUDA: ``torch.cuda.max_memory_allocated``.
    On CPU, PyTorch keeps no such counter, so every tensor that an operator creates is counted from
    its creation until it is freed; the result is exact and the same on every machine for the same
    code, but it does not see scratch memory *inside* a single operator's kernel.
    """
    devices = _devices((args, kwargs))
    if "cuda" in devices:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        out = fn(*args, **kwargs)
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - before
        del out
        return int(peak)
    tracker = _LiveBytes()
    with tracker:
        out = fn(*args, **kwargs)
    del out
    return int(tracker.peak)


def saved_for_backward(fn: Callable, *args, **kwargs) -> int:
    """Bytes that autograd keeps for the backward pass of ``fn(*args, **kwargs)``, beyond the inputs.

    The tensor arguments are copied and marked ``requires_grad``; every tensor that autograd saves
    while ``fn`` runs (through ``torch.autograd.graph.saved_tensors_hooks``) is counted once per
    storage, except the inputs' own storages. This is the memory a training step must hold from the
    forward pass until the backward pass, per attention layer. Exact and the same on every machine
    for the same code and backend, also for fused kernels such as SDPA: what they save is visible.
    """
    copies = [
        a.detach().clone().requires_grad_(a.is_floating_point())
        if isinstance(a, torch.Tensor)
        else a
        for a in args
    ]
    # (the graph keeps every saved tensor alive until ``out`` is dropped, so no address is reused)
    inputs = {a.untyped_storage().data_ptr() for a in copies if isinstance(a, torch.Tensor)}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        ptr = t.untyped_storage().data_ptr()
        if ptr not in inputs:
            saved[ptr] = t.untyped_storage().nbytes()
        return t

    with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn(*copies, **kwargs)
    del out
    return int(sum(saved.values()))


def fit_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ``log y`` against ``log x``: the exponent p in ``y ≈ c · x^p``."""
    if len(xs) != len(ys) or len(xs) < 2:
        raise ValueError(f"xs and ys must have the same length >= 2, got {len(xs)} and {len(ys)}")
    if min(xs) <= 0 or min(ys) <= 0:
        raise ValueError("xs and ys must be positive to take logarithms")
    lx = [math.log(x) for x in xs]
    ly = [math.log(y) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sum(
        (a - mx) ** 2 for a in lx
    )


# ----------------------------------------------------------------------------------------------
# The benchmark (benchmarks/attention.py is its command line)


@dataclass
class BenchmarkRow:
    """One line of the benchmark table.

    ``seconds`` is the median of the timed runs (one sample when ``repeats=1``: a smoke test, not a
    measurement); ``peak_bytes`` is above the inputs, -1 when the method ran out of memory (then the
    time, the difference and both ratios are NaN). ``max_diff`` is the largest absolute difference
    from the method's reference output (see ``benchmark_attention``); it is NaN for SDPA's own row,
    which is the reference and has nothing to be compared with, and ``format_table`` prints "—" there.
    """

    method: str
    n: int
    seconds: float
    flops: int
    peak_bytes: int
    max_diff: float
    time_vs_sdpa: float = float("nan")
    memory_vs_sdpa: float = float("nan")

    @property
    def tflops(self) -> float:
        return self.flops / self.seconds / 1e12


METHODS = ("naive", "blocked", "sdpa", "mha_reference", "mha_fast", "torch_mha")


def _mha_pair(width: int, heads: int, device, dtype):
    """The package's MultiHeadAttention and torch's, with the same weights (no biases)."""
    from .multihead import MultiHeadAttention

    ours = MultiHeadAttention(width, heads).to(device)
    ours(*(torch.zeros(1, 1, width, device=device),) * 3)  # set the lazy layers' sizes
    theirs = nn.MultiheadAttention(width, heads, bias=False, batch_first=True).to(device)
    with torch.no_grad():
        w_q, w_k, w_v = theirs.in_proj_weight.chunk(3)  # 3 x (width, width)
        ours.W_q.weight.copy_(w_q)
        ours.W_k.weight.copy_(w_k)
        ours.W_v.weight.copy_(w_v)
        ours.W_o.weight.copy_(theirs.out_proj.weight)
    return ours.to(dtype).eval(), theirs.to(dtype).eval()


def benchmark_attention(
    lengths: Sequence[int],
    *,
    batch: int = 1,
    heads: int = 4,
    head_dim: int = 64,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    block_size: int = 128,
    methods: Sequence[str] = METHODS,
    warmup: int = 1,
    repeats: int = 3,
    seed: int = 0,
) -> list[BenchmarkRow]:
    """Time and peak memory of each attention method at each sequence length n (forward, no grad).

    ``naive``, ``blocked`` and ``sdpa`` take q, k, v of shape ``(batch, heads, n, head_dim)``; the
    ``mha_*`` methods (the package's MultiHeadAttention with ``need_weights=True`` / ``False``, and
    ``nn.MultiheadAttention``) take ``x`` of shape ``(batch, n, heads · head_dim)`` and include the
    four projections in their FLOPs. ``max_diff`` compares ``naive`` and ``blocked`` with SDPA, the
    package's ``mha_*`` with ``nn.MultiheadAttention``, and ``torch_mha`` with ``mha_reference`` (so no
    row is compared with itself). SDPA's own row has ``max_diff = NaN``, which ``format_table``
    prints as "—". On CUDA an out-of-memory method gets a row with NaN times and ``peak_bytes = -1``
    (printed "OOM"). The weights of the ``mha_*`` layers come from ``seed`` without touching the
    caller's global random state (``torch.random.fork_rng``).
    """
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"methods must be among {METHODS}, got unknown {sorted(unknown)}")
    rows: list[BenchmarkRow] = []
    width = heads * head_dim
    gen = torch.Generator(device="cpu").manual_seed(seed)
    ours, theirs = (None, None)
    if any(m.startswith("mha") or m == "torch_mha" for m in methods):
        dev = torch.device(device)
        forked = [] if dev.type != "cuda" else [dev.index or torch.cuda.current_device()]
        with torch.random.fork_rng(devices=forked):  # seed the layers, restore the caller's RNG
            torch.manual_seed(seed)
            ours, theirs = _mha_pair(width, heads, device, dtype)
    # Each method's reference: another implementation of the same function, never itself.
    reference_of = {"naive": "sdpa", "blocked": "sdpa", "mha_reference": "torch_mha"}
    reference_of |= {"mha_fast": "torch_mha", "torch_mha": "mha_reference"}
    for n in lengths:
        n = check_positive_int("lengths", n)
        q, k, v = (
            torch.randn(batch, heads, n, head_dim, generator=gen).to(device=device, dtype=dtype)
            for _ in range(3)
        )
        x = torch.randn(batch, n, width, generator=gen).to(device=device, dtype=dtype)
        calls = {
            "naive": (naive_attention, (q, k, v), {}),
            "blocked": (blocked_attention, (q, k, v), {"block_size": block_size}),
            "sdpa": (F.scaled_dot_product_attention, (q, k, v), {}),
            "mha_reference": (ours, (x, x, x), {"need_weights": True}),
            "mha_fast": (ours, (x, x, x), {"need_weights": False}),
            "torch_mha": (lambda x: theirs(x, x, x, need_weights=False)[0], (x,), {}),
        }
        attn = attention_flops(batch, heads, n, n, head_dim)
        projections = 4 * 2 * batch * n * width * width
        with torch.no_grad():
            for method in methods:
                fn, args, kwargs = calls[method]
                try:
                    out = fn(*args, **kwargs)
                    if method in reference_of:
                        ref_fn, ref_args, ref_kwargs = calls[reference_of[method]]
                        ref = ref_fn(*ref_args, **ref_kwargs)
                        diff = (out.float() - ref.float()).abs().max().item()
                        del ref
                    else:
                        diff = float("nan")  # SDPA is the reference of the others
                    del out
                    seconds = time_call(fn, *args, warmup=warmup, repeats=repeats, **kwargs)
                    peak = peak_memory(fn, *args, **kwargs)
                except torch.cuda.OutOfMemoryError:  # exists in every torch >= 1.13, also CPU-only
                    torch.cuda.empty_cache()
                    seconds, peak, diff = float("nan"), -1, float("nan")
                flops = attn + (
                    projections if method.startswith("mha") or method == "torch_mha" else 0
                )
                rows.append(BenchmarkRow(method, n, seconds, flops, peak, diff))
        sdpa = next((r for r in rows if r.n == n and r.method == "sdpa"), None)
        if sdpa is not None:
            for r in rows:
                if r.n == n:
                    r.time_vs_sdpa = r.seconds / sdpa.seconds
                    ok = r.peak_bytes >= 0 and sdpa.peak_bytes > 0  # -1 means out of memory
                    r.memory_vs_sdpa = r.peak_bytes / sdpa.peak_bytes if ok else float("nan")
    return rows


def format_table(rows: Sequence[BenchmarkRow]) -> str:
    """The benchmark as a fixed-width text table, one row per (n, method).

    A NaN ``max_diff`` (SDPA's own row: the reference) prints as "—"; ``peak_bytes = -1`` as "OOM".
    """
    head = f"{'n':>6}  {'method':<14}{'time ms':>10}{'TFLOP/s':>9}{'peak MiB':>10}{'time/SDPA':>10}{'mem/SDPA':>9}{'max diff':>10}"
    lines = [head, "-" * len(head)]
    for r in rows:
        peak = "OOM" if r.peak_bytes < 0 else f"{r.peak_bytes / 2**20:.1f}"
        lines.append(
            f"{r.n:>6}  {r.method:<14}{r.seconds * 1e3:>10.2f}{r.tflops:>9.3f}{peak:>10}"
            f"{r.time_vs_sdpa:>10.2f}{r.memory_vs_sdpa:>9.1f}"
            + (f"{'—':>10}" if math.isnan(r.max_diff) else f"{r.max_diff:>10.1e}")
        )
    return "\n".join(lines)
