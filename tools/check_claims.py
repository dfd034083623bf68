"""Re-run notebooks under other seeds and CPU kernels, and report every claim check's verdict.

Usage:
    python tools/check_claims.py notebooks/04_bahdanau_attention.ipynb [more.ipynb ...]
        [--seeds 0 1 2] [--emulations native avx2 default] [--markdown]

The portability contract (CONTRIBUTING.md) says that every claim a lesson draws from a trained or
timed number is checked in an untagged cell, tagged ``claim`` as well, that prints a verdict such as
``attention beats the baseline in every length bin: True``. This tool executes each notebook once per
(seed, emulation) pair, in a fresh kernel, without touching the stored notebook:

- the seed is varied through ``AU_SEED_OFFSET``, which ``attention_utils.set_seed`` adds to every seed;
- the emulations make PyTorch and MKL use other kernels than this CPU's best:
  ``avx2`` = ``ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=AVX2``,
  ``default`` = ``ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE``.

It prints a table with one row per verdict line of the ``claim`` cells and one column per run, and a
last row counting the untagged cells whose text output differs from the stored one (what strict nbval
would flag; only meaningful for seed 0). The exit code is 1 if any verdict is False or missing.
"""

from __future__ import annotations

import argparse
import configparser
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

EMULATIONS: dict[str, dict[str, str]] = {
    "native": {},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2"},
    "default": {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE"},
}
EMULATION_VARS = ("ATEN_CPU_CAPABILITY", "MKL_CBWR")
VERDICT = re.compile(r"^(?P<label>.*?)[:\s]\s*(?P<verdict>True|False)\.?\s*$")
SANITIZE_FILE = Path(__file__).resolve().parent.parent / "tests" / "nbval_sanitize.cfg"


def _sanitizers() -> list[tuple[re.Pattern, str]]:
    parser = configparser.ConfigParser()
    parser.read(SANITIZE_FILE)
    return [(re.compile(parser[s]["regex"]), parser[s]["replace"]) for s in parser.sections()]


def _text(outputs: list, sanitizers) -> str:
    """The text an nbval comparison looks at: streams and text/plain, sanitized."""
    parts = []
    for out in outputs:
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif "data" in out and "text/plain" in out["data"]:
            parts.append(out["data"]["text/plain"])
    text = "".join(p if isinstance(p, str) else "".join(p) for p in parts)
    for pattern, replace in sanitizers:
        text = pattern.sub(replace, text)
    return text.strip()


def _tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def run_once(path: Path, seed: int, emulation: str, timeout: int = 900):
    """Execute a copy of the notebook; return (verdicts {label: bool}, differing untagged cells, seconds)."""
    stored = nbformat.read(path, as_version=4)
    nb = nbformat.read(path, as_version=4)
    saved = {k: os.environ.get(k) for k in ("AU_SEED_OFFSET", *EMULATION_VARS)}
    os.environ["AU_SEED_OFFSET"] = str(seed)
    for var in EMULATION_VARS:
        os.environ.pop(var, None)
    os.environ.update(EMULATIONS[emulation])
    try:
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
            store_widget_state=True,
        )
        start = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - start
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    sanitizers = _sanitizers()
    verdicts: dict[str, bool] = {}
    differing: list[int] = []
    for index, (old, new) in enumerate(zip(stored.cells, nb.cells, strict=True)):
        if new.cell_type != "code":
            continue
        tags = _tags(new)
        if "claim" in tags:
            for line in _text(new.outputs, sanitizers).splitlines():
                match = VERDICT.match(line.strip())
                if match:
                    label = f"[cell {index}] {match['label'].strip()}"
                    verdicts[label] = match["verdict"] == "True"
        if "nbval-ignore-output" not in tags and "nbval-skip" not in tags:
            if _text(old.outputs, sanitizers) != _text(new.outputs, sanitizers):
                differing.append(index)
    return verdicts, differing, seconds


def report(path: Path, results: dict[tuple[int, str], tuple], markdown: bool) -> bool:
    runs = list(results)
    labels: list[str] = []
    for verdicts, _, _ in results.values():
        labels += [label for label in verdicts if label not in labels]
    header = ["claim"] + [f"seed {s} {e}" for s, e in runs]
    rows = []
    ok = True
    for label in labels:
        row = [label]
        for run in runs:
            verdict = results[run][0].get(label)
            ok &= verdict is True
            row.append("missing" if verdict is None else str(verdict))
        rows.append(row)
    rows.append(["untagged cells differing from stored"] + [str(len(results[r][1])) for r in runs])
    rows.append(["run time (s)"] + [f"{results[r][2]:.1f}" for r in runs])
    print(f"\n{path}")
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    if not labels:
        print("no cell tagged `claim` printed a True/False verdict")
        ok = False
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument(
        "--emulations", nargs="+", choices=list(EMULATIONS), default=["native", "avx2", "default"]
    )
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    args = parser.parse_args(argv)
    all_ok = True
    for path in args.notebooks:
        results = {}
        for seed in args.seeds:
            for emulation in args.emulations:
                print(f"running {path.name}: seed offset {seed}, {emulation} ...", flush=True)
                results[(seed, emulation)] = run_once(path, seed, emulation)
        all_ok &= report(path, results, args.markdown)
    print("\nall claims hold" if all_ok else "\nSOME CLAIMS FAIL OR ARE MISSING")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
