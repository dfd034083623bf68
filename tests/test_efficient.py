"""attention_utils.efficient: blocked == naive == SDPA, window semantics, measuring helpers, errors.

Also the need_weights=False fast path of MultiHeadAttention (same numbers as the reference path).
"""

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import attention_utils as au
from attention_utils.efficient import (
    attention_flops,
    blocked_attention,
    fit_slope,
    linear_attention,
    naive_attention,
    peak_memory,
    sliding_window_attention,
    sliding_window_mask,
    time_call,
)


def qkv(B=2, H=3, Q=13, K=13, d=8, dv=None, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    dv = d if dv is None else dv
    return (
        torch.randn(B, H, Q, d, generator=g, dtype=dtype),
        torch.randn(B, H, K, d, generator=g, dtype=dtype),
        torch.randn(B, H, K, dv, generator=g, dtype=dtype),
    )


def loop_attention(q, k, v, allowed=None):
    """An independent reference: one query at a time, softmax by hand in float64."""
    out = torch.zeros(q.shape[:3] + (v.shape[-1],), dtype=torch.float64)
    for b in range(q.shape[0]):
        for h in range(q.shape[1]):
            for i in range(q.shape[2]):
                s = (k[b, h].double() @ q[b, h, i].double()) / math.sqrt(q.shape[-1])  # (K,)
                keep = torch.ones_like(s, dtype=torch.bool) if allowed is None else allowed[i]
                if keep.any():
                    e = torch.where(keep, torch.exp(s - s[keep].max()), torch.zeros_like(s))
                    out[b, h, i] = (e / e.sum()) @ v[b, h].double()
    return out


# --- naive and blocked against an independent loop and SDPA -------------------------------------


def test_naive_matches_loop_and_sdpa():
    q, k, v = qkv(Q=5, K=9, dv=4)
    assert torch.allclose(naive_attention(q, k, v), loop_attention(q, k, v), atol=1e-12)
    assert torch.allclose(
        naive_attention(q, k, v), F.scaled_dot_product_attention(q, k, v), atol=1e-12
    )


@pytest.mark.parametrize("block_size", [1, 3, 5, 7, 13, 64])
def test_blocked_equals_naive_for_odd_block_sizes(block_size):
    q, k, v = qkv(Q=11, K=13, dv=5)
    assert torch.allclose(
        blocked_attention(q, k, v, block_size=block_size), naive_attention(q, k, v), atol=1e-12
    )


@pytest.mark.parametrize("block_size", [1, 4, 6])
def test_blocked_causal_and_mask(block_size):
    q, k, v = qkv(Q=9, K=9)
    sdpa = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert torch.allclose(
        blocked_attention(q, k, v, is_causal=True, block_size=block_size), sdpa, atol=1e-12
    )
    mask = torch.rand(2, 1, 9, 9, generator=torch.Generator().manual_seed(1)) > 0.4  # (B, 1, Q, K)
    mask[..., 0] = True  # every query keeps one key, so SDPA is defined too
    want = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.allclose(
        blocked_attention(q, k, v, attn_mask=mask, block_size=block_size), want, atol=1e-12
    )
    assert torch.allclose(naive_attention(q, k, v, attn_mask=mask), want, atol=1e-12)


def test_fully_masked_rows_are_zero_not_nan():
    q, k, v = qkv(B=1, H=1, Q=4, K=6)
    mask = torch.ones(4, 6, dtype=torch.bool)
    mask[1] = False  # query 1 may see nothing
    mask[2, :3] = False  # query 2: its whole first block (of 3) is masked
    for out in (
        naive_attention(q, k, v, attn_mask=mask),
        blocked_attention(q, k, v, attn_mask=mask, block_size=3),
    ):
        assert not torch.isnan(out).any()
        assert torch.equal(out[0, 0, 1], torch.zeros(8, dtype=out.dtype))
        assert torch.allclose(out, loop_attention(q, k, v, mask), atol=1e-12)


def test_blocked_huge_scores_stay_finite_and_half_precision_accumulates_in_float32():
    q, k, v = qkv(Q=6, K=10)
    out = blocked_attention(q * 300, k * 300, v, block_size=3)
    assert torch.isfinite(out).all()
    assert torch.allclose(out, naive_attention(q * 300, k * 300, v), atol=1e-10)
    qb, kb, vb = (t.to(torch.bfloat16) for t in qkv(Q=64, K=64, d=16))
    got = blocked_attention(qb, kb, vb, block_size=16)
    assert got.dtype == torch.bfloat16
    want = naive_attention(*(t.double() for t in (qb, kb, vb)))
    assert (got.double() - want).abs().max() < 2e-2


def test_blocked_skips_future_blocks_for_causal():
    q, k, v = qkv(Q=4, K=12)  # causal with K > Q: keys 4.. are in every query's future
    want = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert torch.allclose(
        blocked_attention(q, k, v, is_causal=True, block_size=4), want, atol=1e-12
    )


# --- sliding window -------------------------------------------------------------------------------


def test_window_mask_semantics():
    m = sliding_window_mask(6, 2)
    assert m.dtype == torch.bool and m.shape == (6, 6)
    assert m[3].tolist() == [False, True, True, True, True, True]
    assert m[0].tolist() == [True, True, True, False, False, False]
    mc = sliding_window_mask(6, 2, causal=True)
    assert mc[3].tolist() == [False, True, True, True, False, False]
    assert torch.equal(sliding_window_mask(4, 0), torch.eye(4, dtype=torch.bool))
    assert sliding_window_mask(3, 99).all()


@pytest.mark.parametrize(
    "window,chunk", [(0, None), (1, None), (3, 2), (5, 16), (20, None), (4, 7)]
)
@pytest.mark.parametrize("causal", [False, True])
def test_window_attention_equals_masked_naive(window, chunk, causal):
    q, k, v = qkv(Q=23, K=23, dv=5)
    want = naive_attention(q, k, v, attn_mask=sliding_window_mask(23, window, causal=causal))
    got = sliding_window_attention(q, k, v, window, is_causal=causal, chunk_size=chunk)
    assert got.shape == (2, 3, 23, 5)
    assert torch.allclose(got, want, atol=1e-12)


def test_window_cannot_reach_a_far_key_in_one_layer():
    q, k, v = qkv(B=1, H=1, Q=32, K=32)
    v2 = v.clone()
    v2[0, 0, 31] += 100.0  # change only the last value
    local = sliding_window_attention(q, k, v2, 4) - sliding_window_attention(q, k, v, 4)
    full = naive_attention(q, k, v2) - naive_attention(q, k, v)
    assert local[0, 0, :27].abs().max() == 0  # queries 0..26 are more than 4 away from key 31
    assert local[0, 0, 27:].abs().min() > 0
    assert full[0, 0, 0].abs().max() > 1e-3


def test_linear_attention_is_linear_kernel_not_softmax():
    q, k, v = qkv(Q=7, K=9)
    fq, fk = F.elu(q) + 1, F.elu(k) + 1
    w = fq @ fk.transpose(-2, -1)  # (B, H, Q, K)
    want = (w / w.sum(-1, keepdim=True)) @ v
    assert torch.allclose(linear_attention(q, k, v), want, atol=1e-9)
    assert not torch.allclose(linear_attention(q, k, v), naive_attention(q, k, v), atol=1e-2)


# --- measuring ------------------------------------------------------------------------------------


def test_attention_flops_and_fit_slope():
    assert attention_flops(2, 16, 1024, 1024, 64) == 4 * 2 * 16 * 1024 * 1024 * 64
    assert fit_slope([1, 2, 4, 8], [3, 12, 48, 192]) == pytest.approx(2.0)
    assert fit_slope([10, 100], [5, 50]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="positive"):
        fit_slope([0, 1], [1, 2])


def test_peak_memory_counts_what_is_allocated_and_freed():
    x = torch.zeros(1000)  # allocated before: not counted

    def two_temporaries(x):
        a = torch.ones(1000, 100)  # 400 kB, freed on return
        b = a * 2  # another 400 kB alive at the same time
        del a, b
        return x + 1  # 4 kB output

    assert peak_memory(two_temporaries, x) == 2 * 1000 * 100 * 4
    assert peak_memory(lambda t: t[:10], x) == 0  # a view allocates nothing
    assert peak_memory(lambda t: t + 1, x) == 4000


def test_peak_memory_naive_is_quadratic_blocked_and_sdpa_linear():
    def mem(fn, n, **kw):
        q, k, v = qkv(B=1, H=2, Q=n, K=n, d=16, dtype=torch.float32)
        with torch.no_grad():
            return peak_memory(fn, q, k, v, **kw)

    naive = [mem(naive_attention, n) for n in (128, 256, 512)]
    blocked = [mem(blocked_attention, n, block_size=32) for n in (128, 256, 512)]
    sdpa = [mem(F.scaled_dot_product_attention, n) for n in (128, 256, 512)]
    assert 1.9 < fit_slope([128, 256, 512], naive) < 2.1
    assert 0.9 < fit_slope([128, 256, 512], blocked) < 1.1
    assert 0.9 < fit_slope([128, 256, 512], sdpa) < 1.1
    assert naive[-1] >= 2 * 2 * 512 * 512 * 4  # at least two (B, H, n, n) float32 tensors at once


def test_peak_memory_of_causal_blocked_is_linear_in_n():
    """is_causal=True must not build a (Q, K) mask: memory stays O(Q * block_size)."""

    def mem(n, causal):
        q, k, v = qkv(B=1, H=1, Q=n, K=n, d=16, dtype=torch.float32)
        return peak_memory(blocked_attention, q, k, v, is_causal=causal, block_size=16)

    ns = (256, 512, 1024, 2048)
    causal = [mem(n, True) for n in ns]
    assert 0.95 < fit_slope(ns, causal) < 1.05  # a (Q, K) bool mask would add n² bytes: slope > 1.3
    assert causal[-1] <= 1.1 * mem(2048, False)  # the causal mask costs at most one block's worth
    assert causal[-1] < 2048 * 2048  # less than even a one-byte-per-entry (Q, K) mask


def test_time_call_returns_a_positive_time_for_both_clocks_and_checks_its_arguments():
    assert time_call(torch.ones, 10, repeats=3) > 0
    x = torch.randn(200, 200)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with pytest.raises(ValueError, match="set_num_threads"):  # other threads' work is unseen
            time_call(torch.mm, x, x, clock="thread")
        torch.set_num_threads(1)
        assert time_call(torch.mm, x, x, repeats=3, stat="min", clock="thread") > 0
    finally:
        torch.set_num_threads(threads)
    with pytest.raises(TypeError, match="warmup must be an int"):
        time_call(torch.ones, 10, warmup=1.0)
    with pytest.raises(ValueError, match="warmup must be >= 0"):
        time_call(torch.ones, 10, warmup=-1)
    with pytest.raises(ValueError, match="stat must be"):
        time_call(torch.ones, 10, stat="mean")
    with pytest.raises(ValueError, match="clock must be"):
        time_call(torch.ones, 10, clock="cpu")


def test_time_call_thread_clock_sees_the_work_on_one_thread():
    x = torch.randn(300, 300)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the thread clock counts only the calling thread's work
    try:
        small = time_call(torch.mm, x[:30, :30], x[:30, :30], repeats=5, stat="min", clock="thread")
        big = time_call(torch.mm, x, x, repeats=5, stat="min", clock="thread")
    finally:
        torch.set_num_threads(threads)
    assert big > 10 * small  # 1000x the multiply-adds


# --- errors ---------------------------------------------------------------------------------------


def test_errors_name_the_argument():
    q, k, v = qkv()
    with pytest.raises(ValueError, match="q must be 4-D"):
        naive_attention(q[0], k, v)
    with pytest.raises(TypeError, match="k must hold floating"):
        blocked_attention(q, k.long(), v)
    with pytest.raises(ValueError, match="k and v must have the same number of positions"):
        naive_attention(q, k, v[:, :, :5])
    with pytest.raises(ValueError, match="q and k must have the same feature size"):
        naive_attention(q, k[..., :4], v)
    with pytest.raises(ValueError, match="block_size must be positive"):
        blocked_attention(q, k, v, block_size=0)
    with pytest.raises(TypeError, match="block_size must be an int"):
        blocked_attention(q, k, v, block_size=2.5)
    with pytest.raises(TypeError, match="attn_mask must be a boolean tensor"):
        naive_attention(q, k, v, attn_mask=torch.zeros(13, 13))
    with pytest.raises(ValueError, match="attn_mask must broadcast"):
        blocked_attention(q, k, v, attn_mask=torch.ones(5, 13, dtype=torch.bool))
    with pytest.raises(ValueError, match="window must be >= 0"):
        sliding_window_attention(q, k, v, -1)
    with pytest.raises(TypeError, match="window must be an int"):
        sliding_window_mask(5, 1.5)
    with pytest.raises(ValueError, match="as many queries as keys"):
        sliding_window_attention(*qkv(Q=4, K=6), 2)
    with pytest.raises(TypeError, match="is_causal must be True or False"):
        naive_attention(q, k, v, is_causal=1)
    with pytest.raises(ValueError, match="methods must be among"):
        au.efficient.benchmark_attention([8], methods=["flash"])


# --- MultiHeadAttention's need_weights=False fast path ------------------------------------------


def mha_inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(3, 7, 16, generator=g), torch.randn(3, 5, 16, generator=g)


@pytest.mark.parametrize("bias", [False, True])
def test_fast_path_equals_reference_path(bias):
    torch.manual_seed(0)
    mha = au.MultiHeadAttention(16, 4, bias=bias).eval()
    x, mem = mha_inputs()
    ref = mha(x, x, x)  # first call sets the lazy sizes
    assert torch.allclose(mha(x, x, x, need_weights=False), ref, atol=1e-6)
    assert mha.attention_weights is None
    lens = torch.tensor([7, 3, 0])
    assert torch.allclose(mha(x, x, x, lens, need_weights=False), mha(x, x, x, lens), atol=1e-6)
    lens2 = torch.tensor([[1, 2, 3, 4, 5, 5, 5]] * 3)  # per-query lengths
    assert torch.allclose(
        mha(x, mem, mem, lens2, need_weights=False), mha(x, mem, mem, lens2), atol=1e-6
    )


def test_fast_path_first_call_initializes_like_the_reference_path():
    x, _ = mha_inputs()
    torch.manual_seed(3)
    a = au.MultiHeadAttention(16, 4)
    out_fast = a(x, x, x, need_weights=False)
    torch.manual_seed(3)
    b = au.MultiHeadAttention(16, 4)
    out_ref = b(x, x, x)
    for name, p in a.state_dict().items():
        assert torch.equal(p, b.state_dict()[name]), name
    assert torch.allclose(out_fast, out_ref, atol=1e-6)


def test_fast_path_matches_torch_multihead_attention():
    torch.manual_seed(0)
    theirs = nn.MultiheadAttention(32, 4, bias=False, batch_first=True).eval()
    ours = au.MultiHeadAttention(32, 4).eval()
    x = torch.randn(2, 9, 32)
    ours(x, x, x)
    with torch.no_grad():
        w_q, w_k, w_v = theirs.in_proj_weight.chunk(3)
        ours.W_q.weight.copy_(w_q)
        ours.W_k.weight.copy_(w_k)
        ours.W_v.weight.copy_(w_v)
        ours.W_o.weight.copy_(theirs.out_proj.weight)
        want = theirs(x, x, x, need_weights=False)[0]
        assert torch.allclose(ours(x, x, x, need_weights=False), want, atol=1e-6)


def test_fast_path_gradients_flow():
    torch.manual_seed(0)
    mha = au.MultiHeadAttention(16, 4)
    x, _ = mha_inputs()
    mha(x, x, x)
    mha(x, x, x, need_weights=False).sum().backward()
    fast = [p.grad.clone() for p in mha.parameters()]
    mha.zero_grad()
    mha(x, x, x).sum().backward()
    for g1, p in zip(fast, mha.parameters(), strict=True):
        assert torch.allclose(g1, p.grad, atol=1e-5)


# --- online-softmax trace, window reach, memory saved for backward --------------------------------


def test_online_softmax_trace_matches_softmax_and_records_the_rises():
    from attention_utils.efficient import online_softmax_trace

    s = torch.tensor([0.0, 1.0, -1.0, 4.0, 2.0, 3.0, 9.0], dtype=torch.float64)
    t = online_softmax_trace(s, 3)  # blocks [0, 1, -1], [4, 2, 3], [9]
    assert t["starts"].tolist() == [0, 3, 6]
    assert t["m"].tolist() == [1.0, 4.0, 9.0]
    assert t["rose"].tolist() == [True, True, True]
    assert t["rescale"][0] == 0  # nothing summed before the first block
    assert torch.allclose(
        t["rescale"][1:], torch.exp(torch.tensor([1.0 - 4.0, 4.0 - 9.0])).double()
    )
    assert torch.allclose(t["ell"][-1], torch.exp(s - 9.0).sum())
    assert torch.allclose(t["weights"], torch.softmax(s, 0))
    flat = online_softmax_trace(torch.tensor([5.0, 0.0, 1.0, 2.0]), 2)
    assert flat["rose"].tolist() == [True, False] and flat["rescale"][1] == 1.0


def test_online_softmax_trace_guards_a_fully_masked_first_block():
    from attention_utils.efficient import online_softmax_trace

    s = torch.tensor([float("-inf")] * 3 + [1.0, 2.0])
    t = online_softmax_trace(s, 3)
    assert not any(torch.isnan(t[k]).any() for k in ("m", "ell", "rescale", "weights"))
    assert torch.allclose(t["weights"], torch.softmax(s, 0))
    assert torch.equal(
        online_softmax_trace(torch.full((4,), float("-inf")), 2)["weights"], torch.zeros(4)
    )
    with pytest.raises(ValueError, match="scores"):
        online_softmax_trace(torch.tensor([1.0, float("nan")]), 2)
    with pytest.raises(ValueError, match="scores"):
        online_softmax_trace(torch.ones(2, 2), 2)
    with pytest.raises(ValueError, match="block_size"):
        online_softmax_trace(torch.ones(3), 0)


@pytest.mark.parametrize("causal", [False, True])
def test_sliding_window_reach_is_a_band_of_layers_times_window(causal):
    from attention_utils.efficient import sliding_window_reach

    for window, layers in ((1, 1), (2, 3), (3, 4), (4, 9)):
        want = sliding_window_mask(20, min(window * layers, 19), causal=causal)
        assert torch.equal(sliding_window_reach(20, window, layers, causal=causal), want)
    with pytest.raises(ValueError, match="layers"):
        sliding_window_reach(8, 1, 0)


def test_sliding_window_reach_agrees_with_real_stacked_layers():
    from attention_utils.efficient import sliding_window_reach

    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 1, 24, 8, generator=g, dtype=torch.float64)
    x_far = x.clone()
    x_far[:, :, 23] += 3.0
    for layers in (1, 2, 3):
        a, b = x, x_far
        for _ in range(layers):
            a = sliding_window_attention(a, a, a, 2)
            b = sliding_window_attention(b, b, b, 2)
        moved = (a - b).abs().amax(dim=(0, 1, 3)) > 0  # (n,)
        assert torch.equal(moved, sliding_window_reach(24, 2, layers)[:, 23])


def test_saved_for_backward_naive_quadratic_sdpa_linear():
    from attention_utils.efficient import saved_for_backward

    sizes = {}
    for n in (64, 128):
        q, k, v = qkv(B=1, H=2, Q=n, K=n, d=16, dtype=torch.float32)
        sizes[n] = [
            saved_for_backward(f, q, k, v)
            for f in (naive_attention, F.scaled_dot_product_attention, blocked_attention)
        ]
    naive, sdpa, _ = sizes[128]
    assert naive >= 2 * 128 * 128 * 4  # the (B, H, n, n) weights are saved
    assert sizes[128][0] / sizes[64][0] > 3.5  # quadratic
    assert sizes[128][1] / sizes[64][1] < 2.5  # SDPA: linear (output and per-row statistics)
    assert sdpa < naive / 4
    with torch.no_grad():  # it enables grad itself and leaves the caller's setting alone
        assert saved_for_backward(naive_attention, q, k, v) == naive
    assert q.grad is None  # the inputs were copied, not marked
