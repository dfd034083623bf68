"""Lesson 08's explorers: moving a control changes what is shown, and the numbers are the right ones."""

import math

import pytest
import torch

pytest.importorskip("ipywidgets")

from attention_utils.efficient import online_softmax_trace  # noqa: E402
from attention_utils.widgets import efficient as wx  # noqa: E402


def test_online_softmax_explorer_follows_the_block_size():
    e = wx.online_softmax_explorer()  # demo row of 16 scores, block size 3
    s = wx.demo_scores()
    assert e.state["block_size"] == 3 and e.state["n_blocks"] == 6 and e.state["step"] == 6
    assert math.isclose(e.state["m"], s.max().item())
    assert math.isclose(e.state["ell"], torch.exp(s - s.max()).sum().item(), rel_tol=1e-5)
    png = e.image.value
    e.controls["block_size"].value = 8
    assert e.state["block_size"] == 8 and e.state["n_blocks"] == 2
    assert e.controls["step"].max == 2 and e.state["step"] == 2  # the step slider followed
    assert e.image.value != png
    # the sum is the same whatever the blocks: the online softmax is exact
    assert math.isclose(e.state["ell"], torch.exp(s - s.max()).sum().item(), rel_tol=1e-5)


def test_online_softmax_explorer_highlights_the_rises():
    e = wx.online_softmax_explorer()
    trace = online_softmax_trace(wx.demo_scores(), 3)
    assert e.state["rises"] == trace["rose"].nonzero().flatten().tolist()
    assert len(e.state["rises"]) < e.state["n_blocks"]  # some blocks do not raise the max
    for t, r in enumerate(e.state["rescale"]):
        assert (r < 1) == (t in e.state["rises"])  # rescaled exactly where the max rose
    assert e.state["text"].count('font-weight:bold"') == len(e.state["rises"])
    e.controls["step"].value = 2
    assert e.state["step"] == 2 and len(e.state["rescale"]) == 2
    assert math.isclose(e.state["m"], trace["m"][1].item())
    assert math.isclose(e.state["ell"], trace["ell"][1].item(), rel_tol=1e-6)


def test_online_softmax_explorer_on_a_masked_first_block():
    s = torch.tensor([float("-inf")] * 4 + [1.0, 3.0, 2.0, 0.5])
    e = wx.online_softmax_explorer(s, block_size=4)
    assert e.state["rises"] == [1] and e.state["rescale"][0] == 0.0
    assert math.isfinite(e.state["ell"])
    with pytest.raises(ValueError, match="block_size"):
        wx.online_softmax_explorer(s, block_size=0)


def test_window_reach_explorer_grows_by_window_per_layer():
    e = wx.window_reach_explorer(n=40, window=2, layers=2)
    assert e.state["query"] == 20 and e.state["field"] == (16, 24) and e.state["reach"] == 4
    png = e.image.value
    e.controls["layers"].value = 5
    assert e.state["field"] == (10, 30) and e.state["reach"] == 10
    assert e.image.value != png
    e.controls["window"].value = 8
    assert e.state["field"] == (0, 39)  # 5 layers of 8 cover the whole sequence
    assert e.state["layers_to_first"] == 3  # ceil(20 / 8)


def test_window_reach_explorer_causal_looks_back_only():
    e = wx.window_reach_explorer(n=30, window=3, layers=1)
    e.controls["causal"].value = True
    assert e.state["causal"] and e.state["query"] == 29 and e.state["field"] == (26, 29)
    e.controls["layers"].value = 4
    assert e.state["field"] == (17, 29)
    assert e.state["layers_to_first"] == 10


def test_explorers_have_the_browser_hooks():
    for make in (wx.online_softmax_explorer, wx.window_reach_explorer):
        e = make()
        assert "au-explorer" in e.widget._dom_classes
        for name, control in e.controls.items():
            assert f"au-control-{name}" in control._dom_classes


def test_benchmark_cases_build_and_move():
    cases = wx.benchmark_cases()
    assert len(cases) >= 2
    for name, make, control, values in cases:
        e = make()
        before = e.redraws
        for value in values[:2]:  # two moves each: the redraw times are benchmarked elsewhere
            e.controls[control].value = value
        assert e.redraws > before, name


def test_demo_scores_checks_n():
    assert wx.demo_scores(16).shape == (16,)
    with pytest.raises(ValueError, match="n must"):
        wx.demo_scores(1)


def test_a_redraw_on_reused_axes_equals_a_fresh_render():
    moved = wx.online_softmax_explorer()
    moved.controls["block_size"].value = 5
    moved.controls["block_size"].value = 2
    moved.controls["step"].value = 4
    fresh = wx.online_softmax_explorer(block_size=2)
    fresh.controls["step"].value = 4
    assert moved.image.value == fresh.image.value  # nothing of the earlier drawings is left over
    moved = wx.window_reach_explorer()
    moved.controls["window"].value = 5
    moved.controls["window"].value = 2
    assert moved.image.value == wx.window_reach_explorer().image.value
