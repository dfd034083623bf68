"""Tests for attention_utils.seq2seq: shapes, masking of padding, decoding, and a tiny training run."""

import pytest
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
        assert m(src, tgt_in, src_len).shape == (3, 11, V)
    w = att.decoder.attention_weights
    assert w.shape == (3, 11, 10)
    assert torch.allclose(w.sum(-1), torch.ones(3, 11), atol=1e-6)
    assert (w[1, :, 8:] == 0).all()  # the padding of the 8-character source gets no weight


def test_padding_does_not_change_the_result():
    att, base = models()
    alone = batchify(PAIRS[1:2])
    padded = batchify(PAIRS[:2])  # the second source is now padded from 8 to 10 characters
    for m in (att, base):
        a = m(alone[0], alone[2], alone[1])[0]
        b = m(padded[0], padded[2], padded[1])[1]
        assert torch.allclose(a, b, atol=1e-5)


def test_encoder_state_is_taken_at_the_last_real_character():
    enc = Seq2SeqEncoder(V, 8, 16)
    src, src_len, _, _ = batchify(PAIRS)
    outputs, state = enc(src, src_len)
    assert outputs.shape == (3, 10, 16) and state.shape == (1, 3, 16)
    assert torch.equal(state[0, 1], outputs[1, 7])
    assert (outputs[1, 8:] == 0).all()  # nothing past the valid length
    alone_out, alone_state = enc(src[1:2, :8])  # the same source with no padding at all
    assert torch.allclose(state[:, 1], alone_state[:, 0], atol=1e-6)
    assert torch.allclose(outputs[1, :8], alone_out[0], atol=1e-6)


@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_every_layer_state_ignores_padding(num_layers):
    torch.manual_seed(0)
    enc = Seq2SeqEncoder(V, 8, 16, num_layers=num_layers)
    src, src_len, _, _ = batchify(PAIRS)  # lengths 10, 8, 8: two sources are padded
    outputs, state = enc(src, src_len)
    assert state.shape == (num_layers, 3, 16)
    for b in range(3):
        n = int(src_len[b])
        alone_out, alone_state = enc(src[b : b + 1, :n])  # run without padding
        assert torch.allclose(state[:, b], alone_state[:, 0], atol=1e-6), (num_layers, b)
        assert torch.allclose(outputs[b, :n], alone_out[0], atol=1e-6)
        assert (outputs[b, n:] == 0).all()
    if num_layers > 1:  # without the lengths, the padding does reach the lower layers' states
        _, unpacked = enc(src)
        assert not torch.allclose(unpacked[0, 1], state[0, 1], atol=1e-4)


def test_encoder_checks_its_inputs():
    enc = Seq2SeqEncoder(V, 8, 16)
    src, src_len, _, _ = batchify(PAIRS)
    with pytest.raises(ValueError, match="valid_len must be at least 1"):
        enc(src, torch.tensor([10, 0, 8]))
    with pytest.raises(
        ValueError, match=r"valid_len can be at most the padded source length X.shape\[1\] = 10"
    ):
        enc(src, torch.tensor([11, 8, 8]))
    with pytest.raises(ValueError, match=r"valid_len must have shape \(3,\)"):
        enc(src, torch.tensor([10, 8]))
    with pytest.raises(TypeError, match="valid_len must hold whole numbers"):
        enc(src, torch.tensor([10.0, 7.5, 8.0]))
    with pytest.raises(TypeError, match="X must hold integer token ids"):
        enc(src.float(), src_len)
    with pytest.raises(ValueError, match="X must be 2-D"):
        enc(src[0], src_len)


@pytest.mark.parametrize("cls", [Seq2SeqEncoder, Seq2SeqDecoder, Seq2SeqAttentionDecoder])
def test_constructors_check_their_arguments(cls):
    with pytest.raises(TypeError, match="vocab_size must be an int"):
        cls(10.0, 8, 16)
    with pytest.raises(ValueError, match="embed_size must be positive"):
        cls(10, 0, 16)
    with pytest.raises(ValueError, match="num_hiddens must be positive"):
        cls(10, 8, -1)
    with pytest.raises(ValueError, match="num_layers must be positive"):
        cls(10, 8, 16, num_layers=0)
    with pytest.raises(ValueError, match="dropout must be in"):
        cls(10, 8, 16, dropout=1.0)


