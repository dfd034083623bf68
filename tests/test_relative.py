"""Relative position schemes: scores that depend only on the offset between positions."""

import math

import pytest
import torch

import attention_utils as au


def is_toeplitz(S: torch.Tensor, atol=1e-5) -> bool:
    """Every diagonal constant: S[i, j] == S[i + 1, j + 1]."""
    return torch.allclose(S[..., 1:, 1:], S[..., :-1, :-1], atol=atol)


def rope_by_complex_numbers(X, base=10000.0):
    """Independent RoPE: each feature pair is a complex number multiplied by e^{i p theta}."""
    n, d = X.shape[-2], X.shape[-1]
    z = torch.view_as_complex(X.double().reshape(*X.shape[:-1], d // 2, 2).contiguous())
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    rot = torch.polar(
        torch.ones(n, d // 2, dtype=torch.float64), torch.arange(n)[:, None].double() * theta
    )
    return torch.view_as_real(z * rot).reshape(X.shape).float()


def test_rope_matches_complex_multiplication():
    X = torch.randn(2, 3, 9, 8)
    assert torch.allclose(au.apply_rotary(X), rope_by_complex_numbers(X), atol=1e-5)


def test_rope_is_a_rotation_and_position_zero_is_identity():
    X = torch.randn(4, 10, 16)
    Y = au.apply_rotary(X)
    assert torch.allclose(Y.norm(dim=-1), X.norm(dim=-1), atol=1e-5)
    assert torch.equal(Y[:, 0], X[:, 0])


def test_rope_scores_depend_only_on_the_offset():
    n, d = 12, 8
    q, k = torch.randn(d), torch.randn(d)
    Q = au.apply_rotary(q.expand(n, d))  # the same query vector at every position
    K = au.apply_rotary(k.expand(n, d))
    S = Q @ K.T  # (n, n)
    assert is_toeplitz(S)
    assert not torch.allclose(S[0, 1], S[0, 2])  # and the offset does matter


def test_rope_explicit_positions_shift_invariance():
    q, k = torch.randn(1, 8), torch.randn(1, 8)
    s1 = au.apply_rotary(q, [3.0]) @ au.apply_rotary(k, [1.0]).T
    s2 = au.apply_rotary(q, [103.0]) @ au.apply_rotary(k, [101.0]).T
    assert torch.allclose(s1, s2, atol=1e-4)


def test_rope_errors():
    with pytest.raises(ValueError, match="must be even"):
        au.apply_rotary(torch.randn(3, 5))
    with pytest.raises(ValueError, match=r"positions must have shape \(3,\)"):
        au.apply_rotary(torch.randn(3, 4), [0, 1])
    with pytest.raises(ValueError, match="base must be a number greater than 1"):
        au.apply_rotary(torch.randn(3, 4), base=1)
    with pytest.raises(ValueError, match="dim must be even"):
        au.RotaryEmbedding(7)
    with pytest.raises(ValueError, match="dim=8"):
        au.RotaryEmbedding(8)(torch.randn(2, 6))


def test_alibi_slopes_follow_the_paper():
    assert torch.allclose(au.alibi_slopes(8), 2.0 ** -torch.arange(1.0, 9.0))
    want6 = [2**-2, 2**-4, 2**-6, 2**-8, 2**-1, 2**-3]  # 4 slopes of n=4, then every other of n=8
    assert torch.allclose(au.alibi_slopes(6), torch.tensor(want6))
    assert torch.allclose(au.alibi_slopes(1), torch.tensor([2**-8]))


def test_alibi_bias_is_minus_slope_times_distance():
    B = au.alibi_bias(4, 5, 7)
    assert B.shape == (4, 5, 7)
    assert is_toeplitz(B)
    for h, m in enumerate(au.alibi_slopes(4).tolist()):
        assert math.isclose(B[h, 4, 1].item(), -3 * m, rel_tol=1e-6)
        assert B[h].diagonal().abs().max() == 0


def test_learned_relative_bias_is_toeplitz_clipped_and_trainable():
    torch.manual_seed(0)
    rel = au.RelativePositionBias(num_heads=3, max_distance=2)
    B = rel(6, 6)
    assert B.shape == (3, 6, 6)
    assert is_toeplitz(B)
    assert torch.equal(B[:, 0, 3], B[:, 0, 5])  # offsets 3 and 5 both clip to +2
    assert torch.equal(B[:, 0, 2], rel.bias.weight[4])  # offset +2 -> row 2 + max_distance
    B.sum().backward()
    assert rel.bias.weight.grad.abs().sum() > 0


def test_relative_offsets():
    assert torch.equal(au.relative_offsets(2, 3), torch.tensor([[0, 1, 2], [-1, 0, 1]]))
