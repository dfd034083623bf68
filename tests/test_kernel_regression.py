"""Nadaraya-Watson kernel regression (lesson 02): values against an independent NumPy computation,
limits, leave-one-out, gradients and bad input."""

import math

import numpy as np
import pytest
import torch

import attention_utils as au
from attention_utils.kernel_regression import target_function


def nw_numpy(q, k, v, kernel, width, exclude_self=False):
    """Independent float64 reference: weights K(q_i - k_j) / sum_j K(q_i - k_j)."""
    q, k, v = (np.asarray(a, dtype=np.float64) for a in (q, k, v))
    d = q[:, None] - k[None, :]
    if kernel == "gaussian":
        K = np.exp(-(d**2) / (2 * width**2))
    elif kernel == "boxcar":
        K = (np.abs(d) <= width).astype(np.float64)
    else:
        K = np.maximum(0.0, 1 - (d / width) ** 2)
    if exclude_self:
        K = K * (1 - np.eye(len(k)))
    total = K.sum(axis=1, keepdims=True)
    W = np.divide(K, total, out=np.zeros_like(K), where=total > 0)
    return W @ v, W


@pytest.fixture
def data():
    return au.make_1d_regression(n_train=30, n_test=40, seed=3)


# --- the data -----------------------------------------------------------------------------------


def test_make_1d_regression_shapes_order_and_repeatability():
    x, y, xt, yt = au.make_1d_regression(n_train=25, n_test=11, noise=0.3, x_max=5.0, seed=7)
    assert x.shape == y.shape == (25,) and xt.shape == yt.shape == (11,)
    assert torch.all(x[1:] >= x[:-1]) and 0 <= x.min() and x.max() <= 5.0
    assert torch.allclose(xt, torch.linspace(0, 5.0, 11))
    assert torch.allclose(yt, 1.5 * torch.sin(1.3 * xt) + 0.4 * xt)
    residual = y - target_function(x)
    assert 0.1 < residual.std().item() < 0.6  # noise of about 0.3
    again = au.make_1d_regression(n_train=25, n_test=11, noise=0.3, x_max=5.0, seed=7)
    assert all(torch.equal(a, b) for a, b in zip((x, y, xt, yt), again, strict=True))
    other = au.make_1d_regression(n_train=25, n_test=11, noise=0.3, x_max=5.0, seed=8)
    assert not torch.equal(x, other[0])


def test_make_1d_regression_noise_free_is_the_curve():
    x, y, _, _ = au.make_1d_regression(n_train=10, noise=0.0)
    assert torch.allclose(y, target_function(x))


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"n_train": 0}, ValueError, "n_train"),
        ({"n_test": 2.5}, TypeError, "n_test"),
        ({"noise": -0.1}, ValueError, "noise"),
    ],
)
def test_make_1d_regression_bad_input(kwargs, error, words):
    with pytest.raises(error, match=words):
        au.make_1d_regression(**kwargs)


# --- kernels ------------------------------------------------------------------------------------


def test_kernels_values():
    d = torch.tensor([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0])
    assert torch.allclose(au.gaussian_kernel(d, 1.0), torch.exp(-(d**2) / 2))
    assert torch.allclose(au.gaussian_kernel(d, 2.0), torch.exp(-(d**2) / 8))
    assert au.boxcar_kernel(d, 1.0).tolist() == [0, 1, 1, 1, 1, 1, 0]
    assert torch.allclose(au.epanechnikov_kernel(d, 1.0), torch.tensor([0, 0, 0.75, 1, 0.75, 0, 0]))
    assert set(au.KERNELS) == {"gaussian", "boxcar", "epanechnikov"}


@pytest.mark.parametrize("kernel", [au.gaussian_kernel, au.boxcar_kernel, au.epanechnikov_kernel])
def test_kernels_are_symmetric_and_peak_at_zero(kernel):
    d = torch.linspace(-3, 3, 61)
    k = kernel(d, 0.9)
    assert torch.allclose(k, k.flip(0))
    assert k.max() == kernel(torch.tensor([0.0]), 0.9)[0] == 1.0
    assert (k >= 0).all()


