"""MobileNetV3-Large: SE with a hard-sigmoid gate in 8 of its 15 blocks.

The SE blocks are sized from the expanded width.

Howard et al., *Searching for MobileNetV3* (ICCV 2019), Table 1; the layout is
torchvision's ``mobilenet_v3_large`` (5,483,032 parameters). Each block is MobileNetV2's
inverted residual (expand 1x1 -> depthwise k x k -> project 1x1) with, where the search
chose it, an SE block after the depthwise convolution, on the expanded width ``E``:

- bottleneck width ``make_divisible(E // 4, 8)``: a quarter of the expanded width (not
  ``E / 16``), on a multiple of 8, as hardware likes;
- ReLU inside the bottleneck, and the hard sigmoid ``relu6(x + 3) / 6`` as the gate
  (cheap on mobile CPUs, no exponential), where SE has the sigmoid.

Explained in the chapter "SE's family".
"""

from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

import torch
from torch import nn

from . import checks
from .blocks import conv_bn
from .excitation import ACTIVATIONS, make_divisible
from .se import SEBlock


class MobileNetV3Block(NamedTuple):
    """One row of MobileNetV3's table: an inverted residual block."""

    in_channels: int
    kernel_size: int
    expanded: int
    out_channels: int
    use_se: bool
    activation: str  # "relu" or "hard_swish"
    stride: int


MOBILENET_V3_LARGE_BLOCKS = tuple(
    MobileNetV3Block(*row)
    for row in (
        (16, 3, 16, 16, False, "relu", 1),
        (16, 3, 64, 24, False, "relu", 2),
        (24, 3, 72, 24, False, "relu", 1),
        (24, 5, 72, 40, True, "relu", 2),
        (40, 5, 120, 40, True, "relu", 1),
        (40, 5, 120, 40, True, "relu", 1),
        (40, 3, 240, 80, False, "hard_swish", 2),
        (80, 3, 200, 80, False, "hard_swish", 1),
        (80, 3, 184, 80, False, "hard_swish", 1),
        (80, 3, 184, 80, False, "hard_swish", 1),
        (80, 3, 480, 112, True, "hard_swish", 1),
        (112, 3, 672, 112, True, "hard_swish", 1),
        (112, 5, 672, 160, True, "hard_swish", 2),
        (160, 5, 960, 160, True, "hard_swish", 1),
        (160, 5, 960, 160, True, "hard_swish", 1),
    )
)
"""MobileNetV3-Large's 15 blocks (Howard et al., Table 1).

As in torchvision's ``mobilenet_v3_large``.
"""


def mobilenet_v3_se(expanded: int) -> SEBlock:
    """MobileNetV3's SE on ``expanded`` channels, with ReLU and a hard sigmoid.

    The bottleneck is ``make_divisible(expanded // 4, 8)``.
    """
    return SEBlock(
        expanded,
        rd_channels=make_divisible(expanded // 4, 8),
        act_layer="relu",
        gate_layer="hard_sigmoid",
    )


class InvertedResidual(nn.Module):
    """``expand (1x1) -> depthwise (k x k) -> [SE] -> project (1x1)``, plus the input.

    The input is added when shapes allow.
    """

    def __init__(self, cfg: MobileNetV3Block) -> None:
        super().__init__()
        act = ACTIVATIONS[
            checks.one_of("activation", cfg.activation, ("relu", "hard_swish"))
        ]
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        if cfg.expanded != cfg.in_channels:
            layers["expand"] = conv_bn(
                cfg.in_channels, cfg.expanded, 1, act=act(inplace=True)
            )
        layers["depthwise"] = conv_bn(
            cfg.expanded,
            cfg.expanded,
            cfg.kernel_size,
            cfg.stride,
            groups=cfg.expanded,
            act=act(inplace=True),
        )
        if cfg.use_se:
            layers["se"] = mobilenet_v3_se(cfg.expanded)
        layers["project"] = conv_bn(cfg.expanded, cfg.out_channels, 1)
        self.block = nn.Sequential(layers)
        self.use_residual = cfg.stride == 1 and cfg.in_channels == cfg.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.use_residual else y


class MobileNetV3(nn.Module):
    """MobileNetV3 in torchvision's layout: ``features``, ``avgpool``, ``classifier``.

    ``features``: a 3x3 stride-2 stem (Hardswish), the blocks of ``blocks``, a 1x1
    convolution to six times the last width (Hardswish); ``classifier``: Linear to
    ``last_channel``, Hardswish, Dropout, Linear. BatchNorm uses
    ``eps=0.001, momentum=0.01`` as in torchvision.

    Args:
        blocks: the block table (:data:`MOBILENET_V3_LARGE_BLOCKS`).
        last_channel: width of the classifier's hidden layer (1280 for Large).
        num_classes: outputs of the classifier.
        dropout: dropout before the last layer.
    """

    def __init__(
        self,
        blocks: tuple[MobileNetV3Block, ...] = MOBILENET_V3_LARGE_BLOCKS,
        *,
        last_channel: int = 1280,
        num_classes: int = 1000,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        last_channel = checks.positive_int("last_channel", last_channel)
        num_classes = checks.positive_int("num_classes", num_classes)
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, (int, float))
            or not 0 <= dropout < 1
        ):
            raise ValueError(
                f"dropout must be a probability in [0, 1), got {dropout!r}"
            )
        if not blocks or not all(isinstance(b, MobileNetV3Block) for b in blocks):
            raise TypeError(
                "blocks must be a non-empty sequence of MobileNetV3Block rows"
            )
        layers: OrderedDict[str, nn.Module] = OrderedDict(
            stem=conv_bn(3, blocks[0].in_channels, 3, 2, act=nn.Hardswish(inplace=True))
        )
        for i, cfg in enumerate(blocks):
            layers[f"block{i + 1}"] = InvertedResidual(cfg)
        head = 6 * blocks[-1].out_channels
        layers["head"] = conv_bn(
            blocks[-1].out_channels, head, 1, act=nn.Hardswish(inplace=True)
        )
        self.features = nn.Sequential(layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(head, last_channel),
            nn.Hardswish(inplace=True),
            nn.Dropout(p=dropout, inplace=True),
            nn.Linear(last_channel, num_classes),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                m.eps, m.momentum = 0.001, 0.01
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for m in self.classifier:
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def mobilenet_v3_large(*, num_classes: int = 1000, dropout: float = 0.2) -> MobileNetV3:
    """MobileNetV3-Large (Howard et al. 2019): 5,483,032 parameters.

    As torchvision's ``mobilenet_v3_large``.
    """
    return MobileNetV3(
        MOBILENET_V3_LARGE_BLOCKS,
        last_channel=1280,
        num_classes=num_classes,
        dropout=dropout,
    )
