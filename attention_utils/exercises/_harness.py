"""The machinery behind every exercise checker.

A checker runs the learner's function through a list of small cases. Each case either passes or
raises ``Mismatch`` with a hint that says what went wrong. The checker prints one line,
``✅ name: ...`` or ``❌ name: hint``, and returns True or False. It never raises: an unsolved exercise
(``raise NotImplementedError``) or a crash inside the learner's code just shows ❌.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

__all__ = ["Mismatch", "run_checks", "expect_close", "expect_shape", "expect_finite"]


class Mismatch(AssertionError):
    """A check failed; the message is the hint shown to the learner."""


Case = tuple[str, Callable[[], None]]


def run_checks(name: str, cases: Sequence[Case], *, verbose: bool = True) -> bool:
    """Run ``cases`` in order and stop at the first failure. Returns True if all passed."""
    for label, case in cases:
        try:
            case()
        except NotImplementedError:
            return _report(
                False,
                name,
                "not implemented yet: replace `raise NotImplementedError` with your code",
                verbose,
            )
        except Mismatch as miss:
            return _report(False, name, f"{label}: {miss}", verbose)
        except Exception as err:  # the learner's code crashed: show it, never propagate
            return _report(
                False, name, f"{label}: your code raised {type(err).__name__}: {err}", verbose
            )
    return _report(True, name, f"all {len(cases)} checks passed", verbose)


def _report(ok: bool, name: str, message: str, verbose: bool) -> bool:
    if verbose:
        print(f"{'✅' if ok else '❌'} {name}: {message}")
    return ok


def expect_shape(got, shape: tuple[int, ...], what: str = "the result") -> torch.Tensor:
    if not isinstance(got, torch.Tensor):
        raise Mismatch(f"{what} should be a torch.Tensor, got {type(got).__name__}")
    if tuple(got.shape) != tuple(shape):
        raise Mismatch(f"{what} should have shape {tuple(shape)}, got {tuple(got.shape)}")
    return got


def expect_finite(got: torch.Tensor, what: str = "the result") -> None:
    if torch.isnan(got).any():
        raise Mismatch(f"{what} contains NaN")
    if torch.isinf(got).any():
        raise Mismatch(f"{what} contains inf")


def expect_close(got: torch.Tensor, want: torch.Tensor, hint: str, atol: float = 1e-5) -> None:
    if not torch.allclose(got.detach().double(), want.double(), atol=atol, rtol=1e-4):
        diff = (got.detach().double() - want.double()).abs().max().item()
        raise Mismatch(f"{hint} (largest difference {diff:.3g})")
