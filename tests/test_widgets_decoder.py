"""Lesson 09's induction explorer: moving a control changes what is shown, and the numbers are right."""

import time

import pytest
import torch

pytest.importorskip("ipywidgets")

from matplotlib.figure import Figure  # noqa: E402

from attention_utils.widgets import decoder as wd  # noqa: E402


def test_expected_key():
    tokens = [5, 7, 9, 5, 7, 9]
    assert wd.expected_key(tokens, 0, 0) is None and wd.expected_key(tokens, 4, 0) == 3
    assert wd.expected_key(tokens, 2, 1) is None  # 9 has not occurred before position 2
    assert wd.expected_key(tokens, 3, 1) == 1  # 5 occurred at 0: read the token after it
    assert wd.expected_key(tokens, 5, 1) == 3


def test_explorer_follows_the_query_and_the_layer():
    tokens, weights = wd.demo_induction(6)
    e = wd.induction_explorer(tokens, weights)
    assert e.state["query"] == 11 and e.state["layer"] == 1
    assert e.state["expected"] == 6 and e.state["top_key"] == 6  # ideal heads read the right key
    assert e.state["weight_on_expected"] > 0.5
    png = e.image.value
    e.controls["query"].value = 8
    assert e.state["query"] == 8 and e.state["expected"] == 3 and e.state["top_key"] == 3
    assert e.image.value != png
    e.controls["layer"].value = 0
    assert e.state["layer"] == 0 and e.state["expected"] == 7 and e.state["top_key"] == 7
    assert "previous token" in e.state["text"]
    e.controls["query"].value = 2  # the first half: the induction head has no target
    e.controls["layer"].value = 1
    assert e.state["expected"] is None and "not occurred before" in e.state["text"]
    assert "au-explorer" in e.widget._dom_classes


def test_explorer_reads_a_real_model_run_and_checks_inputs():
    from attention_utils.decoder import DecoderLM

    torch.manual_seed(0)
    lm = DecoderLM(10, 8, 1, 2, 0, norm=False)
    x = torch.tensor([[1, 2, 3, 1, 2, 3]])
    lm(x)
    w = torch.stack([a[0, 0] for a in lm.attention_weights])  # (2, T, T)
    e = wd.induction_explorer(x[0], w.detach())
    assert e.state["top_key"] == int(w[1, 5].argmax())
    with pytest.raises(ValueError, match=r"\(2, T, T\)"):
        wd.induction_explorer(x[0], w[:1])
    with pytest.raises(ValueError, match="tokens must have"):
        wd.induction_explorer([1, 2], w)
    with pytest.raises(ValueError, match="query"):
        wd.draw_induction_row(Figure(), x[0], w, 1, 6)


def test_redraw_is_quick_and_cached():
    tokens, weights = wd.demo_induction(8)
    e = wd.induction_explorer(tokens, weights)
    start = time.perf_counter()
    e.controls["query"].value = 3
    first = time.perf_counter() - start
    e.controls["query"].value = 15
    start = time.perf_counter()
    e.controls["query"].value = 3  # drawn before: served from the cache
    again = time.perf_counter() - start
    assert again < first
    assert e.state["query"] == 3


def test_benchmark_cases():
    cases = wd.benchmark_cases()
    assert cases
    for name, make, control, values in cases:
        e = make()
        for v in values:
            e.controls[control].value = v
        assert name in ("induction_explorer", "kv_cache_explorer") and e.redraws >= 1


def test_kv_cache_explorer_follows_position_and_kv_heads():
    times = {"recompute": [0.02 * t for t in range(16, 256)], "cache": [1.0] * 240}
    e = wd.kv_cache_explorer(
        num_layers=3, num_heads=4, head_dim=24, max_position=255, step_ms=times, first_position=16
    )
    assert e.state["position"] == 255 and e.state["num_kv_heads"] == 4
    assert e.state["computed"] == {"recompute": 256, "KV cache": 1}
    assert e.state["cache_bytes"] == e.state["mha_bytes"] == 2 * 3 * 4 * 24 * 256 * 4
    assert e.controls["num_kv_heads"].options == (4, 2, 1)
    png = e.image.value
    e.controls["position"].value = 100
    assert (
        e.state["computed"]["recompute"] == 101
        and e.state["cache_bytes"] == 2 * 3 * 4 * 24 * 101 * 4
    )
    assert e.state["step_ms"] == {"recompute": pytest.approx(2.0), "cache": 1.0}
    assert e.image.value != png
    e.controls["num_kv_heads"].value = 1
    assert e.state["cache_bytes"] * 4 == e.state["mha_bytes"] and "4x more" in e.state["text"]
    with pytest.raises(ValueError, match="must divide"):
        wd.draw_kv_cache_step(Figure(), 5, 3, num_layers=1, num_heads=4, head_dim=8)
