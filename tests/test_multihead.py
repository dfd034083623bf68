"""MultiHeadAttention: values against independent computations, nn.MultiheadAttention and d2l."""

import math

import pytest
import torch
from torch import nn

import attention_utils as au


def make(D=8, h=2, d_in=None, bias=False, seed=0):
    torch.manual_seed(seed)
    m = au.MultiHeadAttention(D, h, 0.0, bias=bias)
    x = torch.zeros(1, 1, d_in or D)
    m(x, x, x)  # materialize the lazy layers
    if bias:
        with torch.no_grad():
            for W in (m.W_q, m.W_k, m.W_v, m.W_o):
                W.bias.normal_()
    return m.eval()


def per_head_loop(m, q, k, v, lens=None):
    """Independent reference: one head at a time, slicing the weight rows that belong to it."""
    D, h = m.num_hiddens, m.num_heads
    d = D // h
    heads = []
    for i in range(h):
        rows = slice(i * d, (i + 1) * d)

        def proj(W, x, rows=rows):
            out = x @ W.weight[rows].T
            return out if W.bias is None else out + W.bias[rows]

        s = proj(m.W_q, q) @ proj(m.W_k, k).transpose(1, 2) / math.sqrt(d)  # (B, Q, K)
        if lens is not None:
            keep = torch.arange(k.shape[1])[None, None, :] < lens[:, None, None]
            s = s.masked_fill(~keep, float("-inf"))
        heads.append(torch.softmax(s, -1) @ proj(m.W_v, v))  # (B, Q, d)
    return m.W_o(torch.cat(heads, -1))  # (B, Q, D)


def test_shapes_and_weights():
    m = make(12, 3, d_in=5)
    q, kv = torch.randn(2, 4, 5), torch.randn(2, 7, 5)
    out = m(q, kv, kv)
    assert out.shape == (2, 4, 12)
    assert m.attention_weights.shape == (2, 3, 4, 7)
    assert torch.allclose(m.attention_weights.sum(-1), torch.ones(2, 3, 4))


@pytest.mark.parametrize("bias", [False, True])
def test_matches_a_loop_over_heads(bias):
    m = make(12, 3, bias=bias)
    q, kv = torch.randn(2, 4, 12), torch.randn(2, 6, 12)
    lens = torch.tensor([3, 6])
    with torch.no_grad():
        assert torch.allclose(m(q, kv, kv), per_head_loop(m, q, kv, kv), atol=1e-5)
        assert torch.allclose(m(q, kv, kv, lens), per_head_loop(m, q, kv, kv, lens), atol=1e-5)


@pytest.mark.parametrize("bias", [False, True])
def test_matches_torch_multihead_attention_with_key_padding(bias):
    D, h = 16, 4
    m = make(D, h, bias=bias, seed=1)
    ref = nn.MultiheadAttention(D, h, bias=bias, batch_first=True).eval()
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([m.W_q.weight, m.W_k.weight, m.W_v.weight]))
        ref.out_proj.weight.copy_(m.W_o.weight)
        if bias:
            ref.in_proj_bias.copy_(torch.cat([m.W_q.bias, m.W_k.bias, m.W_v.bias]))
            ref.out_proj.bias.copy_(m.W_o.bias)
        q, kv = torch.randn(3, 5, D), torch.randn(3, 7, D)
        lens = torch.tensor([7, 2, 4])
        padding = torch.arange(7)[None, :] >= lens[:, None]  # (B, K), True = ignore
        want, want_w = ref(q, kv, kv, key_padding_mask=padding, average_attn_weights=False)
        got = m(q, kv, kv, lens)
    assert torch.allclose(got, want, atol=1e-5)
    assert torch.allclose(m.attention_weights, want_w, atol=1e-6)
    assert m.attention_weights[1, :, :, 2:].abs().max() == 0


def test_d2l_state_dict_loads_and_agrees():
    d2l = pytest.importorskip("d2l.torch")
    torch.manual_seed(0)
    theirs = d2l.MultiHeadAttention(8, 2, 0.0).eval()
    x, lens = torch.randn(2, 4, 6), torch.tensor([3, 2])
    want = theirs(x, x, x, lens)
    ours = au.MultiHeadAttention(8, 2, 0.0).eval()  # never called: the state_dict sets the sizes
    ours.load_state_dict(theirs.state_dict())
    assert set(ours.state_dict()) == set(theirs.state_dict())
    assert torch.allclose(ours(x, x, x, lens), want, atol=1e-6)


def test_parameter_count_does_not_depend_on_heads():
    counts = {h: sum(p.numel() for p in make(24, h).parameters()) for h in (1, 2, 3, 4, 6)}
    assert set(counts.values()) == {4 * 24 * 24}
    assert sum(p.numel() for p in make(24, 4, bias=True).parameters()) == 4 * 24 * 24 + 4 * 24


def test_per_query_lengths_and_empty_rows_give_no_nan():
    m = make(8, 2)
    x = torch.randn(2, 3, 8)
    out = m(x, x, x, torch.tensor([[1, 2, 3], [0, 3, 3]]))
    assert torch.isfinite(out).all()
    assert torch.allclose(
        out[1, 0], torch.zeros(8)
    )  # no key to attend to -> W_o(0) = 0 without bias
    assert torch.allclose(m.attention_weights[0, :, 0, 1:], torch.zeros(2, 2))


