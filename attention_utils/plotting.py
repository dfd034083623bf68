"""Heatmaps of attention weights, with the same call as d2l's ``show_heatmaps``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["show_heatmaps"]


def _as_4d(matrices) -> np.ndarray:
    if isinstance(matrices, torch.Tensor):
        arr = matrices.detach().to("cpu", torch.float32).numpy()
    elif isinstance(matrices, np.ndarray | Sequence) and not isinstance(matrices, str | bytes):
        try:
            arr = np.asarray(matrices, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(f"matrices must be numeric, could not convert it: {err}") from err
    else:
        raise TypeError(
            f"matrices must be a torch.Tensor, a NumPy array or a nested list, got {type(matrices).__name__}"
        )
    if arr.ndim not in (2, 3, 4):
        raise ValueError(
            "matrices must be 2-D (queries, keys), 3-D (panels, queries, keys) or "
            f"4-D (rows, cols, queries, keys), got {arr.ndim}-D with shape {arr.shape}"
        )
    if arr.size == 0:
        raise ValueError(f"matrices is empty (shape {arr.shape})")
    if np.isnan(arr).any():
        raise ValueError("matrices contains NaN: attention weights should never be NaN")
    return arr.reshape((1,) * (4 - arr.ndim) + arr.shape)


def _check_labels(name: str, labels, size: int, axis: str) -> list[str] | None:
    if labels is None:
        return None
    if isinstance(labels, str) or not isinstance(labels, Sequence | np.ndarray):
        raise TypeError(f"{name} must be a list of {size} labels, got {type(labels).__name__}")
    if len(labels) != size:
        raise ValueError(f"{name} has {len(labels)} labels but the matrices have {size} {axis}")
    return [str(t) for t in labels]


def _panel_titles(titles, num_rows: int, num_cols: int) -> list[list[str | None]]:
    grid: list[list[str | None]] = [[None] * num_cols for _ in range(num_rows)]
    if titles is None:
        return grid
    if isinstance(titles, str):
        raise TypeError(
            "titles must be a list of strings (one per column or one per panel), got a str"
        )
    titles = list(titles)
    if titles and all(isinstance(t, Sequence) and not isinstance(t, str) for t in titles):
        if len(titles) != num_rows or any(len(row) != num_cols for row in titles):
            raise ValueError(
                f"titles given as a grid must be {num_rows} rows of {num_cols} strings"
            )
        return [[str(t) for t in row] for row in titles]
    if len(titles) == num_cols:  # d2l's convention: one title per column
        return [[str(t) for t in titles] for _ in range(num_rows)]
    if len(titles) == num_rows * num_cols:
        return [[str(titles[i * num_cols + j]) for j in range(num_cols)] for i in range(num_rows)]
    raise ValueError(
        f"titles has {len(titles)} entries; give {num_cols} (one per column) or "
        f"{num_rows * num_cols} (one per panel)"
    )


def _colour_scale(arr: np.ndarray, vmin, vmax) -> tuple[float, float, bool]:
    """The default colour scale: ``(lo, hi, signed)``, anchored at 0 (see ``show_heatmaps``)."""
    signed = bool(np.min(arr) < 0)
    if signed:
        m = float(np.max(np.abs(arr)))
        lo, hi = -m, m
    else:
        lo, hi = 0.0, float(np.max(arr))
    lo = lo if vmin is None else float(vmin)
    hi = hi if vmax is None else float(vmax)
    if hi <= lo:  # a constant matrix (all zeros, say) still gets a visible scale
        hi = lo + 1.0
    return lo, hi, signed


def show_heatmaps(
    matrices,
    xlabel: str = "Keys",
    ylabel: str = "Queries",
    titles=None,
    figsize: tuple[float, float] | None = None,
    cmap: str | None = None,
    *,
    xticklabels=None,
    yticklabels=None,
    vmin: float | None = None,
    vmax: float | None = None,
    colorbar: bool = True,
    colorbar_label: str | None = None,
    suptitle: str | None = None,
):
    """Draw a grid of heatmaps, one per attention matrix, and return the matplotlib Figure.

    Same positional arguments as d2l's ``show_heatmaps(matrices, xlabel, ylabel, titles, figsize,
    cmap)``, plus keyword-only extras.

    Args:
        matrices: weights of shape ``(queries, keys)``, ``(panels, queries, keys)`` (one row of
            panels) or ``(rows, cols, queries, keys)``. Tensor, array or nested list; never NaN.
        xlabel, ylabel: axis labels, drawn on the bottom row and the left column.
        titles: one title per column (d2l's convention), one per panel, or a rows x cols grid.
        figsize: the whole figure's size in inches; by default about 2.6 in per panel.
        cmap: a matplotlib colormap name. By default ``"Reds"`` for non-negative data (weights)
            and the diverging ``"RdBu_r"`` for signed data (scores, biases).
        xticklabels, yticklabels: token labels for the keys (x) and queries (y) axes.
        vmin, vmax: the colour scale, shared by every panel so that a colour means the same number
            in every panel. By default it starts at 0: ``[0, max]`` when no value is negative
            (attention weights), so a small weight is never drawn white; ``[-m, m]`` with
            ``m = max |value|``, centred at 0, when some value is negative.
        colorbar: draw one colorbar for the whole figure.
        colorbar_label: what the colours mean, e.g. ``"attention weight"``.
        suptitle: a title above the whole grid.

    Returns:
        The ``matplotlib.figure.Figure``. In a notebook, assign it (``fig = show_heatmaps(...)``) so it is shown once.
    """
    import matplotlib.pyplot as plt

    arr = _as_4d(matrices)
    num_rows, num_cols, num_queries, num_keys = arr.shape
    xt = _check_labels("xticklabels", xticklabels, num_keys, "keys (last axis)")
    yt = _check_labels("yticklabels", yticklabels, num_queries, "queries (second-to-last axis)")
    grid_titles = _panel_titles(titles, num_rows, num_cols)
    lo, hi, signed = _colour_scale(arr, vmin, vmax)
    if cmap is None:
        cmap = "RdBu_r" if signed else "Reds"
    rotate = xt is not None and max(len(t) for t in xt) > 2  # "a", "k0" stay upright
    if figsize is None:
        extra = 0.12 * max(len(t) for t in xt) if rotate else 0.0  # room for rotated labels
        figsize = (2.6 * num_cols + (0.9 if colorbar else 0.3), 2.6 * num_rows + 0.5 + extra)
    fig, axes = plt.subplots(
        num_rows,
        num_cols,
        figsize=figsize,
        sharex=True,
        sharey=True,
        squeeze=False,
        layout="constrained",
    )
    image = None
    for i in range(num_rows):
        for j in range(num_cols):
            ax = axes[i, j]
            image = ax.imshow(
                arr[i, j], cmap=cmap, vmin=lo, vmax=hi, aspect="auto", interpolation="nearest"
            )
            if i == num_rows - 1:
                ax.set_xlabel(xlabel)
            if j == 0:
                ax.set_ylabel(ylabel)
            if grid_titles[i][j] is not None:
                ax.set_title(grid_titles[i][j])
            if xt is not None:
                ax.set_xticks(range(num_keys), xt, rotation=90 if rotate else 0)
            if yt is not None:
                ax.set_yticks(range(num_queries), yt)
    if colorbar and image is not None:
        bar = fig.colorbar(image, ax=axes, shrink=0.8 if num_rows > 1 else 0.9)
        if colorbar_label:
            bar.set_label(colorbar_label)
    if suptitle:
        fig.suptitle(suptitle)
    return fig
