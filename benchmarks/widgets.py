"""Time the lesson widgets' redraws: how long one control move takes to update an explorer.

Discovers every module in ``attention_utils/widgets`` that defines ``benchmark_cases()`` (a list of
``(name, make_explorer, control_name, [values...])``), builds each explorer once, then sets the
control to each value in turn, ``--repeats`` times over. A move runs exactly what a browser move runs
in the kernel (``Explorer.refresh``: compute, draw, render the PNG), without the browser's share.

Printed per case: the build time, then, for the control's values, the best time of the repeats
(``best``: the least disturbed by other load) as the mean over values and for the slowest value
(``slowest``), which is compared with the 200 ms budget (issue 10). ``1st move`` is the slowest
first move to a value: an explorer that caches what it drew is fast only from the second time on.
One thread, like a laptop core that also runs the browser:

    python benchmarks/widgets.py                 # every module, 5 repeats
    python benchmarks/widgets.py --only kernels  # module names containing "kernels"
"""

from __future__ import annotations

import os

# One thread, set before torch is imported.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import importlib  # noqa: E402
import pkgutil  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402

BUDGET_MS = 200.0


@dataclass
class CaseResult:
    module: str
    name: str
    control: str
    n_values: int
    build_ms: float
    mean_best_ms: float
    slowest_best_ms: float
    slowest_first_ms: float
    redraws: int

    @property
    def ok(self) -> bool:
        return self.slowest_best_ms <= BUDGET_MS


def discover(only: str | None = None) -> list[tuple[str, list]]:
    """(module name, its benchmark_cases()) for every widgets module that defines them."""
    import attention_utils.widgets as package

    found = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith("_") or (only and only not in info.name):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        cases = getattr(module, "benchmark_cases", None)
        if callable(cases):
            found.append((info.name, list(cases())))
    return found


def time_case(module: str, case, repeats: int) -> CaseResult:
    name, make_explorer, control_name, values = case
    start = time.perf_counter()
    explorer = make_explorer()
    build_ms = 1e3 * (time.perf_counter() - start)
    if control_name not in explorer.controls:
        raise ValueError(f"{name}: no control {control_name!r} in {sorted(explorer.controls)}")
    control = explorer.controls[control_name]
    best: dict[int, float] = {}
    first: dict[int, float] = {}
    redraws = 0
    for _ in range(repeats):
        for i, value in enumerate(values):
            before = explorer.redraws
            start = time.perf_counter()
            control.value = value
            seconds = time.perf_counter() - start
            if explorer.redraws == before:  # the value did not change: nothing was redrawn
                continue
            redraws += explorer.redraws - before
            best[i] = min(best.get(i, float("inf")), 1e3 * seconds)
            first.setdefault(i, 1e3 * seconds)
    if not best:
        raise ValueError(f"{name}: no value of {control_name!r} made the explorer redraw")
    return CaseResult(
        module=module,
        name=name,
        control=control_name,
        n_values=len(values),
        build_ms=build_ms,
        mean_best_ms=statistics.fmean(best.values()),
        slowest_best_ms=max(best.values()),
        slowest_first_ms=max(first.values()),
        redraws=redraws,
    )


def format_table(results: list[CaseResult]) -> str:
    head = (
        f"{'module':<12} {'case':<44} {'control':<12} {'values':>6} {'build ms':>9} "
        f"{'1st move':>8} {'best ms':>8} {'slowest':>8}  ≤200 ms"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r.module:<12} {r.name[:44]:<44} {r.control[:12]:<12} {r.n_values:>6} "
            f"{r.build_ms:>9.1f} {r.slowest_first_ms:>8.1f} {r.mean_best_ms:>8.1f} "
            f"{r.slowest_best_ms:>8.1f}  "
            f"{'yes' if r.ok else 'NO'}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="passes over the values (best kept)")
    parser.add_argument("--only", help="only modules whose name contains this")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")

    import matplotlib
    import torch

    matplotlib.use("Agg")
    torch.set_num_threads(1)
    modules = discover(args.only)
    print(
        f"# widget redraw benchmark: {len(modules)} modules, best of {args.repeats}, "
        f"1 thread, torch {torch.__version__}, {platform.processor() or platform.machine()}"
    )
    results = [time_case(m, case, args.repeats) for m, cases in modules for case in cases]
    print(format_table(results))
    slow = [r.name for r in results if not r.ok]
    print(f"# {len(results) - len(slow)}/{len(results)} cases within {BUDGET_MS:.0f} ms per redraw")
    return 0


if __name__ == "__main__":
    sys.exit(main())
