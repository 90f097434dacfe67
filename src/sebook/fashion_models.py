"""The small Fashion-MNIST networks the book trains: residual CNNs with attention.

Each has one attention block per stage.

:class:`FashionNetConfig` names one network (attention type, reduction ratio, squeeze,
gate, integration, widths); :class:`FashionNet` builds it.
``FashionNetConfig(attention="none")`` is the plain twin of every SE net: the same
convolutions without attention. Trained by :mod:`sebook.train`, stored by
:mod:`sebook.checkpoints`; explained in "Learned channel weights" and "The reduction
ratio, measured", used again in "Ablations" and "Successors".
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from . import checks
from .attention import ATTENTION, make_attention
from .blocks import INTEGRATIONS, ResidualUnit
from .excitation import GATES
from .squeeze import SQUEEZE_MODES

DEFAULT_WIDTHS = (16, 32, 64)
"""Channels of the three stages (14 x 14, 7 x 7 and 4 x 4 pixels)."""

NUM_CLASSES = 10
"""Fashion-MNIST's ten classes."""


@dataclass(frozen=True)
class FashionNetConfig:
    """Everything that defines a :class:`FashionNet`; hashable, comparable, stored.

    It is stored in every checkpoint.

    Args:
        attention: a key of :data:`sebook.attention.ATTENTION` (``"none"``, ``"se"``,
            ``"eca"``, ``"cbam"``, ``"nosqueeze"``).
        reduction: the reduction ratio r of SE, CBAM and NoSqueeze (stored as a float).
        squeeze: SE's squeeze, one of :data:`sebook.squeeze.SQUEEZE_MODES`.
        gate: SE's (and NoSqueeze's) gate, a key of :data:`sebook.excitation.GATES`.
        integration: where the block sits in each residual unit, one of
            :data:`sebook.blocks.INTEGRATIONS`.
        widths: channels of each stage; one residual unit per stage, each later stage at
            half the resolution.
        rd_divisor: round each bottleneck width to a multiple of this (SE, CBAM,
            NoSqueeze); 4 keeps every bottleneck at 4 units or more.
        in_channels: channels of the input images (1 for Fashion-MNIST, 3 for the cast
            testbed).
    """

    attention: str = "se"
    reduction: float = 16
    squeeze: str = "avg"
    gate: str = "sigmoid"
    integration: str = "standard"
    widths: tuple[int, ...] = DEFAULT_WIDTHS
    rd_divisor: int = 1
    in_channels: int = 1

    def __post_init__(self) -> None:
        checks.positive_int("rd_divisor", self.rd_divisor)
        checks.positive_int("in_channels", self.in_channels)
        checks.one_of("attention", self.attention, ATTENTION)
        object.__setattr__(
            self, "reduction", checks.positive_number("reduction", self.reduction)
        )
        checks.one_of("squeeze", self.squeeze, SQUEEZE_MODES)
        checks.one_of("gate", self.gate, GATES)
        checks.one_of("integration", self.integration, INTEGRATIONS)
        widths = self.widths
        if (
            isinstance(widths, (str, bytes))
            or not isinstance(widths, (tuple, list))
            or not widths
        ):
            raise ValueError(
                f"widths must be a non-empty tuple of channel counts, got {widths!r}"
            )
        object.__setattr__(
            self,
            "widths",
            tuple(checks.positive_int(f"widths[{i}]", w) for i, w in enumerate(widths)),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values; :meth:`from_dict` inverts it.

        ``widths`` becomes a list.
        """
        d = dataclasses.asdict(self)
        d["widths"] = list(self.widths)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FashionNetConfig:
        """Rebuild a config from :meth:`to_dict`'s output.

        Unknown keys are an error; missing ones take defaults.
        """
        values = checks.known_fields("config", d, cls)
        if "widths" in values and isinstance(values["widths"], list):
            values["widths"] = tuple(values["widths"])
        return cls(**values)

    def attention_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`sebook.attention.make_attention` for this config.

        They are those of this config's attention type.
        """
        bottleneck = {"reduction": self.reduction, "rd_divisor": self.rd_divisor}
        if self.attention == "se":
            return {**bottleneck, "squeeze": self.squeeze, "gate_layer": self.gate}
        if self.attention == "nosqueeze":
            return {**bottleneck, "gate_layer": self.gate}
        if self.attention in ("cbam", "gc", "se_add"):
            return bottleneck
        return {}

    @property
    def name(self) -> str:
        """A file-name-safe name of the architecture.

        For example ``"se_r4_avg_sigmoid_standard"`` or ``"none"``.

        Only the fields the attention type uses appear (``"none"``, ``"eca_standard"``,
        ``"cbam_r16_standard"``, ``"nosqueeze_r16_sigmoid_standard"``); non-default
        widths add a suffix such as ``"_w8-16-32"``, a bottleneck divisor ``"_d4"``
        (only where the attention has a bottleneck) and an input with three channels
        ``"_c3"``.
        """
        r = f"r{self.reduction:g}"
        parts = {
            "none": ["none"],
            "se": ["se", r, self.squeeze, self.gate, self.integration],
            "eca": ["eca", self.integration],
            "cbam": ["cbam", r, self.integration],
            "nosqueeze": ["nosqueeze", r, self.gate, self.integration],
            "gc": ["gc", r, self.integration],
            "se_add": ["se-add", r, self.integration],
        }.get(self.attention, [self.attention, self.integration])
        if self.widths != DEFAULT_WIDTHS:
            parts.append("w" + "-".join(map(str, self.widths)))
        if self.rd_divisor != 1 and self.attention in (
            "se",
            "cbam",
            "nosqueeze",
            "gc",
            "se_add",
        ):
            parts.append(f"d{self.rd_divisor}")
        if self.in_channels != 1:
            parts.append(f"c{self.in_channels}")
        return "_".join(parts)


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)


