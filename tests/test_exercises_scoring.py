"""The lesson 03/04 checkers accept the reference solutions and reject the typical wrong answers."""

import math

import pytest
import torch

from attention_utils import masked_softmax
from attention_utils.exercises import (
    check_additive_score,
    check_bahdanau_context,
    check_scaled_dot_product,
)


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


def sdpa_by_hand(q, k, v, valid_lens=None):
    """The lesson-03 exercise asks for this: the mask written by hand, no au.masked_softmax."""
    s = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])  # (B, Q, K)
    if valid_lens is not None:
        lens = valid_lens if valid_lens.dim() == 2 else valid_lens[:, None]  # (B, Q) or (B, 1)
        keep = torch.arange(s.shape[-1]) < lens[..., None]  # (B, Q or 1, K)
        w = torch.softmax(s.masked_fill(~keep, float("-inf")), -1).masked_fill(~keep, 0.0)
        return w @ v
    return torch.softmax(s, -1) @ v


def sdpa_1d_lens_only(q, k, v, valid_lens=None):
    s = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])
    if valid_lens is not None:
        keep = torch.arange(s.shape[-1]) < valid_lens[:, None, None]  # breaks for (B, Q) lengths
        w = torch.softmax(s.masked_fill(~keep, float("-inf")), -1).masked_fill(~keep, 0.0)
        return w @ v
    return torch.softmax(s, -1) @ v


def sdpa_naive_exp(q, k, v, valid_lens=None):
    e = torch.exp(q @ k.transpose(1, 2) / math.sqrt(q.shape[-1]))  # overflows for large scores
    if valid_lens is not None:
        lens = valid_lens if valid_lens.dim() == 2 else valid_lens[:, None]  # (B, Q) or (B, 1)
        e = e * (torch.arange(e.shape[-1]) < lens[..., None])
    return e / e.sum(-1, keepdim=True).clamp_min(1e-30) @ v


@pytest.mark.parametrize(
    "fn", [sdpa, sdpa_by_hand, lambda q, k, v, valid_lens=None: sdpa(q, k, v, valid_lens) + 0.0]
)
def test_scaled_dot_product_accepts(fn, capsys):
    ok, out = run(check_scaled_dot_product, fn, capsys)
    assert ok and out.startswith("✅ check_scaled_dot_product")


def test_scaled_dot_product_accepts_torch_sdpa_with_zero_fix(capsys):
    def via_torch(q, k, v, valid_lens=None):
        from torch.nn import functional as F

        if valid_lens is None:
            return F.scaled_dot_product_attention(q, k, v)
        lens = valid_lens if valid_lens.dim() == 2 else valid_lens[:, None]  # (B, Q) or (B, 1)
        mask = torch.arange(k.shape[1]) < lens[..., None]  # (B, Q or 1, K), True = may attend
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
        (
            sdpa_1d_lens_only,
            "valid_lens of shape (B, Q), one length per query, made your code raise",
        ),
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


def bahdanau(s, enc_outputs, valid_len, W_q, W_k, w_v):
    scores = torch.tanh((s @ W_q.T)[:, None, :] + enc_outputs @ W_k.T) @ w_v  # (B, S)
    keep = torch.arange(scores.shape[1]) < valid_len[:, None]  # (B, S)
    alpha = torch.softmax(scores.masked_fill(~keep, float("-inf")), -1)  # (B, S)
    return (alpha[:, None, :] @ enc_outputs)[:, 0], alpha  # (B, H), (B, S)


def bahdanau_via_package(s, enc_outputs, valid_len, W_q, W_k, w_v):
    scores = torch.tanh((s @ W_q.T)[:, None, :] + enc_outputs @ W_k.T) @ w_v  # (B, S)
    alpha = masked_softmax(scores[:, None, :], valid_len)  # (B, 1, S)
    return (alpha @ enc_outputs)[:, 0], alpha[:, 0]


def bahdanau_no_mask(s, enc_outputs, valid_len, W_q, W_k, w_v):
    return bahdanau(s, enc_outputs, torch.full_like(valid_len, enc_outputs.shape[1]), W_q, W_k, w_v)


def bahdanau_mask_after(s, enc_outputs, valid_len, W_q, W_k, w_v):
    scores = torch.tanh((s @ W_q.T)[:, None, :] + enc_outputs @ W_k.T) @ w_v
    keep = torch.arange(scores.shape[1]) < valid_len[:, None]
    alpha = torch.softmax(scores, -1) * keep  # zeroed after the softmax: rows no longer sum to 1
    return (alpha[:, None, :] @ enc_outputs)[:, 0], alpha


def bahdanau_wrong_axis(s, enc_outputs, valid_len, W_q, W_k, w_v):
    scores = torch.tanh((s @ W_q.T)[:, None, :] + enc_outputs @ W_k.T) @ w_v
    keep = torch.arange(scores.shape[1]) < valid_len[:, None]
    alpha = torch.softmax(scores.masked_fill(~keep, float("-inf")), 0)
    return (alpha[:, None, :] @ enc_outputs)[:, 0], alpha


