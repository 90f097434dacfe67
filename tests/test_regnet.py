"""RegNetY-400MF: torchvision's parameter count, the design-space widths, and SE sized from the input width."""

import pytest
import torch

from sebook import models
from sebook.regnet import (
    REGNET_Y_400MF,
    RegNet,
    RegNetStage,
    regnet_stages,
    regnet_unit,
)
from sebook.se import SEBlock


def _meta_model():
    with torch.device("meta"):
        return models.regnet_y_400mf()


def test_torchvisions_published_parameter_count():
    assert sum(p.numel() for p in _meta_model().parameters()) == 4_344_144


def test_stages_from_the_design_parameters():
    assert regnet_stages(**REGNET_Y_400MF) == (
        RegNetStage(48, 1, 8),
        RegNetStage(104, 3, 8),
        RegNetStage(208, 6, 8),
        RegNetStage(440, 6, 8),
    )


def test_se_in_every_unit_sized_from_the_input_width():
    net = _meta_model()
    se = [m for m in net.modules() if isinstance(m, SEBlock)]
    assert len(se) == 16
    w_in = [
        32,
        48,
        104,
        104,
        104,
        208,
        208,
        208,
        208,
        208,
        208,
        440,
        440,
        440,
        440,
        440,
    ]
    w_out = [
        48,
        104,
        104,
        104,
        208,
        208,
        208,
        208,
        208,
        208,
        440,
        440,
        440,
        440,
        440,
        440,
    ]
    assert [m.channels for m in se] == w_out
    assert [m.excitation.rd_channels for m in se] == [
        int(round(0.25 * w)) for w in w_in
    ]


def test_unit_forward_by_hand():
    unit = regnet_unit(16, 24, 2, 8).eval()
    x = torch.randn(2, 16, 8, 8)
    branch = unit.branch
    expected = torch.relu(unit.shortcut(x) + branch.c(branch.se(branch.b(branch.a(x)))))
    torch.testing.assert_close(unit(x), expected)
    assert branch.b.conv.groups == 3 and branch.se.excitation.rd_channels == 4


def test_forward_shape():
    assert models.regnet_y_400mf(num_classes=5).eval()(
        torch.randn(1, 3, 64, 64)
    ).shape == (1, 5)


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (
            lambda: regnet_stages(16, 50, 27.89, 2.09, 8),
            ValueError,
            r"w_0 must be a multiple of 8, got 50",
        ),
        (
            lambda: regnet_stages(16, 48, 27.89, 1.0, 8),
            ValueError,
            r"w_m must be a number > 1, got 1.0",
        ),
        (
            lambda: regnet_stages(0, 48, 27.89, 2.09, 8),
            ValueError,
            r"depth must be an integer >= 1, got 0",
        ),
        (
            lambda: RegNet(()),
            TypeError,
            r"stages must be a non-empty tuple of RegNetStage rows",
        ),
        (
            lambda: models.regnet_y_400mf(num_classes=0),
            ValueError,
            r"num_classes must be an integer >= 1, got 0",
        ),
    ],
)
def test_bad_inputs(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