def residual_stage(
    in_channels: int, out_channels: int, stride: int, config: FashionNetConfig
) -> ResidualUnit:
    """One stage: a :class:`~sebook.blocks.ResidualUnit` with the config's attention.

    The branch is two 3x3 convolutions.

    ``branch = conv3x3(stride) -> BN -> ReLU -> conv3x3 -> BN``; the shortcut is the
    identity, or a 1x1 convolution with BatchNorm (the projection) where the stride or
    the width changes. The attention block is built for the branch's input channels with
    ``integration="pre"`` and for its output channels otherwise.
    """
    branch = nn.Sequential(
        OrderedDict(
            conv1=_conv3x3(in_channels, out_channels, stride),
            bn1=nn.BatchNorm2d(out_channels),
            relu=nn.ReLU(inplace=True),
            conv2=_conv3x3(out_channels, out_channels),
            bn2=nn.BatchNorm2d(out_channels),
        )
    )
    shortcut: nn.Module = nn.Identity()
    if stride != 1 or in_channels != out_channels:
        shortcut = nn.Sequential(
            OrderedDict(
                conv=nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                bn=nn.BatchNorm2d(out_channels),
            )
        )
    channels = in_channels if config.integration == "pre" else out_channels
    attention = make_attention(config.attention, channels, **config.attention_kwargs())
    return ResidualUnit(
        branch, shortcut, attention, config.integration, nn.ReLU(inplace=True)
    )


class FashionNet(nn.Module):
    """A small residual CNN for 28 x 28 images and 10 classes.

    It has one attention block per stage.

    ``stem (conv3x3 stride 2, in_channels -> widths[0], BN, ReLU) -> stages``
    ``-> global average pool -> linear classifier``.
    The stem halves the resolution (28 -> 14 pixels); stage ``i`` is
    :func:`residual_stage` to ``widths[i]`` channels, with stride 2 from the second
    stage on (14 -> 7 -> 4 pixels with three stages). Starting at 14 x 14 makes a
    training epoch about three times faster on a CPU than at 28 x 28, for an accuracy
    near 90 %.

    Args:
        config: a :class:`FashionNetConfig` (the default: SE with r = 16 in the standard
            position).
    """

    def __init__(self, config: FashionNetConfig | None = None) -> None:
        super().__init__()
        config = FashionNetConfig() if config is None else config
        if not isinstance(config, FashionNetConfig):
            raise TypeError(
                f"config must be a FashionNetConfig, got {type(config).__name__}"
            )
        self.config = config
        widths = config.widths
        self.stem = nn.Sequential(
            OrderedDict(
                conv=_conv3x3(config.in_channels, widths[0], stride=2),
                bn=nn.BatchNorm2d(widths[0]),
                relu=nn.ReLU(inplace=True),
            )
        )
        stages, in_channels = [], widths[0]
        for i, width in enumerate(widths):
            stages.append(
                residual_stage(in_channels, width, 1 if i == 0 else 2, config)
            )
            in_channels = width
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(in_channels, NUM_CLASSES)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.stages(self.stem(x))), 1))

    def extra_repr(self) -> str:
        return f"name={self.config.name!r}"
