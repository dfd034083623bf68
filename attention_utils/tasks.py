"""Synthetic sequence tasks, made in code, where information must move between positions.

Each task maps a sequence of ``seq_len`` digits (token ids in ``[0, vocab_size)``) to a target
sequence of the same length:

- ``"copy"``: the input itself. Every position can answer from its own token: no attention needed.
- ``"reverse"``: output position ``i`` holds input token ``seq_len - 1 - i``. The answer lives at a
  fixed *other* position, so a model must move information there (the anti-diagonal).
- ``"sort"``: the tokens in ascending order. Output position ``i`` depends on every input token.

``make_sequence_task`` draws train and held-out sets that share no sequence, so held-out accuracy
measures generalization, not memory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from ._checks import check_positive_int
from .seeding import set_seed
from .transformer import _check_positive_float

__all__ = ["TASKS", "TaskSplit", "make_sequence_task", "sequence_accuracy", "train_tagger"]


def _copy(X: torch.Tensor) -> torch.Tensor:
    return X.clone()


def _reverse(X: torch.Tensor) -> torch.Tensor:
    return X.flip(-1)  # (N, T): position i <- position T-1-i


def _sort(X: torch.Tensor) -> torch.Tensor:
    return X.sort(dim=-1).values  # (N, T)


#: Task name -> function from inputs ``(N, T)`` to targets ``(N, T)``.
TASKS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "copy": _copy,
    "reverse": _reverse,
    "sort": _sort,
}


class TaskSplit(NamedTuple):
    """Train and held-out data of one task; every tensor holds token ids, shape ``(N, seq_len)``."""

    X_train: torch.Tensor
    Y_train: torch.Tensor
    X_test: torch.Tensor
    Y_test: torch.Tensor


def _unique_sequences(
    num: int, seq_len: int, vocab_size: int, gen: torch.Generator
) -> torch.Tensor:
    """``num`` distinct random sequences ``(num, seq_len)``, in the order they were drawn.

    Rows are compared as tuples of Python ints, which is exact for any ``vocab_size`` and
    ``seq_len`` (a single number per row, such as a base-``vocab_size`` code in float64, is not
    once ``vocab_size ** seq_len`` passes ``2 ** 53``).
    """
    kept = torch.empty(0, seq_len, dtype=torch.long)
    seen: set[tuple[int, ...]] = set()
    while kept.shape[0] < num:
        draw = torch.randint(
            0, vocab_size, (2 * (num - kept.shape[0]) + 16, seq_len), generator=gen
        )  # (M, T)
        fresh = []
        for row, key in enumerate(map(tuple, draw.tolist())):
            if key not in seen:
                seen.add(key)
                fresh.append(row)
        kept = torch.cat([kept, draw[fresh]])
    return kept[:num]


def make_sequence_task(
    task: str,
    num_train: int,
    num_test: int,
    seq_len: int = 8,
    vocab_size: int = 10,
    *,
    seed: int = 0,
) -> TaskSplit:
    """Random digit sequences and their targets for ``task``, split into train and held-out sets.

    Args:
        task: a key of ``TASKS`` (``"copy"``, ``"reverse"``, ``"sort"``).
        num_train, num_test: how many sequences each set holds. No sequence is in both sets (and no
            sequence appears twice).
        seq_len: tokens per sequence, ``T``.
        vocab_size: tokens are drawn uniformly from ``[0, vocab_size)``.
        seed: the data depend on this seed only, never on the global random state.

    Returns:
        ``TaskSplit(X_train, Y_train, X_test, Y_test)``, each ``torch.long`` of shape ``(N, T)``.
    """
    if not isinstance(task, str) or task not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {task!r}")
    num_train = check_positive_int("num_train", num_train)
    num_test = check_positive_int("num_test", num_test)
    seq_len = check_positive_int("seq_len", seq_len)
    vocab_size = check_positive_int("vocab_size", vocab_size)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if vocab_size**seq_len < num_train + num_test:
        raise ValueError(
            f"num_train + num_test ({num_train + num_test}) is more than the {vocab_size**seq_len} "
            f"distinct sequences of seq_len={seq_len} over vocab_size={vocab_size}"
        )
    gen = torch.Generator().manual_seed(seed)
    X = _unique_sequences(num_train + num_test, seq_len, vocab_size, gen)  # (N, T)
    Y = TASKS[task](X)  # (N, T)
    return TaskSplit(X[:num_train], Y[:num_train], X[num_train:], Y[num_train:])


def sequence_accuracy(logits: torch.Tensor, Y: torch.Tensor) -> tuple[float, float]:
    """Token accuracy and whole-sequence accuracy of predictions ``logits.argmax(-1)``.

    ``logits`` ``(N, T, num_classes)`` and targets ``Y`` ``(N, T)``. Returns two floats in [0, 1]:
    the fraction of tokens that are right, and the fraction of sequences with *every* token right.
    """
    if logits.dim() != 3 or Y.dim() != 2 or logits.shape[:2] != Y.shape:
        raise ValueError(
            f"logits must be (N, T, num_classes) and Y (N, T) with the same N and T, got "
            f"{tuple(logits.shape)} and {tuple(Y.shape)}"
        )
    right = logits.argmax(-1) == Y  # (N, T)
    return right.float().mean().item(), right.all(-1).float().mean().item()


def train_tagger(
    model: torch.nn.Module,
    X: torch.Tensor,
    Y: torch.Tensor,
    *,
    num_steps: int = 300,
    batch_size: int = 128,
    lr: float = 1e-2,
    seed: int = 0,
) -> list[float]:
    """Train ``model`` (token ids ``(B, T)`` -> logits ``(B, T, C)``) with Adam and cross-entropy.

    The loop of lesson 07: ``num_steps`` minibatches of ``batch_size`` rows of ``X``/``Y`` drawn
    with the generator that ``au.set_seed(seed)`` returns, learning rate ``lr`` decayed linearly to 0
    over the steps. Like every seed in the series, ``seed`` is shifted by ``AU_SEED_OFFSET`` when the
    claims tool sets it; ``set_seed`` also re-seeds the global random state (as a lesson's setup does).
    ``X`` and ``Y`` are integer tensors ``(N, T)``. Returns the training loss of every step. The
    model is left in ``eval()`` mode.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    for name, t in (("X", X), ("Y", Y)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of token ids, got {type(t).__name__}")
        if t.dtype.is_floating_point or t.dtype.is_complex or t.dtype == torch.bool:
            raise TypeError(f"{name} must hold integer ids, got dtype {t.dtype}")
    num_steps = check_positive_int("num_steps", num_steps)
    batch_size = check_positive_int("batch_size", batch_size)
    lr = _check_positive_float("lr", lr)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if X.shape != Y.shape or X.dim() != 2 or X.shape[0] == 0:
        raise ValueError(
            f"X and Y must both be (N, T) with N > 0, got {tuple(X.shape)} and {tuple(Y.shape)}"
        )
    gen = set_seed(seed)  # the minibatch order; shifted by AU_SEED_OFFSET like every seed
    model.train()
    with torch.no_grad():
        model(X[:1])  # materialize lazy layers before the optimizer collects the parameters
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1 - step / num_steps)
    losses = []
    for _ in range(num_steps):
        idx = torch.randint(0, X.shape[0], (batch_size,), generator=gen)
        logits = model(X[idx])  # (B, T, C)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), Y[idx].flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    model.eval()
    return losses
