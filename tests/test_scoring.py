"""Tests for attention_utils.scoring: values against independent computations, masks, errors."""

import math

import pytest
import torch
from torch.nn import functional as F

from attention_utils import AdditiveAttention, BilinearAttention, DotProductAttention
from attention_utils.scoring import check_qkv


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_dot_product_matches_sdpa_with_mask():
    q, k, v = randn(2, 3, 8), randn(2, 5, 8, seed=1), randn(2, 5, 4, seed=2)
    lens = torch.tensor([2, 5])
    out = DotProductAttention()(q, k, v, lens)
    mask = torch.arange(5)[None, None, :] < lens[:, None, None]  # (B, 1, K): True = may attend
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.allclose(out, ref, atol=1e-6)


def test_dot_product_per_query_lengths_and_zero_length():
    att = DotProductAttention()
    q, k, v = randn(1, 2, 4), randn(1, 3, 4, seed=1), randn(1, 3, 2, seed=2)
    out = att(q, k, v, torch.tensor([[0, 2]]))
    assert torch.equal(out[0, 0], torch.zeros(2))  # no key: zero output, not NaN
    w = torch.softmax((q[0, 1] @ k[0, :2].T) / 2.0, -1)
    assert torch.allclose(out[0, 1], w @ v[0, :2], atol=1e-6)
    assert att.attention_weights.shape == (1, 2, 3)


def test_additive_matches_manual_formula():
    torch.manual_seed(0)
    att = AdditiveAttention(num_hiddens=6, query_size=4, key_size=3)
    q, k, v = randn(2, 2, 4), randn(2, 5, 3, seed=1), randn(2, 5, 2, seed=2)
    out = att(q, k, v)
    Wq, Wk, wv = att.W_q.weight, att.W_k.weight, att.w_v.weight[0]
    scores = torch.einsum(
        "h,bqkh->bqk", wv, torch.tanh((q @ Wq.T)[:, :, None] + (k @ Wk.T)[:, None])
    )
    assert torch.allclose(out, torch.softmax(scores, -1) @ v, atol=1e-6)
    # Precomputed key features give the same result.
    out2 = att(q, k, v, key_features=att.W_k(k))
    assert torch.allclose(out, out2)


def test_additive_wrong_size_is_clear():
    att = AdditiveAttention(4, query_size=3, key_size=5)
    with pytest.raises(ValueError, match="queries must have query_size=3"):
        att(randn(1, 2, 4), randn(1, 2, 5), randn(1, 2, 1))
    with pytest.raises(ValueError, match="keys must have key_size=5"):
        att(randn(1, 2, 3), randn(1, 2, 4), randn(1, 2, 1))


def test_check_qkv_errors_name_the_problem():
    with pytest.raises(ValueError, match="query_size=4 and key_size=3"):
        check_qkv(randn(1, 2, 4), randn(1, 2, 3), randn(1, 2, 1), same_qk_size=True)
    with pytest.raises(ValueError, match="3 keys and 2 values"):
        check_qkv(randn(1, 2, 4), randn(1, 3, 4), randn(1, 2, 1), same_qk_size=False)
    with pytest.raises(ValueError, match="same batch size"):
        check_qkv(randn(2, 2, 4), randn(1, 2, 4), randn(1, 2, 1), same_qk_size=False)
    with pytest.raises(TypeError, match="queries must hold floating-point"):
        check_qkv(
            torch.ones(1, 2, 4, dtype=torch.long),
            randn(1, 2, 4),
            randn(1, 2, 1),
            same_qk_size=False,
        )
    # The signature MultiHeadAttention relies on: returns the three tensors.
    q, k, v = check_qkv([[[1.0, 2.0]]], randn(1, 1, 2), randn(1, 1, 3), same_qk_size=True)
    assert isinstance(q, torch.Tensor) and q.shape == (1, 1, 2)


def test_bilinear_full_matches_formula_different_sizes():
    torch.manual_seed(0)
    att = BilinearAttention(query_size=3, key_size=5)
    q, k, v = randn(2, 4, 3), randn(2, 6, 5, seed=1), randn(2, 6, 2, seed=2)
    W = att.full_weight()
    assert W.shape == (5, 3)
    scores = torch.einsum("bkd,de,bqe->bqk", k, W, q)  # k^T W q
    assert torch.allclose(att.scores(q, k), scores, atol=1e-5)
    assert torch.allclose(att(q, k, v), torch.softmax(scores, -1) @ v, atol=1e-5)
    assert sum(p.numel() for p in att.parameters()) == 15


