"""SE's successors and ablations: ECA, CBAM, NoSqueeze, and the factory that builds them by name."""
import math

import pytest
import torch
from torch import nn

import sebook
from sebook import analysis
from sebook.attention import (ATTENTION, CBAMBlock, ChannelConv, ECABlock, NoAttention, NoSqueezeBlock,
                              PositionwiseExcitation, SharedMLPGate, SpatialGate, eca_kernel_size, make_attention)
from sebook.blocks import INTEGRATIONS, ResidualUnit, bottleneck
from sebook.se import ChannelAttention


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


BLOCKS = {
    "se": lambda c: sebook.SEBlock(c, 4),
    "eca": lambda c: ECABlock(c),
    "cbam": lambda c: CBAMBlock(c, 4),
    "nosqueeze": lambda c: NoSqueezeBlock(c, 4),
}


def test_exported_from_the_package():
    assert sebook.ECABlock is ECABlock and sebook.CBAMBlock is CBAMBlock
    assert {"ECABlock", "CBAMBlock"} <= set(sebook.__all__)


# ECA ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("channels, k", [(1, 1), (2, 1), (8, 3), (16, 3), (32, 3), (64, 3), (128, 5), (256, 5),
                                         (512, 5), (1024, 5), (2048, 7), (4096, 7), (8192, 7)])
def test_eca_kernel_size_follows_the_paper(channels, k):
    assert eca_kernel_size(channels) == k
    assert ECABlock(channels).kernel_size == k


def test_eca_kernel_size_is_the_nearest_odd_integer():
    for channels in range(1, 5000):
        for gamma, b in [(2, 1), (1, 1), (3, 0.5), (2.5, 2)]:
            value = (math.log2(channels) + b) / gamma
            k = eca_kernel_size(channels, gamma, b)
            assert k % 2 == 1
            assert abs(k - value) <= 1.0  # the nearest odd integer is within 1 of the value
            assert all(abs(k - value) <= abs(o - value) + 1e-12 for o in range(1, 40, 2))


def test_eca_reference_formula():
    """The authors' rule: t = int(abs((log2(C) + b) / gamma)); k = t if t is odd else t + 1."""
    for channels in (3, 48, 100, 200, 300, 1000, 3000):
        t = int(abs((math.log(channels, 2) + 1) / 2))
        assert eca_kernel_size(channels) == (t if t % 2 else t + 1)


@pytest.mark.parametrize("channels", [16, 64, 256, 2048])
def test_eca_has_k_parameters_and_no_bias(channels):
    block = ECABlock(channels)
    assert analysis.count_parameters(block) == block.kernel_size
    assert block.excitation.conv.bias is None


def test_eca_explicit_kernel_size():
    block = ECABlock(64, kernel_size=9)
    assert block.kernel_size == 9 and analysis.count_parameters(block) == 9
    assert block(torch.randn(2, 64, 4, 4)).shape == (2, 64, 4, 4)


def test_eca_matches_the_authors_module():
    """The official eca_layer (BangguWu/ECANet): avg pool, Conv1d over channels, sigmoid, scale."""
    block = ECABlock(32, kernel_size=5)
    x = torch.randn(3, 32, 7, 7)
    y = x.mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
    y = block.excitation.conv(y.squeeze(-1).transpose(-1, -2)).transpose(-1, -2).unsqueeze(-1)
    torch.testing.assert_close(block(x), x * torch.sigmoid(y).expand_as(x))


def test_eca_weight_of_a_channel_depends_on_its_neighbours_only():
    block = ECABlock(64, kernel_size=3)
    z = torch.randn(1, 64)
    z2 = z.clone()
    z2[0, 40] += 5.0
    changed = (block.excitation(z) != block.excitation(z2))[0].nonzero().flatten().tolist()
    assert changed == [39, 40, 41]


# CBAM -----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("channels, reduction", [(64, 16), (256, 16), (32, 4), (8, 16)])
def test_cbam_parameters(channels, reduction):
    block = CBAMBlock(channels, reduction)
    hidden = max(1, round(channels / reduction))
    mlp = channels * hidden + hidden + hidden * channels + channels  # shared MLP with biases
    spatial = 2 * 7 * 7 + 2  # 7x7 conv, 2 -> 1 channel, no bias; BatchNorm scale and shift
    assert analysis.count_parameters(block) == mlp + spatial
    assert analysis.count_parameters(block) - analysis.count_parameters(sebook.SEBlock(channels, reduction)) == spatial


