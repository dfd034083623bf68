"""DecoderAttention, KVCache, DecoderLM and the GPT-2/Llama loaders (attention_utils.decoder)."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import attention_utils as au
from attention_utils import decoder
from attention_utils.decoder import (
    DecoderAttention,
    DecoderLM,
    KVCache,
    attention_from_gpt2,
    attention_from_llama,
    kv_cache_bytes,
    repeat_kv,
    timed_generation,
)

ROOT = Path(__file__).resolve().parents[1]

CONFIGS = [
    {},
    {"num_kv_heads": 2},
    {"num_kv_heads": 1, "rotary": "half"},
    {"rotary": "interleaved", "window": 3},
    {"alibi": True, "num_kv_heads": 2},
    {"causal": False, "rotary": "half"},
    {"bias": True, "head_dim": 6, "num_kv_heads": 2, "rotary": "interleaved"},
]


def make(seed=0, **kwargs):
    torch.manual_seed(seed)
    return DecoderAttention(16, 4, **kwargs).eval()


@pytest.mark.parametrize("kwargs", CONFIGS, ids=str)
def test_fast_path_equals_reference_path(kwargs):
    m = make(**kwargs)
    X = torch.randn(2, 9, 16)
    ref = m(X)
    assert m.attention_weights.shape == (2, 4, 9, 9)
    assert torch.allclose(m.attention_weights.sum(-1), torch.ones(2, 4, 9), atol=1e-6)
    fast = m(X, need_weights=False)
    assert m.attention_weights is None
    assert torch.allclose(ref, fast, atol=1e-5)


def test_fast_path_uses_enable_gqa_when_torch_has_it(monkeypatch):
    seen = []
    real = torch.nn.functional.scaled_dot_product_attention

    def spy(*args, **kwargs):
        seen.append(kwargs.get("enable_gqa", False))
        return real(*args, **kwargs)

    monkeypatch.setattr(decoder.F, "scaled_dot_product_attention", spy)
    m = make(num_kv_heads=2)
    m(torch.randn(1, 5, 16), need_weights=False)
    assert seen == [decoder._SDPA_HAS_GQA]
    assert decoder._SDPA_HAS_GQA == ("enable_gqa" in (real.__doc__ or ""))


@pytest.mark.parametrize("kwargs", [c for c in CONFIGS if c.get("causal", True)], ids=str)
def test_causal_later_tokens_do_not_change_earlier_outputs(kwargs):
    m = make(**kwargs)
    X = torch.randn(1, 8, 16)
    X2 = X.clone()
    X2[:, 5:] += 3.0
    assert torch.allclose(m(X)[:, :5], m(X2)[:, :5], atol=1e-6)
    assert torch.all(m.attention_weights[..., 5:][..., :5, :] == 0)


def test_equal_heads_is_multihead_attention_with_a_causal_mask():
    m = make()
    mha = au.MultiHeadAttention(16, 4, 0.0)
    mha(*(torch.zeros(1, 1, 16),) * 3)  # materialize its lazy layers
    mha.load_state_dict(m.state_dict())
    X = torch.randn(2, 7, 16)
    causal_lens = torch.arange(1, 8).expand(2, 7)  # (B, Q): query i sees keys 0..i
    assert torch.allclose(m(X), mha(X, X, X, causal_lens), atol=1e-6)
    assert torch.allclose(m.attention_weights, mha.attention_weights, atol=1e-6)


def test_grouped_query_equals_multihead_with_shared_key_value_weights():
    gqa = make(num_kv_heads=2)
    full = make(num_kv_heads=4)
    state = gqa.state_dict()
    for name in ("W_k.weight", "W_v.weight"):  # (2 * 4, 16) -> (4 * 4, 16): each kv head twice
        state[name] = state[name].reshape(2, 4, 16).repeat_interleave(2, dim=0).reshape(16, 16)
    full.load_state_dict(state)
    X = torch.randn(2, 6, 16)
    assert torch.allclose(gqa(X), full(X), atol=1e-6)


def test_repeat_kv_groups_are_contiguous():
    kv = torch.arange(2.0)[None, :, None, None].expand(1, 2, 1, 1)  # head 0 holds 0, head 1 holds 1
    assert repeat_kv(kv, 4).flatten().tolist() == [0, 0, 1, 1]
    assert kv.repeat(1, 2, 1, 1).flatten().tolist() == [0, 1, 0, 1]  # the bug's order
    with pytest.raises(ValueError, match="multiple"):
        repeat_kv(kv, 3)


@pytest.mark.parametrize("kind", ["growing", "preallocated"])
@pytest.mark.parametrize("kwargs", [c for c in CONFIGS if c.get("causal", True)], ids=str)
def test_cache_step_by_step_equals_the_full_pass(kwargs, kind):
    m = make(**kwargs)
    X = torch.randn(2, 9, 16)
    full = m(X)
    cache = m.new_cache(2, 12 if kind == "preallocated" else None)
    parts = [m(X[:, :4], cache)]
    parts += [m(X[:, i : i + 1], cache, need_weights=bool(i % 2)) for i in range(4, 9)]
    assert torch.allclose(torch.cat(parts, 1), full, atol=1e-5)
    assert cache.length == 9
    expect = {"growing": "rolling" if "window" in kwargs else "growing", "preallocated": kind}[kind]
    assert cache.kind == expect


def test_cache_bytes_match_the_formula_and_shrink_with_fewer_kv_heads():
    sizes = {}
    for kv in (4, 2, 1):
        m = make(num_kv_heads=kv)
        cache = m.new_cache(3, 10)
        m(torch.randn(3, 10, 16), cache)
        assert cache.nbytes == 3 * kv_cache_bytes(1, kv, 4, 10, 4)
        sizes[kv] = cache.nbytes
    assert sizes[4] == 2 * sizes[2] == 4 * sizes[1]
    grow = make().new_cache(1)
    make()(torch.randn(1, 5, 16), grow)
    assert grow.nbytes == kv_cache_bytes(1, 4, 4, 5, 4) and grow.keys.shape == (1, 4, 5, 4)


def test_rolling_cache_stays_bounded_and_equals_the_window_restricted_full_pass():
    m = make(window=4, rotary="interleaved")
    X = torch.randn(1, 30, 16)
    cache = m.new_cache(1)
    outs = [m(X[:, i : i + 1], cache) for i in range(30)]
    assert cache.kind == "rolling" and cache.keys.shape[2] == 4
    assert cache.nbytes == kv_cache_bytes(1, 4, 4, 4, 4)
    full = make(rotary="interleaved")
    full.load_state_dict(m.state_dict())
    full(X)
    A = full.attention_weights  # full causal weights; restrict to the last 4 keys and renormalize
    # Lesson 08's mask counts the largest distance (window 3 = 4 keys); ours, as Mistral, the keys.
    band = au.efficient.sliding_window_mask(30, 3, causal=True)  # (30, 30), True = keep
    want = A * band
    want = want / want.sum(-1, keepdim=True)
    m(X)  # the full pass of the windowed module
    assert torch.allclose(m.attention_weights, want, atol=1e-6)
    assert torch.allclose(torch.cat(outs, 1), m(X), atol=1e-5)


def test_alibi_matches_the_package_bias():
    m = make(alibi=True)
    X = torch.randn(1, 6, 16)
    m(X)
    q = m.W_q(X).view(1, 6, 4, 4).transpose(1, 2)
    k = m.W_k(X).view(1, 6, 4, 4).transpose(1, 2)
    scores = q @ k.transpose(-2, -1) / 2 + au.alibi_bias(4, 6)
    want = scores.masked_fill(~au.causal_mask(6), float("-inf")).softmax(-1)
    assert torch.allclose(m.attention_weights, want, atol=1e-6)
    if "query_offset" in inspect.signature(au.alibi_bias).parameters:
        cache = m.new_cache(1)
        m(X[:, :4], cache)
        m(X[:, 4:], cache)
        bias = au.alibi_bias(4, 2, 6, query_offset=4)  # the last two queries, all six keys
        rows = (scores[..., 4:, :] - au.alibi_bias(4, 6)[:, 4:] + bias).masked_fill(
            ~au.causal_mask(6)[4:], float("-inf")
        )
        assert torch.allclose(m.attention_weights, rows.softmax(-1), atol=1e-6)


@pytest.mark.parametrize("layout", ["interleaved", "half"])
def test_rotary_inside_the_module_is_the_package_rotation(layout):
    m = make(rotary=layout)
    X = torch.randn(2, 7, 16)
    m(X)
    q = au.apply_rotary(m.W_q(X).view(2, 7, 4, 4).transpose(1, 2), layout=layout)
    k = au.apply_rotary(m.W_k(X).view(2, 7, 4, 4).transpose(1, 2), layout=layout)
    want = (q @ k.transpose(-2, -1) / 2).masked_fill(~au.causal_mask(7), float("-inf")).softmax(-1)
    assert torch.allclose(m.attention_weights, want, atol=1e-6)
    cache = m.new_cache(2)  # positions far along the table (it grows by doubling)
    for _ in range(0, 140, 20):
        m(torch.randn(2, 20, 16), cache)
    assert m._rotary_cache[0].shape[0] >= 140


def test_fresh_module_loads_a_state_dict_and_has_known_shapes():
    a, b = make(seed=1, num_kv_heads=2, bias=True), DecoderAttention(16, 4, 2, bias=True)
    assert {k: tuple(v.shape) for k, v in b.state_dict().items()} == {
        "W_q.weight": (16, 16), "W_q.bias": (16,), "W_k.weight": (8, 16), "W_k.bias": (8,),
        "W_v.weight": (8, 16), "W_v.bias": (8,), "W_o.weight": (16, 16), "W_o.bias": (16,),
    }  # fmt: skip
    b.load_state_dict(a.state_dict())
    X = torch.randn(1, 5, 16)
    assert torch.equal(a(X), b.eval()(X))


def test_input_errors_name_the_argument():
    with pytest.raises(ValueError, match="num_heads .* divisible by num_kv_heads"):
        DecoderAttention(16, 4, 3)
    with pytest.raises(ValueError, match="num_hiddens .* divisible by num_heads"):
        DecoderAttention(10, 4)
    with pytest.raises(ValueError, match="rotary"):
        DecoderAttention(16, 4, rotary="spiral")
    with pytest.raises(ValueError, match="even head_dim"):
        DecoderAttention(12, 4, rotary="half")
    with pytest.raises(ValueError, match="window needs causal"):
        DecoderAttention(16, 4, causal=False, window=2)
    with pytest.raises(TypeError, match="bias"):
        DecoderAttention(16, 4, bias=1)
    m = make()
    with pytest.raises(ValueError, match="num_hiddens=16"):
        m(torch.randn(1, 3, 8))
    with pytest.raises(ValueError, match="3-D"):
        m(torch.randn(3, 16))
    with pytest.raises(TypeError, match="floating"):
        m(torch.ones(1, 3, 16, dtype=torch.long))
    with pytest.raises(TypeError, match="cache must be a KVCache"):
        m(torch.randn(1, 3, 16), cache={})
    cache = m.new_cache(2, 4)
    with pytest.raises(ValueError, match="batch size 2"):
        m(torch.randn(3, 1, 16), cache)
    m(torch.randn(2, 3, 16), cache)
    with pytest.raises(ValueError, match="past the cache's max_len=4"):
        m(torch.randn(2, 2, 16), cache)
    with pytest.raises(ValueError, match="causal=True"):
        make(causal=False)(torch.randn(2, 1, 16), KVCache(2, 4, 4))
    with pytest.raises(ValueError, match="key/value heads"):
        KVCache(1, 2, 4).update(torch.randn(1, 4, 1, 4), torch.randn(1, 4, 1, 4))
    with pytest.raises(ValueError, match="not both"):
        KVCache(1, 2, 4, 8, window=2)


def tiny_lm(seed=0, **kwargs):
    torch.manual_seed(seed)
    return DecoderLM(50, 32, 4, 2, 64, **kwargs).eval()


@pytest.mark.parametrize("kwargs", [{}, {"num_kv_heads": 2, "rotary": "half"}, {"norm": False}])
def test_generation_with_a_cache_gives_the_same_tokens_and_logits(kwargs):
    lm = tiny_lm(**kwargs)
    prompt = torch.randint(0, 50, (2, 5), generator=torch.Generator().manual_seed(0))
    ref_tokens, ref_logits = lm.generate(prompt, 20, use_cache=False, return_logits=True)
    for pre in (True, False):
        tokens, logits = lm.generate(prompt, 20, preallocate=pre, return_logits=True)
        assert torch.equal(tokens, ref_tokens)
        assert torch.allclose(logits, ref_logits, atol=1e-5)
    tokens, logits, secs = timed_generation(lm, prompt, 7, cache="growing")
    assert tokens.shape == (2, 12) and logits.shape == (2, 7, 50) and len(secs) == 7
    assert all(s >= 0 for s in secs)


def test_lm_attention_only_and_its_errors():
    lm = DecoderLM(10, 8, 1, 2, 0, norm=False)
    assert all(blk.ffn is None for blk in lm.blocks)
    lm(torch.randint(0, 10, (3, 6)))
    assert [tuple(a.shape) for a in lm.attention_weights] == [(3, 1, 6, 6)] * 2
    with pytest.raises(ValueError, match="tokens must be ids"):
        lm(torch.tensor([[10]]))
    with pytest.raises(TypeError, match="integer ids"):
        lm(torch.zeros(1, 2))
    with pytest.raises(ValueError, match="one KVCache per layer"):
        lm(torch.zeros(1, 2, dtype=torch.long), lm.new_caches(1)[:1])
    with pytest.raises(ValueError, match="cache must be"):
        timed_generation(lm, torch.zeros(1, 2, dtype=torch.long), 3, cache="paged")


# --- against Hugging Face transformers (configs other than lesson 09's) ---------------------------

transformers = pytest.importorskip("transformers")


def _reproduce(model, blocks, attn_name, norm_name, ours, ids):
    """Largest differences of weights and outputs, every layer, against the model's own run."""
    got = {}
    hooks = [
        getattr(b, attn_name).register_forward_hook(
            lambda mod, args, out, i=i: got.__setitem__(i, out[0])
        )
        for i, b in enumerate(blocks)
    ]
    try:
        with torch.no_grad():
            out = model(ids, output_attentions=True, output_hidden_states=True)
            worst_w = worst_o = 0.0
            for i, (m, b) in enumerate(zip(ours, blocks, strict=True)):
                H = getattr(b, norm_name)(out.hidden_states[i])  # the layer's normalized input
                fast = m(H, need_weights=False)
                ref = m(H)
                worst_w = max(worst_w, (m.attention_weights - out.attentions[i]).abs().max().item())
                worst_o = max(
                    worst_o, (ref - got[i]).abs().max().item(), (fast - got[i]).abs().max().item()
                )
    finally:
        for h in hooks:
            h.remove()
    return worst_w, worst_o


