"""Lesson 03 explorers: the sqrt(d) scaling and the two boolean-mask conventions."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from attention_utils.widgets import scoring  # noqa: E402


def test_saturation_numbers():
    # the newcomer review's measurement: the gradient to q is larger unscaled at d = 64 (the extra
    # sqrt(d)), much smaller at d = 256 and 1024 (saturation)
    s64, u64 = scoring.saturation_stats(64, True), scoring.saturation_stats(64, False)
    assert u64["grad_q"] > 1.5 * s64["grad_q"]
    assert u64["grad_scores"] < s64["grad_scores"]
    s1k, u1k = scoring.saturation_stats(1024, True), scoring.saturation_stats(1024, False)
    assert u1k["grad_q"] < 1e-2 * s1k["grad_q"] and u1k["mean_max"] > 0.9
    assert all(0.2 < scoring.saturation_stats(d, True)["mean_max"] < 0.3 for d in scoring.DIMS)


def test_scaling_controls_redraw():
    e = scoring.scaling_explorer()
    e.controls["d"].value = 1024
    unscaled = e.state["mean_max"]
    e.controls["scaled"].value = True
    assert e.state["mean_max"] < unscaled - 0.5
    assert e.state["grad_q"] == pytest.approx(scoring.saturation_stats(1024, True)["grad_q"])


def test_mask_conventions():
    e = scoring.mask_explorer(valid_len=4)
    assert e.state["mask"] == [True] * 4 + [False] * 2
    assert e.state["sdpa_ok"] and not e.state["mha_ok"]
    e.controls["convention"].value = "True means ignore"
    assert e.state["mask"] == [False] * 4 + [True] * 2
    assert e.state["mha_ok"] and not e.state["sdpa_ok"]
    e.controls["valid_len"].value = 0  # all True = ignore every key: MHA's weights are NaN
    assert e.state["mha_nan"] and not e.state["sdpa_nan"]
    e.controls["convention"].value = "True means keep"  # all False: SDPA returns zeros, no NaN
    assert e.state["sdpa_ok"] and not e.state["sdpa_nan"]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="convention"):
        scoring.mask_weights(2, "keep")
    with pytest.raises(ValueError, match="valid_len"):
        scoring.mask_weights(9, "True means keep")


def test_benchmark_cases_build_and_move():
    for name, make, control, values in scoring.benchmark_cases():
        e = make()
        e.controls[control].value = values[0]
        assert e.redraws == 2 and len(values) >= 2, name
