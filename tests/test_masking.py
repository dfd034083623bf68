"""masked_softmax, sequence_mask and causal_mask: values, shapes, edge cases and clear errors."""

import math

import pytest
import torch

import attention_utils as au


def manual_masked_softmax(X, lens2d):
    """An independent, loop-based reference: softmax over the first lens2d[b, q] keys, zeros after."""
    out = torch.zeros_like(X)
    for b in range(X.shape[0]):
        for q in range(X.shape[1]):
            n = int(lens2d[b, q])
            if n:
                row = X[b, q, :n].double()
                e = torch.exp(row - row.max())
                out[b, q, :n] = (e / e.sum()).to(X.dtype)
    return out


def test_no_mask_is_softmax_over_last_axis():
    X = torch.randn(2, 3, 4)
    w = au.masked_softmax(X)
    assert torch.allclose(w, torch.softmax(X, dim=-1))
    assert torch.allclose(w.sum(-1), torch.ones(2, 3))


@pytest.mark.parametrize("lens", [torch.tensor([2, 4]), torch.tensor([[1, 2, 3], [4, 4, 1]])])
def test_masked_matches_loop_reference(lens):
    X = torch.randn(2, 3, 4)
    lens2d = lens[:, None].expand(2, 3) if lens.dim() == 1 else lens
    assert torch.allclose(au.masked_softmax(X, lens), manual_masked_softmax(X, lens2d), atol=1e-6)


def test_masked_keys_get_exactly_zero():
    w = au.masked_softmax(torch.randn(1, 2, 5), torch.tensor([3]))
    assert torch.equal(w[..., 3:], torch.zeros(1, 2, 2))
    assert torch.allclose(w.sum(-1), torch.ones(1, 2))


def test_valid_length_zero_gives_zero_row_not_nan():
    X = torch.randn(2, 2, 3)
    w = au.masked_softmax(X, torch.tensor([0, 2]))
    assert not torch.isnan(w).any()
    assert torch.equal(w[0], torch.zeros(2, 3))
    assert torch.allclose(w[1].sum(-1), torch.ones(2))


def test_huge_scores_stay_finite():
    X = torch.tensor([[[1e30, -1e30, 5e29]]])
    w = au.masked_softmax(X, torch.tensor([3]))
    assert torch.isfinite(w).all()
    assert torch.allclose(w, torch.tensor([[[1.0, 0.0, 0.0]]]))
    w_inf = au.masked_softmax(torch.tensor([[[3.0, -math.inf, 1.0]]]), torch.tensor([3]))
    assert torch.isfinite(w_inf).all()


def test_gradient_flows_only_to_valid_keys():
    X = torch.randn(1, 1, 4, requires_grad=True)
    (au.masked_softmax(X, torch.tensor([2])) * torch.arange(4.0)).sum().backward()
    assert torch.isfinite(X.grad).all()
    assert torch.equal(X.grad[..., 2:], torch.zeros(1, 1, 2))


def test_whole_float_lengths_accepted_like_d2l():
    X = torch.randn(2, 1, 3)
    assert torch.allclose(
        au.masked_softmax(X, torch.tensor([1.0, 3.0])), au.masked_softmax(X, [1, 3])
    )


@pytest.mark.parametrize(
    ("X", "lens", "exc", "words"),
    [
        (torch.randn(3, 4), None, ValueError, "X must be 3-D"),
        (torch.ones(2, 3, 4, dtype=torch.long), None, TypeError, "floating-point"),
        (
            torch.randn(2, 3, 4),
            torch.tensor([1, 2, 3]),
            ValueError,
            "valid_lens must have shape (2,) or (2, 3)",
        ),
        (
            torch.randn(2, 3, 4),
            torch.tensor([[1, 2], [1, 2]]),
            ValueError,
            "valid_lens must have shape",
        ),
        (torch.randn(2, 3, 4), torch.tensor([1, -1]), ValueError, "must not be negative"),
        (torch.randn(2, 3, 4), torch.tensor([1, 5]), ValueError, "at most the number of keys (4)"),
        (torch.randn(2, 3, 4), torch.tensor([1.5, 2.0]), TypeError, "whole numbers"),
        (torch.randn(2, 3, 4), torch.tensor([True, False]), TypeError, "integer lengths"),
        (
            torch.randn(2, 3, 4),
            torch.ones(2, 3, 1),
            ValueError,
            "1-D (per sequence) or 2-D (per query)",
        ),
        ("scores", None, TypeError, "X must be a torch.Tensor"),
    ],
)
def test_bad_input_names_the_argument(X, lens, exc, words):
    with pytest.raises(exc, match=None) as info:
        au.masked_softmax(X, lens)
    assert words in str(info.value)


def test_sequence_mask_like_d2l():
    X = torch.arange(12.0).reshape(2, 3, 2)
    out = au.sequence_mask(X, torch.tensor([1, 2]), value=-1)
    assert torch.equal(out[0, 1:], torch.full((2, 2), -1.0))
    assert torch.equal(out[1, :2], X[1, :2]) and torch.equal(out[1, 2], torch.tensor([-1.0, -1.0]))
    assert torch.equal(X, torch.arange(12.0).reshape(2, 3, 2)), "input must not change"


def test_causal_mask_is_lower_triangular_keep_mask():
    m = au.causal_mask(4)
    assert m.dtype == torch.bool and m.shape == (4, 4)
    assert all(m[i, j] == (j <= i) for i in range(4) for j in range(4))
    with pytest.raises(ValueError, match="num_queries must be positive"):
        au.causal_mask(0)
