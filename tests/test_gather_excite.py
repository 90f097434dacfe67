"""Gather-Excite (Hu et al., NeurIPS 2018): GE-θ⁻ and GE-θ against the paper's operators written out by hand."""

import pytest
import torch
import torch.fx
from torch.nn import functional as F

import sebook
from sebook.attention import ATTENTION, make_attention
from sebook.fashion_models import FashionNet, FashionNetConfig
from sebook.gather_excite import GE_VARIANTS, GatherExciteBlock, GatherExciteTheta
from sebook.se import ChannelAttention


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _randomise_bn(block):
    """Non-trivial BatchNorm statistics and affine parameters, so that eval mode tests every term."""
    with torch.no_grad():
        for m in block.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return block.eval()


def test_exported_and_registered():
    assert sebook.GatherExciteBlock is GatherExciteBlock
    assert (
        ATTENTION["ge"] is GatherExciteBlock
        and ATTENTION["ge_theta"] is GatherExciteTheta
    )
    assert isinstance(make_attention("ge", 8), ChannelAttention)
    assert GE_VARIANTS == ("theta-", "theta")


@pytest.mark.parametrize("extent", [None, 2, 4, 8])
@pytest.mark.parametrize("shape", [(2, 6, 8, 8), (1, 3, 7, 5), (3, 4, 1, 1)])
def test_shapes(extent, shape):
    x = torch.randn(shape)
    assert GatherExciteBlock(shape[1], extent)(x).shape == shape
    theta = GatherExciteBlock(
        shape[1],
        extent,
        variant="theta",
        feat_size=shape[2] if extent is None else None,
    )
    theta.eval()  # BatchNorm in training needs more than one value per channel
    if extent is not None or shape[2] == shape[3]:
        assert theta(x).shape == shape


def test_global_theta_minus_is_se_without_the_mlp():
    """GE-θ⁻ with the global extent: x_c * sigmoid(mean(x_c)), no parameters at all."""
    x = torch.randn(2, 5, 6, 7)
    block = GatherExciteBlock(5)
    assert sum(p.numel() for p in block.parameters()) == 0
    expected = x * torch.sigmoid(x.mean(dim=(2, 3), keepdim=True))
    torch.testing.assert_close(block(x), expected)
    assert block.gates(x).shape == (2, 5)


def test_theta_minus_with_extent_by_hand():
    """Extent 2 on a 4x4 map: 3x3 windows centred at rows/columns 0 and 2, means over the positions inside."""
    x = torch.randn(1, 2, 4, 4)
    out = GatherExciteBlock(2, extent=2)(x)
    expected = torch.empty_like(x)
    for c in range(2):
        for i, ci in enumerate((0, 2)):
            for j, cj in enumerate((0, 2)):
                window = x[0, c, max(ci - 1, 0) : ci + 2, max(cj - 1, 0) : cj + 2]
                g = torch.sigmoid(window.mean())
                expected[0, c, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2] = (
                    x[0, c, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2] * g
                )
    torch.testing.assert_close(out, expected)


def test_theta_global_is_a_whole_map_depthwise_convolution():
    x = torch.randn(3, 4, 5, 5)
    block = _randomise_bn(GatherExciteBlock(4, variant="theta", feat_size=5))
    conv, bn = block.squeeze[0], block.squeeze[1]
    weighted = (x * conv.weight[:, 0]).sum(
        dim=(2, 3)
    )  # one 5x5 filter per channel: a weighted sum of the map
    gathered = (weighted - bn.running_mean) / torch.sqrt(
        bn.running_var + bn.eps
    ) * bn.weight + bn.bias
    torch.testing.assert_close(block(x), x * torch.sigmoid(gathered)[:, :, None, None])


def test_theta_with_extent_four_by_hand():
    """Extent 4: depthwise 3x3 stride 2 -> BN -> ReLU -> depthwise 3x3 stride 2 -> BN, nearest upsampling."""
    x = torch.randn(2, 3, 8, 8)
    block = _randomise_bn(GatherExciteBlock(3, 4, variant="theta"))
    conv1, bn1, _, conv2, bn2 = block.squeeze

    def bn(t, m):
        return F.batch_norm(
            t, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps
        )

    g = bn(F.conv2d(x, conv1.weight, stride=2, padding=1, groups=3), bn1).relu()
    g = torch.sigmoid(
        bn(F.conv2d(g, conv2.weight, stride=2, padding=1, groups=3), bn2)
    )  # (2, 3, 2, 2)
    upsampled = g.repeat_interleave(4, dim=2).repeat_interleave(4, dim=3)
    torch.testing.assert_close(block(x), x * upsampled)


@pytest.mark.parametrize(
    "channels, extent, feat_size, expected",
    [
        (
            16,
            None,
            7,
            16 * 49 + 2 * 16,
        ),  # one 7x7 depthwise filter per channel, BatchNorm
        (16, 2, None, 16 * 9 + 2 * 16),
        (16, 8, None, 3 * (16 * 9 + 2 * 16)),  # log2(8) = 3 strided convolutions
    ],
)
def test_theta_parameters(channels, extent, feat_size, expected):
    block = GatherExciteBlock(channels, extent, variant="theta", feat_size=feat_size)
    assert sum(p.numel() for p in block.parameters()) == expected


def test_registered_theta_has_extent_two():
    block = make_attention("ge_theta", 16)
    assert (
        block.extent == 2
        and block.variant == "theta"
        and sum(p.numel() for p in block.parameters()) == 11 * 16
    )


def test_residual_is_added():
    x, r = torch.randn(2, 4, 5, 5), torch.randn(2, 4, 5, 5)
    block = GatherExciteBlock(4, 2)
    torch.testing.assert_close(block(x, residual=r), r + block(x))


@pytest.mark.parametrize("name", ["ge", "ge_theta"])
def test_fashion_net_builds_with_it(name):
    net = FashionNet(FashionNetConfig(attention=name)).eval()
    assert net(torch.randn(2, 1, 28, 28)).shape == (2, 10)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"extent": 4},
        {"variant": "theta", "extent": 2},
        {"variant": "theta", "feat_size": 6},
    ],
)
def test_autocast_and_fx(kwargs):
    block = GatherExciteBlock(8, **kwargs).eval()
    x = torch.randn(2, 8, 6, 6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = block(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    traced = torch.fx.symbolic_trace(block, concrete_args={"residual": None})
    torch.testing.assert_close(traced(x), block(x))


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (
            lambda: GatherExciteBlock(0),
            ValueError,
            r"channels must be an integer >= 1, got 0",
        ),
        (
            lambda: GatherExciteBlock(8, extent=3),
            ValueError,
            r"extent must be None \(the global extent\) or a power of 2 \(2, 4, 8, \.\.\.\), got 3",
        ),
        (
            lambda: GatherExciteBlock(8, extent=1),
            ValueError,
            r"extent must be .* got 1",
        ),
        (
            lambda: GatherExciteBlock(8, extent=True),
            ValueError,
            r"extent must be .* got True",
        ),
        (
            lambda: GatherExciteBlock(8, variant="theta+"),
            ValueError,
            r"variant must be one of 'theta-', 'theta'; got 'theta\+'",
        ),
        (
            lambda: GatherExciteBlock(8, variant="theta"),
            ValueError,
            r"feat_size must be given .* variant='theta' with the global extent",
        ),
        (
            lambda: GatherExciteBlock(8, variant="theta", feat_size=0),
            ValueError,
            r"feat_size must be an integer >= 1, got 0",
        ),
    ],
)
def test_bad_inputs(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
