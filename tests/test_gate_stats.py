"""Gates (sebook.gate_stats): captured per image, per class, as logits, at initialisation; their rank and the
bottleneck's activity."""

import pytest
import torch
from torch import nn

import sebook
from sebook import gate_stats
from sebook.attention import ECABlock, NoSqueezeBlock
from sebook.fashion_models import FashionNet, FashionNetConfig


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = FashionNet(FashionNetConfig(reduction=4, widths=(4, 8)))
    images = torch.rand(12, 1, 28, 28)
    return model, images


def _logits(block, x):
    model = torch.nn.Sequential(block)
    return gate_stats.gate_logits_per_image(model, x)["0"]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_gates_per_image_matches_the_blocks_and_keeps_the_order(tiny):
    model, images = tiny
    model.train()
    gates = gate_stats.gates_per_image(model, images, batch_size=5)
    assert list(gates) == ["stages.0.attention", "stages.1.attention"]
    assert gates["stages.0.attention"].shape == (12, 4) and gates[
        "stages.1.attention"
    ].shape == (12, 8)
    assert model.training, "the mode must be restored"
    model.eval()
    with torch.no_grad():
        one = model.stages[0].attention
        stem = model.stem(images[7:8])
        x = model.stages[0].branch(stem)
        torch.testing.assert_close(
            gates["stages.0.attention"][7:8], one.excitation(one.squeeze(x))
        )
    # the same gates whatever the batch size
    torch.testing.assert_close(
        gate_stats.gates_per_image(model, images, batch_size=12)["stages.1.attention"],
        gates["stages.1.attention"],
    )


def test_gates_per_image_bad_arguments(tiny):
    model, images = tiny
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        gate_stats.gates_per_image("model", images)
    with pytest.raises(ValueError, match="batch_size"):
        gate_stats.gates_per_image(model, images, batch_size=0)
    with pytest.raises(ValueError, match="no SE, ECA or CBAM block"):
        gate_stats.gates_per_image(
            FashionNet(FashionNetConfig(attention="none", widths=(4,))), images
        )


def test_class_gate_statistics_of_gates_set_by_the_class():
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    means = torch.tensor([[0.2, 0.5], [0.5, 0.5], [0.8, 0.5]])
    gates = means[labels]  # every image of a class gets the same gates
    s = gate_stats.class_gate_statistics(gates, labels, 3)
    torch.testing.assert_close(s["class_means"], means.double())
    torch.testing.assert_close(
        s["overall_mean"], torch.tensor([0.5, 0.5], dtype=torch.float64)
    )
    assert s["mean_gate"] == pytest.approx(0.5)
    # channel 0: std of (0.2, 0.5, 0.8) with divisor 3; channel 1 does not vary
    assert s["class_spread"] == pytest.approx((0.06**0.5 + 0.0) / 2)
    assert s["class_share"] == pytest.approx(
        1.0
    )  # averaged over the channel that varies only
    assert s["within_class_std"] == pytest.approx(0.0, abs=1e-12)


def test_class_gate_statistics_when_the_class_tells_nothing():
    labels = torch.tensor([0, 0, 1, 1])
    gates = torch.tensor([[0.2], [0.8], [0.2], [0.8]])
    s = gate_stats.class_gate_statistics(gates, labels, 2)
    assert s["class_spread"] == pytest.approx(0.0) and s[
        "class_share"
    ] == pytest.approx(0.0)
    assert s["within_class_std"] == pytest.approx(0.3)
    constant = gate_stats.class_gate_statistics(torch.full((4, 3), 0.7), labels, 2)
    assert constant["class_share"] == 0.0 and constant["class_spread"] == pytest.approx(
        0.0
    )


@pytest.mark.parametrize(
    "gates, labels, num_classes, exc, match",
    [
        (torch.rand(4, 3), torch.tensor([0, 1, 0]), 2, ValueError, "one label per row"),
        (
            torch.rand(4, 3),
            torch.tensor([0, 0, 0, 0]),
            2,
            ValueError,
            "at least one image per class",
        ),
        (
            torch.rand(4, 3),
            torch.tensor([0, 1, 2, 1]),
            2,
            ValueError,
            r"lie in \[0, 1\]",
        ),
        (torch.rand(4, 3), [0, 1, 0, 1], 2, ValueError, "labels must be a 1-D tensor"),
        (torch.rand(4, 3), torch.tensor([0, 1, 0, 1]), 0, ValueError, "num_classes"),
    ],
)
def test_class_gate_statistics_bad_arguments(gates, labels, num_classes, exc, match):
    with pytest.raises(exc, match=match):
        gate_stats.class_gate_statistics(gates, labels, num_classes)


