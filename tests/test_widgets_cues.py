"""Lesson 01 explorers: moving a control changes what is shown (no browser needed)."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from attention_utils.widgets import cues  # noqa: E402

VOCAB = ["attention", "softmax", "kernel", "regression", "pasta", "sauce"]
TITLES = [
    "attention and softmax",
    "kernel regression",
    "attention as kernel regression",
    "pasta sauce",
]
CONTENTS = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.6, 0.4, 0.0], [0.0, 0.0, 1.0]])


def test_search_is_score_softmax_blend():
    res = cues.search("kernel regression", VOCAB, TITLES, CONTENTS)
    assert res["scores"].tolist() == [0.0, 2.0, 2.0, 0.0]
    assert torch.allclose(res["weights"], torch.softmax(res["scores"], -1))
    assert torch.allclose(res["output"], res["weights"] @ CONTENTS)


def test_query_box_and_temperature_redraw():
    e = cues.query_explorer(VOCAB, TITLES, CONTENTS)
    assert e.state["best"] == "kernel regression" and e.image.value[:4] == b"\x89PNG"
    before = e.redraws
    e.controls["query"].value = "pasta"
    assert e.redraws == before + 1 and e.state["best"] == "pasta sauce"
    assert e.state["weights"][3] == pytest.approx(0.475, abs=1e-3)
    e.controls["temperature"].value = 0.1  # sharper: the best match takes almost everything
    assert e.state["weights"][3] > 0.99
    e.controls["temperature"].value = 10.0  # flatter: close to average pooling
    assert max(e.state["weights"]) < 0.3
    e.controls["query"].value = "pasta pizza"
    assert e.state["unknown"] == ["pizza"]
    assert sum(e.state["weights"]) == pytest.approx(1.0)


def test_dim_toggle_shows_the_sums():
    scores = torch.randn(5, 5, generator=torch.Generator().manual_seed(0))
    e = cues.axis_explorer(scores)
    assert e.state["rows_sum_to_one"] and e.state["row_sums"] == pytest.approx([1.0] * 5)
    e.controls["dim"].value = 0
    assert not e.state["rows_sum_to_one"]
    assert e.state["col_sums"] == pytest.approx([1.0] * 5)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="temperature"):
        cues.search("x", VOCAB, TITLES, CONTENTS, temperature=0)
    with pytest.raises(ValueError, match="dim"):
        cues.draw_axis(None, torch.zeros(2, 2), dim=2)
    with pytest.raises(TypeError, match="text"):
        cues.bag_of_words(3, VOCAB)


def test_benchmark_cases_build_and_move():
    for name, make, control, values in cues.benchmark_cases():
        e = make()
        e.controls[control].value = values[0]
        assert e.redraws == 2 and len(values) >= 2, name