def test_bilinear_low_rank_equals_full_weight():
    torch.manual_seed(0)
    att = BilinearAttention(query_size=6, key_size=8, rank=2)
    q, k = randn(1, 3, 6), randn(1, 4, 8, seed=1)
    W = att.W_k.weight.T @ att.W_q.weight  # (8, 6)
    assert torch.allclose(att.full_weight(), W)
    assert torch.linalg.matrix_rank(W) == 2
    want = (k @ W @ q.transpose(1, 2)).transpose(1, 2)  # (B, K, Q) -> (B, Q, K)
    assert torch.allclose(att.scores(q, k), want, atol=1e-5)
    assert sum(p.numel() for p in att.parameters()) == 2 * (6 + 8)


def test_bilinear_errors():
    att = BilinearAttention(3, 5)
    with pytest.raises(ValueError, match="queries must have query_size=3"):
        att(randn(1, 2, 4), randn(1, 2, 5), randn(1, 2, 1))
    with pytest.raises(ValueError, match="keys must have key_size=5"):
        att.scores(randn(1, 2, 3), randn(1, 2, 4))
    with pytest.raises(ValueError, match="2 keys and 3 values"):
        att(randn(1, 2, 3), randn(1, 2, 5), randn(1, 3, 1))
    with pytest.raises(ValueError, match="rank must be positive"):
        BilinearAttention(3, 5, rank=0)
    with pytest.raises(TypeError, match="query_size must be an int"):
        BilinearAttention(3.0, 5)


def test_scaling_keeps_score_variance_near_one():
    d = 256
    q, k = randn(1, 200, d), randn(1, 200, d, seed=1)
    raw = (q @ k.transpose(1, 2)).flatten()
    assert 0.8 * d < raw.var().item() < 1.2 * d
    assert 0.8 < (raw / math.sqrt(d)).var().item() < 1.2


def test_additive_argument_checks():
    with pytest.raises(TypeError, match="num_hiddens must be an int"):
        AdditiveAttention(4.0)
    with pytest.raises(ValueError, match="num_hiddens must be positive"):
        AdditiveAttention(0)
    with pytest.raises(TypeError, match="query_size must be an int"):
        AdditiveAttention(4, query_size=3.0)
    with pytest.raises(ValueError, match="key_size must be positive"):
        AdditiveAttention(4, key_size=0)
    with pytest.raises(TypeError, match="positional"):  # query_size and key_size are keyword-only
        AdditiveAttention(4, 0.0, 3, 5)
    # d2l's positional signature (num_hiddens, dropout) still works, with lazy input sizes.
    att = AdditiveAttention(4, 0.1)
    assert att.dropout.p == 0.1 and isinstance(att.W_q, torch.nn.LazyLinear)
    assert att(randn(1, 2, 3), randn(1, 5, 7), randn(1, 5, 2)).shape == (1, 2, 2)
    assert att.W_q.in_features == 3 and att.W_k.in_features == 7


def test_additive_key_features_shape_is_checked():
    att = AdditiveAttention(4, query_size=3, key_size=5)
    q, k, v = randn(2, 1, 3), randn(2, 6, 5, seed=1), randn(2, 6, 2, seed=2)
    with pytest.raises(ValueError, match=r"key_features must be W_k\(keys\).*\(2, 6, 4\)"):
        att(q, k, v, key_features=randn(2, 6, 5))
    with pytest.raises(ValueError, match="key_features must be"):
        att(q, k, v, key_features=randn(2, 5, 4))


def test_bilinear_init_gives_unit_score_variance_full_and_low_rank():
    q, k = randn(1, 400, 32), randn(1, 400, 48, seed=1)
    for rank in (None, 2, 16):
        variances = []
        for seed in range(5):
            torch.manual_seed(seed)
            att = BilinearAttention(query_size=32, key_size=48, rank=rank)
            variances.append(att.scores(q, k).var().item())
        mean_var = sum(variances) / len(variances)
        assert 0.7 < mean_var < 1.3, (rank, mean_var)


def test_bilinear_passes_module_kwargs_and_keeps_rank_keyword_only():
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        BilinearAttention(3, 5, not_an_argument=1)
    with pytest.raises(TypeError, match="positional"):
        BilinearAttention(3, 5, 0.0, 2)
