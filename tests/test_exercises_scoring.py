"""The lesson 03/04 checkers accept the reference solutions and reject the typical wrong answers."""

import math

import pytest
import torch

from attention_utils import masked_softmax
from attention_utils.exercises import check_additive_score, check_scaled_dot_product


def run(checker, fn, capsys):
    ok = checker(fn)
    return ok, capsys.readouterr().out


def unsolved(*args, **kwargs):
    raise NotImplementedError


def sdpa(q, k, v, valid_lens=None):
    return masked_softmax(q @ k.transpose(1, 2) / math.sqrt(q.shape[-1]), valid_lens) @ v


def sdpa_no_scale(q, k, v, valid_lens=None):
    return masked_softmax(q @ k.transpose(1, 2), valid_lens) @ v


def sdpa_by_d(q, k, v, valid_lens=None):
    return masked_softmax(q @ k.transpose(1, 2) / q.shape[-1], valid_lens) @ v


def sdpa_wrong_axis(q, k, v, valid_lens=None):
    return torch.softmax(q @ k.transpose(1, 2) / math.sqrt(q.shape[-1]), dim=1) @ v


def sdpa_ignores_mask(q, k, v, valid_lens=None):
    return sdpa(q, k, v)


def sdpa_minus_inf(q, k, v, valid_lens=None):
    s = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])
    if valid_lens is not None:
        keep = torch.arange(s.shape[-1]) < valid_lens[:, None, None]
        s = s.masked_fill(~keep, float("-inf"))
    return torch.softmax(s, -1) @ v


def sdpa_naive_exp(q, k, v, valid_lens=None):
    e = torch.exp(q @ k.transpose(1, 2) / math.sqrt(q.shape[-1]))  # overflows for large scores
    if valid_lens is not None:
        e = e * (torch.arange(e.shape[-1]) < valid_lens[:, None, None])
    return e / e.sum(-1, keepdim=True).clamp_min(1e-30) @ v


@pytest.mark.parametrize(
    "fn", [sdpa, lambda q, k, v, valid_lens=None: sdpa(q, k, v, valid_lens) + 0.0]
)
def test_scaled_dot_product_accepts(fn, capsys):
    ok, out = run(check_scaled_dot_product, fn, capsys)
    assert ok and out.startswith("✅ check_scaled_dot_product")


def test_scaled_dot_product_accepts_torch_sdpa_with_zero_fix(capsys):
    def via_torch(q, k, v, valid_lens=None):
        from torch.nn import functional as F

        if valid_lens is None:
            return F.scaled_dot_product_attention(q, k, v)
        mask = torch.arange(k.shape[1]) < valid_lens[:, None, None]  # (B, 1, K), True = may attend
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return out.masked_fill(~mask.any(-1, keepdim=True), 0.0)

    ok, out = run(check_scaled_dot_product, via_torch, capsys)
    assert ok, out


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (unsolved, "not implemented yet"),
        (sdpa_no_scale, "forgot to divide the scores by sqrt(d)"),
        (sdpa_by_d, "you divided by d"),
        (sdpa_wrong_axis, "softmax along the queries axis"),
        (sdpa_ignores_mask, "keys at or past each length must get weight 0"),
        (sdpa_minus_inf, "valid length 0 gave NaN"),
        (sdpa_naive_exp, "large scores"),
        (lambda q, k, v, valid_lens=None: q, "should have shape (2, 3, 6)"),
    ],
)
def test_scaled_dot_product_rejects(fn, hint, capsys):
    ok, out = run(check_scaled_dot_product, fn, capsys)
    assert not ok
    assert out.startswith("❌ check_scaled_dot_product") and hint in out, out


def additive(queries, keys, W_q, W_k, w_v):
    q = queries @ W_q.T  # (B, Q, h)
    k = keys @ W_k.T  # (B, K, h)
    return torch.tanh(q.unsqueeze(2) + k.unsqueeze(1)) @ w_v  # (B, Q, K)


def additive_einsum(queries, keys, W_q, W_k, w_v):
    f = torch.tanh(
        torch.einsum("hq,biq->bih", W_q, queries)[:, :, None]
        + torch.einsum("hk,bjk->bjh", W_k, keys)[:, None]
    )
    return torch.einsum("bijh,h->bij", f, w_v)


def additive_no_tanh(queries, keys, W_q, W_k, w_v):
    return ((queries @ W_q.T).unsqueeze(2) + (keys @ W_k.T).unsqueeze(1)) @ w_v


def additive_softmaxed(*args):
    return torch.softmax(additive(*args), -1)


def additive_transposed(queries, keys, W_q, W_k, w_v):
    return additive(queries, keys, W_q, W_k, w_v).transpose(1, 2)


def additive_relu(queries, keys, W_q, W_k, w_v):
    return torch.relu((queries @ W_q.T).unsqueeze(2) + (keys @ W_k.T).unsqueeze(1)) @ w_v


@pytest.mark.parametrize("fn", [additive, additive_einsum])
def test_additive_score_accepts(fn, capsys):
    ok, out = run(check_additive_score, fn, capsys)
    assert ok and out.startswith("✅ check_additive_score")


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (unsolved, "not implemented yet"),
        (additive_no_tanh, "you forgot the tanh"),
        (additive_softmaxed, "return the raw scores"),
        (additive_transposed, "should have shape (2, 3, 5)"),
        (additive_relu, "w_v . tanh(W_q q_i + W_k k_j)"),
    ],
)
def test_additive_score_rejects(fn, hint, capsys):
    ok, out = run(check_additive_score, fn, capsys)
    assert not ok
    assert out.startswith("❌ check_additive_score") and hint in out, out
