"""SE's successors and ablations: ECA, CBAM, NoSqueeze, and the factory that builds them by name."""

import math

import pytest
import torch
from torch import nn

import sebook
from sebook import costs, gate_stats
from sebook.attention import (
    ATTENTION,
    CBAMBlock,
    ChannelConv,
    ECABlock,
    NoAttention,
    NoSqueezeBlock,
    PositionwiseExcitation,
    SharedMLPGate,
    SpatialGate,
    eca_kernel_size,
    make_attention,
)
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


@pytest.mark.parametrize(
    "channels, k",
    [
        (1, 1),
        (2, 1),
        (8, 3),
        (16, 3),
        (32, 3),
        (64, 3),
        (128, 5),
        (256, 5),
        (512, 5),
        (1024, 5),
        (2048, 7),
        (4096, 7),
        (8192, 7),
    ],
)
def test_eca_kernel_size_follows_the_paper(channels, k):
    assert eca_kernel_size(channels) == k
    assert ECABlock(channels).kernel_size == k


def test_eca_kernel_size_is_the_nearest_odd_integer():
    for channels in range(1, 5000):
        for gamma, b in [(2, 1), (1, 1), (3, 0.5), (2.5, 2)]:
            value = (math.log2(channels) + b) / gamma
            k = eca_kernel_size(channels, gamma, b)
            assert k % 2 == 1
            assert (
                abs(k - value) <= 1.0
            )  # the nearest odd integer is within 1 of the value
            assert all(
                abs(k - value) <= abs(o - value) + 1e-12 for o in range(1, 40, 2)
            )


def test_eca_reference_formula():
    """The authors' rule: t = int(abs((log2(C) + b) / gamma)); k = t if t is odd else t + 1."""
    for channels in (3, 48, 100, 200, 300, 1000, 3000):
        t = int(abs((math.log(channels, 2) + 1) / 2))
        assert eca_kernel_size(channels) == (t if t % 2 else t + 1)


@pytest.mark.parametrize("channels", [16, 64, 256, 2048])
def test_eca_has_k_parameters_and_no_bias(channels):
    block = ECABlock(channels)
    assert costs.count_parameters(block) == block.kernel_size
    assert block.excitation.conv.bias is None


def test_eca_explicit_kernel_size():
    block = ECABlock(64, kernel_size=9)
    assert block.kernel_size == 9 and costs.count_parameters(block) == 9
    assert block(torch.randn(2, 64, 4, 4)).shape == (2, 64, 4, 4)


def test_eca_matches_the_authors_module():
    """The official eca_layer (BangguWu/ECANet): avg pool, Conv1d over channels, sigmoid, scale."""
    block = ECABlock(32, kernel_size=5)
    x = torch.randn(3, 32, 7, 7)
    y = x.mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
    y = (
        block.excitation.conv(y.squeeze(-1).transpose(-1, -2))
        .transpose(-1, -2)
        .unsqueeze(-1)
    )
    torch.testing.assert_close(block(x), x * torch.sigmoid(y).expand_as(x))


def test_eca_weight_of_a_channel_depends_on_its_neighbours_only():
    block = ECABlock(64, kernel_size=3)
    z = torch.randn(1, 64)
    z2 = z.clone()
    z2[0, 40] += 5.0
    changed = (
        (block.excitation(z) != block.excitation(z2))[0].nonzero().flatten().tolist()
    )
    assert changed == [39, 40, 41]


# CBAM -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channels, reduction", [(64, 16), (256, 16), (32, 4), (8, 16)])
def test_cbam_parameters(channels, reduction):
    block = CBAMBlock(channels, reduction)
    hidden = max(1, round(channels / reduction))
    mlp = (
        channels * hidden + hidden + hidden * channels + channels
    )  # shared MLP with biases
    spatial = (
        2 * 7 * 7 + 2
    )  # 7x7 conv, 2 -> 1 channel, no bias; BatchNorm scale and shift
    assert costs.count_parameters(block) == mlp + spatial
    assert (
        costs.count_parameters(block)
        - costs.count_parameters(sebook.SEBlock(channels, reduction))
        == spatial
    )


def test_cbam_matches_the_authors_module():
    """CBAM's forward written out as in Jongchan/attention-module (ChannelGate, then SpatialGate)."""
    block = CBAMBlock(48, 8).eval()
    with torch.no_grad():
        block.spatial.bn.weight.fill_(1.3)
        block.spatial.bn.bias.fill_(0.2)
    x = torch.randn(2, 48, 9, 9)
    mlp = block.excitation.mlp
    channel = torch.sigmoid(mlp(x.mean(dim=(2, 3))) + mlp(x.amax(dim=(2, 3))))[
        :, :, None, None
    ]
    y = x * channel
    pooled = torch.cat(
        [y.amax(dim=1, keepdim=True), y.mean(dim=1, keepdim=True)], dim=1
    )
    conv = block.spatial.conv.weight.flip(
        1
    )  # the authors stack (max, mean); ours (mean, max)
    spatial = torch.sigmoid(
        block.spatial.bn(nn.functional.conv2d(pooled, conv, padding=3))
    )
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
    assert costs.count_parameters(ns) == costs.count_parameters(se)
    shape = (1, 64, 14, 14)
    assert costs.count_flops(ns, shape) == 14 * 14 * costs.count_flops(se, shape)


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
    with pytest.raises(
        RuntimeError
    ):  # the parts inside a block leave shape errors to PyTorch
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
            block.spatial.bn.weight.fill_(
                1.0
            )  # at 0 (its start) the conv's gradient is 0 by design
    block(torch.randn(2, 16, 6, 6)).square().sum().backward()
    for pname, p in block.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", list(BLOCKS))
