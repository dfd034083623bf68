"""The encoder block and its parts: values against an independent computation, d2l compatibility, errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from attention_utils import (
    AddNorm,
    PositionWiseFFN,
    SequenceTagger,
    TransformerEncoder,
    TransformerEncoderBlock,
)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def manual_block(
    blk: TransformerEncoderBlock, X: torch.Tensor, valid_lens=None, act=F.relu
) -> torch.Tensor:
    """The post-norm block written out with functional ops, independent of our modules' forward."""
    mha = blk.attention
    B, T, D = X.shape
    h = mha.num_heads

    def proj(layer, Z):
        return F.linear(Z, layer.weight, layer.bias)

    def split(Z):
        return Z.reshape(B, T, h, D // h).transpose(1, 2)  # (B, h, T, d_head)

    q, k, v = (split(proj(layer, X)) for layer in (mha.W_q, mha.W_k, mha.W_v))
    scores = q @ k.transpose(-1, -2) / math.sqrt(D // h)  # (B, h, T, T)
    if valid_lens is not None:
        keep = torch.arange(T)[None, :] < torch.as_tensor(valid_lens)[:, None]  # (B, T)
        scores = scores.masked_fill(~keep[:, None, None, :], float("-inf"))
    heads = scores.softmax(-1) @ v  # (B, h, T, d_head)
    attn = proj(mha.W_o, heads.transpose(1, 2).reshape(B, T, D))  # (B, T, D)
    ln1, ln2 = blk.addnorm1.ln, blk.addnorm2.ln
    Y = F.layer_norm(X + attn, (D,), ln1.weight, ln1.bias, ln1.eps)
    ffn = proj(blk.ffn.dense2, act(proj(blk.ffn.dense1, Y)))
    return F.layer_norm(Y + ffn, (D,), ln2.weight, ln2.bias, ln2.eps)


def randomize_norms(module):
    """Give every LayerNorm a non-trivial scale and shift, so that skipping one shows."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.LayerNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)


# --- PositionWiseFFN ---------------------------------------------------------------------------


def test_ffn_matches_its_formula_and_is_position_wise():
    ffn = PositionWiseFFN(16, 6)
    X = torch.randn(2, 5, 4)
    out = ffn(X)
    assert out.shape == (2, 5, 6)
    want = F.linear(
        F.relu(F.linear(X, ffn.dense1.weight, ffn.dense1.bias)), ffn.dense2.weight, ffn.dense2.bias
    )
    assert torch.allclose(out, want, atol=1e-6)
    X2 = X.clone()
    X2[1, 2] += 3.0
    changed = (ffn(X2) - out).abs().amax(-1) > 0  # (B, T)
    assert changed.nonzero().tolist() == [[1, 2]]


def test_ffn_activation_attribute_is_named_as_in_d2l():
    ffn = PositionWiseFFN(8, 3)
    assert isinstance(ffn.relu, torch.nn.ReLU)  # d2l's name, so code written for d2l finds it
    assert [n for n, _ in ffn.named_children()] == ["dense1", "relu", "dense2"]
    gelu = PositionWiseFFN(8, 3, activation="gelu")
    assert isinstance(gelu.gelu, torch.nn.GELU) and not hasattr(gelu, "relu")


def test_ffn_gelu_is_the_exact_erf_gelu():
    ffn = PositionWiseFFN(8, 3, activation="gelu")
    X = torch.randn(4, 3)
    ffn(X)  # materialize the lazy layers
    hidden = X @ ffn.dense1.weight.T + ffn.dense1.bias
    erf_gelu = 0.5 * hidden * (1 + torch.erf(hidden / math.sqrt(2)))
    assert torch.allclose(ffn(X), erf_gelu @ ffn.dense2.weight.T + ffn.dense2.bias, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, err, words",
    [
        (dict(ffn_num_hiddens=0, ffn_num_outputs=4), ValueError, "ffn_num_hiddens"),
        (dict(ffn_num_hiddens=8, ffn_num_outputs=2.5), TypeError, "ffn_num_outputs"),
        (dict(ffn_num_hiddens=8, ffn_num_outputs=4, activation="tanh"), ValueError, "activation"),
    ],
)
def test_ffn_bad_arguments(kwargs, err, words):
    with pytest.raises(err, match=words):
        PositionWiseFFN(**kwargs)


# --- AddNorm -------------------------------------------------------------------------------------


def test_addnorm_is_layernorm_of_the_sum():
    an = AddNorm(6, 0.0)
    X, Y = torch.randn(2, 3, 6), torch.randn(2, 3, 6)
    S = X + Y
    mu, var = S.mean(-1, keepdim=True), S.var(-1, unbiased=False, keepdim=True)
    assert torch.allclose(an(X, Y), (S - mu) / torch.sqrt(var + 1e-5), atol=1e-5)


def test_addnorm_eps_and_dropout():
    an = AddNorm(4, 0.5, eps=1e-12)
    assert an.ln.eps == 1e-12
    assert an.dropout.p == 0.5
    an.eval()  # dropout off: deterministic
    X, Y = torch.randn(1, 2, 4), torch.randn(1, 2, 4)
    assert torch.equal(an(X, Y), an(X, Y))


@pytest.mark.parametrize(
    "args, err, words",
    [
        ((4, 1.5), ValueError, "dropout"),
        (("4", 0.0), TypeError, "norm_shape"),
        ((0, 0.0), ValueError, "norm_shape"),
        (((), 0.0), TypeError, "norm_shape"),
    ],
)
def test_addnorm_bad_arguments(args, err, words):
    with pytest.raises(err, match=words):
        AddNorm(*args)


@pytest.mark.parametrize(
    "eps, err",
    [(0.0, ValueError), (-1e-5, ValueError), (float("nan"), ValueError), ("1e-5", TypeError)],
)
def test_addnorm_rejects_a_bad_eps(eps, err):
    with pytest.raises(err, match="eps"):
        AddNorm(4, 0.0, eps=eps)
    with pytest.raises(err, match="eps"):
        TransformerEncoderBlock(8, 16, 2, 0.0, eps=eps)


def test_addnorm_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"same shape.*\(1, 2, 4\).*\(1, 3, 4\)"):
        AddNorm(4, 0.0)(torch.randn(1, 2, 4), torch.randn(1, 3, 4))


# --- TransformerEncoderBlock ---------------------------------------------------------------------


@pytest.mark.parametrize("use_bias", [False, True])
def test_block_matches_the_functional_formula(use_bias):
    blk = TransformerEncoderBlock(8, 16, 2, 0.0, use_bias)
    X = torch.randn(3, 5, 8)
    blk(X)
    randomize_norms(blk)
    assert torch.allclose(blk(X), manual_block(blk, X), atol=1e-5)
    lens = torch.tensor([5, 2, 1])
    assert torch.allclose(blk(X, lens), manual_block(blk, X, lens), atol=1e-5)


def test_block_gelu_and_eps_reach_the_parts():
    blk = TransformerEncoderBlock(8, 16, 4, 0.0, True, activation="gelu", eps=1e-12)
    assert blk.addnorm1.ln.eps == blk.addnorm2.ln.eps == 1e-12
    X = torch.randn(2, 3, 8)
    blk(X)
    randomize_norms(blk)
    assert torch.allclose(blk(X), manual_block(blk, X, act=F.gelu), atol=1e-5)


def test_block_keeps_per_head_weights_and_masks_padding():
    blk = TransformerEncoderBlock(8, 16, 2, 0.0)
    X = torch.randn(2, 6, 8)
    lens = torch.tensor([6, 3])
    out = blk(X, lens)
    W = blk.attention.attention_weights
    assert W.shape == (2, 2, 6, 6)
    assert torch.allclose(W.sum(-1), torch.ones(2, 2, 6))
    assert W[1, :, :, 3:].abs().max() == 0
    X2 = X.clone()
    X2[1, 4] += 10.0  # a padded position
    assert torch.equal(blk(X2, lens)[1, :3], out[1, :3])


def test_block_output_rows_are_normalized():
    blk = TransformerEncoderBlock(16, 32, 4, 0.0)
    Z = blk(torch.randn(2, 7, 16) * 5 + 3)
    assert torch.allclose(Z.mean(-1), torch.zeros(2, 7), atol=1e-5)
    assert torch.allclose(Z.std(-1, unbiased=False), torch.ones(2, 7), atol=1e-3)


def test_block_parameter_count():
    D, F_, h = 32, 64, 2
    for use_bias, attn in ((False, 4 * D * D), (True, 4 * D * D + 4 * D)):
        blk = TransformerEncoderBlock(D, F_, h, 0.0, use_bias)
        blk(torch.zeros(1, 1, D))
        want = attn + (D * F_ + F_ + F_ * D + D) + 2 * (2 * D)
        assert sum(p.numel() for p in blk.parameters()) == want


def test_block_rejects_bad_input():
    blk = TransformerEncoderBlock(8, 16, 2, 0.0)
    with pytest.raises(ValueError, match="X must be 3-D"):
        blk(torch.randn(5, 8))
    with pytest.raises(ValueError, match="num_heads"):
        TransformerEncoderBlock(10, 16, 3, 0.0)


# --- d2l compatibility ---------------------------------------------------------------------------


def _d2l():
    try:
        from d2l import torch as d2l
    except Exception as err:  # noqa: BLE001 - any import failure means "not available here"
        pytest.skip(f"d2l is not importable here: {err}")
    return d2l


def test_block_state_dict_loads_from_d2l_and_gives_the_same_output():
    d2l = _d2l()
    theirs = d2l.TransformerEncoderBlock(8, 16, 2, 0.0)
    ours = TransformerEncoderBlock(8, 16, 2, 0.0)
    X = torch.randn(2, 5, 8)
    lens = torch.tensor([5, 3])
    theirs.eval()(X, lens)
    ours(X)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    assert torch.allclose(ours(X, lens), theirs(X, lens), atol=1e-6)


def test_encoder_state_dict_names_match_d2l():
    d2l = _d2l()
    theirs = d2l.TransformerEncoder(10, 8, 16, 2, 2, 0.0)
    ours = TransformerEncoder(10, 8, 16, 2, 2, 0.0)
    X = torch.randint(0, 10, (2, 5))
    theirs.eval()(X, None)
    ours(X)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    assert torch.allclose(ours(X), theirs(X, None), atol=1e-5)


# --- TransformerEncoder and SequenceTagger -------------------------------------------------------


def test_encoder_shapes_weights_and_embedding_scale():
    enc = TransformerEncoder(12, 32, 64, 4, 3, 0.0, max_len=20)
    X = torch.randint(0, 12, (2, 7))
    H = enc(X)
    assert H.shape == (2, 7, 32)
    assert len(enc.attention_weights) == 3
    for W in enc.attention_weights:
        assert W.shape == (2, 4, 7, 7)
        assert torch.allclose(W.sum(-1), torch.ones(2, 4, 7))
    # Entries start at std 1/sqrt(D), so the sqrt(D)-scaled embedding has entries of size ~1.
    scaled_std = (enc.embedding.weight * math.sqrt(32)).std().item()
    assert 0.8 < scaled_std < 1.2


def test_encoder_adds_the_sinusoids():
    enc = TransformerEncoder(5, 8, 16, 2, 1, 0.0)
    X = torch.tensor([[1, 1, 1]])
    emb = enc.embedding(X) * math.sqrt(8)  # (1, 3, 8)
    blk = enc.blks.block0
    P = enc.pos_encoding.P[:, :3]
    assert torch.allclose(enc(X), blk(emb + P), atol=1e-6)


@pytest.mark.parametrize(
    "X, err, words",
    [
        (torch.tensor([[0, 1, 9]]), ValueError, r"token ids in \[0, 5\)"),
        (torch.tensor([[0, -1]]), ValueError, "token ids"),
        (torch.tensor([[0.0, 1.0]]), TypeError, "integer token ids"),
        (torch.tensor([0, 1]), ValueError, "2-D"),
        (torch.zeros(1, 30, dtype=torch.long), ValueError, "max_len"),
    ],
)
def test_encoder_rejects_bad_tokens(X, err, words):
    enc = TransformerEncoder(5, 8, 16, 2, 1, 0.0, max_len=20)
    with pytest.raises(err, match=words):
        enc(X)


def test_sequence_tagger_logits_and_weights():
    tagger = SequenceTagger(10, 16, 32, 2, 2, num_classes=3, max_len=8)
    X = torch.randint(0, 10, (4, 8))
    logits = tagger(X)
    assert logits.shape == (4, 8, 3)
    assert tagger.attention_weights is tagger.encoder.attention_weights
    assert tagger.attention_weights[1].shape == (4, 2, 8, 8)
    assert SequenceTagger(7, 16, 32, 2, 1)(torch.zeros(1, 2, dtype=torch.long)).shape == (1, 2, 7)
    with pytest.raises(ValueError, match="num_classes"):
        SequenceTagger(10, 16, 32, 2, 1, num_classes=0)


def test_sequence_tagger_passes_use_bias_to_every_attention_layer():
    def attention_biases(tagger):
        return [blk.attention.W_q.bias is not None for blk in tagger.encoder.blks]

    assert attention_biases(SequenceTagger(10, 16, 32, 2, 2)) == [False, False]
    tagger = SequenceTagger(10, 16, 32, 2, 2, 0.0, True)  # d2l's positional order
    tagger(torch.zeros(1, 3, dtype=torch.long))
    assert attention_biases(tagger) == [True, True]
    with pytest.raises(TypeError, match="bias"):
        SequenceTagger(10, 16, 32, 2, 1, 0.0, "yes")
