"""Global Response Normalization (ConvNeXt V2, Woo et al. 2023) in the book's (B, C, H, W) layout."""

import pytest
import torch
import torch.fx

import sebook
from sebook.attention import ATTENTION, make_attention
from sebook.fashion_models import FashionNet, FashionNetConfig
from sebook.grn import DATA_FORMATS, GRN


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _random_affine(block):
    with torch.no_grad():
        block.gamma.normal_()
        block.beta.normal_()
    return block


def convnext_v2_grn(x, gamma, beta, eps=1e-6):
    """ConvNeXt V2's GRN as its authors wrote it, on a channels-last (N, H, W, C) tensor."""
    gx = torch.norm(x, p=2, dim=(1, 2), keepdim=True)
    nx = gx / (gx.mean(dim=-1, keepdim=True) + eps)
    return gamma * (x * nx) + beta + x


def test_exported_and_registered():
    assert (
        sebook.GRN is GRN
        and ATTENTION["grn"] is GRN
        and isinstance(make_attention("grn", 8), GRN)
    )
    assert DATA_FORMATS == ("channels_first", "channels_last")


def test_equations_by_hand():
    """G_i = ||X_i||_2 over positions, N_i = G_i / (mean_j G_j + eps), out = gamma X N + beta + X."""
    x = torch.randn(2, 3, 4, 5)
    block = _random_affine(GRN(3))
    g = torch.stack(
        [
            torch.stack([torch.sqrt((x[b, c] ** 2).sum()) for c in range(3)])
            for b in range(2)
        ]
    )
    n = g / (g.mean(dim=1, keepdim=True) + 1e-6)
    expected = (
        block.gamma[:, None, None] * x * n[:, :, None, None]
        + block.beta[:, None, None]
        + x
    )
    torch.testing.assert_close(block(x), expected)
    torch.testing.assert_close(block.gates(x), n)


def test_matches_convnext_v2_in_both_layouts():
    x = torch.randn(2, 8, 5, 5)
    first = _random_affine(GRN(8))
    last = GRN(8, data_format="channels_last")
    last.load_state_dict(first.state_dict())
    x_last = x.permute(0, 2, 3, 1)
    reference = convnext_v2_grn(x_last, first.gamma, first.beta)
    torch.testing.assert_close(last(x_last), reference)
    torch.testing.assert_close(first(x), reference.permute(0, 3, 1, 2))


def test_a_new_grn_is_the_identity_and_has_2c_parameters():
    x = torch.randn(2, 16, 4, 4)
    block = GRN(16)
    torch.testing.assert_close(block(x), x)
    assert sum(p.numel() for p in block.parameters()) == 32


def test_normalised_responses_average_one_over_channels():
    nx = GRN(10).gates(torch.randn(4, 10, 6, 6))
    torch.testing.assert_close(nx.mean(dim=1), torch.ones(4), rtol=1e-5, atol=1e-5)


def test_residual_and_fashion_net():
    x, r = torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 3)
    block = _random_affine(GRN(4))
    torch.testing.assert_close(block(x, residual=r), r + block(x))
    assert FashionNet(FashionNetConfig(attention="grn")).eval()(
        torch.randn(2, 1, 28, 28)
    ).shape == (2, 10)


@pytest.mark.parametrize("data_format", DATA_FORMATS)
def test_autocast_and_fx(data_format):
    block = _random_affine(GRN(8, data_format=data_format))
    x = (
        torch.randn(2, 8, 6, 6)
        if data_format == "channels_first"
        else torch.randn(2, 6, 6, 8)
    )
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = block(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    traced = torch.fx.symbolic_trace(block, concrete_args={"residual": None})
    torch.testing.assert_close(traced(x), block(x))


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (lambda: GRN(0), ValueError, r"channels must be an integer >= 1, got 0"),
        (lambda: GRN(8, eps=0), ValueError, r"eps must be a number > 0, got 0"),
        (
            lambda: GRN(8, data_format="NHWC"),
            ValueError,
            r"data_format must be one of 'channels_first', 'channels_last'; got 'NHWC'",
        ),
    ],
)
def test_bad_inputs(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
