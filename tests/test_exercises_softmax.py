"""The lesson 01/03 checkers accept the reference solutions and reject the typical wrong answers."""

import pytest
import torch

from attention_utils.exercises import check_masked_softmax, check_row_softmax


def run(checker, fn, capsys):
    ok = checker(fn)
    return ok, capsys.readouterr().out


def naive_exp(s):
    e = torch.exp(s)
    return e / e.sum(-1, keepdim=True)


def in_place(s):
    return torch.softmax(s.sub_(s.max(-1, keepdim=True).values), dim=-1)


def unsolved(*args):
    raise NotImplementedError


@pytest.mark.parametrize(
    "fn", [lambda s: torch.softmax(s, dim=-1), lambda s: (s - s.logsumexp(-1, keepdim=True)).exp()]
)
def test_row_softmax_accepts_correct_solutions(fn, capsys):
    ok, out = run(check_row_softmax, fn, capsys)
    assert ok and out.startswith("✅ check_row_softmax")


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (lambda s: torch.softmax(s, dim=0), "your columns sum to 1"),
        (lambda s: s.abs() / s.abs().sum(-1, keepdim=True), "not softmax(scores)"),
        (naive_exp, "subtract each row's max"),
        (lambda s: torch.softmax(s, dim=1), "use dim=-1"),
        (in_place, "changed its input in place"),
        (unsolved, "not implemented yet"),
        (lambda s: s.tolist(), "should be a torch.Tensor"),
        (lambda s: 1 / 0, "your code raised ZeroDivisionError"),
    ],
)
def test_row_softmax_rejects_typical_mistakes(fn, hint, capsys):
    ok, out = run(check_row_softmax, fn, capsys)
    assert not ok
    assert out.startswith("❌") and hint in out


def mask_lens(X, valid_lens):
    if valid_lens is None:
        return torch.ones(X.shape[:2], dtype=torch.long) * X.shape[-1]
    return valid_lens[:, None].expand(X.shape[:2]) if valid_lens.dim() == 1 else valid_lens


def fill_minus_1e6(X, valid_lens):  # d2l's approach: uniform over padding when the length is 0
    keep = torch.arange(X.shape[-1]) < mask_lens(X, valid_lens)[..., None]
    return torch.softmax(X.masked_fill(~keep, -1e6), dim=-1)


def fill_minus_inf(X, valid_lens):  # NaN when the length is 0
    keep = torch.arange(X.shape[-1]) < mask_lens(X, valid_lens)[..., None]
    return torch.softmax(X.masked_fill(~keep, float("-inf")), dim=-1)


def only_1d_lengths(X, valid_lens):
    if valid_lens is not None and valid_lens.dim() == 2:
        raise RuntimeError("The size of tensor a must match the size of tensor b")
    return reference_masked(X, valid_lens)


def ignores_mask(X, valid_lens):
    return torch.softmax(X, dim=-1)


def reference_masked(X, valid_lens):
    keep = torch.arange(X.shape[-1]) < mask_lens(X, valid_lens)[..., None]
    w = torch.softmax(X.masked_fill(~keep, float("-inf")), dim=-1)
    return w.masked_fill(~keep, 0.0)


def test_masked_softmax_accepts_reference(capsys):
    ok, out = run(check_masked_softmax, reference_masked, capsys)
    assert ok and "all 5 checks passed" in out


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (fill_minus_1e6, "spreads its weight over the padding"),
        (fill_minus_inf, "came out NaN"),
        (only_1d_lengths, "per-query lengths"),
        (ignores_mask, "weight exactly 0"),
        (unsolved, "not implemented yet"),
    ],
)
def test_masked_softmax_rejects_typical_mistakes(fn, hint, capsys):
    ok, out = run(check_masked_softmax, fn, capsys)
    assert not ok
    assert out.startswith("❌") and hint in out


def no_keepdim(s):
    e = (s - s.max(dim=-1).values[..., None]).exp()
    return e / e.sum(dim=-1)  # (..., Q, K) / (..., Q): the shapes do not line up


def no_keepdim_max(s):
    e = (s - s.max(dim=-1).values).exp()  # (Q, K) - (Q,)
    return e / e.sum(dim=-1, keepdim=True)


@pytest.mark.parametrize("fn", [no_keepdim, no_keepdim_max])
def test_row_softmax_hints_at_keepdim(fn, capsys):
    ok, out = run(check_row_softmax, fn, capsys)
    assert not ok
    assert "keepdim=True" in out and out.startswith("❌ check_row_softmax"), out
