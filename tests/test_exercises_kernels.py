"""The lesson-02 checkers accept correct answers and reject the usual mistakes with the right hint."""

import pytest
import torch

from attention_utils.exercises import check_leave_one_out, check_nadaraya_watson

# --- answers a learner might write (independent of the package) --------------------------------


def nw_gaussian(queries, keys, values, width):
    d = queries[:, None] - keys[None, :]  # (n_queries, n_keys)
    weights = torch.softmax(-(d**2) / (2 * width**2), dim=1)  # (n_queries, n_keys)
    return weights @ values, weights


def nw_compact(kernel):
    def fn(queries, keys, values, width):
        d = queries[:, None] - keys[None, :]  # (n_queries, n_keys)
        k = kernel(d, width)
        total = k.sum(dim=1, keepdim=True)  # (n_queries, 1)
        weights = torch.where(total > 0, k / total.clamp_min(1e-30), torch.zeros_like(k))
        return weights @ values, weights

    return fn


def boxcar(d, w):
    return (d.abs() <= w).float()


def epanechnikov(d, w):
    return (1 - (d / w) ** 2).clamp_min(0)


def loo(x, y, width):
    d = x[:, None] - x[None, :]  # (n, n)
    scores = (-(d**2) / (2 * width**2)).masked_fill(
        torch.eye(len(x), dtype=torch.bool), float("-inf")
    )
    return torch.softmax(scores, dim=1) @ y  # (n,)


# --- the usual mistakes ---------------------------------------------------------------------------


def nw_columns(queries, keys, values, width):
    d = queries[:, None] - keys[None, :]
    weights = torch.softmax(-(d**2) / (2 * width**2), dim=0)  # wrong axis
    return weights @ values, weights


def nw_plain_exp(queries, keys, values, width):
    d = queries[:, None] - keys[None, :]
    k = torch.exp(-(d**2) / (2 * width**2))
    weights = k / k.sum(dim=1, keepdim=True)  # 0/0 once every exp underflows
    return weights @ values, weights


def nw_float_width(queries, keys, values, width):
    return nw_gaussian(queries, keys, values, torch.as_tensor(width).detach().item())


def nw_predictions_only(queries, keys, values, width):
    return nw_gaussian(queries, keys, values, width)[0]


def nw_no_guard(queries, keys, values, width):
    d = queries[:, None] - keys[None, :]
    k = epanechnikov(d, width)
    weights = k / k.sum(dim=1, keepdim=True)
    return weights @ values, weights


def nw_boxcar_strict(queries, keys, values, width):
    d = queries[:, None] - keys[None, :]
    k = (d.abs() < width).float()  # the window's edge left out
    total = k.sum(dim=1, keepdim=True)
    weights = torch.where(total > 0, k / total.clamp_min(1e-30), torch.zeros_like(k))
    return weights @ values, weights


def nw_in_place(queries, keys, values, width):
    queries -= 0  # harmless
    values *= 1.5
    return nw_gaussian(queries, keys, values / 1.5, width)


def loo_none(x, y, width):
    return nw_gaussian(x, x, y, width)[0]


def loo_distance_zero(x, y, width):
    d = x[:, None] - x[None, :]
    scores = (-(d**2) / (2 * width**2)).masked_fill(d == 0, float("-inf"))
    return torch.softmax(scores, dim=1) @ y


def loo_no_renormalize(x, y, width):
    w = nw_gaussian(x, x, y, width)[1] * (1 - torch.eye(len(x)))
    return w @ y


def loo_plain_exp(x, y, width):
    d = x[:, None] - x[None, :]
    k = torch.exp(-(d**2) / (2 * width**2)) * (1 - torch.eye(len(x)))
    return (k / k.sum(dim=1, keepdim=True)) @ y


def loo_item(x, y, width):
    return loo(x, y, torch.as_tensor(width).detach().item())


# --- tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn, kernel",
    [
        (nw_gaussian, "gaussian"),
        (nw_compact(boxcar), "boxcar"),
        (nw_compact(epanechnikov), "epanechnikov"),
    ],
)
def test_accepts_reference(fn, kernel, capsys):
    assert check_nadaraya_watson(fn, kernel=kernel) is True
    assert capsys.readouterr().out.startswith("✅ check_nadaraya_watson")


def test_compact_answer_is_wrong_for_another_kernel(capsys):
    assert check_nadaraya_watson(nw_compact(boxcar), kernel="epanechnikov") is False
    assert "max(0, 1 - (d / width)**2)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn, kernel, hint",
    [
        (nw_columns, "gaussian", "columns sum to 1, not your rows"),
        (nw_plain_exp, "gaussian", "underflows to 0 for every key"),
        (nw_float_width, "gaussian", "no gradient reaches the width"),
        (nw_predictions_only, "gaussian", "return a pair (predictions, weights), got Tensor"),
        (nw_in_place, "gaussian", "changed its inputs in place"),
        (nw_no_guard, "epanechnikov", "no key inside the window (0/0)"),
        (nw_boxcar_strict, "boxcar", "use |d| <= width"),
        (nw_gaussian, "epanechnikov", "K(d) = max(0, 1 - (d / width)**2)"),
    ],
)
def test_rejects_mistakes(fn, kernel, hint, capsys):
    assert check_nadaraya_watson(fn, kernel=kernel) is False
    out = capsys.readouterr().out
    assert out.startswith("❌"), out
    assert hint in out, out


def test_unsolved_and_unknown_kernel(capsys):
    def stub(queries, keys, values, width):
        raise NotImplementedError

    assert check_nadaraya_watson(stub) is False
    assert "not implemented yet" in capsys.readouterr().out
    assert check_nadaraya_watson(nw_gaussian, kernel="triangle") is False
    assert "kernel must be one of" in capsys.readouterr().out


def test_leave_one_out_accepts_reference(capsys):
    assert check_leave_one_out(loo) is True
    assert "all 7 checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn, hint",
    [
        (loo_none, "still in its own estimate"),
        (loo_distance_zero, "Mask the diagonal"),
        (loo_no_renormalize, "leave the point out before normalizing"),
        (loo_plain_exp, "NaN for a tiny width"),
        (loo_item, "no gradient reaches the width"),
    ],
)
def test_leave_one_out_rejects_mistakes(fn, hint, capsys):
    assert check_leave_one_out(fn) is False
    out = capsys.readouterr().out
    assert out.startswith("❌ check_leave_one_out"), out
    assert hint in out, out


def test_checkers_never_raise_and_stay_quiet(capsys):
    assert check_leave_one_out(lambda x, y, w: 1 / 0, verbose=False) is False
    assert check_nadaraya_watson(lambda *a: None, kernel="boxcar", verbose=False) is False
    assert capsys.readouterr().out == ""
