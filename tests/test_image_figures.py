"""Figures made of images (sebook.image_figures)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from sebook import image_figures  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_and_close():
    torch.manual_seed(0)
    yield
    plt.close("all")


def test_image_grid_draws_rows_and_captions():
    rows = {"a": torch.rand(3, 3, 8, 8), "b": torch.rand(3, 3, 8, 8) * 0.2}
    fig = image_figures.image_grid(
        rows, "t", ["x", "y", "z"], {"b": ["1", "2", "3"]}, normalise=True
    )
    assert len(fig.axes) == 6 and fig.axes[3].get_xlabel() == "1"
    with pytest.raises(ValueError, match="rows"):
        image_figures.image_grid(
            {"a": torch.rand(3, 3, 8, 8), "b": torch.rand(2, 3, 8, 8)}, "t"
        )
    with pytest.raises(ValueError, match="rows"):
        image_figures.image_grid({}, "t")


def test_recalibration_grid_titles_each_panel_with_its_gate():
    maps, gates = torch.rand(4, 6, 6), torch.tensor([0.1, 0.25, 0.5, 1.0])
    fig = image_figures.recalibration_grid(
        maps * gates[:, None, None], gates, list("abcd"), "t", before=maps, summed=True
    )
    titles = [ax.get_title() for ax in fig.axes]
    for g in ("gate 0.10", "gate 0.25", "gate 0.50", "gate 1.00"):
        assert g in titles
    assert "sum of channels" in titles
    with pytest.raises(ValueError, match="one entry per channel"):
        image_figures.recalibration_grid(maps, gates[:3], list("abcd"), "t")


def test_image_gate_rows_and_labelled_images():
    images = torch.rand(3, 1, 28, 28)
    gates = {"SE 1": torch.rand(3, 4), "SE 2": torch.rand(3, 8)}
    reference = {"SE 1": torch.rand(4), "SE 2": torch.rand(8)}
    fig = image_figures.image_gate_rows(
        images, ["a", "b", "c"], gates, reference, "rows"
    )
    assert len(fig.axes) == 3 * 3
    plt.close(fig)
    with pytest.raises(ValueError, match="one entry per image"):
        image_figures.image_gate_rows(images, ["a", "b"], gates, reference, "rows")
    with pytest.raises(ValueError, match="one entry per image"):
        image_figures.image_gate_rows(
            images, ["a", "b", "c"], gates, {"SE 1": torch.rand(4)}, "rows"
        )
    fig = image_figures.labelled_images(images, ["a", "b", "c"], "images", ncols=2)
    assert (
        len(fig.axes) == 4
        and fig.axes[0].get_xlabel() == "a"
        and not fig.axes[3].axison
    )
    plt.close(fig)
    with pytest.raises(ValueError, match="one entry per image"):
        image_figures.labelled_images(images, ["a"], "images")


def test_labelled_images_draws_colour_images_too():
    fig = image_figures.labelled_images(torch.rand(4, 3, 8, 8), list("abcd"), "t", ncols=3)
    assert fig.axes[0].images[0].get_array().shape == (8, 8, 3)
    plt.close(fig)
