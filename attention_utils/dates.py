"""Date normalization, a character-level sequence-to-sequence task made on the spot (no download).

Many ways people write a date ("wednesday, march 3 2021", "3 Mar 2021", "03.03.21", ...) are mapped
to the ISO form "2021-03-03". The split is **by date**: every date of the calendar range goes either
to training or to the held-out set, so a held-out date was never seen in training, in any format.

Pieces: ``DATE_FORMATS`` (name -> formatter), ``format_date``, ``split_dates``,
``make_date_pairs`` / ``make_date_data`` (lists of ``(source, target)`` strings), ``CharVocab``
(characters <-> ids) and ``batchify`` (strings -> padded ``long`` tensors).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence

import torch

from ._checks import check_positive_int

__all__ = [
    "DATE_FORMATS",
    "format_date",
    "split_dates",
    "make_date_pairs",
    "make_date_data",
    "CharVocab",
    "DATE_VOCAB",
    "batchify",
]

_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def _ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _month(d: dt.date) -> str:
    return _MONTHS[d.month - 1]


def _weekday(d: dt.date) -> str:
    return _DAYS[d.weekday()]


#: Formatters, from short to long. The separators keep every format unambiguous:
#: "dd.mm.yy" uses dots (day first), "m/d/yyyy" uses slashes (month first, US style), and two-digit
#: years mean 1950-2049 (the calendar range of the data).
DATE_FORMATS: dict[str, Callable[[dt.date], str]] = {
    "yyyymmdd": lambda d: f"{d.year:04d}{d.month:02d}{d.day:02d}",
    "dd.mm.yy": lambda d: f"{d.day:02d}.{d.month:02d}.{d.year % 100:02d}",
    "m/d/yyyy": lambda d: f"{d.month}/{d.day}/{d.year}",
    "iso": lambda d: d.isoformat(),
    "d mon yyyy": lambda d: f"{d.day} {_month(d)[:3].title()} {d.year}",
    "mon dd, yy": lambda d: f"{_month(d)[:3]} {d.day:02d}, {d.year % 100:02d}",
    "month d, yyyy": lambda d: f"{_month(d).title()} {d.day}, {d.year}",
    "D MONTH YYYY": lambda d: f"{d.day} {_month(d).upper()} {d.year}",
    "wkd, d month yyyy": lambda d: (
        f"{_weekday(d)[:3].title()}, {d.day} {_month(d).title()} {d.year}"
    ),
    "the dth of month yyyy": lambda d: f"the {_ordinal(d.day)} of {_month(d)} {d.year}",
    "weekday, month d yyyy": lambda d: f"{_weekday(d)}, {_month(d)} {d.day} {d.year}",
    "Weekday the dth of Month, yyyy": lambda d: (
        f"{_weekday(d).title()} the {_ordinal(d.day)} of {_month(d).title()}, {d.year}"
    ),
}

FIRST_DATE = dt.date(1950, 1, 1)
LAST_DATE = dt.date(2049, 12, 31)


def format_date(date: dt.date, fmt: str) -> str:
    """Write ``date`` in the human format named ``fmt`` (a key of ``DATE_FORMATS``)."""
    if not isinstance(date, dt.date):
        raise TypeError(f"date must be a datetime.date, got {type(date).__name__}")
    if fmt not in DATE_FORMATS:
        raise ValueError(f"fmt must be one of {sorted(DATE_FORMATS)}, got {fmt!r}")
    return DATE_FORMATS[fmt](date)


def split_dates(test_fraction: float = 0.2, seed: int = 0) -> tuple[list[dt.date], list[dt.date]]:
    """Shuffle every day from 1950-01-01 to 2049-12-31 and split them into (train, test) dates.

    The two lists are disjoint, so a test date never appears in training in any format.
    """
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, int | float):
        raise TypeError(f"test_fraction must be a float, got {type(test_fraction).__name__}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    n = (LAST_DATE - FIRST_DATE).days + 1
    days = [FIRST_DATE + dt.timedelta(days=i) for i in range(n)]
    random.Random(seed).shuffle(days)
    num_test = round(n * test_fraction)
    return days[num_test:], days[:num_test]


def make_date_pairs(
    dates: Sequence[dt.date], num_pairs: int, seed: int = 0, formats: Sequence[str] | None = None
) -> list[tuple[str, str]]:
    """``num_pairs`` distinct (source, target) pairs: a date from ``dates`` in a format -> ISO.

    The (date, format) combinations are drawn uniformly **without replacement**, so no pair appears
    twice (a date may still appear in several formats). ``num_pairs`` can be at most
    ``len(dates) * len(formats)``.
    """
    num_pairs = check_positive_int("num_pairs", num_pairs)
    if len(dates) == 0:
        raise ValueError("dates is empty")
    formats = list(DATE_FORMATS) if formats is None else list(formats)
    if not formats:
        raise ValueError("formats is empty")
    for f in formats:
        if f not in DATE_FORMATS:
            raise ValueError(f"formats must be keys of DATE_FORMATS, got {f!r}")
    total = len(dates) * len(formats)
    if num_pairs > total:
        raise ValueError(
            f"num_pairs can be at most len(dates) * len(formats) = {total} distinct pairs, got {num_pairs}"
        )
    rng = random.Random(seed)
    pairs = []
    for k in rng.sample(range(total), num_pairs):  # distinct combinations, in random order
        d, f = dates[k // len(formats)], formats[k % len(formats)]
        pairs.append((DATE_FORMATS[f](d), d.isoformat()))
    return pairs


def make_date_data(
    num_train: int = 20_000, num_test: int = 2_000, test_fraction: float = 0.2, seed: int = 0
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Train and held-out (source, target) pairs, split by date (see ``split_dates``)."""
    train_dates, test_dates = split_dates(test_fraction, seed)
    return (
        make_date_pairs(train_dates, num_train, seed=seed + 1),
        make_date_pairs(test_dates, num_test, seed=seed + 2),
    )