@pytest.mark.parametrize(
    "width, error, words",
    [
        (0.0, ValueError, "positive"),
        (-1.0, ValueError, "positive"),
        (float("nan"), ValueError, "positive"),
        (torch.tensor(-0.5), ValueError, "positive"),
        (torch.tensor([1.0, 2.0]), ValueError, "single number"),
        ("wide", TypeError, "width must be a number"),
        (True, TypeError, "width must be a number"),
    ],
)
def test_bad_width(width, error, words):
    with pytest.raises(error, match=words):
        au.gaussian_kernel(torch.zeros(3), width)
    with pytest.raises(error, match=words):
        au.nadaraya_watson(torch.zeros(2), torch.zeros(3), torch.zeros(3), width=width)


# --- nadaraya_watson ------------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", ["gaussian", "boxcar", "epanechnikov"])
@pytest.mark.parametrize("width", [0.2, 0.7, 3.0])
def test_matches_numpy(data, kernel, width):
    x, y, xt, _ = data
    pred, w = au.nadaraya_watson(xt, x, y, kernel=kernel, width=width)
    want_pred, want_w = nw_numpy(xt, x, y, kernel, width)
    assert pred.shape == (40,) and w.shape == (40, 30)
    np.testing.assert_allclose(w.numpy(), want_w, atol=1e-6)
    np.testing.assert_allclose(pred.numpy(), want_pred, atol=1e-5)
    has_key = want_w.sum(axis=1) > 0
    np.testing.assert_allclose(w.sum(1).numpy()[has_key], 1.0, atol=1e-6)


def test_kernel_given_as_a_function(data):
    x, y, xt, _ = data
    a = au.nadaraya_watson(xt, x, y, kernel=au.epanechnikov_kernel, width=0.5)
    b = au.nadaraya_watson(xt, x, y, kernel="epanechnikov", width=0.5)
    assert torch.equal(a[0], b[0])

    def triangle(d, width):
        return (1 - d.abs() / width).clamp_min(0)

    pred, w = au.nadaraya_watson(xt, x, y, kernel=triangle, width=0.8)
    K = np.maximum(0, 1 - np.abs(xt.numpy()[:, None] - x.numpy()[None, :]) / 0.8)
    np.testing.assert_allclose(w.numpy(), K / K.sum(1, keepdims=True), atol=1e-6)


@pytest.mark.parametrize("kernel", ["gaussian", "boxcar", "epanechnikov"])
def test_huge_width_is_average_pooling(data, kernel):
    x, y, xt, _ = data
    pred, w = au.nadaraya_watson(xt, x, y, kernel=kernel, width=1e7)
    assert torch.allclose(pred, y.mean().expand(40), atol=1e-5)
    assert torch.allclose(w, torch.full((40, 30), 1 / 30))


def test_infinite_width_is_average_pooling(data):
    x, y, xt, _ = data
    pred, _ = au.nadaraya_watson(xt, x, y, width=math.inf)
    assert torch.allclose(pred, y.mean().expand(40), atol=1e-5)


@pytest.mark.parametrize("width", [1e-6, 1e-10, 1e-30])
def test_tiny_gaussian_width_is_nearest_neighbour_never_nan(data, width):
    x, y, xt, _ = data
    pred, w = au.nadaraya_watson(xt, x, y, width=width)
    nearest = (xt[:, None] - x[None, :]).abs().argmin(dim=1)
    assert not torch.isnan(w).any()
    assert torch.equal(pred, y[nearest])
    assert torch.equal(w, torch.eye(30)[nearest])