def test_heads_are_independent_subspaces():
    """Zeroing head 1's rows of W_v changes only head 1's slice of the concatenation."""
    m = make(8, 2)
    x = torch.randn(1, 5, 8)
    with torch.no_grad():
        before = m.transpose_output(
            m.attention(*(m.transpose_qkv(W(x)) for W in (m.W_q, m.W_k, m.W_v)))
        )
        m.W_v.weight[4:] = 0
        after = m.transpose_output(
            m.attention(*(m.transpose_qkv(W(x)) for W in (m.W_q, m.W_k, m.W_v)))
        )
    assert torch.equal(before[..., :4], after[..., :4])
    assert torch.allclose(after[..., 4:], torch.zeros(1, 5, 4))


def test_transpose_qkv_round_trip():
    m = make(12, 3)
    x = torch.randn(2, 5, 12)
    y = m.transpose_qkv(x)
    assert y.shape == (6, 5, 4)
    assert torch.equal(y[1 * 3 + 2], x[1, :, 8:12])  # batch 1, head 2 = features 8..11
    assert torch.equal(m.transpose_output(y), x)


@pytest.mark.parametrize(
    ("args", "kwargs", "err", "words"),
    [
        ((10, 3), {}, ValueError, "num_heads could be one of [1, 2, 5, 10]"),
        ((0, 1), {}, ValueError, "num_hiddens must be positive"),
        ((8, 2.0), {}, TypeError, "num_heads must be an int"),
        ((8, 2, 1.5), {}, ValueError, "dropout must be in [0, 1)"),
        ((8, 2), {"bias": "yes"}, TypeError, "bias must be True or False"),
    ],
)
def test_constructor_errors(args, kwargs, err, words):
    with pytest.raises(err) as info:
        au.MultiHeadAttention(*args, **kwargs)
    assert words in str(info.value)


def test_forward_errors_name_the_argument():
    m = make(8, 2)
    x = torch.randn(2, 3, 8)
    with pytest.raises(ValueError, match="queries must have 8 features"):
        m(torch.randn(2, 3, 5), x, x)
    with pytest.raises(ValueError, match="keys and values must have the same length"):
        m(x, x, torch.randn(2, 4, 8))
    with pytest.raises(ValueError, match="valid_lens can be at most the number of keys"):
        m(x, x, x, torch.tensor([4, 1]))
    with pytest.raises(TypeError, match="queries must hold floating-point"):
        m(torch.ones(2, 3, 8, dtype=torch.long), x, x)


# --- lesson 05's d2l setup (attention_utils._colab): nothing is installed here --------------------


def fake_env(present):
    installed = []
    return (lambda name: name in present), installed.append, installed


def test_ensure_d2l_does_nothing_when_everything_is_there():
    from attention_utils._colab import D2L_IMPORTS, ensure_d2l

    is_present, install, installed = fake_env({"d2l", *D2L_IMPORTS})
    assert ensure_d2l(is_present=is_present, install=install) == []
    assert installed == []


def test_ensure_d2l_on_this_machine_installs_nothing():
    from attention_utils._colab import ensure_d2l

    pytest.importorskip("d2l")
    calls = []
    assert ensure_d2l(install=calls.append) == [] and calls == []


def test_ensure_d2l_installs_d2l_without_deps_and_only_the_missing_modules(capsys):
    from attention_utils._colab import ensure_d2l

    is_present, install, installed = fake_env({"torchvision", "requests", "scipy"})
    done = ensure_d2l(is_present=is_present, install=install, torch_version="2.14.1+cu130")
    assert (
        installed
        == done
        == [
            ["--no-deps", "d2l==1.0.3"],
            ["pandas", "pillow", "matplotlib-inline"],
        ]
    )
    assert "installing for d2l: --no-deps d2l==1.0.3" in capsys.readouterr().out


def test_ensure_d2l_pins_torchvision_to_the_installed_torch():
    from attention_utils._colab import D2L_IMPORTS, ensure_d2l

    present = {"d2l", *D2L_IMPORTS} - {"torchvision"}
    is_present, install, installed = fake_env(present)
    ensure_d2l(is_present=is_present, install=install, torch_version="2.5.1")
    assert installed == [["torchvision==0.20.1"]]


@pytest.mark.parametrize(
    "version, want",
    [
        ("2.14.1+cu130", "torchvision==0.29.1"),
        ("2.5.1", "torchvision==0.20.1"),
        ("2.8.0+cpu", "torchvision==0.23.0"),
        ("3.0.0", "torchvision"),
        ("2.6.0a0", "torchvision"),
    ],
)
def test_torchvision_requirement(version, want):
    from attention_utils._colab import torchvision_requirement

    assert torchvision_requirement(version) == want


def test_torchvision_requirement_matches_this_machine():
    from attention_utils._colab import torchvision_requirement

    tv = pytest.importorskip("torchvision")
    pin = torchvision_requirement(torch.__version__)
    assert pin == "torchvision==" + tv.__version__.split("+")[0]


def test_ensure_d2l_bad_arguments():
    from attention_utils._colab import ensure_d2l, torchvision_requirement

    with pytest.raises(TypeError, match="install"):
        ensure_d2l(install="pip")
    with pytest.raises(TypeError, match="is_present"):
        ensure_d2l(is_present=None)
    with pytest.raises(TypeError, match="torch_version"):
        torchvision_requirement(2.5)