def test_cbam_matches_the_authors_module():
    """CBAM's forward written out as in Jongchan/attention-module (ChannelGate, then SpatialGate)."""
    block = CBAMBlock(48, 8).eval()
    with torch.no_grad():
        block.spatial.bn.weight.fill_(1.3)
        block.spatial.bn.bias.fill_(0.2)
    x = torch.randn(2, 48, 9, 9)
    mlp = block.excitation.mlp
    channel = torch.sigmoid(mlp(x.mean(dim=(2, 3))) + mlp(x.amax(dim=(2, 3))))[:, :, None, None]
    y = x * channel
    pooled = torch.cat([y.amax(dim=1, keepdim=True), y.mean(dim=1, keepdim=True)], dim=1)
    conv = block.spatial.conv.weight.flip(1)  # the authors stack (max, mean); ours (mean, max)
    spatial = torch.sigmoid(block.spatial.bn(nn.functional.conv2d(pooled, conv, padding=3)))
    torch.testing.assert_close(block(x), y * spatial)


def test_cbam_spatial_gate_starts_at_one_half():
    gate = SpatialGate(7)
    maps = gate(torch.randn(2, 16, 5, 6))
    assert maps.shape == (2, 1, 5, 6)
    torch.testing.assert_close(maps, torch.full_like(maps, 0.5))
    assert gate.bn.momentum == 0.01


def test_cbam_spatial_map_varies_once_trained():
    gate = SpatialGate(3).eval()
    with torch.no_grad():
        gate.bn.weight.fill_(1.0)
    maps = gate(torch.randn(1, 8, 6, 6))
    assert maps.std() > 0 and ((maps > 0) & (maps < 1)).all()


def test_cbam_channel_gates_use_both_descriptors():
    block = CBAMBlock(16, 4)
    x = torch.zeros(1, 16, 4, 4)
    x2 = x.clone()
    x2[0, 3, 0, 0] = 16.0  # changes channel 3's max by 16 and its mean by 1
    assert not torch.equal(block.gates(x), block.gates(x2))
    assert block.gates(x).shape == (1, 16)


# NoSqueeze ------------------------------------------------------------------------------------------------------

def test_nosqueeze_equals_two_1x1_convolutions():
    block = NoSqueezeBlock(32, 4)
    fc1, fc2 = block.excitation.mlp.fc1, block.excitation.mlp.fc2
    conv1, conv2 = nn.Conv2d(32, 8, 1), nn.Conv2d(8, 32, 1)
    with torch.no_grad():
        conv1.weight.copy_(fc1.weight[:, :, None, None])
        conv1.bias.copy_(fc1.bias)
        conv2.weight.copy_(fc2.weight[:, :, None, None])
        conv2.bias.copy_(fc2.bias)
    x = torch.randn(2, 32, 5, 7)
    expected = x * torch.sigmoid(conv2(torch.relu(conv1(x))))
    torch.testing.assert_close(block(x), expected)
    assert block.gates(x).shape == (2, 32, 5, 7)


def test_nosqueeze_has_ses_parameters_and_more_flops():
    se, ns = sebook.SEBlock(64, 16), NoSqueezeBlock(64, 16)
    assert analysis.count_parameters(ns) == analysis.count_parameters(se)
    shape = (1, 64, 14, 14)
    assert analysis.count_flops(ns, shape) == 14 * 14 * analysis.count_flops(se, shape)


def test_nosqueeze_gates_are_local():
    """Changing one position changes the gates at that position only: no global context."""
    block = NoSqueezeBlock(8, 2)
    x = torch.randn(1, 8, 4, 4)
    x2 = x.clone()
    x2[0, :, 1, 2] += 3.0
    diff = (block.gates(x) != block.gates(x2)).any(dim=1)[0]
    assert diff.nonzero().tolist() == [[1, 2]]


def test_nosqueeze_gate_choices():
    x = torch.randn(2, 16, 3, 3)
    soft = NoSqueezeBlock(16, 4, gate_layer="softmax").gates(x)
    torch.testing.assert_close(soft.sum(dim=1), torch.ones(2, 3, 3))
    tanh = NoSqueezeBlock(16, 4, gate_layer="tanh").gates(x * 10)
    assert tanh.min() < 0


def test_positionwise_excitation_rejects_vectors():
    with pytest.raises(ValueError, match="4-D"):
        PositionwiseExcitation(8)(torch.randn(2, 8))


# Shared behaviour -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(BLOCKS))
@pytest.mark.parametrize("shape", [(1, 64, 32, 32), (3, 8, 5, 7), (2, 256, 1, 1)])
def test_shape_is_preserved(name, shape):
    assert BLOCKS[name](shape[1])(torch.randn(shape)).shape == shape


