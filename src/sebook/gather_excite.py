"""Gather-Excite: gather context from a spatial extent, then excite every position.

Every position is excited with the gathered context.

Hu, Shen, Albanie, Sun and Vedaldi, *Gather-Excite: Exploiting Feature Context in
Convolutional Neural Networks* (NeurIPS 2018), Sec. 3. A *gather* operator aggregates
each channel over a neighbourhood of extent ``e`` (or over the whole map), and an
*excite* operator rescales the input by the gathered context:

.. math::

    \\hat{x} = \\xi_G(x) \\in
    \\mathbb{R}^{C \\times \\lceil H/e \\rceil \\times \\lceil W/e \\rceil},
    \\qquad
    \\xi_E(x, \\hat{x}) = x \\odot \\sigma\\big(\\mathrm{interp}(\\hat{x})\\big),

where ``interp`` is nearest-neighbour interpolation back to ``H x W`` and ``sigma`` the
sigmoid.

- **GE-θ⁻** (``variant="theta-"``): the gather is average pooling, so the block has
  no parameters at all. With the global extent, ``xi_G(x)_c = mean(x_c)`` is SE's
  squeeze and the block is SE without its excitation MLP: ``x_c * sigmoid(mean(x_c))``.
  With extent ``e`` the pooling window is ``(2e - 1) x (2e - 1)``, centred every ``e``
  positions, averaging only over positions inside the map (timm's rendering of the
  paper's operator).
- **GE-θ** (``variant="theta"``): the gather is learned, with depthwise convolutions
  (one filter per channel): ``log2(e)`` 3x3 depthwise convolutions with stride 2, each
  followed by BatchNorm, with ReLU between them; with the global extent, one depthwise
  convolution whose kernel covers the whole ``feat_size x feat_size`` map (so the block
  needs that size), followed by BatchNorm.

The paper's third variant, GE-θ⁺, adds SE's MLP after the learned gather. Explained
in the chapter "SE's family".
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from . import checks
from .se import ChannelAttention
from .squeeze import global_avg_pool

GE_VARIANTS = ("theta-", "theta")
"""The two variants, ``"theta-"`` and ``"theta"``.

``"theta-"``: parameter-free gather (average pooling); ``"theta"``:
depthwise-convolution gather.
"""


def upsample_nearest(context: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """The excite operator's ``interp``: nearest-neighbour resize of ``context``.

    It is resized to the height and width of ``like``.
    """
    return F.interpolate(context, size=like.shape[-2:], mode="nearest")


torch.fx.wrap(
    "upsample_nearest"
)  # a leaf in torch.fx graphs: the output size is read from a tensor's shape


def _extent(extent: object) -> int | None:
    if extent is None:
        return None
    if (
        isinstance(extent, bool)
        or not isinstance(extent, int)
        or extent < 2
        or extent & (extent - 1)
    ):
        raise ValueError(
            "extent must be None (the global extent) or a power of 2 (2, 4, 8, ...), "
            f"got {extent!r}"
        )
    return extent


class AveragePoolGather(nn.Module):
    """GE-θ⁻'s gather: average pooling over windows of extent ``e``.

    (B, C, H, W) -> (B, C, ceil(H/e), ceil(W/e)).
    """

    def __init__(self, extent: int) -> None:
        super().__init__()
        self.extent = extent
        self.kernel_size = 2 * extent - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(
            x,
            self.kernel_size,
            self.extent,
            self.kernel_size // 2,
            count_include_pad=False,
        )

    def extra_repr(self) -> str:
        return f"extent={self.extent}, kernel_size={self.kernel_size}"


class GlobalAveragePool(nn.Module):
    """GE-θ⁻'s gather with the global extent: SE's squeeze.

    (B, C, H, W) -> (B, C).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return global_avg_pool(x)


