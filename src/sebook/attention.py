"""SE's successors, assembled from the same parts: ECA (Wang et al., CVPR 2020) and CBAM (Woo et al., ECCV 2018).

Both are drop-in replacements for :class:`sebook.SEBlock`: same ``channels`` first argument, same
``forward(x, residual=None)``, same ``gates(x)``. Explained in the chapter "Successors".
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from . import checks
from .excitation import Excitation, LayerSpec
from .recalibration import recalibrate
from .se import ChannelAttention, SEBlock
from .squeeze import Squeeze, global_avg_pool, global_max_pool


def eca_kernel_size(channels: int, gamma: float = 2, b: float = 1) -> int:
    """ECA-Net's adaptive kernel size (Eq. 12): ``|log2(C)/gamma + b/gamma|`` rounded to the nearest odd integer above."""
    channels = checks.positive_int("channels", channels)
    gamma = checks.positive_number("gamma", gamma)
    if isinstance(b, bool) or not isinstance(b, (int, float)) or not math.isfinite(b):
        raise TypeError(f"b must be a finite number, got {b!r}")
    t = int(abs((math.log2(channels) + b) / gamma))
    return max(1, t if t % 2 else t + 1)


class ChannelConv(nn.Module):
    """ECA's excitation: a 1-D convolution across neighbouring channels of the descriptor, then a sigmoid."""

    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__()
        self.channels = checks.positive_int("channels", channels)
        kernel_size = checks.positive_int("kernel_size", kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (so the output keeps C channels), got {kernel_size}")
        self.conv = nn.Conv1d(1, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.gate = nn.Sigmoid()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = checks.channel_vector(z, self.channels, name="z")
        return self.gate(self.conv(z.unsqueeze(1)).squeeze(1))


class ECABlock(ChannelAttention):
    """Efficient Channel Attention: SE without the bottleneck; ``k`` parameters in all (k = 3 to 9 typically).

    Args:
        channels: C, the number of channels of the input.
        gamma, b: ECA's constants for the adaptive kernel size (2 and 1 in the paper).
        kernel_size: give the 1-D kernel size directly (odd) instead of the adaptive rule.
    """

    def __init__(self, channels: int, gamma: float = 2, b: float = 1, *, kernel_size: int | None = None) -> None:
        super().__init__()
        self.channels = checks.positive_int("channels", channels)
        k = eca_kernel_size(channels, gamma, b) if kernel_size is None else kernel_size
        self.squeeze = Squeeze("avg")
        self.excitation = ChannelConv(channels, k)


class AvgMaxDescriptors(nn.Module):
    """CBAM's squeeze: the average and the max descriptor stacked, (B, C, H, W) -> (B, 2, C)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = checks.feature_map(x)
        return torch.stack([global_avg_pool(x), global_max_pool(x)], dim=1)


class SharedMLPGate(nn.Module):
    """CBAM's channel excitation: one MLP applied to both descriptors, outputs summed, then a sigmoid."""

    def __init__(self, channels: int, reduction: float = 16, *, rd_channels: int | None = None, divisor: int = 1,
                 act_layer: LayerSpec = "relu") -> None:
        super().__init__()
        self.channels = checks.positive_int("channels", channels)
        self.mlp = Excitation(channels, reduction, rd_channels=rd_channels, divisor=divisor,
                              act_layer=act_layer, gate_layer="identity")
        self.gate = nn.Sigmoid()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if not isinstance(z, torch.Tensor) or z.dim() != 3 or z.shape[1] != 2 or z.shape[2] != self.channels:
            shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(f"z must be (B, 2, {self.channels}) (average and max descriptors), got {shape}")
        return self.gate(self.mlp(z[:, 0]) + self.mlp(z[:, 1]))


class SpatialGate(nn.Module):
    """CBAM's spatial attention: channel-wise mean and max maps -> k x k conv -> sigmoid -> (B, 1, H, W) weights."""

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        kernel_size = checks.positive_int("kernel_size", kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (so the map keeps its size), got {kernel_size}")
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.bn(self.conv(maps)))


class CBAMBlock(ChannelAttention):
    """Convolutional Block Attention Module: channel attention (avg and max through one MLP), then spatial attention.

    Args:
        channels: C, the number of channels of the input.
        reduction, rd_channels, divisor, act_layer: as for :class:`sebook.SEBlock` (the shared MLP).
        spatial_kernel: kernel size of the spatial attention's convolution (7 in the paper).
    """

    def __init__(self, channels: int, reduction: float = 16, *, rd_channels: int | None = None, divisor: int = 1,
                 act_layer: LayerSpec = "relu", spatial_kernel: int = 7) -> None:
        super().__init__()
        self.channels = checks.positive_int("channels", channels)
        self.squeeze = AvgMaxDescriptors()
        self.excitation = SharedMLPGate(channels, reduction, rd_channels=rd_channels, divisor=divisor,
                                        act_layer=act_layer)
        self.spatial = SpatialGate(spatial_kernel)

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        y = recalibrate(x, self.gates(x))
        y = y * self.spatial(y)
        return y if residual is None else checks.feature_map(residual, self.channels, "residual") + y


class NoAttention(nn.Module):
    """The plain network's stand-in: returns ``x`` (plus ``residual`` if given)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = checks.positive_int("channels", channels)

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        return x if residual is None else residual + x


ATTENTION: dict[str, type[nn.Module]] = {"none": NoAttention, "se": SEBlock, "eca": ECABlock, "cbam": CBAMBlock}
"""The channel-attention blocks by name, as accepted by :func:`make_attention`."""


def make_attention(name: str, channels: int, **kwargs: object) -> nn.Module:
    """Build ``"se"``, ``"eca"``, ``"cbam"`` or ``"none"`` for ``channels``; ``kwargs`` go to the block's constructor."""
    return ATTENTION[checks.one_of("attention", name, ATTENTION)](channels, **kwargs)
