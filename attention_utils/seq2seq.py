"""GRU encoder-decoder models, with and without Bahdanau (additive) attention.

Names follow d2l (``Seq2SeqEncoder``, ``Seq2SeqDecoder``, ``Seq2SeqAttentionDecoder``,
``EncoderDecoder``) with the same constructor arguments, submodule names (``embedding``, ``rnn``,
``dense``, ``attention``) and call order (``EncoderDecoder.forward(enc_X, dec_X, *args)``,
``init_state(enc_outputs, enc_valid_lens)``, ``decoder(X, state)``). Two differences from d2l:

- every tensor here is **batch first**: tokens ``(B, S)``, encoder outputs ``(B, S, H)`` (d2l's
  encoder returns ``(S, B, H)``). The recurrent state is ``(num_layers, B, H)``, as ``nn.GRU``
  returns it;
- the encoder **uses** the source valid lengths (d2l's ignores them): it packs the padded batch, so
  padding never reaches any layer's final state.

Also here: ``train_seq2seq`` (teacher forcing, the same batches for every model, optionally a
held-out exact-match curve),
``greedy_decode`` (one character at a time, keeping the attention weights) and ``exact_match``.

Shapes: B sequences, S source steps, T target steps, H = ``num_hiddens`` (also the attention width
of ``AdditiveAttention`` here), e = ``embed_size``, L = ``num_layers``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ._checks import as_tensor, check_ndim, check_positive_int, check_probability
from .dates import DATE_VOCAB, CharVocab, batchify
from .scoring import AdditiveAttention

__all__ = [
    "Seq2SeqEncoder",
    "Seq2SeqDecoder",
    "Seq2SeqAttentionDecoder",
    "EncoderDecoder",
    "train_seq2seq",
    "greedy_decode",
    "exact_match",
]


def _check_tokens(name: str, X) -> torch.Tensor:
    """Token ids ``(B, S)`` as a ``long`` tensor, with a clear error otherwise."""
    X = as_tensor(name, X)
    if torch.is_floating_point(X) or X.dtype == torch.bool or X.is_complex():
        raise TypeError(f"{name} must hold integer token ids, got dtype {X.dtype}")
    check_ndim(name, X, 2, "(batch, num_steps) of token ids")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(
            f"{name} must have at least one sequence and one step, got shape {tuple(X.shape)}"
        )
    return X.long()


def _check_src_valid_len(valid_len, batch_size: int, num_steps: int) -> torch.Tensor:
    """Source lengths ``(B,)``: whole numbers in ``[1, num_steps]`` (a source needs one character)."""
    v = as_tensor("valid_len", valid_len)
    if v.dtype == torch.bool or v.is_complex():
        raise TypeError(f"valid_len must hold integer lengths, got dtype {v.dtype}")
    if torch.is_floating_point(v) and (
        not torch.isfinite(v).all() or not torch.equal(v, v.round())
    ):
        raise TypeError(f"valid_len must hold whole numbers (lengths), got {v.tolist()}")
    if tuple(v.shape) != (batch_size,):
        raise ValueError(
            f"valid_len must have shape ({batch_size},), one length per source, got shape {tuple(v.shape)}"
        )
    v = v.long()
    if v.min() < 1:
        raise ValueError(
            f"valid_len must be at least 1 (every source needs one real token), got {int(v.min())}"
        )
    if v.max() > num_steps:
        raise ValueError(
            f"valid_len can be at most the padded source length X.shape[1] = {num_steps}, got {int(v.max())}"
        )
    return v


class Seq2SeqEncoder(nn.Module):
    """Embedding + GRU. ``forward(X, valid_len=None)``: X ``(B, S)`` ids -> ``(outputs, state)``.

    ``outputs`` is ``(B, S, H)`` (one vector per source token: the keys and values of attention)
    and ``state`` is ``(num_layers, B, H)``. With ``valid_len`` ``(B,)`` (whole numbers in
    ``[1, S]``) **every** layer stops at each sequence's last real token, so the padding never leaks
    into ``state`` (several layers: the batch is packed with ``pack_padded_sequence``; one layer: the
    output at the last real token is taken, which is the same and cheaper), and ``outputs`` is 0
    past each length. Without ``valid_len`` every position is treated as real (as in d2l).
    """

    def __init__(
        self,
        vocab_size: int,
        embed_size: int,
        num_hiddens: int,
        num_layers: int = 1,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.embedding = nn.Embedding(
            check_positive_int("vocab_size", vocab_size),
            check_positive_int("embed_size", embed_size),
        )
        self.rnn = nn.GRU(
            embed_size,
            check_positive_int("num_hiddens", num_hiddens),
            check_positive_int("num_layers", num_layers),
            dropout=check_probability("dropout", dropout),
            batch_first=True,
        )

    def forward(self, X, valid_len=None):
        X = _check_tokens("X", X)
        emb = self.embedding(X)  # (B, S, e)
        if valid_len is None:
            return self.rnn(emb)  # (B, S, H), (L, B, H)
        B, S = X.shape
        lens = _check_src_valid_len(valid_len, B, S).to(X.device)  # (B,)
        # (1, S) < (B, 1) -> (B, S): True at the real tokens, False on the padding
        real = torch.arange(S, device=X.device)[None, :] < lens[:, None]
        if self.rnn.num_layers == 1:
            # One layer: its output at step t depends only on steps <= t, so the output at the last
            # real token IS the state after it. Gathering it is exact, and cheaper than packing.
            outputs, _ = self.rnn(emb)  # (B, S, H)
            state = outputs[torch.arange(B, device=X.device), lens - 1][None]  # (1, B, H)
        else:
            # Several layers: a lower layer's state after the padding would feed the upper ones, so
            # pack the batch and let every layer stop at each sequence's last real token.
            packed = pack_padded_sequence(emb, lens.cpu(), batch_first=True, enforce_sorted=False)
            outputs, state = self.rnn(packed)  # packed (sum(lens), H), (L, B, H)
            outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=S)  # (B, S, H)
        return outputs.masked_fill(~real[..., None], 0.0), state  # (B, S, H): 0 past each length


def _check_decoder_args(vocab_size, embed_size, num_hiddens, num_layers, dropout) -> None:
    check_positive_int("vocab_size", vocab_size)
    check_positive_int("embed_size", embed_size)
    check_positive_int("num_hiddens", num_hiddens)
    check_positive_int("num_layers", num_layers)
    check_probability("dropout", dropout)


class Seq2SeqDecoder(nn.Module):
    """The no-attention baseline: every step sees the **same** context, the encoder's final state.

    ``init_state((outputs, state), enc_valid_len=None)`` -> ``(state, state[-1])``: the hidden
    state ``(L, B, H)`` and the fixed context ``(B, H)`` (d2l keeps the whole encoder output here;
    the context is the same vector). ``forward(X, state)``: X ``(B, T)`` ids -> logits
    ``(B, T, vocab)`` and the new state. The input at each step is [embedding; context], as in d2l.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_size: int,
        num_hiddens: int,
        num_layers: int = 1,
        dropout: float = 0.0,
    ):
        super().__init__()
        _check_decoder_args(vocab_size, embed_size, num_hiddens, num_layers, dropout)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(
            embed_size + num_hiddens, num_hiddens, num_layers, dropout=dropout, batch_first=True
        )
        self.dense = nn.Linear(num_hiddens, vocab_size)
        self.attention_weights = None

    def init_state(self, enc_outputs, enc_valid_len=None):
        outputs, state = enc_outputs
        return (state, state[-1])  # (L, B, H) hidden, (B, H) fixed context

    def forward(self, X: torch.Tensor, state):
        hidden, context = state
        emb = self.embedding(_check_tokens("X", X))  # (B, T, e)
        ctx = context[:, None, :].expand(-1, X.shape[1], -1)  # (B, T, H): one vector for all steps
        outputs, hidden = self.rnn(torch.cat([emb, ctx], dim=-1), hidden)  # (B, T, H), (L, B, H)
        return self.dense(outputs), (hidden, context)  # (B, T, vocab)


