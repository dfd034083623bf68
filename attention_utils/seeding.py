"""One call that makes a lesson repeatable."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["set_seed", "setup_lesson", "on_colab", "SEED_OFFSET_ENV"]

# Set by tools/check_claims.py to re-run a lesson under other seeds: every seed given to set_seed (and
# so to setup_lesson) is shifted by this many. Unset in lessons and tests, where the offset is 0.
SEED_OFFSET_ENV = "AU_SEED_OFFSET"


def _seed_offset() -> int:
    raw = os.environ.get(SEED_OFFSET_ENV, "").strip()
    if not raw:
        return 0
    try:
        return int(raw)
    except ValueError:
        raise ValueError(
            f"the environment variable {SEED_OFFSET_ENV} must be an integer, got {raw!r}"
        ) from None


def set_seed(seed: int = 0) -> torch.Generator:
    """Seed Python's ``random``, NumPy and PyTorch, and return a ``torch.Generator`` seeded the same.

    If the environment variable ``AU_SEED_OFFSET`` holds an integer, it is added to ``seed`` (the
    claims tool uses this to re-run a lesson under seeds 0, 1, 2 without editing it).
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    seed = seed + _seed_offset()
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def on_colab() -> bool:
    """True when running inside Google Colab."""
    return "COLAB_RELEASE_TAG" in os.environ or "google.colab" in __import__("sys").modules


def setup_lesson(seed: int = 0, threads: int | None = 2, precision: int = 4) -> None:
    """Seed everything, fix the thread count and the print precision, for repeatable lesson outputs.

    ``threads`` is capped at 2 by default: results then agree from a laptop to a 2-core CI machine.
    Pass ``threads=None`` to leave PyTorch's own choice. Returns nothing, so that the setup cell
    prints nothing; call ``set_seed`` when you want a seeded ``torch.Generator``.
    """
    if threads is not None:
        torch.set_num_threads(threads)
    torch.set_printoptions(precision=precision, sci_mode=False)
    np.set_printoptions(precision=precision, suppress=True)
    set_seed(seed)
