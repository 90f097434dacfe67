"""deployed.se_census: SE's placements and shares, counted on the meta device; family_figures.map_row."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from sebook import models  # noqa: E402
from sebook.deployed import SEPlacement, se_blocks, se_census  # noqa: E402
from sebook.family_figures import map_row  # noqa: E402
from sebook.se import SEBlock  # noqa: E402


def test_census_of_a_small_network_by_hand():
    net = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), SEBlock(16, 4), nn.Conv2d(16, 8, 1))
    census = se_census(net, 32)
    assert census["placements"] == [SEPlacement("1", 16, 4, 16)]
    assert census["se_parameters"] == 2 * 16 * 4 + 4 + 16
    assert census["se_flops"] == 2 * (
        16 * 4 + 4 * 16
    )  # two matrix products for one image
    conv_flops = 2 * (16 * 3 * 9 * 16 * 16) + 2 * (8 * 16 * 16 * 16)
    assert census["flops"] == conv_flops + census["se_flops"]
    assert census["parameter_share"] == census["se_parameters"] / census["parameters"]


def test_census_of_mobilenet_v3_on_meta():
    with torch.device("meta"):
        net = models.mobilenet_v3_large()
    census = se_census(net)
    assert census["parameters"] == 5_483_032 and len(census["placements"]) == 8
    assert census["se_parameters"] == sum(
        p.numel() for m in se_blocks(net).values() for p in m.parameters()
    )
    assert 0 < census["flop_share"] < 0.01 < census["parameter_share"]


def test_bad_inputs():
    with pytest.raises(TypeError, match="model must be an nn.Module, got str"):
        se_census("resnet")
    with pytest.raises(ValueError, match="image_size must be an integer >= 1, got 0"):
        se_census(nn.Sequential(nn.Conv2d(3, 4, 1), SEBlock(4, 2)), 0)
    with pytest.raises(ValueError, match="panels must hold at least one"):
        map_row({}, "empty")
    with pytest.raises(ValueError, match="panel 'x' must be a 2-D"):
        map_row({"x": torch.zeros(3)}, "bad")


def test_map_row_draws_one_panel_per_map():
    fig = map_row({"a": torch.rand(4, 4), "b": torch.rand(4, 4)}, "two")
    assert len([ax for ax in fig.axes if ax.get_title() in ("a", "b")]) == 2