def test_training_and_decoding_check_their_arguments():
    att, _ = models()
    with pytest.raises(ValueError, match="lr must be a positive finite number"):
        train_seq2seq({"a": att}, PAIRS, num_steps=1, lr=0.0, progress=False)
    with pytest.raises(TypeError, match="lr must be a float"):
        train_seq2seq({"a": att}, PAIRS, num_steps=1, lr="0.01", progress=False)
    with pytest.raises(ValueError, match="pairs is empty"):
        train_seq2seq({"a": att}, [], num_steps=1, progress=False)
    with pytest.raises(ValueError, match="max_len must be positive"):
        greedy_decode(att, ["20000101"], max_len=0)
    with pytest.raises(TypeError, match="a single str"):
        greedy_decode(att, "20000101")


def test_encoder_decoder_uses_d2l_argument_order():
    att, _ = models()
    src, src_len, tgt_in, _ = batchify(PAIRS)
    enc_out = att.encoder(src, src_len)
    want = att.decoder(tgt_in, att.decoder.init_state(enc_out, src_len))[0]
    assert torch.equal(att(src, tgt_in, src_len), want)  # forward(enc_X, dec_X, *args)


def test_decoder_teacher_forcing_equals_step_by_step():
    att, _ = models()
    src, src_len, tgt_in, _ = batchify(PAIRS)
    full = att(src, tgt_in, src_len)
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
    # Well above chance (0): the exact level after 120 steps depends on the CPU's kernels and threads.
    assert exact_match(att, pairs).float().mean() > 0.2
    assert greedy_decode(base, ["20000101"])[1] is None


def test_attention_module_can_be_swapped():
    from attention_utils import DotProductAttention

    att, _ = models()
    att.decoder.attention = DotProductAttention()
    src, src_len, tgt_in, _ = batchify(PAIRS)
    assert att(src, tgt_in, src_len).shape == (3, 11, V)
    assert (att.decoder.attention_weights[1, :, 8:] == 0).all()


@pytest.mark.parametrize("training", [True, False])
def test_training_and_decoding_restore_the_previous_mode(training):
    att, base = models()
    for m in (att, base):
        m.train(training)
    train_seq2seq({"att": att, "base": base}, PAIRS, num_steps=2, batch_size=2, progress=False)
    assert att.training is training and base.training is training
    greedy_decode(att, ["20000101"])
    exact_match(base, PAIRS)
    assert att.training is training and base.training is training


def test_training_records_a_held_out_curve_and_takes_a_generator():
    att, base = models()
    hist = train_seq2seq(
        {"att": att, "base": base},
        PAIRS,
        num_steps=5,
        batch_size=2,
        progress=False,
        generator=torch.Generator().manual_seed(3),
        eval_pairs=PAIRS[:2],
        eval_every=2,
    )
    for name in ("att", "base"):
        curve = hist[name]["curve"]
        assert [s for s, _ in curve] == [0, 2, 4, 5]  # before training, every 2 steps, the last
        assert all(a in (0.0, 0.5, 1.0) for _, a in curve)  # exact match over 2 pairs
    assert hist["att"]["curve"][-1][1] == exact_match(att, PAIRS[:2]).float().mean().item()
    assert train_seq2seq({"att": att}, PAIRS, 1, progress=False)["att"]["curve"] == []


def test_the_generator_decides_the_batches():
    def run(gen=None, seed=0):
        att, _ = models()
        h = train_seq2seq(
            {"att": att}, PAIRS, 3, batch_size=2, seed=seed, progress=False, generator=gen
        )
        return h["att"]["losses"]

    assert run(torch.Generator().manual_seed(5)) == run(seed=5)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        run(gen=5)


def test_curve_arguments_are_checked():
    att, _ = models()
    with pytest.raises(ValueError, match="give both eval_pairs and eval_every"):
        train_seq2seq({"a": att}, PAIRS, 1, progress=False, eval_pairs=PAIRS)
    with pytest.raises(ValueError, match="eval_every must be positive"):
        train_seq2seq({"a": att}, PAIRS, 1, progress=False, eval_pairs=PAIRS, eval_every=0)
    with pytest.raises(ValueError, match="eval_pairs is empty"):
        train_seq2seq({"a": att}, PAIRS, 1, progress=False, eval_pairs=[], eval_every=1)