class Seq2SeqAttentionDecoder(nn.Module):
    """Bahdanau's decoder: at every step the previous hidden state queries the encoder outputs.

    ``init_state((outputs, state), enc_valid_len)`` -> ``(outputs, state, enc_valid_len)``, as in
    d2l (but batch first: outputs ``(B, S, H)``). ``forward(X, state)``: X ``(B, T)`` ids -> logits
    ``(B, T, vocab)`` and the new state. After a call, ``self.attention_weights`` is ``(B, T, S)``: row t is where step t looked.
    ``attention`` is the package's ``AdditiveAttention`` (parameters ``W_q``, ``W_k``, ``w_v``);
    any module with the same ``forward(queries, keys, values, valid_lens)`` and
    ``attention_weights`` can replace it, e.g. ``DotProductAttention()``.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_size: int,
        num_hiddens: int,
        num_layers: int = 1,
        dropout: float = 0.0,
    ):
        super().__init__()
        _check_decoder_args(vocab_size, embed_size, num_hiddens, num_layers, dropout)
        self.attention = AdditiveAttention(
            num_hiddens, dropout, query_size=num_hiddens, key_size=num_hiddens
        )
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(
            embed_size + num_hiddens, num_hiddens, num_layers, dropout=dropout, batch_first=True
        )
        self.dense = nn.Linear(num_hiddens, vocab_size)
        self.attention_weights = None

    def init_state(self, enc_outputs, enc_valid_len=None):
        outputs, state = enc_outputs
        return (outputs, state, enc_valid_len)  # (B, S, H), (L, B, H), (B,)

    def forward(self, X: torch.Tensor, state):
        enc_outputs, hidden, enc_valid_len = state
        emb = self.embedding(_check_tokens("X", X))  # (B, T, e)
        extra = {}
        # Project the keys once per call, not once per step of the loop below. (A teacher-forced
        # call covers all T steps; greedy_decode calls this once per character, so it projects
        # them again at every character.)
        if isinstance(self.attention, AdditiveAttention):
            extra["key_features"] = self.attention.W_k(enc_outputs)  # (B, S, H)
        outputs, weights = [], []
        for t in range(X.shape[1]):
            query = hidden[-1][:, None, :]  # (B, 1, H): the state before writing character t
            context = self.attention(
                query, enc_outputs, enc_outputs, enc_valid_len, **extra
            )  # (B, 1, H)
            x = torch.cat([emb[:, t : t + 1], context], dim=-1)  # (B, 1, e + H)
            out, hidden = self.rnn(x, hidden)  # (B, 1, H), (L, B, H)
            outputs.append(out)
            weights.append(self.attention.attention_weights)  # (B, 1, S)
        self.attention_weights = torch.cat(weights, dim=1)  # (B, T, S)
        return self.dense(torch.cat(outputs, dim=1)), (
            enc_outputs,
            hidden,
            enc_valid_len,
        )  # (B, T, vocab)


class EncoderDecoder(nn.Module):
    """d2l's ``EncoderDecoder``: ``forward(enc_X, dec_X, *args)`` -> logits ``(B, T, vocab)``.

    ``enc_X`` ``(B, S)`` source ids, ``dec_X`` ``(B, T)`` decoder inputs (``<bos>`` + target: teacher
    forcing); ``*args`` go to both ``encoder(enc_X, *args)`` and
    ``decoder.init_state(enc_outputs, *args)``: here the source valid lengths ``(B,)``, so a call is
    ``model(src, tgt_in, src_valid_len)``, in d2l's order.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, enc_X, dec_X, *args):
        enc_outputs = self.encoder(enc_X, *args)  # (B, S, H), (L, B, H)
        state = self.decoder.init_state(enc_outputs, *args)
        return self.decoder(dec_X, state)[0]  # (B, T, vocab)


