"""Benchmark the KV cache and grouped-query attention: tokens/s with and without a cache, cache bytes.

Greedy generation from a random-weight ``attention_utils.DecoderLM`` (pre-norm blocks with an FFN,
rotary positions), three ways:

* ``recompute``     the whole prefix runs through the model at every step (no cache)
* ``growing``       one new token per step, each layer's keys/values appended with ``torch.cat``
* ``preallocated``  one new token per step, keys/values written into buffers made once

For each: tokens/s, the mean step time over the first and the last quarter of the new tokens (flat
for a cache, growing for recompute), the speedup over recompute, and whether the tokens and logits
equal recompute's. Then, with the preallocated cache, one row per ``num_kv_heads``: the cache's bytes
(measured from the buffers) against the formula 2 · layers · kv_heads · head_dim · positions · bytes
(times the batch size), and tokens/s.

Examples:
    python benchmarks/kv_cache.py --smoke                  # a few seconds on CPU
    python benchmarks/kv_cache.py                          # 4 layers, width 256, 256 new tokens, CPU
    python benchmarks/kv_cache.py --device cuda --layers 8 --width 1024 --heads 16 --new-tokens 1024
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

from attention_utils.decoder import DecoderLM, kv_cache_bytes, timed_generation  # noqa: E402

MODES = ("recompute", "growing", "preallocated")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument(
        "--kv-heads", type=int, nargs="+", default=None, help="default: heads, heads/2, .., 1"
    )
    p.add_argument("--vocab", type=int, default=512)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--prompt", type=int, default=16, help="prompt length")
    p.add_argument("--new-tokens", type=int, default=256)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--clock",
        default="wall",
        choices=["wall", "thread"],
        help="thread: CPU time of the calling thread (steadier on a busy machine; use --threads 1)",
    )
    p.add_argument("--smoke", action="store_true", help="tiny sizes: checks that everything runs")
    args = p.parse_args(argv)
    if args.smoke:
        args.layers, args.width, args.heads, args.vocab = 2, 32, 4, 64
        args.prompt, args.new_tokens = 4, 12
    if args.kv_heads is None:
        args.kv_heads, k = [], args.heads
        while k >= 1:
            args.kv_heads.append(k)
            k //= 2
    for k in args.kv_heads:
        if k < 1 or args.heads % k:
            p.error(f"--kv-heads {k} must divide --heads {args.heads}")
    if args.clock == "thread" and (args.device != "cpu" or args.threads != 1):
        p.error("--clock thread measures one CPU thread: use it with --device cpu --threads 1")
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda was asked for, but torch.cuda.is_available() is False")
    return args


def build(args, num_kv_heads: int) -> DecoderLM:
    torch.manual_seed(args.seed)
    model = DecoderLM(
        args.vocab, args.width, args.heads, args.layers, 4 * args.width, num_kv_heads=num_kv_heads
    )
    return model.to(args.device).eval()


def run(args) -> dict:
    """Measure everything; returns the rows of both tables (the smoke test reads them)."""
    gen = torch.Generator().manual_seed(args.seed)
    prompt = torch.randint(0, args.vocab, (args.batch, args.prompt), generator=gen).to(args.device)
    model = build(args, args.heads)
    timed_generation(model, prompt, 2, cache="preallocated")  # warm-up: first-call costs
    results, reference = {}, None
    q = max(1, args.new_tokens // 4)
    for mode in MODES:
        tokens, logits, secs = timed_generation(
            model,
            prompt,
            args.new_tokens,
            cache=None if mode == "recompute" else mode,
            clock=args.clock,
        )
        if reference is None:
            reference = (tokens, logits)
        results[mode] = {
            "tokens_per_s": args.batch * args.new_tokens / sum(secs),
            "first_ms": 1e3 * sum(secs[:q]) / q,
            "last_ms": 1e3 * sum(secs[-q:]) / q,
            "seconds": sum(secs),
            "same_tokens": bool(torch.equal(tokens, reference[0])),
            "max_logit_diff": (logits - reference[1]).abs().max().item(),
        }
    for r in results.values():
        r["speedup"] = results["recompute"]["seconds"] / r["seconds"]
    gqa = []
    head_dim = args.width // args.heads
    positions = args.prompt + args.new_tokens
    for kv in args.kv_heads:
        m = build(args, kv)
        caches = m.new_caches(args.batch, positions)
        with torch.no_grad():
            m(prompt, caches, need_weights=False)
        measured = sum(c.nbytes for c in caches)
        _, _, secs = timed_generation(
            m, prompt, args.new_tokens, cache="preallocated", clock=args.clock
        )
        bytes_per = torch.finfo(caches[0].keys.dtype).bits // 8
        gqa.append(
            {
                "kv_heads": kv,
                "measured": measured,
                "formula": args.batch
                * kv_cache_bytes(args.layers, kv, head_dim, positions, bytes_per),
                "tokens_per_s": args.batch * args.new_tokens / sum(secs),
            }
        )
    return {"modes": results, "gqa": gqa}


def format_report(args, out: dict) -> str:
    lines = [
        "mode          tokens/s  first-quarter ms/token  last-quarter ms/token  speedup  same tokens"
        "  max |logit diff|"
    ]
    for mode, r in out["modes"].items():
        lines.append(
            f"{mode:<13} {r['tokens_per_s']:>8.1f}  {r['first_ms']:>22.2f}  {r['last_ms']:>21.2f}"
            f"  {r['speedup']:>6.1f}x  {str(r['same_tokens']):>11}  {r['max_logit_diff']:>16.1e}"
        )
    lines.append("")
    lines.append(
        "kv_heads  cache bytes (measured)  formula 2·L·kv·d·n·4·B  equal  tokens/s (cached)"
    )
    for g in out["gqa"]:
        lines.append(
            f"{g['kv_heads']:>8}  {g['measured']:>22,}  {g['formula']:>22,}  "
            f"{str(g['measured'] == g['formula']):>5}  {g['tokens_per_s']:>17.1f}"
        )
    return "\n".join(lines)


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
        f"# KV-cache benchmark, {datetime.datetime.now().isoformat(timespec='minutes')}, "
        f"torch {torch.__version__}, {args.device} ({where}), float32, layers={args.layers} "
        f"width={args.width} heads={args.heads} B={args.batch} prompt={args.prompt} "
        f"new={args.new_tokens}, clock={args.clock}"
        + (" (smoke test, not a measurement)" if args.smoke else "")
    )
    print(format_report(args, run(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
