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
        assert ax.images[0].get_clim() == (pytest.approx(0.1), pytest.approx(0.9))
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
