"""RegNetY-400MF: a network from a design space, with SE in every block.

SE is sized from the block's *input* width.

Radosavovic, Kosaraju, Girshick, He and Dollár, *Designing Network Design Spaces* (CVPR
2020). RegNetX is a family of residual networks whose widths grow by a quantized linear
rule; RegNetY is RegNetX with an SE block in every residual unit (Sec. 5: "RegNetY ...
adds the Squeeze-and-Excitation operation", which gives "good gains"). The layout is
torchvision's ``regnet_y_400mf`` (4,344,144 parameters). Each unit is

    x -> 1x1 (w_b) -> 3x3 grouped (w_b, stride) -> SE -> 1x1 (w_out),
    plus the shortcut, then ReLU

with ``w_b = w_out`` (bottleneck ratio 1) and SE inside the branch, after the grouped
convolution, on ``w_b`` channels but with a bottleneck width of
``int(round(0.25 * w_in))``: a quarter of the unit's *input* width. Explained in the
chapter "SE's family".
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import NamedTuple

import torch
from torch import nn

from . import checks
from .attention import NoAttention
from .blocks import ResidualUnit, conv_bn
from .excitation import make_divisible
from .se import SEBlock


class RegNetStage(NamedTuple):
    """One stage of a RegNet: output width, number of units, channels per group.

    The channels per group are those of the 3x3 convolution.
    """

    width: int
    depth: int
    group_width: int


def regnet_stages(
    depth: int, w_0: int, w_a: float, w_m: float, group_width: int
) -> tuple[RegNetStage, ...]:
    """The stages of a RegNet from its design parameters.

    Radosavovic et al., Sec. 3.3, Eqs. 2-3.

    Unit ``j`` gets the width ``u_j = w_0 + w_a j``;
    ``s_j = round(log(u_j / w_0) / log(w_m))`` quantizes it to ``w_0 w_m^s_j``, rounded
    to a multiple of 8; consecutive units of one width form a stage. The group width is
    then made compatible with the stage width, as torchvision does. Computed with
    torch's float32 arithmetic, as in torchvision, so that the rounding agrees.
    """
    depth = checks.positive_int("depth", depth)
    w_0 = checks.positive_int("w_0", w_0)
    if w_0 % 8:
        raise ValueError(f"w_0 must be a multiple of 8, got {w_0}")
    w_a = checks.positive_number("w_a", w_a)
    w_m = checks.positive_number("w_m", w_m)
    if w_m <= 1:
        raise ValueError(f"w_m must be a number > 1, got {w_m!r}")
    group_width = checks.positive_int("group_width", group_width)
    widths_cont = (
        torch.arange(depth, device="cpu") * w_a + w_0
    )  # cpu even under torch.device("meta")
    capacity = torch.round(torch.log(widths_cont / w_0) / math.log(w_m))
    widths = (
        (torch.round(torch.divide(w_0 * torch.pow(w_m, capacity), 8)) * 8)
        .int()
        .tolist()
    )
    stages: list[RegNetStage] = []
    for w in widths:
        if stages and stages[-1].width == w:
            stages[-1] = stages[-1]._replace(depth=stages[-1].depth + 1)
        else:
            stages.append(RegNetStage(w, 1, group_width))
    adjusted = []
    for s in stages:
        g = min(s.group_width, s.width)
        adjusted.append(RegNetStage(make_divisible(s.width, g), s.depth, g))
    return tuple(adjusted)


REGNET_Y_400MF = {"depth": 16, "w_0": 48, "w_a": 27.89, "w_m": 2.09, "group_width": 8}
"""RegNetY-400MF's design parameters (torchvision's ``regnet_y_400mf``).

