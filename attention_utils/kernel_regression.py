"""Nadaraya-Watson kernel regression: attention pooling by similarity (lesson 02).

A query x attends to the training inputs (the keys) x_i; the weights come from a kernel of the
distance x - x_i, normalized to sum to 1; the prediction is the weighted average of the targets
(the values) y_i.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._checks import as_tensor, check_floating, check_ndim, check_positive_int

__all__ = [
    "make_1d_regression",
    "gaussian_kernel",
    "boxcar_kernel",
    "epanechnikov_kernel",
    "KERNELS",
    "nadaraya_watson",
    "NWKernelRegression",
]


def target_function(x: torch.Tensor) -> torch.Tensor:
    """The smooth curve behind the synthetic data: a slow wave on a gentle slope."""
    return 1.5 * torch.sin(1.3 * x) + 0.4 * x


def make_1d_regression(
    n_train: int = 60, n_test: int = 100, noise: float = 0.4, x_max: float = 6.0, seed: int = 0
):
    """Noisy samples of a smooth 1-D function, made here, with no download.

    Returns ``x_train (n_train,)`` sorted, ``y_train (n_train,)`` noisy, ``x_test (n_test,)`` evenly
    spaced on ``[0, x_max]`` and ``y_test (n_test,)`` the noise-free truth there.
    """
    n_train = check_positive_int("n_train", n_train)
    n_test = check_positive_int("n_test", n_test)
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    g = torch.Generator().manual_seed(seed)
    x_train, _ = torch.sort(torch.rand(n_train, generator=g) * x_max)
    y_train = target_function(x_train) + noise * torch.randn(n_train, generator=g)
    x_test = torch.linspace(0, x_max, n_test)
    return x_train, y_train, x_test, target_function(x_test)


def _check_width(width) -> None:
    """A kernel width is one positive number (``inf`` allowed: the limit of average pooling)."""
    if isinstance(width, torch.Tensor):
        if width.numel() != 1:
            raise ValueError(
                f"width must be a single number, got a tensor of shape {tuple(width.shape)}"
            )
        if torch.isnan(width).any() or (width <= 0).any():
            raise ValueError(f"width must be positive, got {width.item()}")
    elif isinstance(width, bool) or not isinstance(width, int | float):
        raise TypeError(f"width must be a number or a scalar tensor, got {type(width).__name__}")
    elif not width > 0:  # also catches NaN
        raise ValueError(f"width must be a positive number, got {width!r}")


def gaussian_kernel(d: torch.Tensor, width=1.0) -> torch.Tensor:
    """exp(-d^2 / (2 width^2)): every key gets some weight, decaying smoothly with distance."""
    _check_width(width)
    return torch.exp(-(d**2) / (2 * width**2))


def boxcar_kernel(d: torch.Tensor, width=1.0) -> torch.Tensor:
    """1 where |d| <= width, else 0: a plain average of the neighbours within the window."""
    _check_width(width)
    return (d.abs() <= width).to(d.dtype)


def epanechnikov_kernel(d: torch.Tensor, width=1.0) -> torch.Tensor:
    """max(0, 1 - (d / width)^2): smooth inside the window and exactly 0 outside it."""
    _check_width(width)
    return torch.clamp(1 - (d / width) ** 2, min=0)


KERNELS = {
    "gaussian": gaussian_kernel,
    "boxcar": boxcar_kernel,
    "epanechnikov": epanechnikov_kernel,
}


def _gaussian_weights(d: torch.Tensor, width, hidden: torch.Tensor | None = None) -> torch.Tensor:
    """Gaussian attention weights softmax(-d^2 / (2 width^2)) over the last axis, never NaN.

    ``d`` is ``(n_queries, n_keys)``; ``hidden`` (same shape, bool) marks keys a query may not use.
    Measuring d^2 from each query's nearest allowed key changes nothing mathematically (softmax
    ignores a shift) but keeps the weights exact for tiny widths, where exp(-d^2 / 2w^2) underflows
    to 0 for every key (0/0 = NaN): the nearest key's score is 0, so it always keeps its weight.
    A query with no allowed key gets all-zero weights. Returns ``(n_queries, n_keys)``.
    """
    _check_width(width)
    if hidden is None:
        hidden = torch.zeros(d.shape, dtype=torch.bool, device=d.device)
    empty = hidden.all(dim=-1, keepdim=True)  # (n_queries, 1)
    d2 = d**2  # (n_queries, n_keys)
    nearest = d2.masked_fill(hidden, float("inf")).amin(dim=-1, keepdim=True)  # (n_queries, 1)
    gap = d2 - nearest.masked_fill(empty, 0.0)  # (n_queries, n_keys), >= 0 on allowed keys
    scores = torch.where(gap > 0, -gap / (2 * width**2), torch.zeros_like(gap))
    scores = scores.masked_fill(hidden, float("-inf")).masked_fill(empty, 0.0)
    return torch.softmax(scores, dim=-1).masked_fill(empty, 0.0)


def nadaraya_watson(
    queries, keys, values, kernel="gaussian", width=1.0, exclude_self: bool = False
):
    """Predict ``values`` at ``queries`` by kernel-weighted averaging.

    Args:
        queries: ``(n_queries,)`` inputs where we want predictions.
        keys: ``(n_keys,)`` training inputs.
        values: ``(n_keys,)`` training targets.
        kernel: a name in ``KERNELS`` or a function ``k(d, width)``.
        width: the kernel's width (a float or a scalar tensor, possibly with ``requires_grad``).
        exclude_self: leave each key out of its own prediction (needs ``queries`` to be ``keys``;
            used for leave-one-out training).

    Returns:
        ``(predictions (n_queries,), weights (n_queries, n_keys))``. Each row of ``weights`` sums to 1;
        a query with no key inside a compact kernel's window (or no key at all once its own is left
        out) gets all-zero weights and prediction 0. The Gaussian never returns NaN: as ``width``
        shrinks it tends to the nearest key's value, as ``width`` grows to the plain average.
        (In float32 the gradient with respect to ``width`` stays finite down to widths of about
        1e-9 for data on a scale of 1; train the log of the width, as ``NWKernelRegression`` does.)

    Raises:
        TypeError: non-numeric or integer inputs, or a width that is not a number.
        ValueError: inputs that are not 1-D, keys and values of different lengths, a width that is
            not positive, an unknown kernel name, or ``exclude_self`` with queries that are not the keys.
    """
    q, k, v = as_tensor("queries", queries), as_tensor("keys", keys), as_tensor("values", values)
    for name, x in (("queries", q), ("keys", k), ("values", v)):
        check_floating(name, x)
        check_ndim(name, x, 1, "(n,)")
    if k.shape != v.shape:
        raise ValueError(
            f"keys and values must have the same length, got {k.shape[0]} and {v.shape[0]}"
        )
    if isinstance(kernel, str):
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {sorted(KERNELS)}, got {kernel!r}")
        kernel = KERNELS[kernel]
    if exclude_self and (q.shape != k.shape or not torch.equal(q, k)):
        raise ValueError("exclude_self=True needs queries to be the keys themselves")
    d = q[:, None] - k[None, :]  # (n_queries, n_keys)
    # Keys a query may not use: its own entry under leave-one-out.
    hidden = (
        torch.eye(*d.shape, dtype=torch.bool)
        if exclude_self
        else torch.zeros(d.shape, dtype=torch.bool)
    )
    if kernel is gaussian_kernel:
        weights = _gaussian_weights(d, width, hidden)  # (n_queries, n_keys)
        return weights @ v, weights  # (n_queries,), (n_queries, n_keys)
    scores = kernel(d, width)  # (n_queries, n_keys)
    if not isinstance(scores, torch.Tensor) or scores.shape != d.shape:
        raise ValueError(f"kernel must return a tensor of the shape of its input {tuple(d.shape)}")
    if (scores < 0).any() or torch.isnan(scores).any():
        raise ValueError("kernel returned negative or NaN values; a kernel must be >= 0")
    scores = scores.masked_fill(hidden, 0.0)
    total = scores.sum(dim=1, keepdim=True)  # (n_queries, 1)
    weights = torch.where(total > 0, scores / total.clamp_min(1e-30), torch.zeros_like(scores))
    return weights @ v, weights  # (n_queries,), (n_queries, n_keys)


class NWKernelRegression(nn.Module):
    """Gaussian Nadaraya-Watson regression with one learnable width (d2l's class name).

    ``forward(queries, keys, values)`` takes ``(n_queries,)``, ``(n_keys,)`` and ``(n_keys,)`` (or 2-D
    keys/values of shape ``(n_queries, n_keys)`` when each query has its own keys, as in d2l) and
    returns ``(n_queries,)``; the weights are kept in ``self.attention_weights``.
    The width is stored as ``log_width`` so that gradient steps can never make it negative.
    """

    def __init__(self, init_width: float = 1.0):
        super().__init__()
        _check_width(init_width)
        self.log_width = nn.Parameter(torch.tensor(math.log(init_width)))
        self.attention_weights: torch.Tensor | None = None

    @property
    def width(self) -> torch.Tensor:
        return self.log_width.exp()

    def forward(self, queries, keys, values, exclude_self: bool = False):
        q, k, v = (
            as_tensor("queries", queries),
            as_tensor("keys", keys),
            as_tensor("values", values),
        )
        check_ndim("queries", q, 1, "(n_queries,)")
        if k.dim() == 2:  # d2l layout: every query has its own row of keys
            if exclude_self:
                raise ValueError(
                    "exclude_self needs 1-D keys; with 2-D keys, leave the query's own key out of its row"
                )
            if k.shape != v.shape or k.shape[0] != q.shape[0]:
                raise ValueError(
                    f"2-D keys and values must both be (n_queries, n_keys) with n_queries={q.shape[0]}, "
                    f"got {tuple(k.shape)} and {tuple(v.shape)}"
                )
            d = q[:, None] - k  # (n_queries, n_keys)
            self.attention_weights = _gaussian_weights(d, self.width)  # (n_queries, n_keys)
            return (self.attention_weights * v).sum(dim=1)  # (n_queries,)
        pred, self.attention_weights = nadaraya_watson(
            q, k, v, "gaussian", self.width, exclude_self=exclude_self
        )
        return pred