def bahdanau_no_tanh(s, enc_outputs, valid_len, W_q, W_k, w_v):
    scores = ((s @ W_q.T)[:, None, :] + enc_outputs @ W_k.T) @ w_v
    alpha = masked_softmax(scores[:, None, :], valid_len)[:, 0]
    return (alpha[:, None, :] @ enc_outputs)[:, 0], alpha


def bahdanau_projected_values(s, enc_outputs, valid_len, W_q, W_k, w_v):
    _, alpha = bahdanau(s, enc_outputs, valid_len, W_q, W_k, w_v)
    return (alpha[:, None, :] @ (enc_outputs @ W_k.T))[:, 0], alpha


def bahdanau_context_only(s, enc_outputs, valid_len, W_q, W_k, w_v):
    return bahdanau(s, enc_outputs, valid_len, W_q, W_k, w_v)[0]


def bahdanau_inverted_mask(s, enc_outputs, valid_len, W_q, W_k, w_v):
    scores = torch.tanh((s @ W_q.T)[:, None, :] + enc_outputs @ W_k.T) @ w_v
    keep = torch.arange(scores.shape[1]) < valid_len[:, None]
    alpha = torch.softmax(scores.masked_fill(keep, float("-inf")), -1)  # True = ignore: inverted
    return (alpha[:, None, :] @ enc_outputs)[:, 0], alpha


def bahdanau_inverted_mask_1e6(s, enc_outputs, valid_len, W_q, W_k, w_v):
    scores = torch.tanh((s @ W_q.T)[:, None, :] + enc_outputs @ W_k.T) @ w_v
    padding = torch.arange(scores.shape[1]) >= valid_len[:, None]
    alpha = torch.softmax(scores.masked_fill(~padding, -1e6), -1)  # no NaN, but inverted
    return (alpha[:, None, :] @ enc_outputs)[:, 0], alpha


@pytest.mark.parametrize("fn", [bahdanau_inverted_mask, bahdanau_inverted_mask_1e6])
def test_bahdanau_context_names_the_mask_convention(fn, capsys):
    ok, out = run(check_bahdanau_context, fn, capsys)
    assert not ok
    assert "your mask is inverted" in out and "j < valid_len are real" in out, out
    assert "contains NaN" not in out, out


@pytest.mark.parametrize("fn", [bahdanau, bahdanau_via_package])
def test_bahdanau_context_accepts(fn, capsys):
    ok, out = run(check_bahdanau_context, fn, capsys)
    assert ok and out.startswith("✅ check_bahdanau_context"), out


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (unsolved, "not implemented yet"),
        (bahdanau_no_mask, "must get weight exactly 0"),
        (bahdanau_mask_after, "mask the padding BEFORE the softmax"),
        (bahdanau_wrong_axis, "softmax over the source positions"),
        (bahdanau_no_tanh, "you forgot the tanh"),
        (bahdanau_projected_values, "not W_k h_j"),
        (bahdanau_context_only, "return a pair (context, alpha)"),
    ],
)
def test_bahdanau_context_rejects(fn, hint, capsys):
    ok, out = run(check_bahdanau_context, fn, capsys)
    assert not ok
    assert out.startswith("❌ check_bahdanau_context") and hint in out, out


def test_bahdanau_context_matches_the_package_decoder():
    """The checker's reference is the step the package's Seq2SeqAttentionDecoder takes."""
    from attention_utils.exercises.scoring import _bahdanau_reference
    from attention_utils.scoring import AdditiveAttention

    torch.manual_seed(0)
    att = AdditiveAttention(4, query_size=5, key_size=5)
    s, h = torch.randn(3, 5), torch.randn(3, 6, 5)
    lens = torch.tensor([6, 2, 4])
    ctx = att(s[:, None], h, h, lens)[:, 0]  # (B, H)
    want_ctx, want_alpha = _bahdanau_reference(
        s, h, lens, att.W_q.weight, att.W_k.weight, att.w_v.weight[0]
    )
    assert torch.allclose(ctx, want_ctx, atol=1e-6)
    assert torch.allclose(att.attention_weights[:, 0], want_alpha, atol=1e-6)


def sdpa_d2l_fill(q, k, v, valid_lens=None):
    """d2l's masked softmax: masked scores filled with -1e6 (a length-0 row becomes uniform)."""
    scores = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])  # (B, Q, K)
    if valid_lens is not None:
        lens = valid_lens if valid_lens.dim() == 2 else valid_lens[:, None]  # (B, Q) or (B, 1)
        keep = torch.arange(scores.shape[-1]) < lens[..., None]  # (B, Q or 1, K)
        scores = scores.masked_fill(~keep, -1e6)
    return torch.softmax(scores, dim=-1) @ v


def test_scaled_dot_product_names_the_1e6_fill(capsys):
    ok, out = run(check_scaled_dot_product, sdpa_d2l_fill, capsys)
    assert not ok
    assert "valid length 0" in out and "-1e6" in out and "after the softmax" in out, out
    assert "largest difference" not in out, out
