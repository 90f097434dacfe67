"""Residual units with SE, ResNet's bottleneck, stochastic depth and MBConv (sebook.blocks)."""

import pytest
import torch
from torch import nn

import sebook
from sebook.costs import count_flops, count_parameters
from sebook.attention import NoAttention
from sebook.blocks import (
    INTEGRATIONS,
    MBConv,
    ResidualUnit,
    StochasticDepth,
    bottleneck,
    conv_bn,
    stochastic_depth,
)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


class TorchvisionBottleneck(nn.Module):
    """torchvision's ResNet ``Bottleneck`` (v1.5: stride on the 3x3), written out here as the reference layout."""

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes * 4, 1, stride, bias=False),
                nn.BatchNorm2d(planes * 4),
            )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def _randomise_bn(module):
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.2, 0.2)


@pytest.mark.parametrize(
    "inplanes, planes, stride", [(64, 64, 1), (256, 64, 1), (256, 128, 2)]
)
def test_plain_bottleneck_matches_torchvision_layout(inplanes, planes, stride):
    ref = TorchvisionBottleneck(inplanes, planes, stride).eval()
    ours = bottleneck(inplanes, planes, stride, attention="none").eval()
    _randomise_bn(ref)
    names = {
        "conv1": "branch.conv1",
        "bn1": "branch.bn1",
        "conv2": "branch.conv2",
        "bn2": "branch.bn2",
        "conv3": "branch.conv3",
        "bn3": "branch.bn3",
        "downsample.0": "shortcut.conv",
        "downsample.1": "shortcut.bn",
    }
    state = {}
    for key, value in ref.state_dict().items():
        prefix, _, leaf = key.rpartition(".")
        state[f"{names[prefix]}.{leaf}"] = value
    ours.load_state_dict(state)
    assert count_parameters(ours) == count_parameters(ref)
    x = torch.randn(2, inplanes, 16, 16)
    torch.testing.assert_close(ours(x), ref(x))


def test_se_standard_is_bn3_then_se_then_add_then_relu():
    unit = bottleneck(256, 64, attention="se").eval()
    _randomise_bn(unit)
    x = torch.randn(2, 256, 8, 8)
    branch = unit.branch(x)
    expected = torch.relu(x + unit.attention(branch))
    torch.testing.assert_close(unit(x), expected)


@pytest.mark.parametrize("integration", INTEGRATIONS)
def test_each_integration_computes_its_formula(integration):
    unit = bottleneck(64, 32, 2, integration=integration).eval()
    _randomise_bn(unit)
    x = torch.randn(2, 64, 8, 8)
    se, branch, shortcut, relu = unit.attention, unit.branch, unit.shortcut, torch.relu
    expected = {
        "standard": lambda: relu(shortcut(x) + se(branch(x))),
        "pre": lambda: relu(shortcut(x) + branch(se(x))),
        "post": lambda: se(relu(shortcut(x) + branch(x))),
        "identity": lambda: relu(se(shortcut(x)) + branch(x)),
    }[integration]()
    out = unit(x)
    assert out.shape == (2, 128, 4, 4)
    torch.testing.assert_close(out, expected)


def test_se_width_follows_the_integration():
    assert bottleneck(64, 64, integration="pre").attention.channels == 64
    for integration in ("standard", "post", "identity"):
        assert bottleneck(64, 64, integration=integration).attention.channels == 256
    assert bottleneck(256, 64, reduction=16).attention.excitation.rd_channels == 16
    assert bottleneck(256, 64, reduction=4).attention.excitation.rd_channels == 64


def test_fused_and_naive_agree():
    fused = bottleneck(128, 32, 1).eval()
    naive = bottleneck(128, 32, 1, fused=False).eval()
    naive.load_state_dict(fused.state_dict())
    x = torch.randn(3, 128, 7, 7)
    torch.testing.assert_close(naive(x), fused(x))
    assert "fused=False" in repr(naive) and "fused" not in repr(fused)


def test_fused_standard_unit_calls_recalibrate_add(monkeypatch):
    calls = []
    original = sebook.se.recalibrate_add
    monkeypatch.setattr(
        sebook.se, "recalibrate_add", lambda *a: calls.append(1) or original(*a)
    )
    bottleneck(64, 16)(torch.randn(1, 64, 4, 4))
    assert calls == [1]
    bottleneck(64, 16, fused=False)(torch.randn(1, 64, 4, 4))
    assert calls == [1]


