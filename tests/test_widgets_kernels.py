"""Lesson 02 explorer: width, kernel and query controls; empty windows are gaps (NaN), not 0."""

import math

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

import attention_utils as au  # noqa: E402
from attention_utils.widgets import kernels  # noqa: E402

DATA = au.make_1d_regression()


def test_empty_windows_are_nan_not_zero():
    x_train, y_train, x_test, _ = DATA
    far = torch.tensor([3.0, 9.0])
    pred, weights = kernels.fit_with_gaps(x_train, y_train, far, "boxcar", 0.5)
    assert not math.isnan(pred[0]) and math.isnan(pred[1])
    assert weights[1].sum() == 0
    pred, _ = kernels.fit_with_gaps(x_train, y_train, x_test, "gaussian", 0.01)
    assert not torch.isnan(pred).any()  # the Gaussian always has an estimate


def test_controls_redraw_what_they_should():
    e = kernels.width_explorer(*DATA)
    assert e.state["empty_windows"] == 0
    assert sum(e.state["weights"]) == pytest.approx(1.0, abs=1e-5)
    e.controls["kernel"].value = "boxcar"
    e.controls["width"].value = 0.02
    assert e.state["empty_windows"] > 0  # narrow boxcar: many queries see no training point
    e.controls["query"].value = 0
    assert e.state["query_x"] == pytest.approx(0.0)
    e.controls["width"].value = 10.0
    assert e.state["empty_windows"] == 0
    assert e.state["effective_points"] == pytest.approx(60.0)  # every point inside: equal weights


def test_query_weights_are_the_row_of_the_band():
    x_train, y_train, x_test, y_test = DATA
    e = kernels.width_explorer(x_train, y_train, x_test, y_test, width=0.3, query=40)
    _, alpha = au.nadaraya_watson(x_test, x_train, y_train, width=0.3)
    assert torch.allclose(torch.tensor(e.state["weights"]), alpha[40])


def test_bad_query_is_named():
    with pytest.raises(ValueError, match="query"):
        kernels.draw_fit(None, *DATA, "gaussian", 0.3, 100)


def test_benchmark_cases_build_and_move():
    for name, make, control, values in kernels.benchmark_cases():
        e = make()
        e.controls[control].value = values[0]
        assert e.redraws == 2 and len(values) >= 2, name
