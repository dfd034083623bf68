"""Checker for lesson 06: the sinusoidal positional-encoding table."""

from __future__ import annotations

import torch

from ._harness import Mismatch, expect_close, expect_finite, expect_shape, run_checks

__all__ = ["check_sinusoidal_encoding"]


def _table(max_len: int, d: int, *, start: int = 0, pair_exponent: bool = True, swap: bool = False):
    pos = torch.arange(start, start + max_len, dtype=torch.float64)[:, None]  # (n, 1)
    i = torch.arange(0, d, 2, dtype=torch.float64) if pair_exponent else torch.arange((d + 1) // 2)
    angles = pos / 10000 ** (i.double() / d)  # (n, ceil(d/2))
    P = torch.zeros(max_len, d, dtype=torch.float64)
    first, second = (torch.cos, torch.sin) if swap else (torch.sin, torch.cos)
    P[:, 0::2] = first(angles)
    P[:, 1::2] = second(angles[:, : d // 2])
    return P


def check_sinusoidal_encoding(fn, verbose: bool = True) -> bool:
    """Check ``fn(max_len, num_hiddens) -> P``, the ``(max_len, num_hiddens)`` sinusoidal table.

    ``P[p, 2i] = sin(p / 10000**(2i / d))`` and ``P[p, 2i + 1] = cos(p / 10000**(2i / d))``, for positions
    ``p = 0 .. max_len - 1``; an odd ``d`` ends with a sine column.
    """

    def call(n, d):
        P = expect_shape(fn(n, d), (n, d), f"fn({n}, {d})")
        expect_finite(P)
        return P.detach().double()

    def shape_and_row0():
        P = call(6, 8)
        want = torch.tensor([0.0, 1.0] * 4, dtype=torch.float64)
        if torch.allclose(P[0], want[[1, 0] * 4], atol=1e-6):
            raise Mismatch(
                "row 0 is [1, 0, 1, 0, ...]: sine and cosine are swapped (even columns are sines)"
            )
        if torch.allclose(P[0], want.reshape(4, 2).T.reshape(8), atol=1e-6):
            raise Mismatch(
                "you put all sines first, then all cosines; interleave them: column 2i sine, 2i+1 cosine"
            )
        if torch.allclose(P[0], _table(1, 8, start=1)[0], atol=1e-5):
            raise Mismatch(
                "row 0 looks like position 1: positions start at 0 (torch.arange(max_len))"
            )
        if not torch.allclose(P[0], want, atol=1e-6):
            raise Mismatch(
                f"position 0 should be [0, 1, 0, 1, ...] (sin 0, cos 0), got {P[0].tolist()}"
            )

    def values():
        P = call(20, 8)
        if torch.allclose(P, _table(20, 8, pair_exponent=False), atol=1e-5):
            raise Mismatch(
                "the frequency of pair i should be 1 / 10000**(2i / d), not 1 / 10000**(i / d)"
            )
        half = torch.cat([_table(20, 8)[:, 0::2], _table(20, 8)[:, 1::2]], dim=1)
        if torch.allclose(P, half, atol=1e-5):
            raise Mismatch(
                "you put all sines first, then all cosines; interleave them: column 2i sine, 2i+1 cosine"
            )
        expect_close(
            P, _table(20, 8), "the table differs from sin/cos(p / 10000**(2i / d))", atol=1e-4
        )

    def long_table():
        expect_close(call(300, 16), _table(300, 16), "wrong values for large positions", atol=1e-3)

    def odd_width():
        P, want = call(10, 5), _table(10, 5)
        if torch.allclose(P, _table(10, 6)[:, :5], atol=1e-4):
            raise Mismatch(
                "every frequency is off: you used the width 6 in the exponent for num_hiddens = 5 "
                "(a table built for num_hiddens + 1 with its last column dropped?); "
                "omega_i = 1 / 10000**(2i / num_hiddens) with the odd num_hiddens itself"
            )
        if torch.allclose(P[:, :-1], want[:, :-1], atol=1e-4):
            expect_close(
                P[:, -1],
                want[:, -1],
                "with an odd num_hiddens the last column is a sine, sin(p * omega_(d // 2))",
                atol=1e-4,
            )
        expect_close(
            P,
            want,
            "with an odd num_hiddens the values differ from sin/cos(p / 10000**(2i / num_hiddens))",
            atol=1e-4,
        )

    cases = [
        ("position 0", shape_and_row0),
        ("values", values),
        ("300 positions", long_table),
        ("odd num_hiddens", odd_width),
    ]
    return run_checks("check_sinusoidal_encoding", cases, verbose=verbose)
