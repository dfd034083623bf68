"""Lesson 02 explorer: Nadaraya-Watson's kernel, width and one query's attention weights.

``width_explorer`` has a width slider, a kernel menu and a query slider. The top panel draws the fit;
a query whose window holds no training point has no estimate and is drawn as a **gap** (NaN), not
as 0. The bottom panel draws the chosen query's weights ``alpha(x, x_i)`` as bars at the training
inputs, so you see which points that prediction averages (one row of the lesson's band heatmap).

``fit_figure`` draws the same picture as a static pyplot figure for the lesson.
"""

from __future__ import annotations

import torch

from ..kernel_regression import KERNELS, make_1d_regression, nadaraya_watson
from ._base import Explorer, LiveFigure

__all__ = ["fit_with_gaps", "draw_fit", "fit_figure", "width_explorer", "benchmark_cases"]


def fit_with_gaps(x_train, y_train, x_test, kernel="gaussian", width=0.25):
    """Nadaraya-Watson predictions with NaN where a query has no key in its window.

    ``x_train``, ``y_train`` ``(n,)``; ``x_test`` ``(m,)``. Returns ``(pred (m,), weights (m, n))``;
    ``pred`` is NaN for a query whose weights are all 0 (``au.nadaraya_watson`` returns 0 there, a
    convention that a plot would draw as a fake dip to 0).
    """
    pred, weights = nadaraya_watson(x_test, x_train, y_train, kernel=kernel, width=width)
    empty = weights.sum(-1) == 0  # (m,)
    return pred.masked_fill(empty, float("nan")), weights


def draw_fit(fig, x_train, y_train, x_test, y_test, kernel, width, query) -> dict:
    """Top: data, truth and fit (gaps where a window is empty). Bottom: query ``query``'s weights."""
    if not 0 <= query < len(x_test):
        raise ValueError(f"query must be an index in [0, {len(x_test) - 1}], got {query}")
    pred, weights = fit_with_gaps(x_train, y_train, x_test, kernel, width)
    x_train, y_train, x_test = (torch.as_tensor(a).numpy() for a in (x_train, y_train, x_test))
    y_test = None if y_test is None else torch.as_tensor(y_test)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.4]})
    if y_test is not None:
        top.plot(x_test, y_test.numpy(), "k--", lw=1, label="truth")
    top.plot(x_train, y_train, "o", ms=3, alpha=0.5, label="training data")
    top.plot(x_test, pred.numpy(), "C3", lw=1.5, label=f"{kernel}, width {width:.3g}")
    xq = float(x_test[query])
    top.axvline(xq, color="C2", lw=1)
    if not torch.isnan(pred[query]):
        top.plot([xq], [float(pred[query])], "o", color="C2", ms=6, label="the query's prediction")
    top.legend(fontsize=7, loc="upper left")
    top.set_ylabel("y")
    row = weights[query]  # (n,)
    bottom.vlines(x_train, 0, row.numpy(), color="C2", lw=2.5)  # one collection: fast to redraw
    bottom.axvline(xq, color="C2", lw=1)
    bottom.set_ylim(0, max(0.05, float(row.max()) * 1.1))
    bottom.set_ylabel(f"α(x={xq:.2f}, x_i)", fontsize=8)
    bottom.set_xlabel("x (bars: the weights at the training inputs x_i)")
    empty = int(torch.isnan(pred).sum())
    shown = ~torch.isnan(pred)
    mse = (
        float(((pred[shown] - y_test[shown]) ** 2).mean())
        if y_test is not None and shown.any()
        else float("nan")
    )
    n_eff = float(1 / (row**2).sum()) if row.sum() > 0 else 0.0
    top.set_title(
        f"MSE against the truth {mse:.3f} over {int(shown.sum())} queries; "
        f"{empty} with an empty window (gaps)",
        fontsize=9,
    )
    return {
        "text": (
            f"query x = {xq:.2f}: prediction "
            + ("none (empty window)" if torch.isnan(pred[query]) else f"{float(pred[query]):.3f}")
            + f", {n_eff:.1f} effective points"
        ),
        "query_x": xq,
        "prediction": float(pred[query]),
        "weights": row.tolist(),
        "empty_windows": empty,
        "mse": mse,
        "effective_points": n_eff,
    }


def fit_figure(x_train, y_train, x_test, y_test=None, kernel="gaussian", width=0.25, query=50):
    """The static twin of ``width_explorer``: a pyplot Figure for one kernel, width and query."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(6, 3.8), layout="constrained")
    draw_fit(fig, x_train, y_train, x_test, y_test, kernel, width, query)
    return fig


def width_explorer(
    x_train, y_train, x_test, y_test=None, width=0.25, kernel="gaussian", query=50
) -> Explorer:
    """Width and kernel controls plus a query slider; the fit and that query's weights redraw live.

    Controls: ``width`` (FloatLogSlider 0.01..10), ``kernel`` (Dropdown), ``query`` (IntSlider, an
    index into ``x_test``). ``state``: ``prediction`` (NaN for an empty window), ``weights`` (list of
    ``n``), ``empty_windows``, ``mse``, ``effective_points``, ``query_x``.
    """
    import ipywidgets as widgets

    controls = {
        "width": widgets.FloatLogSlider(
            value=width, base=10, min=-2, max=1, step=0.05, description="width"
        ),
        "kernel": widgets.Dropdown(options=list(KERNELS), value=kernel, description="kernel"),
        "query": widgets.IntSlider(value=query, min=0, max=len(x_test) - 1, description="query #"),
    }

    def draw(fig, width, kernel, query):
        return draw_fit(fig, x_train, y_train, x_test, y_test, kernel, width, query)

    live = LiveFigure(
        draw, figsize=(6, 3.8), margins=dict(left=0.1, right=0.98, bottom=0.13, top=0.93)
    )
    return Explorer(controls, figure=live)


def benchmark_cases():
    """``(name, make_explorer, control, values)`` for the shared redraw benchmark."""
    data = make_1d_regression()

    def make():
        return width_explorer(*data)

    return [
        ("kernels.width_explorer (width)", make, "width", [0.03, 0.1, 1.0, 5.0]),
        ("kernels.width_explorer (kernel)", make, "kernel", ["boxcar", "epanechnikov", "gaussian"]),
        ("kernels.width_explorer (query)", make, "query", [0, 30, 60, 99]),
    ]
