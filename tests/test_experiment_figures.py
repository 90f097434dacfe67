"""Figures of the training experiments (sebook.experiment_figures): they draw, fit the column, check inputs."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from sebook import experiment_figures as ef  # noqa: E402

COLUMN_INCHES = 8.5


def fits(fig):
    width = fig.get_size_inches()[0]
    plt.close(fig)
    return width <= COLUMN_INCHES


def test_learning_curves():
    fig = ef.learning_curves(
        {
            "A": {"plain": [[1, 2, 3], [1, 2, 4]], "SE": [[2, 3, 4]]},
            "B": {"plain": [[1, 1, 1]]},
        }
    )
    assert len(fig.axes) == 2 and fits(fig)


def test_forest_plot():
    fig = ef.forest_plot(
        {
            "x": {"difference": 1.0, "low": 0.5, "high": 1.5},
            "y": {"difference": -0.2, "low": -1.0, "high": 0.6},
        },
        "t",
    )
    labels = {t.get_text() for t in fig.axes[0].get_yticklabels()}
    assert labels == {"x", "y"} and fits(fig)


def test_gate_heatmaps():
    fig = ef.gate_heatmaps(
        {"trained": torch.rand(3, 16), "untrained": torch.rand(3, 16)},
        ["r", "g", "b"],
        "t",
    )
    assert fits(fig)


def test_group_histograms():
    panels = {
        f"channel {k}": {"red": torch.rand(50), "green": torch.rand(50)}
        for k in range(3)
    }
    fig = ef.group_histograms(panels, ["tab:red", "tab:green"], "t")
    assert len(fig.axes) == 3 and fits(fig)


def test_dose_response():
    cell = {"difference": 5.0, "low": 3.0, "high": 7.0}
    doses = {1.0: {1: cell, 8: cell}, 0.0: {1: cell}}
    fig = ef.dose_response(doses)
    left, right = fig.axes
    assert len(left.containers) == 2 and len(right.containers) == 2  # one errorbar line each
    assert [t.get_text() for t in left.get_xticklabels()] == ["1", "8"]
    plt.close(fig)
