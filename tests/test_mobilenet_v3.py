"""MobileNetV3-Large: torchvision's parameter count, and SE sized and gated as MobileNetV3 does."""

import pytest
import torch
from torch import nn

from sebook import models
from sebook.excitation import make_divisible
from sebook.mobilenet_v3 import (
    MOBILENET_V3_LARGE_BLOCKS,
    MobileNetV3,
    MobileNetV3Block,
    mobilenet_v3_se,
)
from sebook.se import SEBlock


def _meta_model(**kwargs):
    with torch.device("meta"):
        return models.mobilenet_v3_large(**kwargs)


def test_torchvisions_published_parameter_count():
    assert sum(p.numel() for p in _meta_model().parameters()) == 5_483_032


def test_se_placement_width_and_gate():
    net = _meta_model()
    se = [(name, m) for name, m in net.named_modules() if isinstance(m, SEBlock)]
    assert [n for n, _ in se] == [
        f"features.block{i}.block.se" for i in (4, 5, 6, 11, 12, 13, 14, 15)
    ]
    for (_, block), cfg in zip(se, [c for c in MOBILENET_V3_LARGE_BLOCKS if c.use_se]):
        assert (
            block.channels == cfg.expanded
        )  # on the expanded width, after the depthwise convolution
        assert block.excitation.rd_channels == make_divisible(cfg.expanded / 4, 8)
        assert isinstance(block.excitation.gate, nn.Hardsigmoid) and isinstance(
            block.excitation.act, nn.ReLU
        )
    assert [b.excitation.rd_channels for _, b in se] == [
        24,
        32,
        32,
        120,
        168,
        168,
        240,
        240,
    ]


def test_hard_sigmoid_gate_by_hand():
    block = mobilenet_v3_se(72)
    x = torch.randn(2, 72, 5, 5)
    z = x.mean(dim=(2, 3))
    logits = block.excitation.fc2(torch.relu(block.excitation.fc1(z)))
    torch.testing.assert_close(
        block(x), x * (torch.clamp(logits + 3, 0, 6) / 6)[:, :, None, None]
    )


def test_forward_shape_and_batchnorm_settings():
    net = models.mobilenet_v3_large(num_classes=7).eval()
    assert net(torch.randn(1, 3, 64, 64)).shape == (1, 7)
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(m.eps == 0.001 and m.momentum == 0.01 for m in bns)


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (
            lambda: models.mobilenet_v3_large(num_classes=0),
            ValueError,
            r"num_classes must be an integer >= 1, got 0",
        ),
        (
            lambda: models.mobilenet_v3_large(dropout=1.0),
            ValueError,
            r"dropout must be a probability in \[0, 1\)",
        ),
        (
            lambda: MobileNetV3(()),
            TypeError,
            r"blocks must be a non-empty sequence of MobileNetV3Block rows",
        ),
        (
            lambda: MobileNetV3((MobileNetV3Block(16, 3, 16, 16, False, "gelu", 1),)),
            ValueError,
            r"activation must be one of 'relu', 'hard_swish'; got 'gelu'",
        ),
    ],
)
def test_bad_inputs(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