def test_tiny_width_splits_ties_evenly():
    pred, w = au.nadaraya_watson(
        torch.tensor([1.0]),
        torch.tensor([0.0, 2.0, 5.0]),
        torch.tensor([2.0, 4.0, 9.0]),
        width=1e-6,
    )
    assert w.tolist() == [[0.5, 0.5, 0.0]] and pred.item() == 3.0


@pytest.mark.parametrize("kernel", ["boxcar", "epanechnikov"])
def test_compact_kernel_without_neighbour_gives_zeros(kernel):
    keys, values = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([3.0, 4.0, 5.0])
    pred, w = au.nadaraya_watson(torch.tensor([0.5, 50.0]), keys, values, kernel=kernel, width=1.0)
    assert torch.isfinite(pred).all() and torch.isfinite(w).all()
    assert w[1].tolist() == [0, 0, 0] and pred[1].item() == 0
    assert w[0].sum().item() == pytest.approx(1.0)


def test_weights_are_a_distribution_and_output_is_an_expectation(data):
    x, y, xt, _ = data
    pred, w = au.nadaraya_watson(xt, x, y, width=0.4)
    assert (w >= 0).all() and torch.allclose(w.sum(1), torch.ones(40))
    assert torch.allclose(pred, (w * y).sum(1), atol=1e-6)
    assert (pred >= y.min() - 1e-6).all() and (pred <= y.max() + 1e-6).all()  # a convex combination


def test_gaussian_weights_are_a_softmax_of_scores(data):
    x, y, xt, _ = data
    _, w = au.nadaraya_watson(xt, x, y, width=0.6)
    d = xt[:, None] - x[None, :]
    assert torch.allclose(w, torch.softmax(-(d**2) / (2 * 0.6**2), dim=1), atol=1e-6)


# --- leave-one-out --------------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", ["gaussian", "boxcar", "epanechnikov"])
def test_exclude_self_matches_numpy(data, kernel):
    x, y, _, _ = data
    pred, w = au.nadaraya_watson(x, x, y, kernel=kernel, width=0.5, exclude_self=True)
    want_pred, want_w = nw_numpy(x, x, y, kernel, 0.5, exclude_self=True)
    assert torch.all(w.diagonal() == 0)
    np.testing.assert_allclose(w.numpy(), want_w, atol=1e-6)
    np.testing.assert_allclose(pred.numpy(), want_pred, atol=1e-5)


def test_exclude_self_does_not_use_own_target(data):
    x, y, _, _ = data
    before = au.nadaraya_watson(x, x, y, width=0.5, exclude_self=True)[0]
    y2 = y.clone()
    y2[7] += 100
    after = au.nadaraya_watson(x, x, y2, width=0.5, exclude_self=True)[0]
    assert after[7] == before[7]
    assert (after - before).abs().max() > 1  # the others do see it


def test_exclude_self_keeps_a_duplicate_input():
    x = torch.tensor([0.0, 1.0, 1.0, 3.0])
    y = torch.tensor([0.0, 2.0, 6.0, 1.0])
    pred, _ = au.nadaraya_watson(x, x, y, width=1e-4, exclude_self=True)
    assert pred.tolist() == [2.0 * 0.5 + 6.0 * 0.5, 6.0, 2.0, 4.0]  # 0's nearest others: the two 1s


def test_exclude_self_tiny_width_and_single_key():
    x = torch.tensor([0.0, 1.0, 1.5, 4.0])
    pred, w = au.nadaraya_watson(
        x, x, torch.tensor([1.0, 2.0, 3.0, 4.0]), width=1e-20, exclude_self=True
    )
    assert pred.tolist() == [2.0, 3.0, 2.0, 3.0] and not torch.isnan(w).any()
    pred, w = au.nadaraya_watson(
        torch.tensor([1.0]), torch.tensor([1.0]), torch.tensor([5.0]), exclude_self=True
    )
    assert pred.tolist() == [0.0] and w.tolist() == [[0.0]]


def test_exclude_self_needs_queries_to_be_keys(data):
    x, y, xt, _ = data
    with pytest.raises(ValueError, match="exclude_self"):
        au.nadaraya_watson(xt, x, y, exclude_self=True)


