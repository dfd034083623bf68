"""The attention benchmark's --smoke path runs on CPU in seconds and prints a complete, correct table."""

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
        assert float(row[-1]) < 1e-4, row  # every method agrees with its reference


def test_rows_and_ratios():
    rows = benchmark_attention(
        [16, 48], batch=1, heads=2, head_dim=8, block_size=5, warmup=0, repeats=1
    )
    assert [(r.n, r.method) for r in rows] == [(n, m) for n in (16, 48) for m in METHODS]
    for r in rows:
        assert r.seconds > 0 and r.flops > 0 and r.max_diff < 1e-5
        if r.method == "sdpa":
            assert r.time_vs_sdpa == 1.0 and r.memory_vs_sdpa == 1.0
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