def test_bottleneck_activity_counts_units_that_are_on(tiny):
    model, images = tiny
    model.train()
    activity = gate_stats.bottleneck_activity(model, images, batch_size=5)
    assert model.training
    assert list(activity) == ["stages.0.attention", "stages.1.attention"]
    assert activity["stages.0.attention"].shape == (1,) and activity[
        "stages.1.attention"
    ].shape == (2,)
    model.eval()
    with torch.no_grad():
        block = model.stages[1].attention
        x = model.stages[1].branch(model.stages[0](model.stem(images)))
        hidden = block.excitation.act(block.excitation.fc1(block.squeeze(x)))
    torch.testing.assert_close(
        activity["stages.1.attention"], (hidden > 0).double().mean(0)
    )
    for share in activity.values():
        assert ((share >= 0) & (share <= 1)).all()


def test_bottleneck_activity_of_a_unit_that_is_always_off():
    torch.manual_seed(0)
    model = FashionNet(FashionNetConfig(reduction=16, widths=(16,)))
    with torch.no_grad():
        model.stages[0].attention.excitation.fc1.bias.fill_(
            -1e6
        )  # the single hidden unit can never turn on
    images = torch.rand(6, 1, 28, 28)
    activity = gate_stats.bottleneck_activity(model, images)
    assert activity["stages.0.attention"].tolist() == [0.0]
    gates = gate_stats.gates_per_image(model, images)["stages.0.attention"]
    # with the unit off every image gets the same gates: the sigmoid of the second layer's bias
    expected = torch.sigmoid(model.stages[0].attention.excitation.fc2.bias).detach()
    torch.testing.assert_close(gates, expected.expand(6, -1))


def test_bottleneck_activity_bad_arguments(tiny):
    model, images = tiny
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        gate_stats.bottleneck_activity(None, images)
    with pytest.raises(ValueError, match="no SE block with a bottleneck"):
        gate_stats.bottleneck_activity(nn.Sequential(nn.Conv2d(1, 2, 3)), images)
    with pytest.raises(ValueError, match="batch_size"):
        gate_stats.bottleneck_activity(model, images, batch_size=-1)


def test_gate_logits_per_image_are_the_sigmoids_inputs():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1),
        sebook.SEBlock(16, 4),
        ECABlock(16),
        sebook.CBAMBlock(16, 4),
    )
    images = torch.randn(7, 1, 5, 5)
    logits = gate_stats.gate_logits_per_image(model, images, batch_size=3)
    gates = gate_stats.gates_per_image(model, images)
    assert list(logits) == ["1", "2", "3"]
    for name in logits:
        assert logits[name].shape == (7, 16)
        torch.testing.assert_close(torch.sigmoid(logits[name]), gates[name])
    assert (
        model.training and not model[1].excitation.gate._forward_pre_hooks
    )  # mode restored, hooks removed


def test_gate_logits_per_image_bad_arguments():
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        gate_stats.gate_logits_per_image("model", torch.randn(2, 1, 4, 4))
    with pytest.raises(ValueError, match="images must be 4-D"):
        gate_stats.gate_logits_per_image(
            torch.nn.Sequential(sebook.SEBlock(8)), torch.randn(2, 8)
        )
    with pytest.raises(ValueError, match="batch_size"):
        gate_stats.gate_logits_per_image(
            torch.nn.Sequential(sebook.SEBlock(8)),
            torch.randn(2, 8, 3, 3),
            batch_size=0,
        )
    nosqueeze = torch.nn.Sequential(NoSqueezeBlock(8, 2))
    with pytest.raises(ValueError, match="no excitation.gate"):
        gate_stats.gate_logits_per_image(nosqueeze, torch.randn(2, 8, 3, 3))


def test_variance_shares_of_a_bottleneck_of_width_one():
    torch.manual_seed(0)
    block = sebook.SEBlock(
        16, 16
    )  # squeeze width 1: the 16 logits move along one direction only
    assert block.excitation.rd_channels == 1
    shares = gate_stats.variance_shares(
        _logits(block, torch.randn(200, 16, 3, 3) + 0.5)
    )
    assert shares.shape == (16,) and shares.sum() == pytest.approx(1.0)
    assert shares[0] == pytest.approx(1.0, abs=1e-6)
    assert torch.all(shares[:-1] >= shares[1:])  # largest first


def test_variance_shares_without_reduction_spread_out():
    torch.manual_seed(0)
    x = torch.randn(300, 16, 3, 3)
    se_shares = gate_stats.variance_shares(_logits(sebook.SEBlock(16, 4), x))  # width 4
    cbam_shares = gate_stats.variance_shares(
        _logits(sebook.CBAMBlock(16, 4), x)
    )  # the same MLP on both descriptors
    eca_shares = gate_stats.variance_shares(_logits(ECABlock(16), x))  # no bottleneck
    assert se_shares[:4].sum() == pytest.approx(1.0, abs=1e-6)
    assert cbam_shares[:4].sum() == pytest.approx(1.0, abs=1e-6)
    assert eca_shares[:4].sum() < 0.9
    values = torch.randn(
        20, 4, requires_grad=True
    )  # values with a graph attached are accepted
    assert gate_stats.variance_shares(values * 2).shape == (4,)


