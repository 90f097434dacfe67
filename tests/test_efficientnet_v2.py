"""EfficientNetV2-S: torchvision's parameter count; SE in the MBConv stages and none in the Fused-MBConv ones."""

import pytest
import torch
from torch import nn

from sebook import models
from sebook.blocks import MBConv
from sebook.efficientnet_v2 import (
    EFFICIENTNET_V2_S_STAGES,
    EfficientNetV2,
    EfficientNetV2Stage,
    FusedMBConv,
)
from sebook.se import SEBlock


def _meta_model():
    with torch.device("meta"):
        return models.efficientnet_v2_s()


def test_torchvisions_published_parameter_count():
    assert sum(p.numel() for p in _meta_model().parameters()) == 21_458_488


def test_se_only_in_mbconv_stages():
    net = _meta_model()
    for i, stage in enumerate(EFFICIENTNET_V2_S_STAGES):
        blocks = list(net.features[i + 1])
        assert len(blocks) == stage.repeats
        has_se = [any(isinstance(m, SEBlock) for m in b.modules()) for b in blocks]
        assert all(has_se) if stage.block == "mbconv" else not any(has_se)
        assert all(
            isinstance(b, MBConv if stage.block == "mbconv" else FusedMBConv)
            for b in blocks
        )
    se = [m for m in net.modules() if isinstance(m, SEBlock)]
    assert len(se) == 30
    first = next(m for m in net.features.stage4.modules() if isinstance(m, SEBlock))
    assert (
        first.channels == 256 and first.excitation.rd_channels == 16
    )  # expanded 64 * 4, a quarter of 64
    assert isinstance(first.excitation.act, nn.SiLU) and isinstance(
        first.excitation.gate, nn.Sigmoid
    )


def test_fused_block_by_hand():
    block = FusedMBConv(8, 8, 4, 3, 1).eval()
    x = torch.randn(2, 8, 6, 6)
    torch.testing.assert_close(block(x), x + block.block.project(block.block.expand(x)))
    assert (
        block.block.expand.conv.kernel_size == (3, 3)
        and block.block.expand.conv.groups == 1
    )
    assert not FusedMBConv(8, 16, 1, 3, 2).use_residual


def test_forward_shape_and_batchnorm_eps():
    net = models.efficientnet_v2_s(num_classes=3).eval()
    assert net(torch.randn(1, 3, 64, 64)).shape == (1, 3)
    assert all(m.eps == 1e-3 for m in net.modules() if isinstance(m, nn.BatchNorm2d))


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (
            lambda: EfficientNetV2((EfficientNetV2Stage("conv", 1, 3, 1, 24, 24, 1),)),
            ValueError,
            r"block must be one of 'fused', 'mbconv'; got 'conv'",
        ),
        (
            lambda: EfficientNetV2(()),
            TypeError,
            r"stages must be a non-empty tuple of EfficientNetV2Stage rows",
        ),
        (
            lambda: models.efficientnet_v2_s(dropout=-0.1),
            ValueError,
            r"dropout must be a probability in \[0, 1\)",
        ),
        (
            lambda: models.efficientnet_v2_s(num_classes=0),
            ValueError,
            r"num_classes must be an integer >= 1, got 0",
        ),
    ],
)
def test_bad_inputs(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