@pytest.mark.parametrize("name", list(BLOCKS))
def test_gates_lie_strictly_between_0_and_1(name):
    block = BLOCKS[name](32)
    gates = block.gates(torch.randn(4, 32, 6, 6))
    assert gates.shape[:2] == (4, 32)
    assert ((gates > 0) & (gates < 1)).all()


@pytest.mark.parametrize("name", ["se", "eca", "cbam", "nosqueeze"])
def test_residual_is_added(name):
    block = BLOCKS[name](16).eval()
    x, r = torch.randn(2, 16, 5, 5), torch.randn(2, 16, 5, 5)
    torch.testing.assert_close(block(x, residual=r), r + block(x))


@pytest.mark.parametrize("name", ["se", "eca", "cbam", "nosqueeze"])
def test_residual_of_another_shape_is_rejected(name):
    block = BLOCKS[name](16)
    with pytest.raises(ValueError, match="residual"):
        block(torch.randn(2, 16, 5, 5), residual=torch.randn(2, 16, 1, 1))


@pytest.mark.parametrize("name", list(BLOCKS))
def test_every_parameter_gets_a_gradient(name):
    block = BLOCKS[name](16)
    if name == "cbam":
        with torch.no_grad():
            block.spatial.bn.weight.fill_(1.0)  # at 0 (its start) the conv's gradient is 0 by design
    block(torch.randn(2, 16, 6, 6)).square().sum().backward()
    for pname, p in block.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", list(BLOCKS))
def test_blocks_are_channel_attention_and_captured(name):
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), BLOCKS[name](16))
    assert isinstance(model[1], ChannelAttention)
    with analysis.capture_gates(model) as gates:
        model(torch.randn(2, 3, 6, 6))
    assert list(gates) == ["1"] and gates["1"][0].shape[:2] == (2, 16)


@pytest.mark.parametrize("name", ["se", "eca", "cbam", "nosqueeze", "none"])
@pytest.mark.parametrize("integration", INTEGRATIONS)
def test_drop_in_at_every_integration(name, integration):
    cin, cout = 16, 32
    branch = nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout))
    shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
    channels = cin if integration == "pre" else cout
    unit = ResidualUnit(branch, shortcut, make_attention(name, channels), integration)
    x = torch.randn(2, cin, 8, 8)
    y = unit(x)
    assert y.shape == (2, cout, 8, 8)
    if integration == "standard":
        naive = ResidualUnit(branch, shortcut, unit.attention, integration, fused=False)
        torch.testing.assert_close(y, naive(x))
    y.sum().backward()


@pytest.mark.parametrize("name", ["se", "eca", "cbam", "nosqueeze", "none"])
def test_bottleneck_builds_every_attention(name):
    unit = bottleneck(64, 16, attention=name)
    assert unit(torch.randn(1, 64, 6, 6)).shape == (1, 64, 6, 6)
    assert isinstance(unit.attention, ATTENTION[name])


def test_make_attention():
    assert set(ATTENTION) == {"none", "se", "eca", "cbam", "nosqueeze"}
    assert isinstance(make_attention("none", 8), NoAttention)
    assert make_attention("se", 64, reduction=8).excitation.rd_channels == 8
    assert make_attention("cbam", 64, reduction=8).excitation.mlp.rd_channels == 8
    assert make_attention("nosqueeze", 64, reduction=8).excitation.mlp.rd_channels == 8
    assert make_attention("eca", 128, gamma=1, b=1).kernel_size == 9
    with pytest.raises(ValueError) as info:
        make_attention("ECA", 8)
    assert "attention" in str(info.value) and "'eca'" in str(info.value) and "'nosqueeze'" in str(info.value)