Stages of 48, 104, 208 and 440 channels with 1, 3, 6 and 6 units, 8 channels per group.
"""

REGNET_SE_RATIO = 0.25
"""RegNetY's SE bottleneck width as a fraction of the unit's input width."""


def regnet_unit(
    w_in: int,
    w_out: int,
    stride: int,
    group_width: int,
    se_ratio: float | None = REGNET_SE_RATIO,
) -> ResidualUnit:
    """RegNet's residual bottleneck unit as a :class:`~sebook.blocks.ResidualUnit`.

    SE is inside the branch.

    ``branch = a (1x1, BN, ReLU) -> b (3x3, stride, BN, ReLU) -> se -> c (1x1, BN)``,
    with ``groups = w_out // group_width`` in ``b``;
    the SE block has ``int(round(se_ratio * w_in))`` hidden units; ``se_ratio=None``
    gives RegNetX's unit.
    """
    layers: OrderedDict[str, nn.Module] = OrderedDict(
        a=conv_bn(w_in, w_out, 1, act=nn.ReLU(inplace=True)),
        b=conv_bn(
            w_out,
            w_out,
            3,
            stride,
            groups=w_out // group_width,
            act=nn.ReLU(inplace=True),
        ),
    )
    if se_ratio:
        layers["se"] = SEBlock(
            w_out, rd_channels=int(round(se_ratio * w_in)), act_layer="relu"
        )
    layers["c"] = conv_bn(w_out, w_out, 1)
    shortcut: nn.Module = (
        nn.Identity()
        if (w_in == w_out and stride == 1)
        else conv_bn(w_in, w_out, 1, stride)
    )
    return ResidualUnit(
        nn.Sequential(layers),
        shortcut,
        NoAttention(w_out),
        "standard",
        nn.ReLU(inplace=True),
    )


class RegNet(nn.Module):
    """RegNet in torchvision's layout: ``stem``, ``trunk_output``, ``avgpool``, ``fc``.

    ``stem`` -> ``trunk_output`` (``block1`` ..) -> ``avgpool`` -> ``fc``.

    Args:
        stages: from :func:`regnet_stages`.
        se_ratio: SE's bottleneck width as a fraction of each unit's input width
            (RegNetY); ``None`` for RegNetX.
        stem_width: channels of the 3x3 stride-2 stem.
        num_classes: outputs of the classifier.
    """

    def __init__(
        self,
        stages: tuple[RegNetStage, ...],
        *,
        se_ratio: float | None = REGNET_SE_RATIO,
        stem_width: int = 32,
        num_classes: int = 1000,
    ) -> None:
        super().__init__()
        if not stages or not all(isinstance(s, RegNetStage) for s in stages):
            raise TypeError(
                "stages must be a non-empty tuple of RegNetStage rows (see "
                "regnet_stages)"
            )
        if se_ratio is not None:
            se_ratio = checks.positive_number("se_ratio", se_ratio)
        stem_width = checks.positive_int("stem_width", stem_width)
        num_classes = checks.positive_int("num_classes", num_classes)
        self.stem = conv_bn(3, stem_width, 3, 2, act=nn.ReLU(inplace=True))
        trunk: OrderedDict[str, nn.Module] = OrderedDict()
        w_in = stem_width
        for i, stage in enumerate(stages):
            units = []
            for j in range(stage.depth):
                units.append(
                    regnet_unit(
                        w_in,
                        stage.width,
                        2 if j == 0 else 1,
                        stage.group_width,
                        se_ratio,
                    )
                )
                w_in = stage.width
            trunk[f"block{i + 1}"] = nn.Sequential(*units)
        self.trunk_output = nn.Sequential(trunk)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(w_in, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, mean=0.0, std=math.sqrt(2.0 / fan_out))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.fc.weight, mean=0.0, std=0.01)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(self.trunk_output(self.stem(x))), 1))


def regnet_y_400mf(*, num_classes: int = 1000) -> RegNet:
    """RegNetY-400MF: 4,344,144 parameters, as torchvision's ``regnet_y_400mf``."""
    return RegNet(
        regnet_stages(**REGNET_Y_400MF),
        se_ratio=REGNET_SE_RATIO,
        num_classes=num_classes,
    )
