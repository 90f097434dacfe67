"""Helpers of "Learned channel weights" and "The reduction ratio, measured": gates per image, their per-class
statistics, bottleneck activity, and the figures of those chapters."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from sebook import analysis, plots  # noqa: E402
from sebook.fashion_models import FashionNet, FashionNetConfig  # noqa: E402

CLASSES = [f"class {k}" for k in range(10)]


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = FashionNet(FashionNetConfig(reduction=4, widths=(4, 8)))
    images = torch.rand(12, 1, 28, 28)
    return model, images


# --- gates_per_image ---------------------------------------------------------------------------------------------

def test_gates_per_image_matches_the_blocks_and_keeps_the_order(tiny):
    model, images = tiny
    model.train()
    gates = analysis.gates_per_image(model, images, batch_size=5)
    assert list(gates) == ["stages.0.attention", "stages.1.attention"]
    assert gates["stages.0.attention"].shape == (12, 4) and gates["stages.1.attention"].shape == (12, 8)
    assert model.training, "the mode must be restored"
    model.eval()
    with torch.no_grad():
        one = model.stages[0].attention
        stem = model.stem(images[7:8])
        x = model.stages[0].branch(stem)
        torch.testing.assert_close(gates["stages.0.attention"][7:8], one.excitation(one.squeeze(x)))
    # the same gates whatever the batch size
    torch.testing.assert_close(analysis.gates_per_image(model, images, batch_size=12)["stages.1.attention"],
                               gates["stages.1.attention"])


def test_gates_per_image_bad_arguments(tiny):
    model, images = tiny
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        analysis.gates_per_image("model", images)
    with pytest.raises(ValueError, match="batch_size"):
        analysis.gates_per_image(model, images, batch_size=0)
    with pytest.raises(ValueError, match="no SE, ECA or CBAM block"):
        analysis.gates_per_image(FashionNet(FashionNetConfig(attention="none", widths=(4,))), images)


# --- class_gate_statistics ---------------------------------------------------------------------------------------

def test_class_gate_statistics_of_gates_set_by_the_class():
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    means = torch.tensor([[0.2, 0.5], [0.5, 0.5], [0.8, 0.5]])
    gates = means[labels]  # every image of a class gets the same gates
    s = analysis.class_gate_statistics(gates, labels, 3)
    torch.testing.assert_close(s["class_means"], means.double())
    torch.testing.assert_close(s["overall_mean"], torch.tensor([0.5, 0.5], dtype=torch.float64))
    assert s["mean_gate"] == pytest.approx(0.5)
    # channel 0: std of (0.2, 0.5, 0.8) with divisor 3; channel 1 does not vary
    assert s["class_spread"] == pytest.approx((0.06 ** 0.5 + 0.0) / 2)
    assert s["class_share"] == pytest.approx(1.0)  # averaged over the channel that varies only
    assert s["within_class_std"] == pytest.approx(0.0, abs=1e-12)


def test_class_gate_statistics_when_the_class_tells_nothing():
    labels = torch.tensor([0, 0, 1, 1])
    gates = torch.tensor([[0.2], [0.8], [0.2], [0.8]])
    s = analysis.class_gate_statistics(gates, labels, 2)
    assert s["class_spread"] == pytest.approx(0.0) and s["class_share"] == pytest.approx(0.0)
    assert s["within_class_std"] == pytest.approx(0.3)
    constant = analysis.class_gate_statistics(torch.full((4, 3), 0.7), labels, 2)
    assert constant["class_share"] == 0.0 and constant["class_spread"] == pytest.approx(0.0)


@pytest.mark.parametrize("gates, labels, num_classes, exc, match", [
    (torch.rand(4, 3), torch.tensor([0, 1, 0]), 2, ValueError, "one label per row"),
    (torch.rand(4, 3), torch.tensor([0, 0, 0, 0]), 2, ValueError, "at least one image per class"),
    (torch.rand(4, 3), torch.tensor([0, 1, 2, 1]), 2, ValueError, r"lie in \[0, 1\]"),
    (torch.rand(4, 3), [0, 1, 0, 1], 2, ValueError, "labels must be a 1-D tensor"),
    (torch.rand(4, 3), torch.tensor([0, 1, 0, 1]), 0, ValueError, "num_classes"),
])
def test_class_gate_statistics_bad_arguments(gates, labels, num_classes, exc, match):
    with pytest.raises(exc, match=match):
        analysis.class_gate_statistics(gates, labels, num_classes)


# --- bottleneck_activity -----------------------------------------------------------------------------------------

def test_bottleneck_activity_counts_units_that_are_on(tiny):
    model, images = tiny
    model.train()
    activity = analysis.bottleneck_activity(model, images, batch_size=5)
    assert model.training
    assert list(activity) == ["stages.0.attention", "stages.1.attention"]
    assert activity["stages.0.attention"].shape == (1,) and activity["stages.1.attention"].shape == (2,)
    model.eval()
    with torch.no_grad():
        block = model.stages[1].attention
        x = model.stages[1].branch(model.stages[0](model.stem(images)))
        hidden = block.excitation.act(block.excitation.fc1(block.squeeze(x)))
    torch.testing.assert_close(activity["stages.1.attention"], (hidden > 0).double().mean(0))
    for share in activity.values():
        assert ((share >= 0) & (share <= 1)).all()


def test_bottleneck_activity_of_a_unit_that_is_always_off():
    torch.manual_seed(0)
    model = FashionNet(FashionNetConfig(reduction=16, widths=(16,)))
    with torch.no_grad():
        model.stages[0].attention.excitation.fc1.bias.fill_(-1e6)  # the single hidden unit can never turn on
    images = torch.rand(6, 1, 28, 28)
    activity = analysis.bottleneck_activity(model, images)
    assert activity["stages.0.attention"].tolist() == [0.0]
    gates = analysis.gates_per_image(model, images)["stages.0.attention"]
    # with the unit off every image gets the same gates: the sigmoid of the second layer's bias
    expected = torch.sigmoid(model.stages[0].attention.excitation.fc2.bias).detach()
    torch.testing.assert_close(gates, expected.expand(6, -1))


def test_bottleneck_activity_bad_arguments(tiny):
    model, images = tiny
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        analysis.bottleneck_activity(None, images)
    with pytest.raises(ValueError, match="no SE block with a bottleneck"):
        analysis.bottleneck_activity(nn.Sequential(nn.Conv2d(1, 2, 3)), images)
    with pytest.raises(ValueError, match="batch_size"):
        analysis.bottleneck_activity(model, images, batch_size=-1)


# --- figures -----------------------------------------------------------------------------------------------------

def test_gate_profiles_one_panel_per_depth():
    means = {"SE 1": torch.rand(10, 4), "SE 2": torch.rand(10, 8)}
    fig = plots.gate_profiles(means, CLASSES, "profiles")
    assert len(fig.axes) == 2 and fig.axes[0].get_title() == "SE 1"
    assert len(fig.axes[0].lines) == 11  # ten classes and their mean
    plt.close(fig)
    fig = plots.gate_profiles(means, CLASSES, "one class", highlight=3)
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert "class 3" in labels and "mean of classes" in labels
    plt.close(fig)
    with pytest.raises(ValueError, match="at least one depth"):
        plots.gate_profiles({}, CLASSES, "x")
    with pytest.raises(ValueError, match="must be \\(classes, C\\) with 10 classes"):
        plots.gate_profiles({"SE 1": torch.rand(9, 4)}, CLASSES, "x")


def test_image_gate_rows_and_labelled_images():
    images = torch.rand(3, 1, 28, 28)
    gates = {"SE 1": torch.rand(3, 4), "SE 2": torch.rand(3, 8)}
    reference = {"SE 1": torch.rand(4), "SE 2": torch.rand(8)}
    fig = plots.image_gate_rows(images, ["a", "b", "c"], gates, reference, "rows")
    assert len(fig.axes) == 3 * 3
    plt.close(fig)
    with pytest.raises(ValueError, match="one entry per image"):
        plots.image_gate_rows(images, ["a", "b"], gates, reference, "rows")
    with pytest.raises(ValueError, match="one entry per image"):
        plots.image_gate_rows(images, ["a", "b", "c"], gates, {"SE 1": torch.rand(4)}, "rows")
    fig = plots.labelled_images(images, ["a", "b", "c"], "images", ncols=2)
    assert len(fig.axes) == 4 and fig.axes[0].get_xlabel() == "a" and not fig.axes[3].axison
    plt.close(fig)
    with pytest.raises(ValueError, match="one entry per image"):
        plots.labelled_images(images, ["a"], "images")


def test_accuracy_vs_parameters():
    fig = plots.accuracy_vs_parameters({"none": (100, [89.0, 89.5, 90.0]), "SE": (120, [89.2])}, "acc")
    ax = fig.axes[0]
    assert ax.get_title() == "acc" and ax.get_xlabel() == "parameters"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["none", "SE"]
    plt.close(fig)
    with pytest.raises(ValueError, match="at least one variant"):
        plots.accuracy_vs_parameters({}, "acc")