def test_stride_in_1x1_moves_the_stride_not_the_parameters():
    a, b = bottleneck(256, 128, 2), bottleneck(256, 128, 2, stride_in_1x1=True)
    assert a.branch.conv2.stride == (2, 2) and a.branch.conv1.stride == (1, 1)
    assert b.branch.conv1.stride == (2, 2) and b.branch.conv2.stride == (1, 1)
    assert count_parameters(a) == count_parameters(b)
    assert count_flops(b, (1, 256, 16, 16)) < count_flops(a, (1, 256, 16, 16))
    assert (
        a(torch.randn(1, 256, 16, 16)).shape
        == b(torch.randn(1, 256, 16, 16)).shape
        == (1, 512, 8, 8)
    )


@pytest.mark.parametrize("attention", ["none", "se", "eca", "cbam"])
def test_bottleneck_accepts_every_attention(attention):
    unit = bottleneck(64, 16, attention=attention)
    assert unit(torch.randn(1, 64, 6, 6)).shape == (1, 64, 6, 6)
    if attention == "none":
        assert isinstance(unit.attention, NoAttention)


def test_conv_bn_pads_by_kernel_size():
    for k in (1, 3, 5, 7):
        layer = conv_bn(4, 6, k, act=nn.ReLU())
        assert layer.conv.padding == (k // 2, k // 2)
        assert layer(torch.randn(1, 4, 9, 9)).shape == (1, 6, 9, 9)


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (
            {"integration": "middle"},
            ValueError,
            ["integration", "'middle'", "'standard'", "'identity'"],
        ),
        ({"attention": "squeeze"}, ValueError, ["attention", "'squeeze'", "'se'"]),
        ({"width": 0}, ValueError, ["width", "0"]),
        ({"in_channels": -1}, ValueError, ["in_channels", "-1"]),
        ({"stride": 3}, ValueError, ["stride", "3", "1, 2"]),
        ({"reduction": 0}, ValueError, ["reduction"]),
        ({"fused": "yes"}, TypeError, ["fused", "'yes'"]),
    ],
)
def test_bottleneck_bad_arguments(kwargs, exc, words):
    args = {"in_channels": 64, "width": 16, **kwargs}
    with pytest.raises(exc) as info:
        bottleneck(**args)
    for word in words:
        assert word in str(info.value)


def test_residual_unit_rejects_unknown_integration():
    with pytest.raises(
        ValueError,
        match="integration must be one of 'standard', 'pre', 'post', 'identity'",
    ):
        ResidualUnit(nn.Identity(), nn.Identity(), NoAttention(4), "sideways")


# --- stochastic depth ---------------------------------------------------------------------------------------


def test_stochastic_depth_is_identity_in_eval_and_at_p0():
    x = torch.randn(8, 3, 4, 4)
    assert stochastic_depth(x, 0.5, training=False) is x
    assert stochastic_depth(x, 0.0) is x
    layer = StochasticDepth(0.3).eval()
    assert layer(x) is x


def test_stochastic_depth_row_drops_whole_samples_and_rescales():
    x = torch.ones(400, 2, 3, 3)
    y = stochastic_depth(x, 0.25, "row")
    per_sample = y.flatten(1)
    assert ((per_sample == 0).all(1) | (per_sample == 1 / 0.75).all(1)).all()
    dropped = (per_sample == 0).all(1).float().mean().item()
    assert 0.15 < dropped < 0.35
    assert stochastic_depth(x, 1.0).abs().sum() == 0


def test_stochastic_depth_batch_mode_drops_all_or_nothing():
    x = torch.ones(16, 2, 3, 3)
    for _ in range(10):
        y = stochastic_depth(x, 0.5, "batch")
        assert y.unique().numel() == 1


@pytest.mark.parametrize(
    "p, mode, exc, words",
    [
        (1.5, "row", ValueError, ["p", "[0, 1]", "1.5"]),
        (-0.1, "row", ValueError, ["p", "-0.1"]),
        (0.2, "column", ValueError, ["mode", "'row'", "'column'"]),
    ],
)
def test_stochastic_depth_bad_arguments(p, mode, exc, words):
    with pytest.raises(exc) as info:
        stochastic_depth(torch.randn(2, 3), p, mode)
    for word in words:
        assert word in str(info.value)
    with pytest.raises(exc):
        StochasticDepth(p, mode)


def test_stochastic_depth_rejects_integer_tensors():
    with pytest.raises(TypeError, match="floating-point"):
        stochastic_depth(torch.ones(2, 3, dtype=torch.int64), 0.5)


# --- MBConv -------------------------------------------------------------------------------------------------


