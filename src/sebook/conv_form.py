"""SE as torchvision and timm write it: the gates kept as (B, C, 1, 1), the FC layers as 1x1 convolutions.

torchvision's ``ops.SqueezeExcitation`` (MobileNetV3, EfficientNet, RegNet) and timm's
``layers.SEModule`` (its SE-ResNets) pool each channel to a 1 x 1 map and apply the two FC
layers as 1 x 1 convolutions on it, so the gates come out as (B, C, 1, 1) and broadcast over
H and W without a view. On a 1 x 1 map a 1 x 1 convolution is a linear layer: its weight
is the same (out, in) matrix with two trailing axes of size 1. This module writes that form
with torchvision's names and converts weights between it and :class:`sebook.se.SEBlock`.
Explained in "Recalibration".
"""

from __future__ import annotations

import torch
from torch import nn

from . import checks
from .se import SEBlock


class ConvSqueezeExcitation(nn.Module):
    """torchvision's ``SqueezeExcitation``: pool to 1 x 1, ``fc1``, activation, ``fc2``, gate.

    Same attribute names and state-dict keys as torchvision's (and, for the weights, as
    timm's ``SEModule``), so their checkpoints load into it.
    """

    def __init__(
        self,
        input_channels: int,
        squeeze_channels: int,
        activation: type[nn.Module] = nn.ReLU,
        scale_activation: type[nn.Module] = nn.Sigmoid,
    ) -> None:
        super().__init__()
        checks.positive_int("input_channels", input_channels)
        checks.positive_int("squeeze_channels", squeeze_channels)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def scale(self, x: torch.Tensor) -> torch.Tensor:
        """The gates, (B, C, 1, 1)."""
        s = self.avgpool(x)
        s = self.activation(self.fc1(s))
        return self.scale_activation(self.fc2(s))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale(x) * x


def conv_state_dict(block: SEBlock) -> dict[str, torch.Tensor]:
    """``block``'s weights under the keys and shapes of the 1 x 1 convolution form.

    ``fc1.weight`` (C/r, C, 1, 1), ``fc1.bias``, ``fc2.weight`` (C, C/r, 1, 1),
    ``fc2.bias``: loadable into :class:`ConvSqueezeExcitation`, torchvision's
    ``SqueezeExcitation`` and timm's ``SEModule``.
    """
    if not isinstance(block, SEBlock):
        raise TypeError(f"block must be an SEBlock, got {type(block).__name__}")
    state = {}
    for name in ("fc1", "fc2"):
        layer = getattr(block.excitation, name)
        state[f"{name}.weight"] = layer.weight.detach().clone()[:, :, None, None]
        state[f"{name}.bias"] = layer.bias.detach().clone()
    return state


def linear_state_dict(conv_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse: a 1 x 1 convolution form's weights as an :class:`SEBlock` state dict."""
    keys = {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}
    missing = keys - set(conv_state)
    if missing:
        raise ValueError(
            f"conv_state lacks {sorted(missing)}; expected keys {sorted(keys)}"
        )
    state = {}
    for name in ("fc1", "fc2"):
        weight = conv_state[f"{name}.weight"]
        if weight.dim() != 4 or weight.shape[2:] != (1, 1):
            raise ValueError(
                f"conv_state[{name + '.weight'!r}] must be a 1 x 1 kernel "
                f"(out, in, 1, 1), got shape {tuple(weight.shape)}"
            )
        state[f"excitation.{name}.weight"] = weight[:, :, 0, 0].clone()
        state[f"excitation.{name}.bias"] = conv_state[f"{name}.bias"].clone()
    return state
