"""Data charts (sebook.charts): every chart draws with a title and labelled axes, and rejects bad input."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from sebook import charts, gate_charts  # noqa: E402

CLASSES = [f"class {k}" for k in range(10)]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_accuracy_vs_parameters():
    fig = charts.accuracy_vs_parameters(
        {"none": (100, [89.0, 89.5, 90.0]), "SE": (120, [89.2])}, "acc"
    )
    ax = fig.axes[0]
    assert ax.get_title() == "acc" and ax.get_xlabel() == "parameters"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["none", "SE"]
    plt.close(fig)
    with pytest.raises(ValueError, match="at least one variant"):
        charts.accuracy_vs_parameters({}, "acc")


def test_seed_dots_and_class_gate_bars():
    fig = charts.seed_dots(
        {"SE": [90.1, 90.5, 90.3], "max": [89.9, 90.2, 90.0], "none": [90.4]},
        "Squeeze",
        baseline="SE",
        paper={"SE": 22.28, "max": 22.57},
    )
    left, right = fig.axes[:2]
    assert left.get_title() == "Squeeze" and left.get_xlabel() == "test accuracy (%)"
    assert right.get_xlabel() == "ImageNet top-1 error (%)"
    assert [t.get_text() for t in left.get_yticklabels()] == [
        "SE",
        "max",
        "none",
    ]  # first variant on top
    assert left.get_yticks()[0] > left.get_yticks()[-1]
    plt.close(fig)
    fig = charts.seed_dots({"SE": [1.0, 2.0]}, "t")
    assert len(fig.axes) == 1
    plt.close(fig)
    with pytest.raises(ValueError, match="baseline"):
        charts.seed_dots({"SE": [1.0]}, "t", baseline="ECA")
    with pytest.raises(ValueError, match="at least one"):
        charts.seed_dots({}, "t")
    fig = gate_charts.class_gate_bars(
        {"SE": torch.rand(8), "ECA": torch.rand(8)},
        {"SE": torch.rand(8), "ECA": torch.rand(8)},
        "Class 3",
    )
    assert fig._suptitle.get_text() == "Class 3" and fig.axes[
        -1
    ].get_xlabel().startswith("channel of the block")
    assert all(ax.get_ylabel() == "mean gate" for ax in fig.axes)
    plt.close(fig)
    with pytest.raises(ValueError, match="same"):
        gate_charts.class_gate_bars({"SE": torch.rand(8)}, {"ECA": torch.rand(8)}, "t")
