"""Excitation: a small gating MLP that turns the channel descriptor into weights.

One weight per channel.

Hu et al., *Squeeze-and-Excitation Networks*, Sec. 3.2 (Eq. 3):
``s = sigmoid(W2 relu(W1 z))`` with ``W1: C -> C/r`` and ``W2: C/r -> C``. Explained in
the chapter "Excitation"; an untrained one in the appendix "The excitation before training".
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from . import checks

LayerSpec = str | type[nn.Module] | Callable[[], nn.Module]


class ChannelSoftmax(nn.Module):
    """Softmax across channels: the gates of one sample sum to 1.

    Shown in "Excitation" as the wrong choice.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.softmax(x, dim=1)


ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "silu": nn.SiLU,
    "gelu": nn.GELU,
    "hard_swish": nn.Hardswish,
}
"""Names accepted for ``act_layer``, the nonlinearity inside the bottleneck."""

GATES: dict[str, type[nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "hard_sigmoid": nn.Hardsigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "softmax": ChannelSoftmax,
    "identity": nn.Identity,
}
"""Names accepted for ``gate_layer``, which turns excitation logits into weights.

The weights are channel weights.
"""


def create_layer(
    spec: LayerSpec, table: dict[str, type[nn.Module]], name: str
) -> nn.Module:
    """Build a layer from a name in ``table`` or from a zero-argument callable.

    The callable can be a module class.
    """
    if isinstance(spec, str):
        return table[checks.one_of(name, spec, table)]()
    if isinstance(spec, nn.Module):  # callable, but calling it runs its forward
        raise TypeError(
            f"{name} must be a name, a module class or a factory that builds a module, "
            f"not a module instance; pass {type(spec).__name__} instead of {spec!r}"
        )
    if callable(spec):
        layer = spec()
        if not isinstance(layer, nn.Module):
            raise TypeError(
                f"{name} must build an nn.Module, got {type(layer).__name__}"
            )
        return layer
    raise TypeError(
        f"{name} must be one of {', '.join(map(repr, table))} or an nn.Module class, "
        f"got {spec!r}"
    )


def make_divisible(
    value: float,
    divisor: int = 8,
    min_value: int | None = None,
    round_limit: float = 0.9,
) -> int:
    """Round ``value`` to the nearest multiple of ``divisor``, at least ``min_value``.

    ``min_value`` defaults to ``divisor``.

    If rounding down loses more than ``1 - round_limit`` of ``value``, one more
    ``divisor`` is added. The same rule as timm's and torchvision's helper of this name
    (from the MobileNet reference code).
    """
    divisor = checks.positive_int("divisor", divisor)
    checks.positive_number("value", value)
    min_value = (
        divisor if min_value is None else checks.positive_int("min_value", min_value)
    )
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < round_limit * value:
        rounded += divisor
    return rounded


def make_rd_channels(channels: int, reduction: float = 16, rd_divisor: int = 1) -> int:
    """The bottleneck width ``rd_channels``: ``channels / reduction`` rounded, never 0.

    ``rd_divisor=1`` rounds to the nearest integer with a floor of 1 (the source
    notebook's ``channels // reduction`` is 0 when ``channels < reduction``);
    ``rd_divisor=8`` rounds to a multiple of 8, as timm's ``SEModule`` (the SE layer of
    its SE-ResNets) does. Other networks size SE by other rules (EfficientNet: a quarter
    of the block's input width; MobileNetV3: ``make_divisible(expanded // 4, 8)``);
    "Excitation" tabulates them.
    """
    channels = checks.positive_int("channels", channels)
    reduction = checks.positive_number("reduction", reduction)
    if reduction == float("inf"):
        raise ValueError(f"reduction must be a finite number > 0, got {reduction!r}")
    rd_divisor = checks.positive_int("rd_divisor", rd_divisor)
    return make_divisible(channels / reduction, rd_divisor, round_limit=0.0)


class Excitation(nn.Module):
    """Bottleneck MLP with a gate: (B, C) descriptor -> (B, C) channel weights.

    Args:
        channels: C, the number of channels of the feature map.
        reduction: r; the hidden width is
            ``make_rd_channels(channels, reduction, rd_divisor)``.
        rd_channels: the hidden width, given directly (overrides ``reduction``).
        rd_divisor: round the hidden width to a multiple of this.
        act_layer: nonlinearity between the two layers (a name from ``ACTIVATIONS`` or a
            module class).
        gate_layer: the gate (a name from ``GATES`` or a module class); the paper's is
            ``"sigmoid"``.
        bias: whether the two linear layers have biases (the paper's do).
    """

    def __init__(
        self,
        channels: int,
        reduction: float = 16,
        *,
        rd_channels: int | None = None,
        rd_divisor: int = 1,
        act_layer: LayerSpec = "relu",
        gate_layer: LayerSpec = "sigmoid",
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.channels = checks.positive_int("channels", channels)
        if rd_channels is None:
            rd_channels = make_rd_channels(channels, reduction, rd_divisor)
        self.rd_channels = checks.positive_int("rd_channels", rd_channels)
        self.fc1 = nn.Linear(self.channels, self.rd_channels, bias=bias)
        self.act = create_layer(act_layer, ACTIVATIONS, "act_layer")
        self.fc2 = nn.Linear(self.rd_channels, self.channels, bias=bias)
        self.gate = create_layer(gate_layer, GATES, "gate_layer")

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.gate(self.fc2(self.act(self.fc1(z))))