class CharVocab:
    """Characters <-> integer ids, with ``<pad>`` = 0, ``<bos>`` = 1, ``<eos>`` = 2, ``<unk>`` = 3.

    ``encode(text)`` -> list of ids (unknown characters map to ``<unk>``); ``decode(ids)`` -> string,
    stopping at the first ``<eos>`` and skipping ``<pad>``/``<bos>``; an id outside the vocabulary
    raises ``ValueError``.
    """

    specials = ("<pad>", "<bos>", "<eos>", "<unk>")

    def __init__(self, chars: str):
        if not isinstance(chars, str):
            raise TypeError(f"chars must be a str, got {type(chars).__name__}")
        unique = sorted(set(chars))
        self.idx_to_token = list(self.specials) + unique
        self.token_to_idx = {t: i for i, t in enumerate(self.idx_to_token)}
        self.pad, self.bos, self.eos, self.unk = 0, 1, 2, 3

    def __len__(self) -> int:
        return len(self.idx_to_token)

    def encode(self, text: str) -> list[int]:
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        return [self.token_to_idx.get(c, self.unk) for c in text]

    def decode(self, ids) -> str:
        ids = torch.as_tensor(ids)
        if ids.dim() != 1:
            raise ValueError(
                f"ids must be 1-D (one sequence of token ids), got shape {tuple(ids.shape)}"
            )
        out = []
        for i in ids.tolist():
            if isinstance(i, bool) or not isinstance(i, int):
                raise TypeError(f"ids must be integer token ids, got {i!r}")
            if not 0 <= i < len(self.idx_to_token):
                raise ValueError(
                    f"ids holds {i}, which is not a token id of this vocabulary (0 to {len(self) - 1})"
                )
            if i == self.eos:
                break
            if i in (self.pad, self.bos):
                continue
            tok = self.idx_to_token[i]
            out.append("?" if tok == "<unk>" else tok)
        return "".join(out)


#: The vocabulary of the date task: every character any format can produce.
DATE_VOCAB = CharVocab("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.-/")


def batchify(pairs: Sequence[tuple[str, str]], vocab: CharVocab = DATE_VOCAB):
    """Turn (source, target) strings into padded tensors for teacher forcing.

    Returns ``src`` ``(B, S)`` (right-padded with ``<pad>``), ``src_valid_len`` ``(B,)``,
    ``tgt_in`` ``(B, T + 1)`` = ``<bos>`` + target (the decoder's inputs) and ``tgt_out``
    ``(B, T + 1)`` = target + ``<eos>`` (what it must predict), where T is the longest target.
    """
    if len(pairs) == 0:
        raise ValueError("pairs is empty")
    src_ids = [vocab.encode(s) for s, _ in pairs]
    tgt_ids = [vocab.encode(t) for _, t in pairs]
    if min(len(s) for s in src_ids) == 0:
        raise ValueError("every source string must have at least one character")
    S, T = max(map(len, src_ids)), max(map(len, tgt_ids))
    B = len(pairs)
    src = torch.full((B, S), vocab.pad, dtype=torch.long)
    tgt_in = torch.full((B, T + 1), vocab.pad, dtype=torch.long)
    tgt_out = torch.full((B, T + 1), vocab.pad, dtype=torch.long)
    for b, (s, t) in enumerate(zip(src_ids, tgt_ids, strict=True)):
        src[b, : len(s)] = torch.tensor(s)
        tgt_in[b, : len(t) + 1] = torch.tensor([vocab.bos] + t)
        tgt_out[b, : len(t) + 1] = torch.tensor(t + [vocab.eos])
    src_valid_len = torch.tensor([len(s) for s in src_ids])
    return src, src_valid_len, tgt_in, tgt_out