def test_variance_shares_of_constant_values_are_zero():
    assert gate_stats.variance_shares(torch.full((5, 4), 0.5)).tolist() == [0.0] * 4


@pytest.mark.parametrize(
    "values, exc, match",
    [
        (torch.rand(1, 8), ValueError, "at least 2 rows"),
        (torch.rand(4, 8, 2), ValueError, "values must be 2-D"),
        ([[0.5]], TypeError, "values must be a torch.Tensor"),
        (torch.ones(4, 8, dtype=torch.long), TypeError, "floating-point"),
    ],
)
def test_variance_shares_bad_arguments(values, exc, match):
    with pytest.raises(exc, match=match):
        gate_stats.variance_shares(values)


def test_fresh_gates_are_reproducible_and_leave_the_global_rng_alone():
    x = torch.rand(3, 16, 4, 4)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    gates = gate_stats.fresh_gates(16, (1, 4, 16), x, seed=5)
    assert torch.rand(1) == before
    again = gate_stats.fresh_gates(16, (4,), x, seed=5)
    assert list(gates) == [1, 4, 16]
    for g in gates.values():
        assert g.shape == (3, 16) and ((g > 0) & (g < 1)).all()
    torch.testing.assert_close(gates[4], again[4], rtol=0, atol=0)
    assert not torch.equal(gates[4], gate_stats.fresh_gates(16, (4,), x, seed=6)[4])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"channels": 8}, "channels"),
        ({"reductions": ()}, "reductions"),
        ({"reductions": (4, 0)}, "reductions"),
        ({"seed": -1}, "seed"),
    ],
)
def test_fresh_gates_rejects_bad_arguments(kwargs, match):
    args = {
        "channels": 16,
        "reductions": (4,),
        "x": torch.rand(2, 16, 3, 3),
        "seed": 0,
    } | kwargs
    with pytest.raises(ValueError, match=match):
        gate_stats.fresh_gates(**args)


def test_class_mean_gates():
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), sebook.SEBlock(8, 2), ECABlock(8)
    )
    images, labels = torch.randn(12, 1, 6, 6), torch.tensor([0, 1, 2] * 4)
    means = gate_stats.class_mean_gates(
        model, images, labels, num_classes=4, batch_size=5
    )
    assert set(means) == {"1", "2"} and means["1"].shape == (4, 8)
    with torch.no_grad():
        gates = model[1].gates(model[0](images))
    torch.testing.assert_close(means["1"][1], gates[labels == 1].mean(0))
    assert torch.isnan(means["1"][3]).all()  # no image of class 3
    assert model.training  # the mode is restored


def test_class_mean_gates_bad_arguments():
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), sebook.SEBlock(8, 2))
    images = torch.randn(4, 1, 6, 6)
    with pytest.raises(ValueError, match="labels must be a 1-D tensor"):
        gate_stats.class_mean_gates(model, images, torch.zeros(3, dtype=torch.long), 2)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\]"):
        gate_stats.class_mean_gates(model, images, torch.tensor([0, 1, 2, 0]), 2)
    with pytest.raises(ValueError, match="num_classes"):
        gate_stats.class_mean_gates(model, images, torch.zeros(4, dtype=torch.long), 0)
    with pytest.raises(TypeError, match="model"):
        gate_stats.class_mean_gates(
            "model", images, torch.zeros(4, dtype=torch.long), 2
        )
    nosqueeze = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), NoSqueezeBlock(8, 2))
    with pytest.raises(ValueError, match="one gate per channel"):
        gate_stats.class_mean_gates(
            nosqueeze, images, torch.zeros(4, dtype=torch.long), 2
        )


def test_class_share_null_matches_theory_and_detects_class_structure():
    torch.manual_seed(0)
    n, c, k = 4000, 8, 5
    labels = torch.randint(0, k, (n,))
    unrelated = torch.rand(n, c)
    result = gate_stats.class_share_null(unrelated, labels, k, permutations=300)
    # with no link, eta squared averages (k - 1) / (n - 1) over shuffles
    assert abs(float(result["null"].mean()) - (k - 1) / (n - 1)) < 2e-4
    assert result["p_value"] > 0.01 and len(result["null"]) == 300
    related = unrelated + 0.2 * torch.nn.functional.one_hot(labels, k).float() @ torch.rand(k, c)
    result = gate_stats.class_share_null(related, labels, k, permutations=300)
    assert result["observed"] == gate_stats.class_gate_statistics(related, labels, k)["class_share"]
    assert result["p_value"] == 1 / 301 and result["observed"] > result["null_high"]
    again = gate_stats.class_share_null(related, labels, k, permutations=300)
    assert torch.equal(again["null"], result["null"])  # seeded


@pytest.mark.parametrize(
    "kwargs, message",
    [({"permutations": 0}, "permutations must be an integer >= 1"), ({"seed": -1}, "seed must be an integer >= 0")],
)
def test_class_share_null_names_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gate_stats.class_share_null(torch.rand(20, 3), torch.arange(20) % 2, 2, **kwargs)
