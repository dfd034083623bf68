"""Synthetic sequence tasks: targets, disjoint splits, determinism, accuracy, and a training smoke test."""

from __future__ import annotations

import pytest
import torch

from attention_utils import (
    TASKS,
    SequenceTagger,
    make_sequence_task,
    sequence_accuracy,
    train_tagger,
)


@pytest.mark.parametrize(
    "task, rule",
    [
        ("copy", lambda row: row),
        ("reverse", lambda row: row[::-1]),
        ("sort", sorted),
    ],
)
def test_targets_follow_the_rule(task, rule):
    split = make_sequence_task(task, 200, 50, seq_len=7, vocab_size=5, seed=1)
    for X, Y in ((split.X_train, split.Y_train), (split.X_test, split.Y_test)):
        for x, y in zip(X.tolist(), Y.tolist(), strict=True):
            assert y == list(rule(x))


def test_shapes_dtype_and_range():
    split = make_sequence_task("reverse", 300, 40, seq_len=9, vocab_size=4)
    assert split.X_train.shape == split.Y_train.shape == (300, 9)
    assert split.X_test.shape == split.Y_test.shape == (40, 9)
    for t in split:
        assert t.dtype == torch.long
        assert t.min() >= 0 and t.max() < 4
    assert sorted(TASKS) == ["copy", "reverse", "sort"]


def test_no_duplicates_and_no_overlap():
    # 3**6 = 729 possible sequences: asking for 700 forces many collisions to be rejected.
    split = make_sequence_task("copy", 600, 100, seq_len=6, vocab_size=3)
    rows = [tuple(r) for r in torch.cat([split.X_train, split.X_test]).tolist()]
    assert len(set(rows)) == 700
    assert not set(map(tuple, split.X_train.tolist())) & set(map(tuple, split.X_test.tolist()))


def test_every_sequence_can_be_used():
    split = make_sequence_task("copy", 6, 2, seq_len=3, vocab_size=2)  # all 8 sequences
    rows = {tuple(r) for r in torch.cat([split.X_train, split.X_test]).tolist()}
    assert len(rows) == 8


def test_seed_decides_the_data_and_global_state_does_not():
    torch.manual_seed(123)
    a = make_sequence_task("sort", 50, 10, seed=3)
    torch.manual_seed(456)
    b = make_sequence_task("sort", 50, 10, seed=3)
    c = make_sequence_task("sort", 50, 10, seed=4)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not torch.equal(a.X_train, c.X_train)


def test_digits_are_roughly_uniform():
    split = make_sequence_task("copy", 5000, 10, seq_len=8, vocab_size=10)
    freq = torch.bincount(split.X_train.flatten(), minlength=10).float() / split.X_train.numel()
    assert torch.allclose(freq, torch.full((10,), 0.1), atol=0.01)


@pytest.mark.parametrize(
    "args, kwargs, err, words",
    [
        (("rotate", 10, 5), {}, ValueError, "task must be one of"),
        (("copy", 0, 5), {}, ValueError, "num_train"),
        (("copy", 10, 2.0), {}, TypeError, "num_test"),
        (("copy", 10, 5), {"seq_len": 0}, ValueError, "seq_len"),
        (("copy", 10, 5), {"seed": 1.5}, TypeError, "seed"),
        (("copy", 6, 3), {"seq_len": 3, "vocab_size": 2}, ValueError, "8 distinct sequences"),
    ],
)
def test_bad_arguments(args, kwargs, err, words):
    with pytest.raises(err, match=words):
        make_sequence_task(*args, **kwargs)


def test_sequence_accuracy_counts_tokens_and_whole_sequences():
    Y = torch.tensor([[0, 1, 2], [2, 2, 2]])
    pred = torch.tensor([[0, 1, 2], [2, 0, 2]])  # 5 of 6 tokens right; 1 of 2 sequences
    logits = torch.nn.functional.one_hot(pred, 3).float()  # (N, T, C)
    token_acc, seq_acc = sequence_accuracy(logits, Y)
    assert token_acc == pytest.approx(5 / 6)
    assert seq_acc == pytest.approx(0.5)
    with pytest.raises(ValueError, match="logits must be"):
        sequence_accuracy(logits[:, :2], Y)


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices train faster on one thread
    yield
    torch.set_num_threads(before)


