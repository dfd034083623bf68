"""check_encoder_block accepts the post-norm block and rejects each typical mistake with its hint."""

from __future__ import annotations

import re

import pytest
import torch

from attention_utils.exercises import check_encoder_block
from attention_utils.exercises.transformer import reference_encoder_block


def solution(X, valid_lens, attention, ffn, ln1, ln2):
    Y = ln1(X + attention(X, X, X, valid_lens))
    return ln2(Y + ffn(Y))


def pre_norm(X, valid_lens, attention, ffn, ln1, ln2):
    H = ln1(X)
    Y = X + attention(H, H, H, valid_lens)
    return Y + ffn(ln2(Y))


def no_residual(X, valid_lens, attention, ffn, ln1, ln2):
    Y = ln1(attention(X, X, X, valid_lens))
    return ln2(ffn(Y))


def ffn_reads_x(X, valid_lens, attention, ffn, ln1, ln2):
    Y = ln1(X + attention(X, X, X, valid_lens))
    return ln2(Y + ffn(X))


def norm_inside_residual(X, valid_lens, attention, ffn, ln1, ln2):
    Y = X + ln1(attention(X, X, X, valid_lens))
    return Y + ln2(ffn(Y))


def attention_only(X, valid_lens, attention, ffn, ln1, ln2):
    return ln1(X + attention(X, X, X, valid_lens))


def ignores_padding(X, valid_lens, attention, ffn, ln1, ln2):
    Y = ln1(X + attention(X, X, X))
    return ln2(Y + ffn(Y))


def swapped_norms(X, valid_lens, attention, ffn, ln1, ln2):
    Y = ln2(X + attention(X, X, X, valid_lens))
    return ln1(Y + ffn(Y))


def in_place(X, valid_lens, attention, ffn, ln1, ln2):
    X += attention(X, X, X, valid_lens)  # right values, but it overwrites the caller's X
    Y = ln1(X)
    return ln2(Y + ffn(Y))


def wrong_shape(X, valid_lens, attention, ffn, ln1, ln2):
    return solution(X, valid_lens, attention, ffn, ln1, ln2)[:, :1]


def stub(X, valid_lens, attention, ffn, ln1, ln2):
    raise NotImplementedError


def crashes(X, valid_lens, attention, ffn, ln1, ln2):
    return attention(X, X)  # missing the values argument


def test_accepts_the_solution_and_the_reference(capsys):
    assert check_encoder_block(solution) is True
    assert check_encoder_block(reference_encoder_block) is True
    assert capsys.readouterr().out.startswith("✅ check_encoder_block: all 3 checks passed")


@pytest.mark.parametrize(
    "fn, hint",
    [
        (stub, "not implemented yet"),
        (pre_norm, "pre-norm"),
        (no_residual, "the residual is missing"),
        (ffn_reads_x, "the FFN must read Y"),
        (norm_inside_residual, "normalize the sum"),
        (attention_only, "you stopped after the attention sublayer"),
        (ignores_padding, "padding: padding is not masked: pass valid_lens"),
        (swapped_norms, "wrong values"),
        (in_place, "changed X in place"),
        (wrong_shape, r"should have shape \(2, 5, 8\), got \(2, 1, 8\)"),
        (crashes, "your code raised TypeError"),
    ],
)
def test_rejects_typical_mistakes_with_the_right_hint(fn, hint, capsys):
    assert check_encoder_block(fn) is False
    out = capsys.readouterr().out
    assert out.startswith("❌ check_encoder_block:")
    assert re.search(hint, out), out


def test_quiet_mode_and_the_learners_random_state():
    torch.manual_seed(42)
    before = torch.random.get_rng_state()
    assert check_encoder_block(solution, verbose=False) is True
    assert torch.equal(torch.random.get_rng_state(), before)
