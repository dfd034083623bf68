"""check_repeat_kv accepts the right answers and names the classic repeat-vs-repeat_interleave bug."""

import torch

from attention_utils.exercises import check_repeat_kv
from attention_utils.exercises.decoder import reference_repeat_kv


def run(fn, capsys):
    ok = check_repeat_kv(fn)
    return ok, capsys.readouterr().out


def test_accepts_the_reference_and_the_expand_version(capsys):
    def expand(kv, num_heads):
        B, k, n, d = kv.shape
        return kv[:, :, None].expand(B, k, num_heads // k, n, d).reshape(B, num_heads, n, d)

    for fn in (reference_repeat_kv, expand):
        ok, out = run(fn, capsys)
        assert ok and out.startswith("✅"), out


def test_names_the_repeat_bug(capsys):
    ok, out = run(lambda kv, h: kv.repeat(1, h // kv.shape[1], 1, 1), capsys)
    assert not ok and "❌" in out and "tiles the whole stack" in out and "[0, 0, 1, 1]" in out
    assert "repeat_interleave" not in out  # the exercise forbids it: the hint must not suggest it


def test_names_the_expand_reshape_twin_of_the_bug(capsys):
    def tiled(kv, num_heads):
        B, k, n, d = kv.shape
        return kv[:, None].expand(B, num_heads // k, k, n, d).reshape(B, num_heads, n, d)

    ok, out = run(tiled, capsys)
    assert not ok and "contiguous" in out


def test_other_mistakes(capsys):
    ok, out = run(lambda kv, h: kv, capsys)
    assert not ok and "shape" in out
    ok, out = run(
        lambda kv, h: kv.repeat_interleave(h // kv.shape[1], dim=2).transpose(1, 2)[:, :h, :3],
        capsys,
    )
    assert not ok

    def in_place(kv, h):
        kv += 0.0 if h == 0 else 1.0
        return reference_repeat_kv(kv, h)

    ok, out = run(in_place, capsys)
    assert not ok and "in place" in out
    ok, out = run(lambda kv, h: (_ for _ in ()).throw(NotImplementedError), capsys)
    assert not ok and "not implemented yet" in out


def test_checker_never_raises(capsys):
    ok, out = run(lambda kv, h: torch.zeros(1), capsys)
    assert not ok and out.startswith("❌")
