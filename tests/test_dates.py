"""Tests for attention_utils.dates: formats, the split by date, the vocabulary and batching."""

import datetime as dt

import pytest
import torch

from attention_utils.dates import (
    DATE_FORMATS,
    DATE_VOCAB,
    CharVocab,
    batchify,
    format_date,
    make_date_data,
    make_date_pairs,
    split_dates,
)


def test_formats_of_a_known_date():
    d = dt.date(2021, 3, 3)  # a Wednesday
    assert format_date(d, "dd.mm.yy") == "03.03.21"
    assert format_date(d, "m/d/yyyy") == "3/3/2021"
    assert format_date(d, "d mon yyyy") == "3 Mar 2021"
    assert format_date(d, "weekday, month d yyyy") == "wednesday, march 3 2021"
    assert (
        format_date(dt.date(2011, 11, 22), "the dth of month yyyy") == "the 22nd of november 2011"
    )
    assert (
        format_date(dt.date(2011, 11, 11), "the dth of month yyyy") == "the 11th of november 2011"
    )
    assert (
        format_date(dt.date(1999, 1, 1), "Weekday the dth of Month, yyyy")
        == "Friday the 1st of January, 1999"
    )


def test_every_format_uses_only_vocab_characters_and_keeps_the_date():
    d = dt.date(1987, 12, 9)
    for name in DATE_FORMATS:
        text = format_date(d, name)
        assert DATE_VOCAB.unk not in DATE_VOCAB.encode(text), name
        assert ("9" in text) and ("87" in text), name  # the day and the year are in every format


def test_two_digit_years_are_unambiguous_in_the_range():
    train, test = split_dates(0.2)
    years = {d.year for d in train + test}
    assert min(years) == 1950 and max(years) == 2049  # so yy -> 19yy if yy >= 50 else 20yy


def test_split_is_disjoint_and_complete():
    train, test = split_dates(0.2, seed=0)
    assert set(train).isdisjoint(test)
    assert len(train) + len(test) == (dt.date(2049, 12, 31) - dt.date(1950, 1, 1)).days + 1
    assert abs(len(test) / (len(train) + len(test)) - 0.2) < 1e-3
    assert split_dates(0.2, seed=0) == (train, test)  # deterministic
    assert split_dates(0.2, seed=1)[1] != test


def test_held_out_pairs_have_unseen_dates():
    train, test = make_date_data(num_train=3000, num_test=500)
    assert {t for _, t in train}.isdisjoint({t for _, t in test})
    assert all(len(t) == 10 and t[4] == "-" and t[7] == "-" for _, t in train + test)
    for src, tgt in test[:50]:
        d = dt.date.fromisoformat(tgt)
        assert src in {f(d) for f in DATE_FORMATS.values()}


def test_vocab_round_trip_and_specials():
    v = CharVocab("ab")
    assert len(v) == 6 and v.idx_to_token[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]
    assert v.encode("abz") == [4, 5, 3]
    assert v.decode([1, 4, 5, 2, 4]) == "ab"  # skips <bos>, stops at <eos>
    assert v.decode(torch.tensor([4, 3, 0])) == "a?"
    assert v.decode([]) == ""
    with pytest.raises(ValueError, match="ids holds 6, which is not a token id"):
        v.decode([4, 6])
    with pytest.raises(ValueError, match="ids holds -1"):
        v.decode(torch.tensor([-1]))
    with pytest.raises(ValueError, match="ids must be 1-D"):
        v.decode([[4, 5]])
    with pytest.raises(TypeError, match="text must be a str"):
        v.encode(5)


def test_batchify_shapes_and_teacher_forcing():
    pairs = [("3 Mar 2021", "2021-03-03"), ("03.03.21", "2021-03-03")]
    src, src_len, tgt_in, tgt_out = batchify(pairs)
    assert src.shape == (2, 10) and src_len.tolist() == [10, 8]
    assert (src[1, 8:] == DATE_VOCAB.pad).all()
    assert tgt_in.shape == tgt_out.shape == (2, 11)
    assert tgt_in[0, 0] == DATE_VOCAB.bos and tgt_out[0, -1] == DATE_VOCAB.eos
    assert torch.equal(tgt_in[:, 1:], tgt_out[:, :-1])  # shifted by one
    assert DATE_VOCAB.decode(tgt_out[0]) == "2021-03-03"


def test_bad_arguments():
    with pytest.raises(ValueError, match="fmt must be one of"):
        format_date(dt.date(2000, 1, 1), "nope")
    with pytest.raises(TypeError, match="date must be a datetime.date"):
        format_date("2000-01-01", "iso")
    with pytest.raises(ValueError, match="test_fraction must be in"):
        split_dates(1.0)
    with pytest.raises(ValueError, match="dates is empty"):
        make_date_pairs([], 3)
    with pytest.raises(ValueError, match="pairs is empty"):
        batchify([])


def test_pairs_are_distinct_and_cover_formats_uniformly():
    train, test = make_date_data(num_train=20_000, num_test=2_000)
    assert len(set(train)) == len(train) and len(set(test)) == len(test)  # no duplicate pair
    dates = [dt.date(2000, 1, d) for d in range(1, 4)]
    pairs = make_date_pairs(dates, 3 * len(DATE_FORMATS))  # every combination exactly once
    assert len(set(pairs)) == 3 * len(DATE_FORMATS)
    with pytest.raises(ValueError, match="num_pairs can be at most"):
        make_date_pairs(dates, 3 * len(DATE_FORMATS) + 1)
    assert make_date_pairs(dates, 5, seed=1) == make_date_pairs(dates, 5, seed=1)
    iso_only = make_date_pairs(dates, 3, formats=["iso"])
    assert sorted(iso_only) == [(d.isoformat(), d.isoformat()) for d in dates]
    with pytest.raises(ValueError, match="formats is empty"):
        make_date_pairs(dates, 1, formats=[])
