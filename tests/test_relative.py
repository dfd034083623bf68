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


def test_rotation_sign_convention():
    """R_a^T R_b = R_{b - a}: the score of query i and key j is q^T R_{j - i} k."""
    d = 8
    e = torch.eye(d)  # rotating the identity gives the matrices R_p as rows: (e R_p^T)
    R = {p: au.apply_rotary(e, torch.full((d,), float(p))).T for p in (2, 5, 3)}  # R_p: (d, d)
    assert torch.allclose(R[2].T @ R[5], R[3], atol=1e-5)  # R_2^T R_5 = R_{5-2}
    q, k = torch.randn(d), torch.randn(d)
    s = au.apply_rotary(q[None], [2.0]) @ au.apply_rotary(k[None], [5.0]).T
    assert torch.allclose(s, q @ R[3] @ k, atol=1e-5)
    # the offset is j - i = +3, the sign relative_offsets uses
    assert au.relative_offsets(3, 6)[2, 5] == 3


def test_rotate_half_layout_is_a_permutation_of_the_interleaved_one():
    X = torch.randn(2, 3, 7, 16)
    perm = au.rotary_permutation(16)
    assert perm.tolist() == [0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15]
    inter = au.apply_rotary(X)
    half = au.apply_rotary(X[..., perm], layout="half")
    assert torch.allclose(inter[..., perm], half, atol=1e-6)
    assert torch.allclose(half[..., torch.argsort(perm)], inter, atol=1e-6)
    # the same scores, so the two layouts are the same attention
    q, k = torch.randn(7, 16), torch.randn(7, 16)
    s_inter = au.apply_rotary(q) @ au.apply_rotary(k).T
    s_half = (
        au.apply_rotary(q[:, perm], layout="half") @ au.apply_rotary(k[:, perm], layout="half").T
    )
    assert torch.allclose(s_inter, s_half, atol=1e-5)
    # but the layouts differ on the same features
    assert not torch.allclose(au.apply_rotary(X), au.apply_rotary(X, layout="half"))
    assert torch.allclose(au.RotaryEmbedding(16, layout="half")(X[..., perm]), half)


def test_rotate_half_matches_the_hugging_face_formula():
    X = torch.randn(5, 8)
    x1, x2 = X[:, :4], X[:, 4:]
    assert torch.equal(au.rotate_half(X), torch.cat((-x2, x1), dim=-1))
    # half layout, position p, pair t: (x_t, x_{t+4}) turns by p * 10000**(-2t/8)
    p, t = 3.0, 1
    theta = p * 10000 ** (-2 * t / 8)
    Y = au.apply_rotary(X[:1], [p], layout="half")
    a, b = X[0, t].item(), X[0, t + 4].item()
    want = (a * math.cos(theta) - b * math.sin(theta), a * math.sin(theta) + b * math.cos(theta))
    assert math.isclose(Y[0, t].item(), want[0], abs_tol=1e-5)
    assert math.isclose(Y[0, t + 4].item(), want[1], abs_tol=1e-5)


def test_rotary_layout_errors():
    with pytest.raises(ValueError, match="layout must be"):
        au.apply_rotary(torch.randn(3, 4), layout="neox")
    with pytest.raises(ValueError, match="layout must be"):
        au.RotaryEmbedding(4, layout="rotate_half")
    with pytest.raises(ValueError, match="dim must be even"):
        au.rotary_permutation(5)
    with pytest.raises(TypeError, match="dim must be an int"):
        au.rotary_permutation(4.0)
    with pytest.raises(ValueError, match="must be even"):
        au.rotate_half(torch.randn(3, 5))


def test_alibi_rows_for_a_cached_step_equal_the_full_bias():
    full = au.alibi_bias(4, 10, 10)
    for offset in (0, 3, 9):
        step = au.alibi_bias(
            4, 1, offset + 1, query_offset=offset
        )  # one new query, all keys so far
        assert torch.equal(step, full[:, offset : offset + 1, : offset + 1])
    chunk = au.alibi_bias(4, 3, 10, query_offset=7)  # three new queries after 7 cached positions
    assert torch.equal(chunk, full[:, 7:10, :])
    causal_full = au.alibi_bias(4, 10, 10, causal=True)
    causal_step = au.alibi_bias(4, 2, 6, query_offset=4, causal=True)
    assert torch.equal(causal_step, causal_full[:, 4:6, :6])


def test_alibi_causal_form_is_the_papers():
    B = au.alibi_bias(2, 4, causal=True)
    m = au.alibi_slopes(2)
    i, j = torch.arange(4)[:, None], torch.arange(4)[None, :]
    want = torch.where(j <= i, -m[:, None, None] * (i - j).float(), float("-inf"))
    assert torch.equal(B, want)
    # on the keys a causal query may see, the paper's form equals the symmetric one
    sym = au.alibi_bias(2, 4)
    keep = torch.isfinite(B)
    assert torch.equal(B[keep], sym[keep])
    # and a softmax over it has no NaN (the diagonal is always visible)
    assert torch.isfinite(
        torch.softmax(au.alibi_bias(3, 5, 9, query_offset=4, causal=True), -1)
    ).all()


def test_alibi_and_offset_errors():
    with pytest.raises(TypeError, match="query_offset must be an int"):
        au.alibi_bias(2, 3, query_offset=1.0)
    with pytest.raises(TypeError, match="query_offset must be an int"):
        au.alibi_bias(2, 3, query_offset=True)
    with pytest.raises(ValueError, match="query_offset must be >= 0"):
        au.alibi_bias(2, 3, query_offset=-1)
    with pytest.raises(TypeError, match="causal must be True or False"):
        au.alibi_bias(2, 3, causal=1)
    with pytest.raises(TypeError):
        au.alibi_bias(2, 3, 3, None, 1)  # query_offset is keyword-only
    with pytest.raises(ValueError, match="num_keys must be positive"):
        au.alibi_bias(2, 3, 0)


def test_relative_offsets_with_query_offset():
    assert torch.equal(
        au.relative_offsets(2, 4, query_offset=2), torch.tensor([[-2, -1, 0, 1], [-3, -2, -1, 0]])
    )
