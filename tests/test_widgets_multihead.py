"""Lesson 05 explorers: moving a control changes what is shown, as the lesson says it should."""

import math

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

pytest.importorskip("ipywidgets")

from attention_utils.widgets import multihead  # noqa: E402


def test_toy_weights_are_the_lessons():
    W = multihead.toy_weights()  # (2, 7, 7): the lesson's hand-set model at sharpness 10
    assert W.shape == (2, 7, 7)
    match = math.exp(10 / math.sqrt(8))  # the package divides by sqrt(d_head) = sqrt(8)
    assert math.isclose(W[0, 4, 0].item(), match / (2 * match + 5), rel_tol=1e-5)
    assert torch.equal(W[1, 1:].argmax(-1), torch.arange(6))  # head 1: the previous token
    one = multihead.toy_weights(num_heads=1)[0, 4]  # one head asks both questions
    assert set(one.topk(3).indices.tolist()) == {0, 3, 4}
    flat = multihead.toy_weights(sharpness=0)
    assert torch.allclose(flat, torch.full_like(flat, 1 / 7))


def test_query_dropdown_moves_the_row():
    ex = multihead.toy_heads_explorer()
    assert ex.state["query"] == 4 and ex.state["num_heads"] == 2
    assert ex.state["top_keys"][1] == 3  # "the" at 4: head 1 looks at "on"
    assert ex.image.value[:4] == b"\x89PNG"
    ex.controls["query"].value = 2
    assert ex.state["query"] == 2 and ex.redraws == 2
    assert ex.state["top_keys"] == [2, 1]  # "sat": itself, and "cat" before it
    assert "query 2:sat" in ex.text.value


def test_sharpness_slider_sharpens():
    ex = multihead.toy_heads_explorer()
    ex.controls["query"].value = 1  # "cat": one matching word
    ex.controls["sharpness"].value = 0
    assert all(abs(w - 1 / 7) < 1e-4 for row in ex.state["weights"] for w in row)
    ex.controls["sharpness"].value = 20
    assert min(ex.state["largest"]) > 0.95
    assert "20 / sqrt(8) = 7.07" in ex.text.value


def test_heads_toggle_mixes_the_questions():
    ex = multihead.toy_heads_explorer()
    ex.controls["heads"].value = 1
    assert ex.state["num_heads"] == 1 and len(ex.state["weights"]) == 1
    row = ex.state["weights"][0]  # query "the" (4): same word 0, 4 and previous 3 share the peak
    assert sorted(range(7), key=lambda j: -row[j])[:3] == sorted([0, 3, 4], key=lambda j: -row[j])
    assert "10 / sqrt(16) = 2.50" in ex.text.value  # one head of 16 features
    ex.controls["heads"].value = 2
    assert ex.state["num_heads"] == 2


def test_toy_errors():
    with pytest.raises(ValueError, match="num_heads must be 1 or 2"):
        multihead.toy_state_dict(num_heads=3)
    with pytest.raises(ValueError, match="sharpness"):
        multihead.toy_weights(sharpness=-1.0)
    with pytest.raises(TypeError, match="tokens"):
        multihead.toy_inputs("the cat")
    with pytest.raises(ValueError, match="query must be"):
        multihead.toy_heads_figure(query=7)


def test_split_heads_right_and_wrong():
    parts = multihead.split_heads(4, 2, 2)
    assert parts["right"][0].tolist() == [[0, 1], [10, 11], [20, 21], [30, 31]]
    assert parts["wrong"][0].tolist() == [[0, 1], [2, 3], [10, 11], [12, 13]]
    assert torch.equal(parts["merged"], parts["X"])  # there and back
    with pytest.raises(ValueError, match="at most 10"):
        multihead.split_heads(2, 4, 3)
    with pytest.raises(ValueError, match="n must be"):
        multihead.split_heads(0, 2, 2)


def test_view_transpose_sliders():
    ex = multihead.view_transpose_explorer()
    assert ex.state["misplaced"] == 12 and not ex.state["same"]
    ex.controls["h"].value = 1  # one head: nothing to transpose
    assert ex.state["same"] and ex.state["misplaced"] == 0
    assert "both layouts agree" in ex.text.value
    ex.controls["h"].value = 3
    ex.controls["d_head"].value = 3
    ex.controls["n"].value = 6
    assert (ex.state["n"], ex.state["h"], ex.state["d_head"]) == (6, 3, 3)
    assert len(ex.state["right"]) == 3 and len(ex.state["right"][0]) == 6
    assert ex.state["right"][2][5] == [56, 57, 58]  # head 2 of token 5: its features 6..8
    assert ex.state["misplaced"] > 0
    ex.controls["n"].value = 1
    assert ex.state["same"]


def test_static_twins_draw():
    import matplotlib.pyplot as plt

    for fig in (
        multihead.toy_heads_figure(),
        multihead.split_merge_figure(),
        multihead.view_transpose_figure(),
    ):
        assert fig.get_size_inches().min() > 1
        plt.close(fig)


def test_benchmark_cases_run():
    for name, make, control, values in multihead.benchmark_cases():
        ex = make()
        ex.controls[control].value = values[
            -1
        ]  # one move each: the benchmark script times them all
        assert ex.controls[control].value == values[-1], name
