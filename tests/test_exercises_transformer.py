"""The block checkers accept their reference (post-norm, pre-norm) and reject each typical mistake with its hint."""

from __future__ import annotations

import re

import pytest
import torch

from attention_utils.exercises import check_encoder_block, check_pre_norm_block
from attention_utils.exercises.transformer import reference_encoder_block, reference_pre_norm_block


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


# --- the pre-norm block (the lesson's exercise 1) -----------------------------------------------


def pn_solution(X, valid_lens, attention, ffn, ln1, ln2):
    H = ln1(X)
    Y = X + attention(H, H, H, valid_lens)
    return Y + ffn(ln2(Y))


def pn_no_residual(X, valid_lens, attention, ffn, ln1, ln2):
    H = ln1(X)
    return ffn(ln2(attention(H, H, H, valid_lens)))


def pn_normalized_residual(X, valid_lens, attention, ffn, ln1, ln2):
    X = ln1(X)
    Y = X + attention(X, X, X, valid_lens)
    Y = ln2(Y)
    return Y + ffn(Y)


def pn_raw_keys(X, valid_lens, attention, ffn, ln1, ln2):
    Y = X + attention(ln1(X), X, X, valid_lens)
    return Y + ffn(ln2(Y))


def pn_ffn_reads_x(X, valid_lens, attention, ffn, ln1, ln2):
    H = ln1(X)
    Y = X + attention(H, H, H, valid_lens)
    return Y + ffn(ln2(X))


def pn_ffn_unnormalized(X, valid_lens, attention, ffn, ln1, ln2):
    H = ln1(X)
    Y = X + attention(H, H, H, valid_lens)
    return Y + ffn(Y)


def pn_swapped(X, valid_lens, attention, ffn, ln1, ln2):
    H = ln2(X)
    Y = X + attention(H, H, H, valid_lens)
    return Y + ffn(ln1(Y))


def pn_final_norm(X, valid_lens, attention, ffn, ln1, ln2):
    H = ln1(X)
    Y = X + attention(H, H, H, valid_lens)
    return ln2(Y + ffn(ln2(Y)))


def pn_attention_only(X, valid_lens, attention, ffn, ln1, ln2):
    H = ln1(X)
    return X + attention(H, H, H, valid_lens)


def pn_ignores_padding(X, valid_lens, attention, ffn, ln1, ln2):
    return pn_solution(X, None, attention, ffn, ln1, ln2)


def pn_in_place(X, valid_lens, attention, ffn, ln1, ln2):
    H = ln1(X)
    X += attention(H, H, H, valid_lens)
    return X + ffn(ln2(X))


def pn_typo(X, valid_lens, attention, ffn, ln1, ln2):
    return 2 * pn_solution(X, valid_lens, attention, ffn, ln1, ln2)


def test_pre_norm_checker_accepts_the_solution_and_the_reference(capsys):
    assert check_pre_norm_block(pn_solution) is True
    assert check_pre_norm_block(reference_pre_norm_block) is True
    assert capsys.readouterr().out.startswith("✅ check_pre_norm_block: all 3 checks passed")


@pytest.mark.parametrize(
    "fn, hint",
    [
        (stub, "not implemented yet"),
        (solution, "post-norm: you normalized"),
        (reference_encoder_block, "post-norm"),
        (pn_no_residual, "the residual is missing"),
        (pn_normalized_residual, "un-normalized X"),
        (pn_raw_keys, "queries, keys and values all come from the normalized"),
        (pn_ffn_reads_x, "the FFN sublayer reads Y"),
        (pn_ffn_unnormalized, "normalize the FFN's input too"),
        (pn_swapped, "you swapped them"),
        (pn_final_norm, "no LayerNorm after the residual sum"),
        (pn_attention_only, "you stopped after the attention sublayer"),
        (pn_ignores_padding, "padding: padding is not masked"),
        (pn_in_place, "changed X in place"),
        (pn_typo, r"wrong values \(largest difference .*\): H = ln1\(X\)"),
        (wrong_shape, "should have shape"),
        (crashes, "your code raised TypeError"),
    ],
)
def test_pre_norm_checker_rejects_typical_mistakes_with_the_right_hint(fn, hint, capsys):
    assert check_pre_norm_block(fn) is False
    out = capsys.readouterr().out
    assert out.startswith("❌ check_pre_norm_block:")
    assert re.search(hint, out), out


def test_the_post_norm_checker_rejects_the_pre_norm_solution_and_vice_versa():
    assert check_encoder_block(pn_solution, verbose=False) is False
    assert check_pre_norm_block(solution, verbose=False) is False
    assert check_pre_norm_block(pn_solution, verbose=False) is True
