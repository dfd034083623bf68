"""Benchmark attention implementations on CPU or CUDA: time, TFLOP/s, peak memory, ratio to SDPA.

Measures, for each sequence length n (forward pass, no gradients):

* ``naive``          softmax(QKᵀ/√d) materialized, then @ V      (attention_utils.efficient)
* ``blocked``        online-softmax over key blocks, plain PyTorch (attention_utils.efficient)
* ``sdpa``           torch.nn.functional.scaled_dot_product_attention
* ``mha_reference``  attention_utils.MultiHeadAttention, need_weights=True (keeps the weights)
* ``mha_fast``       attention_utils.MultiHeadAttention, need_weights=False (SDPA inside)
* ``torch_mha``      torch.nn.MultiheadAttention, need_weights=False

The ``mha_*`` rows include the four width × width projections in their FLOPs. ``max diff`` compares
``naive`` and ``blocked`` with SDPA, the package's ``mha_*`` with torch's MultiheadAttention, and
``torch_mha`` with ``mha_reference``; SDPA's own row is the reference and prints "—" there (NaN in
``BenchmarkRow.max_diff``). The measuring code is ``attention_utils.efficient.benchmark_attention``,
the same function lesson 08 calls.

Examples:
    python benchmarks/attention.py --smoke                       # a few seconds on CPU
    python benchmarks/attention.py --lengths 256 512 1024        # CPU, float32
    python benchmarks/attention.py --device cuda --dtype bfloat16 --batch 2 --heads 16 \\
        --head-dim 64 --lengths 1024 2048 4096 8192 16384 --methods naive blocked sdpa
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
from pathlib import Path

import torch

if __package__ in (None, ""):  # run as a script: make the repository's package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from attention_utils.efficient import METHODS, benchmark_attention, format_table  # noqa: E402

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--dtype", default="float32", choices=sorted(DTYPES))
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--head-dim", type=int, default=64)
    p.add_argument("--lengths", type=int, nargs="+", default=[256, 512, 1024])
    p.add_argument("--block-size", type=int, default=128)
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch.set_num_threads (CPU); default: torch's choice",
    )
    p.add_argument(
        "--smoke", action="store_true", help="tiny sizes, one repeat: checks that everything runs"
    )
    args = p.parse_args(argv)
    if args.smoke:
        args.batch, args.heads, args.head_dim, args.lengths = 1, 2, 16, [32, 64]
        args.warmup, args.repeats = 0, 1
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda was asked for, but torch.cuda.is_available() is False")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    where = (
        torch.cuda.get_device_name()
        if args.device == "cuda"
        else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    )
    print(
        f"# attention benchmark, {datetime.datetime.now().isoformat(timespec='minutes')}, torch {torch.__version__}, "
        f"{args.device} ({where}), {args.dtype}, B={args.batch} H={args.heads} d={args.head_dim}, "
        f"block={args.block_size}, "
        + (
            "1 run per method (a smoke test, not a measurement)"
            if args.repeats == 1
            else f"median of {args.repeats} runs after {args.warmup} warm-up"
        )
    )
    rows = benchmark_attention(
        args.lengths,
        batch=args.batch,
        heads=args.heads,
        head_dim=args.head_dim,
        device=args.device,
        dtype=DTYPES[args.dtype],
        block_size=args.block_size,
        methods=args.methods,
        warmup=args.warmup,
        repeats=args.repeats,
    )
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