@pytest.mark.parametrize("size", [(48, 3, 3), (40, 5, 2)])
def test_gpt2_attention_is_reproduced(size):
    d, h, n_layer = size
    cfg = transformers.GPT2Config(
        n_embd=d, n_head=h, n_layer=n_layer, vocab_size=70, n_positions=40,
        bos_token_id=0, eos_token_id=0, attn_implementation="eager",
    )  # fmt: skip
    torch.manual_seed(1)
    model = transformers.GPT2Model(cfg).eval()
    ids = torch.randint(0, 70, (2, 17), generator=torch.Generator().manual_seed(2))
    ours = attention_from_gpt2(model)
    assert len(ours) == n_layer and all(m.W_q.bias is not None for m in ours)
    w, o = _reproduce(model, model.h, "attn", "ln_1", ours, ids)
    assert w < 1e-6 and o < 1e-5, (w, o)
    lm = transformers.GPT2LMHeadModel(cfg).eval()  # the LM wrapper works too
    assert len(attention_from_gpt2(lm)) == n_layer


@pytest.mark.parametrize(
    "size", [(48, 6, 2, None, 10000.0), (32, 4, 1, 16, 500000.0), (36, 6, 6, None, 10000.0)]
)
@pytest.mark.parametrize("layout", ["half", "interleaved"])
def test_llama_attention_is_reproduced_in_both_rotary_layouts(size, layout):
    d, h, kv, head_dim, theta = size
    extra = {} if head_dim is None else {"head_dim": head_dim}
    cfg = transformers.LlamaConfig(
        hidden_size=d, num_attention_heads=h, num_key_value_heads=kv, num_hidden_layers=2,
        intermediate_size=2 * d, vocab_size=60, max_position_embeddings=64, rope_theta=theta,
        attn_implementation="eager", **extra,
    )  # fmt: skip
    torch.manual_seed(3)
    model = transformers.LlamaModel(cfg).eval()
    ids = torch.randint(0, 60, (2, 19), generator=torch.Generator().manual_seed(4))
    ours = attention_from_llama(model, rotary=layout)
    assert ours[0].num_kv_heads == kv and ours[0].rotary == layout
    assert ours[0].rotary_base == theta
    w, o = _reproduce(model, model.layers, "self_attn", "input_layernorm", ours, ids)
    assert w < 1e-5 and o < 1e-5, (w, o)


def test_loaders_reject_other_models():
    with pytest.raises(TypeError, match="transformers model"):
        attention_from_gpt2(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="rotary"):
        attention_from_llama(torch.nn.Linear(2, 2), rotary="spiral")


# --- the benchmark ----------------------------------------------------------------------------


def test_kv_cache_benchmark_smoke_run():
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "kv_cache.py"), "--smoke", "--threads", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("# KV-cache benchmark") and "cpu" in lines[0]
    modes = [line.split() for line in lines[2:5]]
    assert [r[0] for r in modes] == ["recompute", "growing", "preallocated"]
    assert all(r[5] == "True" and float(r[6]) < 1e-4 for r in modes), modes
    gqa = [line.split() for line in lines[7:]]
    assert [r[0] for r in gqa] == ["4", "2", "1"]
    assert all(r[3] == "True" for r in gqa), gqa
