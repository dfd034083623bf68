"""Checkers for lesson 02: Nadaraya-Watson attention pooling and leave-one-out."""

from __future__ import annotations

import torch

from ..kernel_regression import KERNELS, nadaraya_watson
from ._harness import Mismatch, expect_close, expect_finite, expect_shape, run_checks

__all__ = ["check_nadaraya_watson", "check_leave_one_out"]

_FORMULAS = {
    "gaussian": "exp(-d**2 / (2 * width**2))",
    "boxcar": "1 where |d| <= width, else 0",
    "epanechnikov": "max(0, 1 - (d / width)**2)",
}


def _points(n: int, seed: int, spread: float = 4.0) -> torch.Tensor:
    return spread * torch.rand(n, generator=torch.Generator().manual_seed(seed))


def _call_pair(fn, *args):
    """Call the learner's ``fn`` and insist on a ``(predictions, weights)`` pair."""
    out = fn(*args)
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise Mismatch(
            f"return a pair (predictions, weights), got {type(out).__name__}"
            + (f" of length {len(out)}" if isinstance(out, tuple | list) else "")
        )
    return out


def check_nadaraya_watson(fn, kernel: str = "gaussian", verbose: bool = True) -> bool:
    """Check ``fn(queries, keys, values, width) -> (predictions, weights)`` for one kernel.

    Shapes: ``queries (n_queries,)``, ``keys`` and ``values (n_keys,)``, ``width`` a positive float
    or scalar tensor; ``predictions (n_queries,)`` and ``weights (n_queries, n_keys)``. ``kernel``
    names the kernel your function uses: ``"gaussian"``, ``"boxcar"`` or ``"epanechnikov"``.

    Checked: each row of weights is a distribution over the keys; values match
    ``attention_utils.nadaraya_watson``; a huge width gives the plain average of the values. For
    the Gaussian: a tiny width gives the nearest key's value (never NaN) and a tensor width lets
    gradients flow. For compact kernels: a query with no key inside its window gets all-zero
    weights and prediction 0 (never NaN).
    """
    name = f"check_nadaraya_watson({kernel!r})"
    if kernel not in KERNELS:

        def unknown():
            raise Mismatch(f"kernel must be one of {sorted(KERNELS)}, got {kernel!r}")

        return run_checks(name, [("kernel", unknown)], verbose=verbose)
    formula = _FORMULAS[kernel]

    def reference(q, k, v, width):
        return nadaraya_watson(q, k, v, kernel=kernel, width=width)

    def rows():
        q, k, v = (
            _points(4, 0),
            _points(7, 1),
            torch.randn(7, generator=torch.Generator().manual_seed(2)),
        )
        pred, w = _call_pair(fn, q.clone(), k.clone(), v.clone(), 2.0)
        expect_shape(pred, (4,), "predictions")
        expect_shape(w, (4, 7), "weights")
        expect_finite(w, "weights")
        if (w < 0).any():
            raise Mismatch("weights must be non-negative")
        if torch.allclose(w.sum(0), torch.ones(7), atol=1e-4) and not torch.allclose(
            w.sum(1), torch.ones(4), atol=1e-4
        ):
            raise Mismatch("your columns sum to 1, not your rows: normalize over the keys (dim=1)")
        if not torch.allclose(w.sum(1), torch.ones(4), atol=1e-4):
            raise Mismatch(
                f"each query's weights should sum to 1, got {[round(x, 3) for x in w.sum(1).tolist()]}"
            )
        expect_close(
            pred, w @ v, "predictions should be the weighted sum of the values: weights @ values"
        )

    def values():
        q, k = _points(5, 3), _points(8, 4)
        v = torch.randn(8, generator=torch.Generator().manual_seed(5))
        pred, w = _call_pair(fn, q.clone(), k.clone(), v.clone(), 1.3)
        want_pred, want_w = reference(q, k, v, 1.3)
        expect_close(
            w, want_w, f"weights should be K(query - key) / (sum over keys), with K(d) = {formula}"
        )
        expect_close(pred, want_pred, "predictions should be weights @ values")

    def huge_width():
        q, k = _points(3, 6), _points(6, 7)
        v = torch.randn(6, generator=torch.Generator().manual_seed(8))
        pred, _ = _call_pair(fn, q.clone(), k.clone(), v.clone(), 1e6)
        expect_finite(pred, "predictions for a huge width")
        expect_close(
            pred,
            v.mean().expand(3),
            "with a huge width every key is equally close, so every prediction should be the plain average of the values",
        )

    def tiny_width_gaussian():
        k = torch.tensor([0.0, 1.0, 2.0, 3.0])
        v = torch.tensor([5.0, -1.0, 2.0, 7.0])
        q = torch.tensor([0.4, 1.3, 2.9])  # nearest keys: 0, 1, 3
        pred, w = _call_pair(fn, q.clone(), k.clone(), v.clone(), 1e-3)
        if torch.isnan(torch.as_tensor(pred)).any() or torch.isnan(torch.as_tensor(w)).any():
            raise Mismatch(
                "NaN for a tiny width: exp(-d**2 / (2 * width**2)) underflows to 0 for every key and 0/0 = NaN; "
                "compute the weights as torch.softmax(-d**2 / (2 * width**2), dim=1), which subtracts the max"
            )
        expect_close(
            pred,
            torch.tensor([5.0, -1.0, 7.0]),
            "with a tiny width each query should copy its nearest key's value",
        )

    def gradient():
        q, k = _points(4, 9), _points(6, 10)
        v = torch.randn(6, generator=torch.Generator().manual_seed(11))
        width = torch.tensor(0.8, requires_grad=True)
        pred, _ = _call_pair(fn, q.clone(), k.clone(), v.clone(), width)
        if not isinstance(pred, torch.Tensor) or not pred.requires_grad:
            raise Mismatch(
                "no gradient reaches the width: keep it a tensor (no float(width) or width.item())"
            )
        (pred**2).sum().backward()
        ref_width = torch.tensor(0.8, requires_grad=True)
        (reference(q, k, v, ref_width)[0] ** 2).sum().backward()
        if width.grad is None or not torch.isfinite(width.grad):
            raise Mismatch(f"the gradient with respect to the width is {width.grad}")
        expect_close(
            width.grad, ref_width.grad, "wrong gradient with respect to the width", atol=1e-4
        )

    def no_neighbour():
        k = torch.tensor([0.0, 1.0, 2.0])
        v = torch.tensor([1.0, 2.0, 3.0])
        q = torch.tensor([1.5, 10.0])  # the second query has no key within width 1
        pred, w = _call_pair(fn, q.clone(), k.clone(), v.clone(), 1.0)
        pred, w = torch.as_tensor(pred), torch.as_tensor(w)
        if torch.isnan(pred).any() or torch.isnan(w).any():
            raise Mismatch(
                "NaN for a query with no key inside the window (0/0): give that row all-zero weights "
                "and prediction 0, e.g. torch.where(total > 0, scores / total, 0)"
            )
        if w[1].abs().max() > 0 or pred[1].abs() > 0:
            raise Mismatch(
                "a query with no key inside the window should get all-zero weights and prediction 0"
            )
        expect_close(
            pred[:1],
            reference(q[:1], k, v, 1.0)[0],
            f"wrong prediction inside the window; K(d) = {formula}",
        )

    def window_edge():
        k = torch.tensor([0.0, 1.0, 2.0])
        v = torch.tensor([1.0, 2.0, 6.0])
        pred, _ = _call_pair(
            fn, torch.tensor([1.0]), k.clone(), v.clone(), 1.0
        )  # keys at distance exactly 1
        expect_close(
            pred,
            torch.tensor([3.0]),
            "a key exactly at distance width is inside the window: use |d| <= width",
        )

    def leaves_input_alone():
        q, k, v = (
            _points(3, 12),
            _points(5, 13),
            torch.randn(5, generator=torch.Generator().manual_seed(14)),
        )
        before = (q.clone(), k.clone(), v.clone())
        fn(q, k, v, 1.0)
        if not all(torch.equal(a, b) for a, b in zip((q, k, v), before, strict=True)):
            raise Mismatch("your function changed its inputs in place; return new tensors")

    cases = [
        ("rows", rows),
        ("inputs", leaves_input_alone),
        ("values", values),
        ("huge width", huge_width),
    ]
    if kernel == "gaussian":
        cases += [("tiny width", tiny_width_gaussian), ("gradient", gradient)]
    else:
        cases += [("no neighbour", no_neighbour)]
    if kernel == "boxcar":
        cases += [("window edge", window_edge)]
    return run_checks(name, cases, verbose=verbose)


