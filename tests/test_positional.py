"""Sinusoidal and learned absolute positional encodings."""

import math

import pytest
import torch

import attention_utils as au


def test_table_matches_the_formula_entry_by_entry():
    P = au.sinusoidal_table(50, 6)
    for p in (0, 1, 7, 49):
        for i in range(3):
            w = 1 / 10000 ** (2 * i / 6)
            assert math.isclose(P[p, 2 * i].item(), math.sin(p * w), abs_tol=1e-5)
            assert math.isclose(P[p, 2 * i + 1].item(), math.cos(p * w), abs_tol=1e-5)


def test_odd_width_ends_with_a_sine():
    P = au.sinusoidal_table(10, 5)
    assert P.shape == (10, 5)
    assert torch.allclose(P[:, 4], torch.sin(torch.arange(10.0) / 10000 ** (4 / 5)))


def test_relative_position_is_a_fixed_linear_map():
    """PE(p + k) = M_k PE(p) with M_k block-diagonal rotations that do not depend on p."""
    d, k = 16, 5
    P = au.sinusoidal_table(60, d)
    M = torch.zeros(d, d)
    for i in range(d // 2):
        a = k / 10000 ** (2 * i / d)
        c, s = math.cos(a), math.sin(a)
        M[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = torch.tensor([[c, s], [-s, c]])
    assert torch.allclose(P[k:], P[:-k] @ M.T, atol=1e-4)


def test_positional_encoding_adds_the_table():
    pe = au.PositionalEncoding(8, 0.0, max_len=20).eval()
    X = torch.randn(3, 7, 8)
    assert torch.allclose(pe(X) - X, au.sinusoidal_table(20, 8)[:7].expand(3, 7, 8), atol=1e-6)
    assert "P" not in pe.state_dict()


def test_positional_encoding_matches_d2l():
    d2l = pytest.importorskip("d2l.torch")
    ours, theirs = (
        au.PositionalEncoding(32, 0.0, 100).eval(),
        d2l.PositionalEncoding(32, 0.0, 100).eval(),
    )
    X = torch.randn(2, 40, 32)
    assert torch.allclose(ours(X), theirs(X), atol=1e-5)


@pytest.mark.parametrize("cls", [au.PositionalEncoding, au.LearnedPositionalEmbedding])
def test_too_long_input_gets_a_clear_error(cls):
    m = cls(8, 0.0, max_len=10)
    m(torch.zeros(1, 10, 8))  # exactly max_len is fine
    with pytest.raises(
        ValueError, match=rf"X has 11 steps but this {cls.__name__} was built with max_len=10"
    ):
        m(torch.zeros(1, 11, 8))
    with pytest.raises(ValueError, match="num_hiddens=8"):
        m(torch.zeros(1, 5, 6))
    with pytest.raises(ValueError, match="3-D"):
        m(torch.zeros(5, 8))


def test_learned_embedding_adds_trainable_rows():
    torch.manual_seed(0)
    m = au.LearnedPositionalEmbedding(4, 0.0, max_len=6)
    assert sum(p.numel() for p in m.parameters()) == 6 * 4
    X = torch.randn(2, 3, 4)
    out = m(X)
    assert torch.allclose(out - X, m.P.weight[:3].expand(2, 3, 4))
    out.sum().backward()
    grad = m.P.weight.grad
    assert torch.allclose(grad[:3], torch.full((3, 4), 2.0)) and torch.all(grad[3:] == 0)
    assert "P.weight" in m.state_dict()


def test_learned_rows_of_unseen_positions_get_no_gradient():
    emb = au.LearnedPositionalEmbedding(num_hiddens=8, dropout=0.0, max_len=20)
    emb(torch.randn(3, 5, 8)).square().sum().backward()
    grad = emb.P.weight.grad.abs().sum(-1)  # (max_len,)
    assert (grad[:5] > 0).all() and (grad[5:] == 0).all()
