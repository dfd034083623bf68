"""Lesson 04's explorers: typing a date and moving the step slider change what is shown."""

import pytest
import torch

pytest.importorskip("ipywidgets")

from matplotlib.figure import Figure  # noqa: E402

from attention_utils.seq2seq import greedy_decode  # noqa: E402
from attention_utils.widgets import seq2seq as ws  # noqa: E402


def test_date_explorer_follows_the_text_box():
    model = ws.demo_model()
    e = ws.date_explorer(model, text="3 Mar 2021")
    want = greedy_decode(model, ["3 Mar 2021"])[0][0]
    assert e.state["decoded"] == want and e.state["cols"] == len("3 Mar 2021")
    assert e.state["rows"] in (len(want), len(want) + 1)
    png = e.image.value
    e.controls["date"].value = "the 21st of june 1987"
    assert e.state["cols"] == 21
    assert e.state["decoded"] == greedy_decode(model, ["the 21st of june 1987"])[0][0]
    assert e.image.value != png
    e.controls["date"].value = "   "
    assert e.state["decoded"] is None and e.state["text"] == "Type a date."
    e.controls["date"].value = "x" * 60
    assert e.state["cols"] == ws.MAX_CHARS and "cut to" in e.state["text"]
    assert "au-explorer" in e.widget._dom_classes
    assert "au-control-date" in e.controls["date"]._dom_classes


def test_decode_one_matches_greedy_decode_and_checks_input():
    model = ws.demo_model()
    pred, w = ws.decode_one(model, "09.11.04")
    preds, weights = greedy_decode(model, ["09.11.04"])
    assert pred == preds[0]
    rows = len(pred) + 1 if len(pred) < 12 else 12
    assert w.shape == (rows, 8)
    assert torch.equal(w, weights[0, :rows, :8])
    assert torch.allclose(w.sum(-1), torch.ones(rows), atol=1e-5)
    with pytest.raises(ValueError, match="text is empty"):
        ws.decode_one(model, "")
    with pytest.raises(TypeError, match="text must be a str"):
        ws.decode_one(model, 3)
    with pytest.raises(ValueError, match="weights must be"):
        ws.draw_alignment(Figure(), "abc", "ab", torch.ones(3, 4))
    with pytest.raises(ValueError, match="one row per output character"):
        ws.draw_alignment(Figure(), "abc", "ab", torch.ones(5, 3))


def test_date_explorer_does_not_change_the_model_mode():
    model = ws.demo_model().train()
    ws.date_explorer(model)
    assert model.training


def test_draw_alignment_reports_right_and_wrong():
    shown = ws.draw_alignment(Figure(), "ab", "ab", torch.eye(3, 2), target="ab")
    assert shown["right"] is True and shown["rows"] == 3
    shown = ws.draw_alignment(Figure(), "ab", "ab", torch.eye(2), target="ba")
    assert shown["right"] is False


def test_curve_explorer_follows_the_step_slider():
    curves = ws.demo_curves(every=20, num_steps=300)
    e = ws.curve_explorer(curves, step=100)
    acc = {name: dict(c) for name, c in curves.items()}
    assert e.state["step"] == 100
    assert e.state["accuracy"] == {name: acc[name][100] for name in curves}
    assert e.controls["step"].step == 20 and e.controls["step"].max == 300
    png = e.image.value
    e.controls["step"].value = 240
    assert e.state["step"] == 240 and e.image.value != png
    assert e.state["accuracy"]["baseline"] == acc["baseline"][240]
    assert e.state["reached"]["attention"] < e.state["reached"]["baseline"]
    assert "after 240 steps" in e.state["text"]
    e.controls["step"].value = 100  # drawn before: served from the cache, same picture
    assert e.image.value == png


def test_curves_are_checked():
    with pytest.raises(ValueError, match="non-empty dict"):
        ws.curve_explorer({})
    with pytest.raises(ValueError, match="increasing steps"):
        ws.curve_explorer({"a": [(20, 0.1), (0, 0.0)]})
    with pytest.raises(ValueError, match="same steps"):
        ws.curve_explorer({"a": [(0, 0.1), (20, 0.2)], "b": [(0, 0.1), (40, 0.2)]})


def test_draw_curves_on_a_real_training_curve():
    from attention_utils.seq2seq import train_seq2seq

    model = ws.demo_model()
    pairs = [("20000101", "2000-01-01"), ("3 Mar 2021", "2021-03-03")]
    hist = train_seq2seq(
        {"attention": model},
        pairs,
        num_steps=3,
        batch_size=2,
        progress=False,
        eval_pairs=pairs,
        eval_every=2,
    )
    assert [s for s, _ in hist["attention"]["curve"]] == [0, 2, 3]
    shown = ws.draw_curves(Figure(), {"attention": hist["attention"]["curve"]}, step=2)
    assert shown["step"] == 2


def test_encoder_decoder_diagram():
    shown = ws.draw_encoder_decoder(Figure(), source="3 Mar", target="03")
    assert shown == {"encoder_steps": 5, "decoder_steps": 3}
    with pytest.raises(ValueError, match="non-empty"):
        ws.draw_encoder_decoder(Figure(), source="")


def test_benchmark_cases():
    cases = ws.benchmark_cases()
    assert {name for name, *_ in cases} == {"date_explorer", "curve_explorer"}
    for _name, make, control, values in cases:
        e = make()
        for v in values:
            e.controls[control].value = v