def test_train_tagger_learns_reversal_and_is_repeatable(one_thread):
    split = make_sequence_task("reverse", 4000, 500, seq_len=6, vocab_size=10, seed=0)

    def fit():
        torch.manual_seed(0)
        model = SequenceTagger(10, 32, 64, 2, 1, max_len=6)
        losses = train_tagger(model, split.X_train, split.Y_train, num_steps=150)
        return model, losses

    model, losses = fit()
    assert not model.training
    assert len(losses) == 150
    assert losses[-1] < losses[0] / 10
    with torch.no_grad():
        token_acc, _ = sequence_accuracy(model(split.X_test), split.Y_test)
    assert token_acc > 0.95
    assert fit()[1] == losses


def test_train_tagger_rejects_mismatched_data():
    model = SequenceTagger(5, 8, 16, 2, 1)
    with pytest.raises(ValueError, match="X and Y"):
        train_tagger(
            model, torch.zeros(4, 3, dtype=torch.long), torch.zeros(4, 2, dtype=torch.long)
        )
    with pytest.raises(ValueError, match="num_steps"):
        train_tagger(
            model,
            torch.zeros(4, 3, dtype=torch.long),
            torch.zeros(4, 3, dtype=torch.long),
            num_steps=0,
        )


def test_train_tagger_rejects_bad_arguments():
    model = SequenceTagger(5, 8, 16, 2, 1)
    X = torch.zeros(4, 3, dtype=torch.long)
    cases = [
        (dict(model="not a model"), TypeError, "model"),
        (dict(X=X.float()), TypeError, "X must hold integer ids"),
        (dict(Y=X.tolist()), TypeError, "Y must be a torch.Tensor"),
        (dict(lr=0.0), ValueError, "lr"),
        (dict(lr=float("nan")), ValueError, "lr"),
        (dict(lr="0.01"), TypeError, "lr"),
        (dict(seed=1.5), TypeError, "seed"),
        (dict(X=X[:0], Y=X[:0]), ValueError, "N > 0"),
    ]
    for change, err, words in cases:
        kwargs = dict(model=model, X=X, Y=X, num_steps=1) | change
        with pytest.raises(err, match=words):
            train_tagger(**kwargs)


def test_train_tagger_materializes_without_recording_gradients():
    model = SequenceTagger(5, 8, 16, 2, 1)
    X = torch.zeros(4, 3, dtype=torch.long)
    losses = train_tagger(model, X, X, num_steps=1, batch_size=2)
    assert len(losses) == 1
    # A lazy model works too: the materializing call happens before the optimizer is built.
    lazy = torch.nn.Sequential(torch.nn.Embedding(5, 4), torch.nn.LazyLinear(5))
    assert len(train_tagger(lazy, X, X, num_steps=2)) == 2
    assert all(p.grad is not None for p in lazy.parameters())


def test_duplicates_are_found_exactly_beyond_float64_precision(monkeypatch):
    """Rows that differ only in their last token are different sequences, however long they are.

    With vocab_size=2 and seq_len=60, a base-2 code of a row needs 60 bits: in float64 (53 bits) the
    two rows below would get the same code and one would be dropped as a "duplicate".
    """
    from attention_utils import tasks

    a = torch.ones(60, dtype=torch.long)
    b = a.clone()
    b[-1] = 0
    draws = iter([torch.stack([a, b, a] + [a] * 17)])  # 2 * 2 + 16 = 20 rows: a, b, then repeats

    def fake_randint(low, high, size, generator=None):
        return next(draws)

    monkeypatch.setattr(tasks.torch, "randint", fake_randint)
    rows = tasks._unique_sequences(2, 60, 2, torch.Generator())
    assert rows.tolist() == [a.tolist(), b.tolist()]


def test_train_tagger_seed_follows_the_claims_tools_offset(one_thread, monkeypatch):
    """AU_SEED_OFFSET=1 with seed=0 draws the same minibatches as seed=1 without an offset."""
    split = make_sequence_task("reverse", 300, 10, seq_len=5, vocab_size=6, seed=0)

    def losses(seed):
        torch.manual_seed(0)  # the same start for both runs
        model = SequenceTagger(6, 8, 16, 2, 1, max_len=5)
        return train_tagger(model, split.X_train, split.Y_train, num_steps=3, seed=seed)

    monkeypatch.delenv("AU_SEED_OFFSET", raising=False)
    plain_1, plain_0 = losses(1), losses(0)
    monkeypatch.setenv("AU_SEED_OFFSET", "1")
    assert losses(0) == plain_1 != plain_0
