"""SE's successors and ablations, built from the parts of :class:`~sebook.se.SEBlock`.

- :class:`ECABlock`: Efficient Channel Attention (Wang et al., *ECA-Net*, CVPR 2020): SE
  without the bottleneck; a 1-D convolution across neighbouring channels of the average
  descriptor, ``k`` weights in all.
- :class:`CBAMBlock`: the Convolutional Block Attention Module (Woo et al., ECCV 2018):
  channel attention from the average and the max descriptor through one shared MLP, then
  a spatial attention map.
- :class:`NoSqueezeBlock`: the SENet paper's *NoSqueeze* ablation (Hu et al., TPAMI
  version, Sec. 7.1): the global pooling removed and the two fully connected layers
  applied at every position (1x1 convolutions), so the gates are (B, C, H, W) instead of
  (B, C).
- :class:`NoAttention`: the plain network's stand-in.

Every block takes ``channels`` first and has ``forward(x, residual=None)``, so each is a
drop-in replacement for :class:`~sebook.se.SEBlock` in
:class:`sebook.blocks.ResidualUnit` at every integration position;
:func:`make_attention` builds one by name from :data:`ATTENTION`. Explained in the
chapters "Successors" (ECA, CBAM) and "Ablations" (NoSqueeze).
"""

from __future__ import annotations

import math
from numbers import Real

import torch
from torch import nn

from . import checks
from .excitation import Excitation, LayerSpec
from .gather_excite import GatherExciteBlock, GatherExciteTheta
from .global_context import GlobalContextBlock
from .grn import GRN
from .recalibration import recalibrate
from .se import ChannelAttention, SEBlock
from .squeeze import Squeeze, global_avg_pool, global_max_pool


def eca_kernel_size(channels: int, gamma: float = 2, b: float = 1) -> int:
    """ECA-Net's adaptive kernel size (Eq. 12): ``k = |log2(C)/gamma + b/gamma|_odd``.

    ``t = int(|(log2 C + b) / gamma|)``, then ``k = t`` if ``t`` is odd, else ``t + 1``:
    the odd integer nearest to ``(log2 C + b) / gamma`` (an even value rounds up). With
    the paper's ``gamma = 2, b = 1``: C = 64 -> 3, 128 to 1024 -> 5, 2048 -> 7.
    Explained in "Successors".
    """
    channels = checks.positive_int("channels", channels)
    gamma = checks.positive_number("gamma", gamma)
    if isinstance(b, bool) or not isinstance(b, Real):
        raise TypeError(f"b must be a real number, got {b!r} ({type(b).__name__})")
    if not math.isfinite(b):
        raise ValueError(f"b must be a finite number, got {b!r}")
    t = int(abs((math.log2(channels) + b) / gamma))
    return t if t % 2 else t + 1


def _odd_kernel(name: str, kernel_size: object, why: str) -> int:
    kernel_size = checks.positive_int(name, kernel_size)
    if kernel_size % 2 == 0:
        raise ValueError(f"{name} must be odd ({why}), got {kernel_size}")
    return kernel_size


class ChannelConv(nn.Module):
    """ECA's excitation: a 1-D convolution across neighbouring channels, then a sigmoid.

    The convolution has no bias and runs across the channels of the descriptor.

    Each channel's weight depends on its ``kernel_size`` neighbours only, with one set
    of ``kernel_size`` weights shared by all channels: (B, C) descriptor -> (B, C)
    gates.
    """

    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__()
        self.channels = checks.positive_int("channels", channels)
        self.kernel_size = _odd_kernel(
            "kernel_size", kernel_size, "so the output keeps C channels"
        )
        self.conv = nn.Conv1d(
            1, 1, self.kernel_size, padding=self.kernel_size // 2, bias=False
        )
        self.gate = nn.Sigmoid()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.gate(self.conv(z.unsqueeze(1)).squeeze(1))


class ECABlock(ChannelAttention):
    """Efficient Channel Attention: SE without the bottleneck, ``k`` parameters in all.

    In ResNets ``k`` is 3 to 7.

    ``gates = sigmoid(conv1d_k(avg_pool(x)))``, then ``x`` scaled by the gates as in SE.
    As in the authors' code, the convolution has no bias and the gate is a sigmoid.

    Args:
        channels: C, the number of channels of the input.
        gamma, b: ECA's constants of the adaptive kernel size, :func:`eca_kernel_size`
            (2 and 1 in the paper).
        kernel_size: give the 1-D kernel size directly (odd) instead of the adaptive
            rule.
    """

    def __init__(
        self,
        channels: int,
        gamma: float = 2,
        b: float = 1,
        *,
        kernel_size: int | None = None,
    ) -> None:
        super().__init__()
        self.channels = checks.positive_int("channels", channels)
        adaptive = eca_kernel_size(
            channels, gamma, b
        )  # validates gamma and b in every case
        self.kernel_size = (
            adaptive
            if kernel_size is None
            else _odd_kernel(
                "kernel_size", kernel_size, "so the output keeps C channels"
            )
        )
        self.squeeze = Squeeze("avg")
        self.excitation = ChannelConv(channels, self.kernel_size)


