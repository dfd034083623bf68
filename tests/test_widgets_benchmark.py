"""benchmarks/widgets.py: discovery of benchmark_cases() and the timing of one synthetic explorer."""

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("ipywidgets")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location(
        "widgets_bench", ROOT / "benchmarks" / "widgets.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def make_explorer():
    import ipywidgets as widgets

    from attention_utils.widgets import Explorer

    return Explorer(
        {"n": widgets.IntSlider(value=1, min=0, max=10)},
        update=lambda n: {"text": f"n = {n}", "square": n * n},
    )


def test_time_case_counts_only_real_redraws(bench):
    # The first value equals the slider's start: that set is not a redraw, and is not timed.
    result = bench.time_case("demo", ("demo.square", make_explorer, "n", [1, 2, 3]), repeats=2)
    assert result.redraws == 2 + 3  # round 1: 2 and 3; round 2: 1, 2 and 3
    assert 0 <= result.mean_best_ms <= result.slowest_best_ms
    assert result.ok
    table = bench.format_table([result])
    assert "demo.square" in table and "yes" in table


def test_a_missing_control_is_named(bench):
    with pytest.raises(ValueError, match="no control 'm'"):
        bench.time_case("demo", ("demo.bad", make_explorer, "m", [1]), repeats=1)


def test_discovery_finds_every_module_with_cases(bench):
    import pkgutil

    import attention_utils.widgets as package

    modules = dict(bench.discover())
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_"):
            continue
        source = (Path(package.__path__[0]) / f"{info.name}.py").read_text()
        if "def benchmark_cases(" in source:
            assert info.name in modules
            for case in modules[info.name]:
                name, make, control, values = case
                assert isinstance(name, str) and callable(make) and isinstance(control, str)
                assert len(values) >= 2
