"""Tests for attention_utils.seq2seq: shapes, masking of padding, decoding, and a tiny training run."""

import torch

from attention_utils.dates import DATE_VOCAB, batchify
from attention_utils.seq2seq import (
    EncoderDecoder,
    Seq2SeqAttentionDecoder,
    Seq2SeqDecoder,
    Seq2SeqEncoder,
    exact_match,
    greedy_decode,
    train_seq2seq,
)

V = len(DATE_VOCAB)


def models(h=16):
    torch.manual_seed(0)
    att = EncoderDecoder(Seq2SeqEncoder(V, 8, h), Seq2SeqAttentionDecoder(V, 8, h))
    base = EncoderDecoder(Seq2SeqEncoder(V, 8, h), Seq2SeqDecoder(V, 8, h))
    return att, base


PAIRS = [("3 Mar 2021", "2021-03-03"), ("03.03.21", "2021-03-03"), ("20000101", "2000-01-01")]


def test_shapes_and_attention_weights():
    att, base = models()
    src, src_len, tgt_in, _ = batchify(PAIRS)
    for m in (att, base):
        assert m(src, src_len, tgt_in).shape == (3, 11, V)
    w = att.decoder.attention_weights
    assert w.shape == (3, 11, 10)
    assert torch.allclose(w.sum(-1), torch.ones(3, 11), atol=1e-6)
    assert (w[1, :, 8:] == 0).all()  # the padding of the 8-character source gets no weight


def test_padding_does_not_change_the_result():
    att, base = models()
    alone = batchify(PAIRS[1:2])
    padded = batchify(PAIRS[:2])  # the second source is now padded from 8 to 10 characters
    for m in (att, base):
        a = m(*alone[:3])[0]
        b = m(*padded[:3])[1]
        assert torch.allclose(a, b, atol=1e-5)


def test_encoder_state_is_taken_at_the_last_real_character():
    enc = Seq2SeqEncoder(V, 8, 16)
    src, src_len, _, _ = batchify(PAIRS)
    outputs, state = enc(src, src_len)
    assert outputs.shape == (3, 10, 16) and state.shape == (1, 3, 16)
    assert torch.equal(state[0, 1], outputs[1, 7])


def test_decoder_teacher_forcing_equals_step_by_step():
    att, _ = models()
    src, src_len, tgt_in, _ = batchify(PAIRS)
    full = att(src, src_len, tgt_in)
    dec = att.decoder
    state = dec.init_state(att.encoder(src, src_len), src_len)
    steps = []
    for t in range(tgt_in.shape[1]):
        logits, state = dec(tgt_in[:, t : t + 1], state)
        steps.append(logits)
    assert torch.allclose(full, torch.cat(steps, 1), atol=1e-5)


def test_training_learns_and_decoding_works():
    torch.manual_seed(0)
    att, base = models(h=32)
    pairs = [
        (f"20{y:02d}{m:02d}{d:02d}", f"20{y:02d}-{m:02d}-{d:02d}")
        for y in range(3)
        for m in (1, 2)
        for d in (1, 2, 3)
    ]
    hist = train_seq2seq(
        {"att": att, "base": base}, pairs, num_steps=120, batch_size=16, lr=0.02, progress=False
    )
    for name in ("att", "base"):
        losses = hist[name]["losses"]
        assert len(losses) == 120 and sum(losses[-10:]) < 0.5 * sum(losses[:10])
        assert hist[name]["seconds"] > 0
    preds, weights = greedy_decode(att, [s for s, _ in pairs])
    assert weights.shape == (len(pairs), 12, 8)
    assert exact_match(att, pairs).float().mean() > 0.5
    assert greedy_decode(base, ["20000101"])[1] is None


def test_attention_module_can_be_swapped():
    from attention_utils import DotProductAttention

    att, _ = models()
    att.decoder.attention = DotProductAttention()
    src, src_len, tgt_in, _ = batchify(PAIRS)
    assert att(src, src_len, tgt_in).shape == (3, 11, V)
    assert (att.decoder.attention_weights[1, :, 8:] == 0).all()