# Bad inputs ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("build, exc, words", [
    (lambda: ECABlock(0), ValueError, ["channels", "0"]),
    (lambda: ECABlock(16.0), TypeError, ["channels", "16.0"]),
    (lambda: ECABlock(64, gamma=0), ValueError, ["gamma", "0"]),
    (lambda: ECABlock(64, gamma="2"), TypeError, ["gamma", "'2'"]),
    (lambda: ECABlock(64, b="1"), TypeError, ["b", "'1'"]),
    (lambda: ECABlock(64, b=float("nan")), ValueError, ["b", "nan"]),
    (lambda: ECABlock(64, kernel_size=4), ValueError, ["kernel_size", "odd", "4"]),
    (lambda: ECABlock(64, kernel_size=0), ValueError, ["kernel_size", "0"]),
    (lambda: ECABlock(64, gamma=0, kernel_size=3), ValueError, ["gamma"]),
    (lambda: ChannelConv(8, 2), ValueError, ["kernel_size", "odd"]),
    (lambda: CBAMBlock(-4), ValueError, ["channels", "-4"]),
    (lambda: CBAMBlock(64, reduction=0), ValueError, ["reduction", "0"]),
    (lambda: CBAMBlock(64, spatial_kernel=6), ValueError, ["spatial_kernel", "odd", "6"]),
    (lambda: CBAMBlock(64, act_layer="swish"), ValueError, ["act_layer", "'swish'", "'relu'"]),
    (lambda: NoSqueezeBlock(0), ValueError, ["channels"]),
    (lambda: NoSqueezeBlock(64, reduction=-1), ValueError, ["reduction", "-1"]),
    (lambda: NoSqueezeBlock(64, gate_layer="step"), ValueError, ["gate_layer", "'step'", "'sigmoid'"]),
    (lambda: NoSqueezeBlock(64, rd_channels=0), ValueError, ["rd_channels", "0"]),
    (lambda: eca_kernel_size(True), TypeError, ["channels", "True"]),
    (lambda: make_attention("eca", 64, reduction=16), TypeError, ["reduction"]),
])
def test_bad_constructor_arguments(build, exc, words):
    with pytest.raises(exc) as info:
        build()
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("name", list(BLOCKS))
@pytest.mark.parametrize("x, exc, words", [
    (torch.randn(2, 16, 4), ValueError, ["x", "4-D", "3"]),
    (torch.randn(2, 8, 4, 4), ValueError, ["x", "channels", "16", "8"]),
    (torch.ones(2, 16, 4, 4, dtype=torch.long), TypeError, ["x", "floating-point"]),
    ([[1.0]], TypeError, ["x", "torch.Tensor", "list"]),
])
def test_bad_inputs_name_the_argument(name, x, exc, words):
    with pytest.raises(exc) as info:
        BLOCKS[name](16)(x)
    for word in words:
        assert word in str(info.value)


def test_bad_descriptor_inputs():
    with pytest.raises(ValueError, match=r"\(B, 2, 8\)"):
        SharedMLPGate(8)(torch.randn(2, 8))
    with pytest.raises(TypeError, match="z must be a torch.Tensor"):
        SharedMLPGate(8)("z")
    with pytest.raises(ValueError, match="z has the wrong number of channels"):
        ChannelConv(8, 3)(torch.randn(2, 7))
    with pytest.raises(ValueError, match="x must be 4-D"):
        SpatialGate()(torch.randn(2, 8))


# Helpers of the "Ablations" and "Successors" chapters (sebook.analysis, sebook.plots) ------------------------------

def test_seed_statistics():
    s = analysis.seed_statistics([0.90, 0.91, 0.92])
    assert s["n"] == 3 and s["min"] == 0.90 and s["max"] == 0.92
    assert s["mean"] == pytest.approx(0.91) and s["std"] == pytest.approx(0.01)
    assert analysis.seed_statistics([0.5])["std"] == 0.0


@pytest.mark.parametrize("values, exc", [([], ValueError), ("abc", ValueError), ([0.1, "x"], TypeError),
                                         ([0.1, float("nan")], TypeError), ([True, 0.2], TypeError)])
def test_seed_statistics_bad_values(values, exc):
    with pytest.raises(exc, match="values"):
        analysis.seed_statistics(values)


def test_compare_with_baseline():
    far = analysis.compare_with_baseline([0.95, 0.951, 0.949], [0.90, 0.901, 0.899])
    assert far["difference"] == pytest.approx(0.05) and far["exceeds_spread"] and not far["ranges_overlap"]
    assert far["standard_error"] == pytest.approx((2 * 0.001 ** 2 / 3) ** 0.5)
    near = analysis.compare_with_baseline([0.90, 0.92, 0.91], [0.905, 0.915, 0.91])
    assert not near["exceeds_spread"] and near["ranges_overlap"]
    same = analysis.compare_with_baseline([0.9, 0.9], [0.9, 0.9])
    assert same["ratio"] == 0.0 and not same["exceeds_spread"]
    with pytest.raises(ValueError, match="at least 2 seeds"):
        analysis.compare_with_baseline([0.9], [0.9, 0.91])