def train_seq2seq(
    models: dict[str, nn.Module],
    pairs: Sequence[tuple[str, str]],
    num_steps: int,
    batch_size: int = 128,
    lr: float = 0.01,
    vocab: CharVocab = DATE_VOCAB,
    seed: int = 0,
    progress: bool = True,
    *,
    generator: torch.Generator | None = None,
    eval_pairs: Sequence[tuple[str, str]] | None = None,
    eval_every: int | None = None,
) -> dict[str, dict]:
    """Train every model in ``models`` on the **same** batches, in turn, with Adam and clipping.

    The batches are drawn with ``generator`` if given (e.g. the one ``au.set_seed`` returns, so the
    claims tool can vary it), else with a generator seeded with ``seed``.

    Returns ``{name: {"losses": [...], "seconds": float, "curve": [(step, exact_match), ...]}}``:
    the cross-entropy of each step (pads ignored), the seconds that model's own training steps
    took, and, with ``eval_pairs`` and ``eval_every``, the held-out exact match (greedy decoding,
    see :func:`exact_match`) before training (step 0), after every ``eval_every`` steps and after
    the last step; evaluation time is not counted in ``seconds``. With ``progress=True`` a tqdm bar
    shows the steps (put that cell under ``nbval-ignore-output``).

    Each model is left in the mode (train or eval) it was in before the call.
    """
    num_steps = check_positive_int("num_steps", num_steps)
    batch_size = check_positive_int("batch_size", batch_size)
    if isinstance(lr, bool) or not isinstance(lr, int | float):
        raise TypeError(f"lr must be a float, got {type(lr).__name__}")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, got {lr}")
    if not models:
        raise ValueError("models is empty")
    if len(pairs) == 0:
        raise ValueError("pairs is empty")
    if (eval_pairs is None) != (eval_every is None):
        raise ValueError("give both eval_pairs and eval_every, or neither")
    if eval_every is not None:
        eval_every = check_positive_int("eval_every", eval_every)
        if len(eval_pairs) == 0:
            raise ValueError("eval_pairs is empty")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    gen = generator if generator is not None else torch.Generator().manual_seed(seed)
    opts = {n: torch.optim.Adam(m.parameters(), lr=lr) for n, m in models.items()}
    hist = {n: {"losses": [], "seconds": 0.0, "curve": []} for n in models}
    was_training = {n: m.training for n, m in models.items()}

    def evaluate(step: int) -> None:
        if eval_every is None:
            return
        for name, model in models.items():
            acc = exact_match(model, eval_pairs, vocab).float().mean().item()
            hist[name]["curve"].append((step, acc))

    steps = range(num_steps)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="training " + " + ".join(models))
    try:
        evaluate(0)
        for step in steps:
            idx = torch.randint(len(pairs), (batch_size,), generator=gen).tolist()
            src, src_len, tgt_in, tgt_out = batchify([pairs[i] for i in idx], vocab)
            for name, model in models.items():
                model.train()
                start = time.perf_counter()
                logits = model(src, tgt_in, src_len)  # (B, T, vocab)
                loss = F.cross_entropy(
                    logits.flatten(0, 1), tgt_out.flatten(), ignore_index=vocab.pad
                )
                opts[name].zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opts[name].step()
                hist[name]["seconds"] += time.perf_counter() - start
                hist[name]["losses"].append(loss.item())
            if eval_every is not None and ((step + 1) % eval_every == 0 or step + 1 == num_steps):
                evaluate(step + 1)
    finally:
        for name, model in models.items():
            model.train(was_training[name])
    return hist