@pytest.mark.parametrize(
    "args, kwargs, error, words",
    [
        (
            (torch.zeros(2, 2), torch.zeros(3), torch.zeros(3)),
            {},
            ValueError,
            "queries must be 1-D",
        ),
        ((torch.zeros(2), torch.zeros(3), torch.zeros(4)), {}, ValueError, "same length"),
        (
            (torch.zeros(2), torch.zeros(3, dtype=torch.long), torch.zeros(3)),
            {},
            TypeError,
            "keys must hold floating",
        ),
        ((torch.zeros(2), torch.zeros(3), "abc"), {}, TypeError, "values"),
        (
            (torch.zeros(2), torch.zeros(3), torch.zeros(3)),
            {"kernel": "cosine"},
            ValueError,
            "kernel must be one of",
        ),
        (
            (torch.zeros(2), torch.zeros(3), torch.zeros(3)),
            {"kernel": lambda d, w: d - 1},
            ValueError,
            "negative",
        ),
    ],
)
def test_bad_input(args, kwargs, error, words):
    with pytest.raises(error, match=words):
        au.nadaraya_watson(*args, **kwargs)


# --- NWKernelRegression --------------------------------------------------------------------------


def test_module_matches_function_and_keeps_weights(data):
    x, y, xt, _ = data
    model = au.NWKernelRegression(init_width=0.7)
    assert model.width.item() == pytest.approx(0.7)
    pred = model(xt, x, y)
    want, w = au.nadaraya_watson(xt, x, y, width=0.7)
    assert torch.allclose(pred, want, atol=1e-6)
    assert torch.allclose(model.attention_weights, w, atol=1e-6)


def test_module_d2l_layout_equals_exclude_self(data):
    x, y, _, _ = data
    n = len(x)
    keep = ~torch.eye(n, dtype=torch.bool)
    keys = x.repeat(n, 1)[keep].reshape(n, n - 1)  # (n, n-1): row i is x without x_i
    values = y.repeat(n, 1)[keep].reshape(n, n - 1)  # (n, n-1)
    model = au.NWKernelRegression(0.4)
    assert torch.allclose(model(x, keys, values), model(x, x, y, exclude_self=True), atol=1e-6)
    with pytest.raises(ValueError, match="exclude_self"):
        model(x, keys, values, exclude_self=True)
    with pytest.raises(ValueError, match="2-D keys and values"):
        model(x, keys, values[:, :-1])


def test_module_gradient_matches_finite_difference(data):
    x, y, _, _ = data
    x, y = x.double(), y.double()

    def loss_at(log_w):
        w = math.exp(log_w)
        return float(((au.nadaraya_watson(x, x, y, width=w, exclude_self=True)[0] - y) ** 2).mean())

    model = au.NWKernelRegression(0.5).double()
    loss = ((model(x, x, y, exclude_self=True) - y) ** 2).mean()
    loss.backward()
    h = 1e-5
    numeric = (loss_at(math.log(0.5) + h) - loss_at(math.log(0.5) - h)) / (2 * h)
    assert model.log_width.grad.item() == pytest.approx(numeric, rel=1e-4)


def test_naive_training_shrinks_the_width_and_leave_one_out_does_not(data):
    x, y, _, _ = data

    def train(exclude_self):
        model = au.NWKernelRegression(1.0)
        opt = torch.optim.SGD(model.parameters(), lr=2.0)
        for _ in range(150):
            opt.zero_grad()
            ((model(x, x, y, exclude_self=exclude_self) - y) ** 2).mean().backward()
            opt.step()
        return model.width.item()

    naive, loo = train(False), train(True)
    assert naive < 0.1 < 0.2 < loo < 1.0


def test_bad_init_width():
    with pytest.raises(ValueError, match="positive"):
        au.NWKernelRegression(init_width=0.0)