def check_leave_one_out(fn, verbose: bool = True) -> bool:
    """Check ``fn(x, y, width) -> predictions``: Gaussian Nadaraya-Watson where each training point
    is left out of its own estimate.

    Shapes: ``x`` and ``y`` are ``(n,)``, ``width`` a positive float or scalar tensor; the result is
    ``(n,)``, and its entry ``i`` is the prediction at ``x[i]`` from every other point. Checked: it
    does not depend on ``y[i]``; values match ``nadaraya_watson(x, x, y, exclude_self=True)``; two
    points at the same ``x`` still see each other; huge and tiny widths; gradients reach the width.
    """

    def reference(x, y, width):
        return nadaraya_watson(x, x, y, width=width, exclude_self=True)[0]

    def shape():
        x, y = _points(6, 0), torch.randn(6, generator=torch.Generator().manual_seed(1))
        pred = expect_shape(fn(x.clone(), y.clone(), 1.0), (6,), "the leave-one-out predictions")
        expect_finite(pred, "the leave-one-out predictions")

    def own_target():
        x, y = _points(6, 2), torch.randn(6, generator=torch.Generator().manual_seed(3))
        before = fn(x.clone(), y.clone(), 1.0)
        y2 = y.clone()
        y2[3] += 100.0
        after = fn(x.clone(), y2, 1.0)
        if not torch.allclose(before[3], after[3], atol=1e-4):
            raise Mismatch(
                "prediction 3 changed when only y[3] changed: each point is still in its own estimate; "
                "give the diagonal weight 0 (fill the scores with -inf where torch.eye(n) is True, before the softmax)"
            )

    def values():
        x, y = _points(7, 4), torch.randn(7, generator=torch.Generator().manual_seed(5))
        expect_close(
            fn(x.clone(), y.clone(), 0.7),
            reference(x, y, 0.7),
            "wrong values: leave the point out before normalizing, so the other weights still sum to 1",
        )

    def duplicates():
        x = torch.tensor([0.0, 1.0, 1.0, 2.5])
        y = torch.tensor([0.0, 4.0, 8.0, 1.0])
        expect_close(
            fn(x.clone(), y.clone(), 0.3),
            reference(x, y, 0.3),
            "points 1 and 2 share the same x: leaving point 1 out must keep point 2. Mask the diagonal "
            "(torch.eye), not every key at distance 0",
        )

    def huge_width():
        x, y = _points(5, 6), torch.randn(5, generator=torch.Generator().manual_seed(7))
        want = (y.sum() - y) / (len(y) - 1)
        expect_close(
            fn(x.clone(), y.clone(), 1e6),
            want,
            "with a huge width each prediction should be the average of the OTHER targets",
        )

    def tiny_width():
        x = torch.tensor([0.0, 1.0, 1.5, 4.0])
        y = torch.tensor([1.0, 2.0, 3.0, 4.0])
        pred = torch.as_tensor(fn(x.clone(), y.clone(), 1e-3))
        if torch.isnan(pred).any():
            raise Mismatch(
                "NaN for a tiny width: compute the weights with torch.softmax, not exp(...) / sum"
            )
        expect_close(
            pred,
            torch.tensor([2.0, 3.0, 2.0, 3.0]),
            "with a tiny width each point should copy its nearest OTHER point",
        )

    def gradient():
        x, y = _points(6, 8), torch.randn(6, generator=torch.Generator().manual_seed(9))
        width = torch.tensor(0.6, requires_grad=True)
        pred = fn(x.clone(), y.clone(), width)
        if not isinstance(pred, torch.Tensor) or not pred.requires_grad:
            raise Mismatch(
                "no gradient reaches the width: keep it a tensor (no float(width) or width.item())"
            )
        ((pred - y) ** 2).mean().backward()
        ref_width = torch.tensor(0.6, requires_grad=True)
        ((reference(x, y, ref_width) - y) ** 2).mean().backward()
        if width.grad is None or not torch.isfinite(width.grad):
            raise Mismatch(f"the gradient with respect to the width is {width.grad}")
        expect_close(
            width.grad, ref_width.grad, "wrong gradient with respect to the width", atol=1e-4
        )

    cases = [
        ("shape", shape),
        ("own target", own_target),
        ("values", values),
        ("same x twice", duplicates),
        ("huge width", huge_width),
        ("tiny width", tiny_width),
        ("gradient", gradient),
    ]
    return run_checks("check_leave_one_out", cases, verbose=verbose)