def depthwise_gather(
    channels: int, extent: int | None, feat_size: int | None
) -> nn.Sequential:
    """GE-θ's gather: ``log2(extent)`` strided depthwise 3x3 convolutions.

    Or one whole-map kernel with the global extent.
    """
    if extent is None:
        return nn.Sequential(
            nn.Conv2d(channels, channels, feat_size, groups=channels, bias=False),
            nn.BatchNorm2d(channels),
            nn.Flatten(1),
        )  # (B, C, 1, 1) -> (B, C)
    layers: list[nn.Module] = []
    steps = int(math.log2(extent))
    for i in range(steps):
        layers += [
            nn.Conv2d(channels, channels, 3, 2, 1, groups=channels, bias=False),
            nn.BatchNorm2d(channels),
        ]
        if i < steps - 1:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class GatherExciteBlock(ChannelAttention):
    """Gather-Excite: ``x * sigmoid(interp(gather(x)))``.

    The gather is parameter-free or a depthwise convolution.

    ``squeeze`` is the gather and ``excitation`` the sigmoid, so :meth:`gates` is
    ``sigmoid(gather(x))``: (B, C) with the global extent (exactly SE's shape;
    :func:`sebook.gate_stats.capture_gates` records them), or (B, C, ceil(H/e),
    ceil(W/e)) with extent ``e``, one gate per channel and neighbourhood.

    Args:
        channels: C, the number of channels of the input.
        extent: ``None`` for the global extent (the paper's best), or ``e`` = 2, 4, 8,
            ...
        variant: ``"theta-"`` (GE-θ⁻, no parameters) or ``"theta"`` (GE-θ, depthwise
            convolutions).
        feat_size: the height and width of the (square) input; needed only by GE-θ with
            the global extent, whose depthwise kernel covers the whole map.
    """

    def __init__(
        self,
        channels: int,
        extent: int | None = None,
        *,
        variant: str = "theta-",
        feat_size: int | None = None,
    ) -> None:
        super().__init__()
        self.channels = checks.positive_int("channels", channels)
        self.extent = _extent(extent)
        self.variant = checks.one_of("variant", variant, GE_VARIANTS)
        if feat_size is not None:
            feat_size = checks.positive_int("feat_size", feat_size)
        if variant == "theta" and self.extent is None and feat_size is None:
            raise ValueError(
                "feat_size must be given (the input's height and width) for "
                "variant='theta' with the global extent (extent=None): its depthwise "
                "kernel covers the whole map"
            )
        self.feat_size = feat_size
        if variant == "theta":
            self.squeeze = depthwise_gather(channels, self.extent, feat_size)
        else:
            self.squeeze = (
                GlobalAveragePool()
                if self.extent is None
                else AveragePoolGather(self.extent)
            )
        self.excitation = nn.Sigmoid()

    def gates(self, x: torch.Tensor) -> torch.Tensor:
        """``sigmoid(gather(x))``: (B, C) with the global extent.

        Else (B, C, ceil(H/e), ceil(W/e)).
        """
        x = checks.feature_map(x, self.channels)
        return self.excitation(self.squeeze(x))

    def gate_map(self, x: torch.Tensor) -> torch.Tensor:
        """``interp(gates)``: (B, C, 1, 1) with the global extent, else (B, C, H, W).

        Each gate covers its window.
        """
        gates = self.gates(x)
        if self.extent is None:
            return gates[:, :, None, None]  # SE's recalibration: one gate per channel
        return upsample_nearest(gates, x)  # each gate covers its e x e neighbourhood

    def forward(
        self, x: torch.Tensor, residual: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``x * interp(gates)``, plus ``residual`` if given.

        The excite operator, Eq. 2 of the paper.
        """
        y = x * self.gate_map(x)
        return y if residual is None else residual + y

    def extra_repr(self) -> str:
        extent = "global" if self.extent is None else self.extent
        return f"{self.channels}, extent={extent}, variant={self.variant!r}"


class GatherExciteTheta(GatherExciteBlock):
    """GE-θ with extent 2 by default: the learned gather by name.

    ``make_attention("ge_theta", channels)``.

    The registry builds a block from its channel count alone, which GE-θ's global
    extent cannot use (its kernel must match the map's size), so the registered learned
    variant gathers over extent 2: one 3x3 depthwise convolution with stride 2 and
    BatchNorm, ``11 C`` parameters. Arguments as :class:`GatherExciteBlock`.
    """

    def __init__(
        self, channels: int, extent: int | None = 2, *, feat_size: int | None = None
    ) -> None:
        super().__init__(channels, extent, variant="theta", feat_size=feat_size)
