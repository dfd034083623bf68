"""The attention benchmark's --smoke path runs on CPU in seconds and prints a complete, correct table."""

import math
import subprocess
import sys
from pathlib import Path

import torch

from attention_utils.efficient import METHODS, benchmark_attention, format_table

ROOT = Path(__file__).resolve().parents[1]


def test_smoke_run_as_a_script():
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "attention.py"), "--smoke", "--threads", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("# attention benchmark") and "cpu" in lines[0]
    body = [line.split() for line in lines[3:]]
    assert len(body) == 2 * len(METHODS)  # two lengths x every method
    assert {row[1] for row in body} == set(METHODS)
    for row in body:
        if row[1] == "sdpa":
            assert row[-1] == "—", row  # SDPA is the reference: no difference to itself is shown
        else:
            assert float(row[-1]) < 1e-4, row  # every other method agrees with its reference


def test_rows_and_ratios():
    rows = benchmark_attention(
        [16, 48], batch=1, heads=2, head_dim=8, block_size=5, warmup=0, repeats=1
    )
    assert [(r.n, r.method) for r in rows] == [(n, m) for n in (16, 48) for m in METHODS]
    for r in rows:
        assert r.seconds > 0 and r.flops > 0
        if r.method == "sdpa":
            assert r.time_vs_sdpa == 1.0 and r.memory_vs_sdpa == 1.0
            assert math.isnan(r.max_diff)  # the reference is not compared with itself
        else:
            assert r.max_diff < 1e-5, r
    naive = {r.n: r for r in rows if r.method == "naive"}
    assert naive[48].flops == 4 * 1 * 2 * 48 * 48 * 8
    assert naive[48].peak_bytes > naive[16].peak_bytes  # memory grows with n
    text = format_table(rows)
    assert "TFLOP/s" in text and "mem/SDPA" in text and len(text.splitlines()) == 2 + len(rows)


def test_method_subset_and_bfloat16():
    rows = benchmark_attention(
        [32],
        heads=1,
        head_dim=8,
        methods=["blocked", "sdpa"],
        dtype=torch.bfloat16,
        warmup=0,
        repeats=1,
    )
    assert [r.method for r in rows] == ["blocked", "sdpa"]
    assert rows[0].max_diff < 5e-2


def test_benchmark_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    want = torch.rand(3)
    torch.manual_seed(123)
    benchmark_attention([8], heads=1, head_dim=4, methods=["mha_fast"], warmup=0, repeats=1)
    assert torch.equal(torch.rand(3), want)


def test_torch_mha_is_compared_with_our_reference_not_itself(monkeypatch):
    from attention_utils import multihead

    rows = benchmark_attention([8], heads=1, head_dim=4, warmup=0, repeats=1)
    assert 0 <= next(r for r in rows if r.method == "torch_mha").max_diff < 1e-5
    # Shift the reference path's output by 1: torch_mha's row must see it (it would not if it
    # were compared with itself), and mha_fast's row must not.
    original = multihead.MultiHeadAttention.forward

    def shifted(self, *args, need_weights=True, **kwargs):
        out = original(self, *args, need_weights=need_weights, **kwargs)
        return out + 1 if need_weights else out

    monkeypatch.setattr(multihead.MultiHeadAttention, "forward", shifted)
    rows = {r.method: r for r in benchmark_attention([8], heads=1, head_dim=4, warmup=0, repeats=1)}
    assert abs(rows["torch_mha"].max_diff - 1) < 1e-5
    assert abs(rows["mha_reference"].max_diff - 1) < 1e-5
    assert rows["mha_fast"].max_diff < 1e-5


def test_out_of_memory_row_has_nan_ratios(monkeypatch):
    from attention_utils import efficient

    def out_of_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("pretend the GPU is full")

    monkeypatch.setattr(efficient, "naive_attention", out_of_memory)
    rows = benchmark_attention(
        [16], heads=1, head_dim=4, methods=["naive", "sdpa"], warmup=0, repeats=1
    )
    naive = rows[0]
    assert naive.peak_bytes == -1
    assert math.isnan(naive.seconds) and math.isnan(naive.max_diff)
    assert math.isnan(naive.time_vs_sdpa) and math.isnan(naive.memory_vs_sdpa)
    assert "OOM" in format_table(rows)
