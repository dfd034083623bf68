"""check_sinusoidal_encoding accepts the reference table and rejects the usual mistakes with their hints."""

import math

import pytest
import torch

import attention_utils as au
from attention_utils.exercises import check_sinusoidal_encoding


def table(n, d, *, start=0, exponent="2i", swap=False, halves=False, stub=False):
    if stub:
        raise NotImplementedError
    P = torch.zeros(n, d)
    for p in range(n):
        for i in range(0, d, 2):
            k = i if exponent == "2i" else i // 2
            a = (p + start) / 10000 ** (k / d)
            s, c = (math.cos(a), math.sin(a)) if swap else (math.sin(a), math.cos(a))
            P[p, i] = s
            if i + 1 < d:
                P[p, i + 1] = c
    if halves:
        P = torch.cat([P[:, 0::2], P[:, 1::2]], dim=1)
    return P


@pytest.mark.parametrize("fn", [au.sinusoidal_table, table], ids=["package", "loops"])
def test_accepts_correct_tables(capsys, fn):
    assert check_sinusoidal_encoding(fn)
    assert capsys.readouterr().out.startswith("✅ check_sinusoidal_encoding: all 4 checks passed")


@pytest.mark.parametrize(
    ("kwargs", "hint"),
    [
        ({"stub": True}, "not implemented yet"),
        ({"swap": True}, "swapped"),
        ({"start": 1}, "positions start at 0"),
        ({"exponent": "i"}, "not 1 / 10000**(i / d)"),
        ({"halves": True}, "interleave them"),
    ],
)
def test_rejects_usual_mistakes(capsys, kwargs, hint):
    assert not check_sinusoidal_encoding(lambda n, d: table(n, d, **kwargs))
    out = capsys.readouterr().out
    assert out.startswith("❌") and hint in out, out


def test_rejects_even_only_table_for_odd_width(capsys):
    def even_only(n, d):
        P = au.sinusoidal_table(n, d)
        if d % 2:
            P[:, -1] = 0
        return P

    assert not check_sinusoidal_encoding(even_only)
    assert "odd num_hiddens" in capsys.readouterr().out


def test_table_for_d_plus_one_gets_the_exponent_hint(capsys):
    def padded(n, d):
        return au.sinusoidal_table(n, d + d % 2)[
            :, :d
        ]  # build an even table, drop the extra column

    assert not check_sinusoidal_encoding(padded)
    out = capsys.readouterr().out
    assert "exponent" in out and "num_hiddens itself" in out, out
    assert "last column is a sine" not in out, out


def test_odd_width_with_cosine_last_gets_the_sine_hint(capsys):
    def cos_last(n, d):
        P = au.sinusoidal_table(n, d)
        if d % 2:
            i = d // 2
            P[:, -1] = torch.cos(torch.arange(n) / 10000 ** (2 * i / d))
        return P

    assert not check_sinusoidal_encoding(cos_last)
    assert "last column is a sine" in capsys.readouterr().out
