"""check_multihead_attention accepts correct modules and rejects each classic mistake with its own hint."""

import math

import pytest
import torch
from torch import nn

import attention_utils as au
from attention_utils.exercises import check_multihead_attention
from attention_utils.masking import masked_softmax


class Variant(nn.Module):
    """A from-scratch multi-head attention with switches that turn on one classic mistake each."""

    def __init__(self, num_hiddens, num_heads, dropout=0.0, *, bug=None):
        super().__init__()
        self.h, self.D, self.bug = num_heads, num_hiddens, bug
        if bug == "hardcoded_heads":
            self.h = 2
        d_head = num_hiddens // num_heads
        d_in = d_head if bug == "split_before_project" else num_hiddens
        self.W_q = nn.Linear(d_in, d_in, bias=False)
        self.W_k = nn.Linear(d_in, d_in, bias=False)
        self.W_v = nn.Linear(d_in, d_in, bias=False)
        self.W_o = nn.Linear(d_head if bug == "sum_heads" else num_hiddens, num_hiddens, bias=False)
        self.attention_weights = None

    def split(self, X):  # (B, n, D) -> (B, h, n, d_head)
        B, n, _ = X.shape
        if self.bug == "no_transpose":
            return X.view(B, n, self.h, -1)  # (B, n, h, d_head): attention over heads
        if self.bug == "view_scramble":
            return X.reshape(B, self.h, n, -1)  # mixes positions
        return X.view(B, n, self.h, -1).transpose(1, 2)

    def forward(self, queries, keys, values, valid_lens=None):
        if self.bug == "stub":
            raise NotImplementedError
        B, Q, _ = queries.shape
        if self.bug == "split_before_project":
            q = self.W_q(queries.view(B, Q, self.h, -1)).transpose(1, 2)
            k = self.W_k(keys.view(B, keys.shape[1], self.h, -1)).transpose(1, 2)
            v = self.W_v(values.view(B, keys.shape[1], self.h, -1)).transpose(1, 2)
        else:
            q, k, v = (
                self.split(self.W_q(queries)),
                self.split(self.W_k(keys)),
                self.split(self.W_v(values)),
            )
        d_head = q.shape[-1]
        scale = {"scale_by_D": math.sqrt(self.D), "no_scale": 1.0}.get(self.bug, math.sqrt(d_head))
        scores = q @ k.transpose(-2, -1) / scale  # (B, h, Q, K)
        if valid_lens is not None and self.bug != "ignore_mask":
            lens = (
                valid_lens.repeat(self.h)
                if self.bug == "repeat"
                else valid_lens.repeat_interleave(self.h)
            )
            if self.bug == "mask_one_too_many":
                lens = (lens - 1).clamp(min=1)
            s = scores.reshape(B * self.h, scores.shape[-2], scores.shape[-1])
            w = masked_softmax(s, lens).reshape(scores.shape)
        else:
            w = torch.softmax(scores, dim=-2 if self.bug == "softmax_over_queries" else -1)
        self.attention_weights = w
        out = w @ v  # (B, h, Q, d_head)
        if self.bug == "sum_heads":
            return self.W_o(out.sum(1))
        if self.bug == "no_transpose":
            return self.W_o(out.reshape(B, Q, -1))
        if self.bug == "view_scramble":
            return self.W_o(out.reshape(B, Q, -1))
        return self.W_o(out.transpose(1, 2).reshape(B, Q, -1))


def bugged(bug):
    return lambda num_hiddens, num_heads, dropout: Variant(num_hiddens, num_heads, dropout, bug=bug)


def run(capsys, fn):
    ok = check_multihead_attention(fn)
    return ok, capsys.readouterr().out


@pytest.mark.parametrize(
    "fn", [au.MultiHeadAttention, Variant, bugged(None)], ids=["package", "class", "factory"]
)
def test_accepts_correct_modules(capsys, fn):
    ok, out = run(capsys, fn)
    assert ok, out
    assert out.startswith("✅ check_multihead_attention: all 8 checks passed")


def test_accepts_module_with_biases(capsys):
    ok, out = run(capsys, lambda D, h, p: au.MultiHeadAttention(D, h, p, bias=True))
    assert ok, out


@pytest.mark.parametrize(
    ("bug", "label", "hint"),
    [
        ("stub", "", "not implemented yet"),
        ("split_before_project", "weights", "split before projecting"),
        ("sum_heads", "weights", "summed"),
        ("no_transpose", "every query sees every key", "transpose(1, 2)"),
        ("view_scramble", "every query sees every key", "heads and positions got mixed"),
        ("softmax_over_queries", "queries stay separate", "dim=-1"),
        ("scale_by_D", "values", "divided by sqrt(num_hiddens)"),
        ("no_scale", "values", "divided by nothing"),
        ("repeat", "key padding mask", "repeat_interleave"),
        ("ignore_mask", "key padding mask", "forward ignores valid_lens"),
        ("mask_one_too_many", "key padding mask", "positions >= valid_lens[b], and only those"),
        ("hardcoded_heads", "3 heads", "hard-coded"),
    ],
)
def test_rejects_classic_mistakes(capsys, bug, label, hint):
    ok, out = run(capsys, bugged(bug))
    assert not ok
    assert out.startswith("❌ check_multihead_attention: ")
    assert f": {label}:" in out or not label
    assert hint in out, out


@pytest.mark.parametrize("bug", ["repeat", "mask_one_too_many"])
def test_wrong_masks_are_not_called_ignored(capsys, bug):
    ok, out = run(capsys, bugged(bug))
    assert not ok and "ignores valid_lens" not in out, out


def test_ignored_lengths_are_not_blamed_on_repeat(capsys):
    ok, out = run(capsys, bugged("ignore_mask"))
    assert not ok and "repeat_interleave" not in out, out


def test_rejects_a_function_that_returns_no_module(capsys):
    ok, out = run(capsys, lambda D, h, p: lambda q, k, v, lens: q)
    assert not ok and "should give an nn.Module" in out


def test_rejects_missing_parameter_names(capsys):
    class Renamed(nn.Module):
        def __init__(self, D, h, p):
            super().__init__()
            self.inner = au.MultiHeadAttention(D, h, p)

        def forward(self, q, k, v, lens=None):
            return self.inner(q, k, v, lens)

    ok, out = run(capsys, Renamed)
    assert not ok and "named W_q" in out


def test_checker_does_not_change_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_multihead_attention(au.MultiHeadAttention, verbose=False)
    # Building modules draws random weights; the checker must leave the learner's random stream alone.
    assert torch.equal(torch.rand(3), expected)
