"""The Squeeze-and-Excitation block: squeeze, excitation and recalibration put together.

Hu et al., *Squeeze-and-Excitation Networks* (CVPR 2018; TPAMI 2020), Fig. 1. Each step
is its own module (:mod:`sebook.squeeze`, :mod:`sebook.excitation`,
:mod:`sebook.recalibration`), explained in the chapter of the same name; the block is
introduced in "Overview".
"""

from __future__ import annotations

import torch
from torch import nn

from . import checks
from .excitation import Excitation, LayerSpec
from .recalibration import recalibrate, recalibrate_add
from .squeeze import SQUEEZE_MODES, Squeeze


class ChannelAttention(nn.Module):
    """Base of SE, ECA and CBAM: ``gates = excitation(squeeze(x))``, then recalibration.

    ``x`` is recalibrated by the gates.

    Subclasses set ``channels`` (an int), and ``squeeze`` and ``excitation`` (modules);
    :func:`sebook.gate_stats.capture_gates` hooks ``excitation`` of every such block.
    """

    def gates(self, x: torch.Tensor) -> torch.Tensor:
        """The (B, C) channel weights the block computes for ``x``."""
        x = checks.feature_map(
            x, self.channels
        )  # the one check: a clear error for a channel mismatch
        return self.excitation(self.squeeze(x))

    def forward(
        self, x: torch.Tensor, residual: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Recalibrate ``x``; with ``residual``, add it in the same op.

        Returns ``residual + recalibrated x`` fused in one op.
        """
        gates = self.gates(x)
        return (
            recalibrate(x, gates)
            if residual is None
            else recalibrate_add(x, gates, residual)
        )


class SEBlock(ChannelAttention):
    """Squeeze-and-Excitation, ``x`` scaled by gates from its own channel descriptor.

    ``block(x) == x * block.excitation(block.squeeze(x)).view(B, C, 1, 1)``.

    Args:
        channels: C, the number of channels of the input.
        reduction: r, the reduction ratio of the bottleneck (the paper's default is 16).
        rd_channels: the bottleneck width, given directly (overrides ``reduction``).
        rd_divisor: round the bottleneck width to a multiple of this (1: nearest
            integer, never 0).
        squeeze: ``"avg"`` (the paper's), ``"max"`` or ``"avgmax"``.
        act_layer: nonlinearity inside the bottleneck (``"relu"`` in the paper).
        gate_layer: the gate (``"sigmoid"`` in the paper).
        bias: whether the excitation's linear layers have biases.
    """

    def __init__(
        self,
        channels: int,
        reduction: float = 16,
        *,
        rd_channels: int | None = None,
        rd_divisor: int = 1,
        squeeze: str = "avg",
        act_layer: LayerSpec = "relu",
        gate_layer: LayerSpec = "sigmoid",
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.channels = checks.positive_int("channels", channels)
        self.squeeze = Squeeze(checks.one_of("squeeze", squeeze, SQUEEZE_MODES))
        self.excitation = Excitation(
            channels,
            reduction,
            rd_channels=rd_channels,
            rd_divisor=rd_divisor,
            act_layer=act_layer,
            gate_layer=gate_layer,
            bias=bias,
        )
