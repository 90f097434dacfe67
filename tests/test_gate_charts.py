"""Charts of gates (sebook.gate_charts): they draw, and reject inputs they cannot draw."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from sebook import costs, gate_charts  # noqa: E402

CLASSES = [f"class {k}" for k in range(10)]


def test_gate_profiles_one_panel_per_depth():
    means = {"SE 1": torch.rand(10, 4), "SE 2": torch.rand(10, 8)}
    fig = gate_charts.gate_profiles(means, CLASSES, "profiles")
    assert len(fig.axes) == 2 and fig.axes[0].get_title() == "SE 1"
    assert len(fig.axes[0].lines) == 11  # ten classes and their mean
    plt.close(fig)
    fig = gate_charts.gate_profiles(means, CLASSES, "one class", highlight=3)
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert "class 3" in labels and "mean of classes" in labels
    plt.close(fig)
    with pytest.raises(ValueError, match="at least one depth"):
        gate_charts.gate_profiles({}, CLASSES, "x")
    with pytest.raises(ValueError, match="must be \\(classes, C\\) with 10 classes"):
        gate_charts.gate_profiles({"SE 1": torch.rand(9, 4)}, CLASSES, "x")


def test_reduction_ratio_panel_and_gate_histogram():
    table = {r: {c: costs.se_costs(c, r) for c in (16, 64)} for r in (1, 4)}
    fig = gate_charts.reduction_ratio_panel(table, 4, torch.full((16,), 0.5))
    assert len(fig.axes) == 3 and "r = 4" in fig.axes[0].get_title()
    plt.close(fig)
    with pytest.raises(ValueError, match="r must be one of"):
        gate_charts.reduction_ratio_panel(table, 8, torch.full((16,), 0.5))
    fig = gate_charts.gate_histogram({"a": torch.rand(10, 4), "b": torch.rand(5)}, "gates")
    assert fig.axes[0].get_xlim() == (0, 1)
    plt.close(fig)
    with pytest.raises(ValueError, match="gates"):
        gate_charts.gate_histogram({}, "nothing")