def test_mbconv_efficientnet_placement():
    block = MBConv(16, 24, expand_ratio=6, kernel_size=5, stride=2)
    assert list(block.block._modules) == ["expand", "depthwise", "se", "project"]
    se = block.block.se
    assert isinstance(se, sebook.SEBlock) and se.channels == 96
    assert (
        se.excitation.rd_channels == 4
    )  # a quarter of the block's 16 input channels, not 96 / 16
    assert isinstance(se.excitation.act, nn.SiLU) and isinstance(
        se.excitation.gate, nn.Sigmoid
    )
    assert isinstance(block.block.expand.act, nn.SiLU)
    assert (
        block.block.depthwise.conv.groups == 96
        and block.block.depthwise.conv.padding == (2, 2)
    )
    assert not block.use_residual
    assert block(torch.randn(2, 16, 32, 32)).shape == (2, 24, 16, 16)


def test_mbconv_matches_torchvision_parameter_count():
    # torchvision's MBConv(16 -> 24, expand 6, k3, s2): 1536+192 expand, 864+192 depthwise, 868 SE, 2304+48 project
    assert count_parameters(MBConv(16, 24, 6, 3, 2)) == 6004
    # expand_ratio 1 has no expansion convolution (EfficientNet-B0's first stage): 32 -> 16
    block = MBConv(32, 16, 1, 3, 1)
    assert "expand" not in block.block._modules
    assert block.block.se.excitation.rd_channels == 8
    assert count_parameters(block) == 288 + 64 + (32 * 8 + 8 + 8 * 32 + 32) + 512 + 32


def test_mbconv_seed_placement():
    block = MBConv(32, 64, expand_ratio=6, stride=2, se_placement="after_project")
    assert list(block.block._modules) == ["expand", "depthwise", "project", "se"]
    se = block.block.se
    assert (
        se.channels == 64 and se.excitation.rd_channels == 4
    )  # r = 16 on the output width
    assert isinstance(se.excitation.act, nn.ReLU)
    assert isinstance(block.block.expand.act, nn.ReLU6) and isinstance(
        block.block.depthwise.act, nn.ReLU6
    )
    assert block(torch.randn(1, 32, 32, 32)).shape == (1, 64, 16, 16)


def test_mbconv_after_project_placement_never_has_zero_squeeze_width():
    assert (
        MBConv(8, 8, 6, se_placement="after_project").block.se.excitation.rd_channels
        == 1
    )


def test_mbconv_without_se_and_with_hard_sigmoid():
    assert "se" not in MBConv(16, 16, se_placement="none").block._modules
    block = MBConv(16, 16, gate_layer="hard_sigmoid")
    assert isinstance(block.block.se.excitation.gate, nn.Hardsigmoid)
    assert count_parameters(block) == count_parameters(MBConv(16, 16))


@pytest.mark.parametrize("kernel_size", [1, 3, 5, 7])
@pytest.mark.parametrize("stride", [1, 2])
def test_mbconv_padding_follows_kernel(kernel_size, stride):
    block = MBConv(8, 8, 4, kernel_size, stride)
    assert block(torch.randn(1, 8, 14, 14)).shape == (1, 8, 14 // stride, 14 // stride)


def test_mbconv_residual_and_stochastic_depth():
    block = MBConv(16, 16, 6, 3, 1, stochastic_depth_prob=1.0)
    assert block.use_residual
    x = torch.randn(4, 16, 8, 8)
    block.train()
    torch.testing.assert_close(block(x), x)  # branch always dropped
    block.eval()
    with torch.no_grad():
        torch.testing.assert_close(block(x), x + block.block(x))


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        ({"kernel_size": 4}, ValueError, ["kernel_size", "odd", "4"]),
        ({"kernel_size": 0}, ValueError, ["kernel_size", "0"]),
        (
            {"se_placement": "seed"},
            ValueError,
            ["se_placement", "'seed'", "'efficientnet'", "'after_project'"],
        ),
        ({"in_channels": 0}, ValueError, ["in_channels", "0"]),
        ({"out_channels": -8}, ValueError, ["out_channels", "-8"]),
        ({"expand_ratio": 0}, ValueError, ["expand_ratio", "0"]),
        ({"stride": 3}, ValueError, ["stride", "3"]),
        ({"rd_ratio": 2}, ValueError, ["rd_ratio", "2"]),
        ({"act_layer": "swish"}, ValueError, ["act_layer", "'swish'", "'silu'"]),
        ({"gate_layer": "hardsigmoid"}, ValueError, ["gate_layer", "'hard_sigmoid'"]),
        ({"stochastic_depth_prob": 1.2}, ValueError, ["stochastic_depth_prob", "1.2"]),
    ],
)
def test_mbconv_bad_arguments(kwargs, exc, words):
    args = {"in_channels": 16, "out_channels": 16, **kwargs}
    with pytest.raises(exc) as info:
        MBConv(**args)
    for word in words:
        assert word in str(info.value)