@torch.no_grad()
def greedy_decode(
    model: EncoderDecoder, sources: Sequence[str], vocab: CharVocab = DATE_VOCAB, max_len: int = 12
) -> tuple[list[str], torch.Tensor | None]:
    """Decode each source string, feeding back the most likely character at every step.

    Returns the decoded strings and, for an attention model, the weights ``(B, max_len, S)``
    (step t's row is where it looked while writing character t; rows after ``<eos>`` are kept).
    The model runs in eval mode (no dropout) and is left in the mode it was in before the call.
    Each step is one call of the decoder, so an additive decoder projects the keys
    (``W_k(enc_outputs)``) again at every step: one small matmul, cheap next to the GRU step.
    """
    if isinstance(sources, str):
        raise TypeError("sources must be a list of strings, got a single str; wrap it in a list")
    max_len = check_positive_int("max_len", max_len)
    src, src_len, _, _ = batchify([(s, "") for s in sources], vocab)
    was_training = model.training
    model.eval()  # no dropout while decoding
    try:
        state = model.decoder.init_state(model.encoder(src, src_len), src_len)
        x = torch.full((len(sources), 1), vocab.bos, dtype=torch.long)  # (B, 1)
        ids, weights = [], []
        for _ in range(max_len):
            logits, state = model.decoder(x, state)  # (B, 1, vocab)
            x = logits.argmax(-1)  # (B, 1)
            ids.append(x)
            if model.decoder.attention_weights is not None:
                weights.append(model.decoder.attention_weights)  # (B, 1, S)
    finally:
        model.train(was_training)
    ids = torch.cat(ids, dim=1)  # (B, max_len)
    return [vocab.decode(row) for row in ids], (torch.cat(weights, dim=1) if weights else None)


def exact_match(
    model: EncoderDecoder,
    pairs: Sequence[tuple[str, str]],
    vocab: CharVocab = DATE_VOCAB,
    batch_size: int = 1000,
) -> torch.Tensor:
    """A ``(len(pairs),)`` bool tensor: True where the greedy output equals the target exactly."""
    hits = []
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i : i + batch_size]
        preds, _ = greedy_decode(model, [s for s, _ in chunk], vocab)
        hits += [p == t for p, (_, t) in zip(preds, chunk, strict=True)]
    return torch.tensor(hits)