def test_blocks_are_channel_attention_and_captured(name):
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), BLOCKS[name](16))
    assert isinstance(model[1], ChannelAttention)
    with gate_stats.capture_gates(model) as gates:
        model(torch.randn(2, 3, 6, 6))
    assert list(gates) == ["1"] and gates["1"][0].shape[:2] == (2, 16)


@pytest.mark.parametrize("name", ["se", "eca", "cbam", "nosqueeze", "none"])
@pytest.mark.parametrize("integration", INTEGRATIONS)
def test_drop_in_at_every_integration(name, integration):
    cin, cout = 16, 32
    branch = nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout)
    )
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
    assert set(ATTENTION) == {
        "none",
        "se",
        "eca",
        "cbam",
        "nosqueeze",
        "ge",
        "ge_theta",
        "gc",
        "grn",
        "se_add",
    }
    assert isinstance(make_attention("none", 8), NoAttention)
    assert make_attention("se", 64, reduction=8).excitation.rd_channels == 8
    assert make_attention("cbam", 64, reduction=8).excitation.mlp.rd_channels == 8
    assert make_attention("nosqueeze", 64, reduction=8).excitation.mlp.rd_channels == 8
    assert make_attention("eca", 128, gamma=1, b=1).kernel_size == 9
    with pytest.raises(ValueError) as info:
        make_attention("ECA", 8)
    assert (
        "attention" in str(info.value)
        and "'eca'" in str(info.value)
        and "'nosqueeze'" in str(info.value)
    )


# Bad inputs ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build, exc, words",
    [
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
        (
            lambda: CBAMBlock(64, spatial_kernel=6),
            ValueError,
            ["spatial_kernel", "odd", "6"],
        ),
        (
            lambda: CBAMBlock(64, act_layer="swish"),
            ValueError,
            ["act_layer", "'swish'", "'relu'"],
        ),
        (lambda: NoSqueezeBlock(0), ValueError, ["channels"]),
        (lambda: NoSqueezeBlock(64, reduction=-1), ValueError, ["reduction", "-1"]),
        (
            lambda: NoSqueezeBlock(64, gate_layer="step"),
            ValueError,
            ["gate_layer", "'step'", "'sigmoid'"],
        ),
        (lambda: NoSqueezeBlock(64, rd_channels=0), ValueError, ["rd_channels", "0"]),
        (lambda: eca_kernel_size(True), TypeError, ["channels", "True"]),
        (lambda: make_attention("eca", 64, reduction=16), TypeError, ["reduction"]),
    ],
)
def test_bad_constructor_arguments(build, exc, words):
    with pytest.raises(exc) as info:
        build()
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("name", list(BLOCKS))
@pytest.mark.parametrize(
    "x, exc, words",
    [
        (torch.randn(2, 16, 4), ValueError, ["x", "4-D", "3"]),
        (torch.randn(2, 8, 4, 4), ValueError, ["x", "channels", "16", "8"]),
        (torch.ones(2, 16, 4, 4, dtype=torch.long), TypeError, ["x", "floating-point"]),
        ([[1.0]], TypeError, ["x", "torch.Tensor", "list"]),
    ],
)
def test_bad_inputs_name_the_argument(name, x, exc, words):
    with pytest.raises(exc) as info:
        BLOCKS[name](16)(x)
    for word in words:
        assert word in str(info.value)


def test_bad_descriptor_inputs():
    """The parts inside a block do only computation; their shape errors are PyTorch's."""
    with pytest.raises(RuntimeError):
        SharedMLPGate(8)(torch.randn(2, 8))
    with pytest.raises(RuntimeError):
        SpatialGate()(torch.randn(2, 8))
    with pytest.raises(
        ValueError, match="x has the wrong number of channels: expected 8, got 7"
    ):
        ECABlock(8)(torch.randn(2, 7, 3, 3))


# Helpers of the "Ablations" and "Successors" chapters (sebook.seed_stats, sebook.gates, sebook.charts) ------------------------------


def _entry(command, seed, accuracy):
    return {"command": command, "seed": seed, "metrics": {"test_accuracy": accuracy}}


# Where PyTorch users take the blocks: autocast, torch.fx, channels_last ----------------------------------------


@pytest.mark.parametrize("name", list(BLOCKS))
def test_blocks_run_under_cpu_bfloat16_autocast(name):
    block, x = BLOCKS[name](16), torch.randn(2, 16, 5, 5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        for y in (block(x), block(x, residual=x)):
            assert y.shape == x.shape and torch.isfinite(y).all()


@pytest.mark.parametrize("name", list(BLOCKS))
def test_blocks_trace_with_torch_fx_and_keep_channels_last(name):
    block, x = BLOCKS[name](16).eval(), torch.randn(2, 16, 5, 5)
    traced = torch.fx.symbolic_trace(block, concrete_args={"residual": None})
    torch.testing.assert_close(traced(x), block(x))
    y = block(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(y, block(x))


def test_additive_control_adds_what_se_would_multiply_with_se_s_parameters():
    from sebook.attention import AdditiveSEBlock

    torch.manual_seed(0)
    block = AdditiveSEBlock(32, 8, rd_divisor=4)
    se = sebook.SEBlock(32, 8, rd_divisor=4)
    assert costs.count_parameters(block) == costs.count_parameters(se)
    x, residual = torch.randn(2, 32, 5, 5), torch.randn(2, 32, 5, 5)
    shift = block.excitation(x.mean((2, 3)))
    torch.testing.assert_close(block(x), x + shift[:, :, None, None])
    torch.testing.assert_close(block(x, residual), residual + block(x))
    assert isinstance(make_attention("se_add", 16), AdditiveSEBlock)
