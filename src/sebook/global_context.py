"""Global Context: attention pooling, a bottleneck transform, an addition everywhere.

The transform has a LayerNorm; the addition is at every position.

Cao, Xu, Lin, Wei and Hu, *GCNet: Non-local Networks Meet Squeeze-Excitation Networks
and Beyond* (ICCV Workshops 2019; TPAMI 2020). The authors found that the attention maps
of a non-local block are nearly the same for every query position, so one map can serve
all of them; what remains is a *global context vector*, the same for every position, as
in SE. Their block (Sec. 4, Eq. 4):

.. math::

    z_i = x_i + W_{v2}\\, \\mathrm{ReLU}\\Big(\\mathrm{LN}\\Big(W_{v1} \\sum_{j=1}^{N_p}
          \\frac{e^{W_k x_j}}{\\sum_{m=1}^{N_p} e^{W_k x_m}}\\, x_j\\Big)\\Big)

- **context modelling** (the squeeze): a 1x1 convolution ``W_k`` (C -> 1, with bias)
  scores every position, a softmax over the ``N_p = H W`` positions turns the scores
  into weights, and the context is the weighted sum of the positions' C-vectors:
  attention pooling instead of SE's plain average;
- **transform** (the excitation): ``W_v1`` (C -> C/r), LayerNorm, ReLU, ``W_v2`` (C/r ->
  C), with biases; the LayerNorm makes the two-layer bottleneck easier to optimise (the
  paper's Table 2);
- **fusion**: the (C,) result is *added* to every position (broadcast), where SE
  multiplies.

As in the authors' code, ``W_v2`` starts at zero, so a new block is the identity.
Explained in "SE's family".
"""

from __future__ import annotations

import torch
from torch import nn

from . import checks
from .excitation import make_rd_channels
from .se import ChannelAttention


class AttentionPool(nn.Module):
    """GC's context modelling: ``sum_j softmax_j(W_k x_j) x_j``.

    (B, C, H, W) -> (B, C).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = checks.positive_int("channels", channels)
        self.conv = nn.Conv2d(channels, 1, 1)  # W_k, one score per position

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """The attention map: (B, H * W) weights, each row summing to 1."""
        return self.conv(x).flatten(1).softmax(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bcn,bn->bc", x.flatten(2), self.weights(x).to(x.dtype))


class ContextTransform(nn.Module):
    """GC's transform: ``W_v2 ReLU(LN(W_v1 z))``, (B, C) -> (B, C).

    The bottleneck width is ``rd_channels``.
    """

    def __init__(self, channels: int, rd_channels: int) -> None:
        super().__init__()
        self.channels, self.rd_channels = channels, rd_channels
        self.fc1 = nn.Linear(channels, rd_channels)  # W_v1
        self.norm = nn.LayerNorm(rd_channels)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Linear(rd_channels, channels)  # W_v2
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.norm(self.fc1(z))))


class GlobalContextBlock(ChannelAttention):
    """Global Context block: ``x + transform(attention_pool(x))`` at every position.

    ``squeeze`` is the attention pooling and ``excitation`` the transform, so
    :meth:`gates` returns the (B, C) term that is *added* to every position (not a gate
    in (0, 1): GC's fusion is an addition).

    Args:
        channels: C, the number of channels of the input.
        reduction: r, the bottleneck ratio of the transform (16 in most of the paper's
            experiments).
        rd_channels: the bottleneck width, given directly (overrides ``reduction``).
        rd_divisor: round the bottleneck width to a multiple of this (1: nearest
            integer, never 0).
    """

    def __init__(
        self,
        channels: int,
        reduction: float = 16,
        *,
        rd_channels: int | None = None,
        rd_divisor: int = 1,
    ) -> None:
        super().__init__()
        self.channels = checks.positive_int("channels", channels)
        if rd_channels is None:
            rd_channels = make_rd_channels(channels, reduction, rd_divisor)
        self.rd_channels = checks.positive_int("rd_channels", rd_channels)
        self.squeeze = AttentionPool(channels)
        self.excitation = ContextTransform(channels, self.rd_channels)

    def gates(self, x: torch.Tensor) -> torch.Tensor:
        """The (B, C) context term added to every position.

        ``transform(attention_pool(x))``.
        """
        x = checks.feature_map(x, self.channels)
        return self.excitation(self.squeeze(x))

    def forward(
        self, x: torch.Tensor, residual: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``x + term`` at every position (Eq. 4), plus ``residual`` if given."""
        y = x + self.gates(x)[:, :, None, None]
        return y if residual is None else residual + y

    def extra_repr(self) -> str:
        return f"{self.channels} -> {self.rd_channels} -> {self.channels}, fusion='add'"
