"""show_heatmaps: accepted layouts, labels, shared colour scale and clear errors."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import attention_utils as au  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def image_axes(fig):
    return [ax for ax in fig.axes if ax.images]


@pytest.mark.parametrize(("shape", "panels"), [((4, 5), 1), ((3, 4, 5), 3), ((2, 3, 4, 5), 6)])
def test_accepts_2d_3d_4d(shape, panels):
    fig = au.show_heatmaps(torch.rand(shape))
    assert isinstance(fig, matplotlib.figure.Figure)
    axes = image_axes(fig)
    assert len(axes) == panels
    assert axes[0].images[0].get_array().shape == (4, 5)


def test_d2l_positional_call_and_numpy_input():
    fig = au.show_heatmaps(
        np.eye(3).reshape(1, 1, 3, 3), "Keys", "Queries", ["only"], (2.5, 2.5), "Blues"
    )
    (ax,) = image_axes(fig)
    assert ax.get_xlabel() == "Keys" and ax.get_ylabel() == "Queries" and ax.get_title() == "only"
    assert ax.images[0].get_cmap().name == "Blues"


def test_token_labels_and_titles():
    fig = au.show_heatmaps(
        torch.rand(2, 3, 4),
        xticklabels=list("abcd"),
        yticklabels=["x", "y", "z"],
        titles=["head 1", "head 2"],
    )
    axes = image_axes(fig)
    assert [t.get_text() for t in axes[0].get_xticklabels()] == list("abcd")
    assert [t.get_text() for t in axes[0].get_yticklabels()] == ["x", "y", "z"]
    assert [ax.get_title() for ax in axes] == ["head 1", "head 2"]


def test_colorbar_label():
    fig = au.show_heatmaps(torch.rand(2, 2), colorbar_label="attention weight")
    assert fig.axes[-1].get_ylabel() == "attention weight"


def test_one_shared_colour_scale_and_one_colorbar():
    m = torch.stack([torch.full((2, 2), 0.1), torch.full((2, 2), 0.9)])
    fig = au.show_heatmaps(m)
    axes = image_axes(fig)
    for ax in axes:
        assert ax.images[0].get_clim() == (0.0, pytest.approx(0.9))  # weights: from 0 to max
    assert len(fig.axes) == len(axes) + 1  # exactly one colorbar axis


@pytest.mark.parametrize(
    ("kwargs", "exc", "words"),
    [
        ({"matrices": torch.rand(5)}, ValueError, "matrices must be 2-D"),
        ({"matrices": torch.rand(1, 1, 1, 2, 2)}, ValueError, "got 5-D"),
        ({"matrices": torch.tensor([[float("nan")]])}, ValueError, "NaN"),
        ({"matrices": "weights"}, TypeError, "matrices must be"),
        (
            {"matrices": torch.rand(3, 4), "xticklabels": list("abc")},
            ValueError,
            "xticklabels has 3 labels",
        ),
        (
            {"matrices": torch.rand(3, 4), "yticklabels": list("ab")},
            ValueError,
            "yticklabels has 2 labels",
        ),
        (
            {"matrices": torch.rand(3, 4), "xticklabels": "abcd"},
            TypeError,
            "xticklabels must be a list",
        ),
        (
            {"matrices": torch.rand(2, 3, 4), "titles": ["a", "b", "c"]},
            ValueError,
            "titles has 3 entries",
        ),
    ],
)
def test_bad_input(kwargs, exc, words):
    with pytest.raises(exc) as info:
        au.show_heatmaps(**kwargs)
    assert words in str(info.value)


def test_weights_scale_starts_at_zero():
    weights = torch.tensor([[0.06, 0.94], [0.5, 0.5]])  # all in [0, 1], smallest 0.06
    fig = au.show_heatmaps(weights)
    (ax,) = image_axes(fig)
    assert ax.images[0].get_clim() == (0.0, pytest.approx(0.94))
    assert ax.images[0].get_cmap().name == "Reds"
    # 0.06 is not drawn white: its colour differs from the colour of 0
    image = ax.images[0]
    assert image.cmap(image.norm(0.06)) != image.cmap(image.norm(0.0))


def test_signed_data_gets_a_diverging_scale_centred_at_zero():
    scores = torch.tensor([[-1.0, 3.0], [0.5, 0.0]])
    fig = au.show_heatmaps(scores)
    (ax,) = image_axes(fig)
    assert ax.images[0].get_clim() == (-3.0, 3.0)
    assert ax.images[0].get_cmap().name == "RdBu_r"
    # explicit arguments still win
    fig = au.show_heatmaps(scores, cmap="viridis", vmin=-1, vmax=1)
    (ax,) = image_axes(fig)
    assert ax.images[0].get_clim() == (-1.0, 1.0) and ax.images[0].get_cmap().name == "viridis"


def test_constant_zero_matrix_still_has_a_scale():
    (ax,) = image_axes(au.show_heatmaps(torch.zeros(2, 3)))
    assert ax.images[0].get_clim() == (0.0, 1.0)


def test_short_tick_labels_stay_upright_long_ones_rotate():
    (ax,) = image_axes(au.show_heatmaps(torch.rand(2, 3), xticklabels=list("abc")))
    assert {t.get_rotation() for t in ax.get_xticklabels()} == {0.0}
    (ax,) = image_axes(au.show_heatmaps(torch.rand(2, 3), xticklabels=["one", "two", "three"]))
    assert {t.get_rotation() for t in ax.get_xticklabels()} == {90.0}