class AvgMaxDescriptors(nn.Module):
    """CBAM's squeeze: the average and the max descriptor, stacked.

    (B, C, H, W) -> (B, 2, C).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([global_avg_pool(x), global_max_pool(x)], dim=1)


class SharedMLPGate(nn.Module):
    """CBAM's channel excitation: one MLP on both descriptors, summed, then a sigmoid.

    ``sigmoid(MLP(z_avg) + MLP(z_max))`` with ``MLP = fc2(relu(fc1(.)))`` (Woo et al.,
    Eq. 2): (B, 2, C) -> (B, C).
    """

    def __init__(
        self,
        channels: int,
        reduction: float = 16,
        *,
        rd_channels: int | None = None,
        rd_divisor: int = 1,
        act_layer: LayerSpec = "relu",
    ) -> None:
        super().__init__()
        self.channels = checks.positive_int("channels", channels)
        self.mlp = Excitation(
            channels,
            reduction,
            rd_channels=rd_channels,
            rd_divisor=rd_divisor,
            act_layer=act_layer,
            gate_layer="identity",
        )
        self.gate = nn.Sigmoid()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.gate(self.mlp(z[:, 0]) + self.mlp(z[:, 1]))


class SpatialGate(nn.Module):
    """CBAM's spatial attention: a (B, 1, H, W) map of weights.

    Channel-wise mean and max maps -> k x k conv -> BatchNorm -> sigmoid.

    As in the authors' code (``Jongchan/attention-module``): the convolution has no bias
    and is followed by a BatchNorm (momentum 0.01) whose scale starts at 0, so that
    every spatial weight starts at ``sigmoid(0) = 0.5`` and the map is learned from
    there.
    """

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.kernel_size = _odd_kernel(
            "kernel_size", kernel_size, "so the map keeps its size"
        )
        self.conv = nn.Conv2d(
            2, 1, self.kernel_size, padding=self.kernel_size // 2, bias=False
        )
        self.bn = nn.BatchNorm2d(1, momentum=0.01)
        nn.init.zeros_(self.bn.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = torch.cat(
            [x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1
        )
        return torch.sigmoid(self.bn(self.conv(maps)))


class CBAMBlock(ChannelAttention):
    """Convolutional Block Attention Module: channel attention, then spatial attention.

    The channel attention passes the average and the max descriptor through one MLP.

    ``y = x * Mc(x)`` with the (B, C) channel gates of :class:`SharedMLPGate`, then
    ``y * Ms(y)`` with the (B, 1, H, W) map of :class:`SpatialGate` (Woo et al., Eq. 1).
    :meth:`~sebook.se.ChannelAttention.gates` returns the channel gates.

    Args:
        channels: C, the number of channels of the input.
        reduction, rd_channels, rd_divisor, act_layer: as for
            :class:`~sebook.se.SEBlock` (the shared MLP).
        spatial_kernel: kernel size of the spatial attention's convolution (7 in the
            paper).
    """

    def __init__(
        self,
        channels: int,
        reduction: float = 16,
        *,
        rd_channels: int | None = None,
        rd_divisor: int = 1,
        act_layer: LayerSpec = "relu",
        spatial_kernel: int = 7,
    ) -> None:
        super().__init__()
        self.channels = checks.positive_int("channels", channels)
        self.squeeze = AvgMaxDescriptors()
        self.excitation = SharedMLPGate(
            channels,
            reduction,
            rd_channels=rd_channels,
            rd_divisor=rd_divisor,
            act_layer=act_layer,
        )
        self.spatial = SpatialGate(
            _odd_kernel("spatial_kernel", spatial_kernel, "so the map keeps its size")
        )

    def forward(
        self, x: torch.Tensor, residual: torch.Tensor | None = None
    ) -> torch.Tensor:
        y = recalibrate(x, self.gates(x))
        y = y * self.spatial(y)
        return y if residual is None else y + checks.same_shape(residual, x)


class PositionwiseExcitation(nn.Module):
    """An :class:`~sebook.excitation.Excitation` applied at every spatial position.

    It maps (B, C, H, W) -> (B, C, H, W).

    The same two linear layers, used on each position's C-vector, are exactly two 1x1
    convolutions; this is the excitation of the SENet paper's NoSqueeze variant.
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
        self.mlp = Excitation(
            channels,
            reduction,
            rd_channels=rd_channels,
            rd_divisor=rd_divisor,
            act_layer=act_layer,
            gate_layer=gate_layer,
            bias=bias,
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        per_position = z.permute(0, 2, 3, 1).reshape(-1, self.channels)  # (B*H*W, C)
        gates = self.mlp(per_position)
        return gates.reshape(z.shape[0], z.shape[2], z.shape[3], self.channels).permute(
            0, 3, 1, 2
        )


class KeepSpatial(nn.Module):
    """NoSqueeze's "squeeze": none; the (B, C, H, W) map passes through unchanged."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class NoSqueezeBlock(ChannelAttention):
    """The SENet paper's NoSqueeze ablation: SE's excitation at every position.

    There is no global descriptor.

    ``block(x) == x * block.excitation(x)``, where the excitation is SE's two-layer
    bottleneck applied as 1x1 convolutions, so each position gets its own C gates from
    its own C values only; nothing is aggregated over space (Hu et al., TPAMI version,
    Sec. 7.1, "Effect of Squeeze"). :meth:`~sebook.se.ChannelAttention.gates` returns
    (B, C, H, W), not (B, C). The cost grows with H x W: this is the variant the paper
    reports with more FLOPs than SE.

    Args: as for :class:`~sebook.se.SEBlock`, without ``squeeze``.
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
        self.squeeze = KeepSpatial()
        self.excitation = PositionwiseExcitation(
            channels,
            reduction,
            rd_channels=rd_channels,
            rd_divisor=rd_divisor,
            act_layer=act_layer,
            gate_layer=gate_layer,
            bias=bias,
        )

    def forward(
        self, x: torch.Tensor, residual: torch.Tensor | None = None
    ) -> torch.Tensor:
        gates = self.gates(x)
        if residual is None:
            return x * gates
        return torch.addcmul(checks.same_shape(residual, x), x, gates)


class AdditiveSEBlock(ChannelAttention):
    """The global-path control: SE's squeeze and bottleneck MLP, its output *added* to each channel.

    ``block(x) == x + block.excitation(block.squeeze(x)).view(B, C, 1, 1)``: the same
    global information and the same parameters as :class:`~sebook.se.SEBlock`, with no gate
    (the MLP's output is a per-image shift of each channel) and no multiplication. It
    separates what SE gains from seeing the whole map from what it gains by rescaling.

    Args: as for :class:`~sebook.se.SEBlock`, without ``squeeze`` and ``gate_layer``.
    """

    def __init__(
        self,
        channels: int,
        reduction: float = 16,
        *,
        rd_channels: int | None = None,
        rd_divisor: int = 1,
        act_layer: LayerSpec = "relu",
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.channels = checks.positive_int("channels", channels)
        self.squeeze = Squeeze("avg")
        self.excitation = Excitation(
            channels,
            reduction,
            rd_channels=rd_channels,
            rd_divisor=rd_divisor,
            act_layer=act_layer,
            gate_layer="identity",
            bias=bias,
        )

    def forward(
        self, x: torch.Tensor, residual: torch.Tensor | None = None
    ) -> torch.Tensor:
        shifted = x + self.gates(x)[:, :, None, None]
        return shifted if residual is None else residual + shifted


class NoAttention(nn.Module):
    """The plain network's stand-in: returns ``x`` (plus ``residual`` if given)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = checks.positive_int("channels", channels)

    def forward(
        self, x: torch.Tensor, residual: torch.Tensor | None = None
    ) -> torch.Tensor:
        return x if residual is None else residual + x


ATTENTION: dict[str, type[nn.Module]] = {
    "none": NoAttention,
    "se": SEBlock,
    "eca": ECABlock,
    "cbam": CBAMBlock,
    "nosqueeze": NoSqueezeBlock,
    "se_add": AdditiveSEBlock,
    "ge": GatherExciteBlock,
    "ge_theta": GatherExciteTheta,
    "gc": GlobalContextBlock,
    "grn": GRN,
}
"""The attention blocks by name, as accepted by :func:`make_attention`.

The same names are accepted by ``attention=`` of the models.
"""


def make_attention(name: str, channels: int, **kwargs: object) -> nn.Module:
    """Build the block named ``name`` for ``channels``.

    ``name`` is a key of :data:`ATTENTION`: ``"se"``, ``"eca"``, ``"gc"``, ...

    ``kwargs`` go to the block's constructor (e.g. ``reduction`` for SE, CBAM and
    NoSqueeze, ``gamma`` for ECA).
    """
    return ATTENTION[checks.one_of("attention", name, ATTENTION)](channels, **kwargs)