def test_class_mean_gates():
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), sebook.SEBlock(8, 2), ECABlock(8))
    images, labels = torch.randn(12, 1, 6, 6), torch.tensor([0, 1, 2] * 4)
    means = analysis.class_mean_gates(model, images, labels, num_classes=4, batch_size=5)
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
        analysis.class_mean_gates(model, images, torch.zeros(3, dtype=torch.long), 2)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\]"):
        analysis.class_mean_gates(model, images, torch.tensor([0, 1, 2, 0]), 2)
    with pytest.raises(ValueError, match="num_classes"):
        analysis.class_mean_gates(model, images, torch.zeros(4, dtype=torch.long), 0)
    with pytest.raises(TypeError, match="model"):
        analysis.class_mean_gates("model", images, torch.zeros(4, dtype=torch.long), 2)
    nosqueeze = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), NoSqueezeBlock(8, 2))
    with pytest.raises(ValueError, match="one gate per channel"):
        analysis.class_mean_gates(nosqueeze, images, torch.zeros(4, dtype=torch.long), 2)


def test_seed_dots_and_class_gate_bars():
    import matplotlib.pyplot as plt

    from sebook import plots

    fig = plots.seed_dots({"SE": [90.1, 90.5, 90.3], "max": [89.9, 90.2, 90.0], "none": [90.4]}, "Squeeze",
                          baseline="SE", paper={"SE": 22.28, "max": 22.57})
    left, right = fig.axes[:2]
    assert left.get_title() == "Squeeze" and left.get_xlabel() == "test accuracy (%)"
    assert right.get_xlabel() == "ImageNet top-1 error (%)"
    assert [t.get_text() for t in left.get_yticklabels()] == ["SE", "max", "none"]  # first variant on top
    assert left.get_yticks()[0] > left.get_yticks()[-1]
    plt.close(fig)
    fig = plots.seed_dots({"SE": [1.0, 2.0]}, "t")
    assert len(fig.axes) == 1
    plt.close(fig)
    with pytest.raises(ValueError, match="baseline"):
        plots.seed_dots({"SE": [1.0]}, "t", baseline="ECA")
    with pytest.raises(ValueError, match="at least one"):
        plots.seed_dots({}, "t")
    fig = plots.class_gate_bars({"SE": torch.rand(8), "ECA": torch.rand(8)},
                                {"SE": torch.rand(8), "ECA": torch.rand(8)}, "Class 3")
    assert fig._suptitle.get_text() == "Class 3" and fig.axes[-1].get_xlabel().startswith("channel of the block")
    assert all(ax.get_ylabel() == "mean gate" for ax in fig.axes)
    plt.close(fig)
    with pytest.raises(ValueError, match="same"):
        plots.class_gate_bars({"SE": torch.rand(8)}, {"ECA": torch.rand(8)}, "t")


def _entry(command, seed, accuracy):
    return {"command": command, "seed": seed, "metrics": {"test_accuracy": accuracy}}


def test_training_recipe_keeps_only_the_training_options():
    a = analysis.training_recipe("python -m sebook.train --attention eca --seed 2 --out checkpoints/eca_standard_s2.pt")
    b = analysis.training_recipe("python -m sebook.train --attention se --reduction 4 --gate tanh --integration post "
                                 "--seed 0 --epochs 2 --out x.pt")
    assert a == b and a["epochs"] == 2 and a["widths"] == [16, 32, 64] and "seed" not in a and "attention" not in a
    assert analysis.training_recipe("python -m sebook.train --epochs 3 --out x.pt") != a
    with pytest.raises(ValueError, match="python -m sebook.train"):
        analysis.training_recipe("python train.py --epochs 2")
    with pytest.raises(TypeError, match="command"):
        analysis.training_recipe(["python"])


def test_seed_results():
    cmd = "python -m sebook.train --attention {} --seed {} --out checkpoints/{}_s{}.pt"
    entries = {f"{stem}_s{s}.pt": _entry(cmd.format(att, s, stem, s), s, acc + s / 100)
               for stem, att, acc in [("none", "none", 0.8), ("eca_standard", "eca", 0.9)] for s in (0, 1)}
    results = analysis.seed_results(entries, {"plain": "none", "ECA": "eca_standard"}, seeds=(0, 1))
    assert results == {"plain": [0.8, 0.81], "ECA": [0.9, 0.91]}
    with pytest.raises(ValueError, match="'none_s2.pt'"):
        analysis.seed_results(entries, {"plain": "none"}, seeds=(0, 1, 2))
    entries["eca_standard_s1.pt"]["command"] += " --epochs 5"
    with pytest.raises(ValueError, match="trained differently"):
        analysis.seed_results(entries, {"plain": "none", "ECA": "eca_standard"}, seeds=(0, 1))
    with pytest.raises(TypeError, match="names"):
        analysis.seed_results(entries, {}, seeds=(0,))
