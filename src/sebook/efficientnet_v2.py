"""EfficientNetV2-S: SE in the MBConv stages, none in the early Fused-MBConv stages.

Tan and Le, *EfficientNetV2: Smaller Models and Faster Training* (ICML 2021), Table 4;
the layout is torchvision's ``efficientnet_v2_s`` (21,458,488 parameters). The first
three stages use **Fused-MBConv**, which replaces the expansion 1x1 and the depthwise
convolution by one regular 3x3 convolution and has **no SE**: at high resolution and few
channels, depthwise convolutions and SE run poorly on accelerators, and the search
preferred the fused block there. The last three stages are EfficientNet's MBConv
(:class:`sebook.blocks.MBConv`) with SE after the depthwise convolution, on the expanded
width, with ``max(1, in_channels // 4)`` hidden units (a quarter of the block's *input*
width) and SiLU inside. BatchNorm uses ``eps=1e-3``. Explained in "SE's family".
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import NamedTuple

import torch
from torch import nn

from . import checks
from .blocks import MBConv, StochasticDepth, conv_bn


def init_efficientnet(model: nn.Module, bn_eps: float | None = None) -> None:
    """Torchvision's initialisation of EfficientNets, in place.

    Convolutions Kaiming-normal (fan out), BatchNorm scale 1 and shift 0 (and ``bn_eps``
    if given, EfficientNetV2's 1e-3), the classifier ``model.classifier[1]``
    uniform in +-1/sqrt(classes) with zero bias.
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
        elif isinstance(m, nn.BatchNorm2d):
            if bn_eps is not None:
                m.eps = bn_eps
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    linear = model.classifier[1]
    bound = 1.0 / math.sqrt(linear.out_features)
    nn.init.uniform_(linear.weight, -bound, bound)
    nn.init.zeros_(linear.bias)


class EfficientNetV2Stage(NamedTuple):
    """One row of EfficientNetV2's table."""

    block: str  # "fused" (Fused-MBConv, no SE) or "mbconv" (MBConv with SE)
    expand_ratio: int
    kernel_size: int
    stride: int
    in_channels: int
    out_channels: int
    repeats: int


EFFICIENTNET_V2_S_STAGES = tuple(
    EfficientNetV2Stage(*row)
    for row in (
        ("fused", 1, 3, 1, 24, 24, 2),
        ("fused", 4, 3, 2, 24, 48, 4),
        ("fused", 4, 3, 2, 48, 64, 4),
        ("mbconv", 4, 3, 2, 64, 128, 6),
        ("mbconv", 6, 3, 1, 128, 160, 9),
        ("mbconv", 6, 3, 2, 160, 256, 15),
    )
)
"""EfficientNetV2-S's six stages (Tan & Le 2021, Table 4).

As in torchvision's ``efficientnet_v2_s``.
"""

BLOCK_TYPES = ("fused", "mbconv")
"""Block names of :class:`EfficientNetV2Stage`, Fused-MBConv and MBConv.

Fused-MBConv has no SE and MBConv has SE.
"""


class FusedMBConv(nn.Module):
    """Fused-MBConv: ``k x k conv (expand, stride) -> 1x1 project``.

    Or one ``k x k`` conv when ``expand_ratio == 1``.

    No SE. SiLU after the first convolution; the residual (stride 1, same width) passes
    through stochastic depth.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        expand_ratio: int,
        kernel_size: int,
        stride: int,
        stochastic_depth_prob: float = 0.0,
    ) -> None:
        super().__init__()
        expanded = in_channels * expand_ratio
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        if expanded != in_channels:
            layers["expand"] = conv_bn(
                in_channels, expanded, kernel_size, stride, act=nn.SiLU(inplace=True)
            )
            layers["project"] = conv_bn(expanded, out_channels, 1)
        else:
            layers["conv"] = conv_bn(
                in_channels,
                out_channels,
                kernel_size,
                stride,
                act=nn.SiLU(inplace=True),
            )
        self.block = nn.Sequential(layers)
        self.use_residual = stride == 1 and in_channels == out_channels
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + self.stochastic_depth(y) if self.use_residual else y


class EfficientNetV2(nn.Module):
    """EfficientNetV2 in torchvision's layout.

    ``features`` (stem, stages, head) -> ``avgpool`` -> ``classifier``.

    The stochastic-depth probability grows linearly from 0 to ``stochastic_depth_prob``
    over the blocks.

    Args:
        stages: the stage table (:data:`EFFICIENTNET_V2_S_STAGES`).
        head_channels: width of the final 1x1 convolution (1280).
        num_classes: outputs of the classifier.
        dropout: dropout before the classifier.
        stochastic_depth_prob: drop probability of the last block's residual branch.
    """

    def __init__(
        self,
        stages: tuple[EfficientNetV2Stage, ...] = EFFICIENTNET_V2_S_STAGES,
        *,
        head_channels: int = 1280,
        num_classes: int = 1000,
        dropout: float = 0.2,
        stochastic_depth_prob: float = 0.2,
    ) -> None:
        super().__init__()
        if not stages or not all(isinstance(s, EfficientNetV2Stage) for s in stages):
            raise TypeError(
                "stages must be a non-empty tuple of EfficientNetV2Stage rows"
            )
        for s in stages:
            checks.one_of("block", s.block, BLOCK_TYPES)
        head_channels = checks.positive_int("head_channels", head_channels)
        num_classes = checks.positive_int("num_classes", num_classes)
        for name, p in (
            ("dropout", dropout),
            ("stochastic_depth_prob", stochastic_depth_prob),
        ):
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
                raise ValueError(f"{name} must be a probability in [0, 1), got {p!r}")
        features: OrderedDict[str, nn.Module] = OrderedDict(
            stem=conv_bn(3, stages[0].in_channels, 3, 2, act=nn.SiLU(inplace=True))
        )
        total, index = sum(s.repeats for s in stages), 0
        for i, s in enumerate(stages):
            blocks: list[nn.Module] = []
            for j in range(s.repeats):
                c_in, stride = (
                    (s.in_channels, s.stride) if j == 0 else (s.out_channels, 1)
                )
                p = stochastic_depth_prob * index / total
                if s.block == "fused":
                    blocks.append(
                        FusedMBConv(
                            c_in,
                            s.out_channels,
                            s.expand_ratio,
                            s.kernel_size,
                            stride,
                            p,
                        )
                    )
                else:
                    blocks.append(
                        MBConv(
                            c_in,
                            s.out_channels,
                            s.expand_ratio,
                            s.kernel_size,
                            stride,
                            se_placement="efficientnet",
                            rd_ratio=0.25,
                            stochastic_depth_prob=p,
                        )
                    )
                index += 1
            features[f"stage{i + 1}"] = nn.Sequential(*blocks)
        features["head"] = conv_bn(
            stages[-1].out_channels, head_channels, 1, act=nn.SiLU(inplace=True)
        )
        self.features = nn.Sequential(features)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout, inplace=True), nn.Linear(head_channels, num_classes)
        )
        init_efficientnet(self, bn_eps=1e-3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def efficientnet_v2_s(
    *, num_classes: int = 1000, dropout: float = 0.2, stochastic_depth_prob: float = 0.2
) -> EfficientNetV2:
    """EfficientNetV2-S (Tan & Le 2021): 21,458,488 parameters.

    As torchvision's ``efficientnet_v2_s``.
    """
    return EfficientNetV2(
        EFFICIENTNET_V2_S_STAGES,
        head_channels=1280,
        num_classes=num_classes,
        dropout=dropout,
        stochastic_depth_prob=stochastic_depth_prob,
    )
