"""Squeeze: one number per channel, from the whole feature map.

Hu et al., *Squeeze-and-Excitation Networks* (CVPR 2018), Sec. 3.1. A convolution sees
only its receptive field; the squeeze summarises every spatial position of a channel
into a *channel descriptor*, so the excitation that follows can use global context.
Explained in the chapter "Squeeze".
"""

from __future__ import annotations

import torch
from torch import nn

from . import checks

SQUEEZE_MODES = ("avg", "max", "avgmax")
"""Names accepted by :class:`Squeeze`: global average, global max, and their mean."""


def global_avg_pool(x: torch.Tensor) -> torch.Tensor:
    """Mean over the spatial positions: (B, C, H, W) -> (B, C).

    The paper's squeeze (Eq. 2).
    """
    return x.mean(dim=(2, 3))


def global_max_pool(x: torch.Tensor) -> torch.Tensor:
    """Maximum over the spatial positions: (B, C, H, W) -> (B, C)."""
    return x.amax(dim=(2, 3))


def global_avgmax_pool(x: torch.Tensor) -> torch.Tensor:
    """Mean of the average and the max descriptors: (B, C, H, W) -> (B, C)."""
    return 0.5 * (global_avg_pool(x) + global_max_pool(x))




class Squeeze(nn.Module):
    """Global pooling that turns a (B, C, H, W) map into a (B, C) channel descriptor.

    Args:
        mode: ``"avg"`` (the paper's choice), ``"max"`` or ``"avgmax"``.
    """

    def __init__(self, mode: str = "avg") -> None:
        super().__init__()
        self.mode = checks.one_of("mode", mode, SQUEEZE_MODES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = checks.feature_map(x)
        if self.mode == "max":
            return global_max_pool(x)
        if self.mode == "avgmax":
            return global_avgmax_pool(x)
        return global_avg_pool(x)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"
