"""Argument checks shared by the package.

Every public function validates its inputs with these helpers, so that a bad call fails with a
``TypeError`` or ``ValueError`` that names the argument and says what is wrong, instead of a NaN
or a silently wrong shape further down.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def as_tensor(name: str, value, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Return ``value`` as a tensor, accepting tensors, NumPy arrays and nested sequences."""
    if isinstance(value, torch.Tensor):
        return value if dtype is None else value.to(dtype)
    if isinstance(value, np.ndarray | Sequence) and not isinstance(value, str | bytes):
        try:
            return torch.as_tensor(np.asarray(value), dtype=dtype)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"{name} must be numeric, could not convert it to a tensor: {err}"
            ) from err
    raise TypeError(
        f"{name} must be a torch.Tensor, a NumPy array or a nested list, got {type(value).__name__}"
    )


def check_floating(name: str, x: torch.Tensor) -> None:
    if not torch.is_floating_point(x):
        raise TypeError(f"{name} must hold floating-point numbers, got dtype {x.dtype}")


def check_ndim(name: str, x: torch.Tensor, allowed: int | Sequence[int], layout: str = "") -> None:
    allowed = (allowed,) if isinstance(allowed, int) else tuple(allowed)
    if x.dim() not in allowed:
        want = " or ".join(f"{n}-D" for n in allowed)
        hint = f" {layout}" if layout else ""
        raise ValueError(
            f"{name} must be {want}{hint}, got a {x.dim()}-D tensor of shape {tuple(x.shape)}"
        )


def check_finite(name: str, x: torch.Tensor) -> None:
    if torch.is_floating_point(x) and not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")


def check_positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return int(value)


def check_probability(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a float in [0, 1), got {type(value).__name__}")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return float(value)


def check_last_dim(name: str, x: torch.Tensor, size: int, what: str) -> None:
    if x.shape[-1] != size:
        raise ValueError(
            f"{name} must have {what} = {size} in its last dimension, got shape {tuple(x.shape)}"
        )


def check_valid_lens(
    valid_lens, batch_size: int, num_queries: int, num_keys: int, name: str = "valid_lens"
) -> torch.Tensor | None:
    """Validate ``valid_lens`` for scores of shape (batch_size, num_queries, num_keys).

    Accepts ``None``, a tensor (or list) of shape ``(batch_size,)`` (one length per sequence) or
    ``(batch_size, num_queries)`` (one length per query). Values must be whole numbers in
    ``[0, num_keys]``. Returns a ``torch.long`` tensor of shape ``(batch_size, num_queries)``.
    """
    if valid_lens is None:
        return None
    v = as_tensor(name, valid_lens)
    if v.dtype == torch.bool or v.is_complex():
        raise TypeError(f"{name} must hold integer lengths, got dtype {v.dtype}")
    if torch.is_floating_point(v):
        if not torch.isfinite(v).all() or not torch.equal(v, v.round()):
            raise TypeError(
                f"{name} must hold whole numbers (lengths), got non-integer values {v.tolist()}"
            )
    v = v.long()
    if v.dim() == 1:
        if v.shape[0] != batch_size:
            raise ValueError(
                f"{name} must have shape ({batch_size},) or ({batch_size}, {num_queries}), "
                f"got shape {tuple(v.shape)}"
            )
        v = v[:, None].expand(batch_size, num_queries)
    elif v.dim() == 2:
        if tuple(v.shape) != (batch_size, num_queries):
            raise ValueError(
                f"{name} must have shape ({batch_size},) or ({batch_size}, {num_queries}), "
                f"got shape {tuple(v.shape)}"
            )
    else:
        raise ValueError(
            f"{name} must be 1-D (per sequence) or 2-D (per query), got shape {tuple(v.shape)}"
        )
    if v.numel() and v.min() < 0:
        raise ValueError(f"{name} must not be negative, got a minimum of {int(v.min())}")
    if v.numel() and v.max() > num_keys:
        raise ValueError(
            f"{name} can be at most the number of keys ({num_keys}), got {int(v.max())}"
        )
    return v
