"""Lesson 06 explorers: moving a control changes what is shown, as the lesson says it should."""

import math

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

pytest.importorskip("ipywidgets")

from attention_utils.widgets import positions  # noqa: E402


@pytest.fixture
def data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 16, generator=g)
    return x, torch.randn(16, 8, generator=g) / 4, torch.randn(16, 8, generator=g) / 4


def test_shift_keeps_rope_scores_and_moves_absolute_ones(data):
    ex = positions.shift_explorer(*data, max_shift=100, step=10)
    assert ex.state["shift"] == 0 and ex.state["rope_change"] == 0
    assert ex.image.value[:4] == b"\x89PNG"
    ex.controls["shift"].value = 100
    assert ex.state["shift"] == 100 and ex.redraws == 2
    assert ex.state["rope_change"] < 1e-3  # RoPE: offsets only
    assert ex.state["absolute_change"] > 0.1  # absolute: the scores move
    assert "shift s = 100" in ex.text.value


def test_shift_scores_errors(data):
    x, W_q, W_k = data
    with pytest.raises(ValueError, match="shift must be"):
        positions.shift_scores(x, W_q, W_k, -1)
    with pytest.raises(ValueError, match="W_q, W_k both"):
        positions.shift_scores(x, W_q, W_k[:, :4], 0)


def test_slope_slider_changes_weights_and_entropy():
    ex = positions.slope_explorer(32)
    ex.controls["slope"].value = 4.0
    steep = dict(ex.state)
    ex.controls["slope"].value = 1 / 256
    flat = dict(ex.state)
    assert steep["argmax"] == flat["argmax"] == 31  # the query's own key wins
    assert steep["self_weight"] > 0.9 and steep["entropy"] < 0.2
    assert flat["entropy"] > math.log(32) - 0.05  # nearly uniform
    w = positions.alibi_row(0.5, 32)
    assert torch.allclose(w.sum(), torch.tensor(1.0, dtype=w.dtype))
    assert math.isclose(w[-2] / w[-1], math.exp(-0.5), rel_tol=1e-9)
    with pytest.raises(ValueError, match="slope must be"):
        positions.alibi_row(-1.0, 4)


def test_clock_offset_turns_every_hand_by_k_omega():
    ex = positions.clock_explorer(d=32, max_k=16)
    ex.controls["pair"].value = 1
    ex.controls["k"].value = 5
    omega = 10000 ** (-2 / 32)
    assert ex.state["pair"] == 1 and ex.state["k"] == 5
    assert math.isclose(ex.state["angle"], (5 * omega) % (2 * math.pi), rel_tol=1e-9)
    assert ex.state["same_turn_for_every_p"]
    hands = positions.clock_hands(1, 5, 32)
    want = torch.full((4,), (5 * omega) % (2 * math.pi), dtype=torch.float64)
    assert torch.allclose(hands["turn"], want, atol=1e-5)
    with pytest.raises(ValueError, match="pair must be"):
        positions.clock_hands(16, 1, 32)


def test_static_twins_and_benchmark_cases(data):
    import matplotlib.pyplot as plt

    for fig in (
        positions.shift_figure(*data),
        positions.slope_figure(),
        positions.clock_figure(),
    ):
        assert fig.get_size_inches().min() > 1
        plt.close(fig)
    for name, make, control, values in positions.benchmark_cases():
        ex = make()
        for v in values:
            ex.controls[control].value = v
        assert ex.redraws >= len(values), name
