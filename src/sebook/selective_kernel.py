"""Selective Kernel: two convolutions with different receptive fields, mixed by softmax.

The softmax is per channel.

Li, Wang, Hu and Yang, *Selective Kernel Networks* (CVPR 2019), Sec. 3.1. Unlike SE, the
block does not recalibrate a feature map it is given: it **replaces a convolution**. It
computes two versions of the output, ``U1`` with a 3x3 kernel and ``U2`` with a 3x3
kernel dilated by 2 (a 5x5 receptive field, for the cost of a 3x3), and lets each
channel choose its mix of the two from global context, with SE's squeeze and a
bottleneck:

.. math::

    U = U_1 + U_2, \\qquad s_c = \\frac{1}{HW} \\sum_{i,j} U_c(i, j),
    \\qquad z = \\delta(\\mathcal{B}(W s)),

.. math::

    a_c = \\frac{e^{A_c z}}{e^{A_c z} + e^{B_c z}},
    \\quad b_c = \\frac{e^{B_c z}}{e^{A_c z} + e^{B_c z}},
    \\qquad V_c = a_c\\, U_{1,c} + b_c\\, U_{2,c}

(Eqs. 1-5), with ``W`` (d x C) a bias-free fully connected layer, ``B`` BatchNorm,
``delta`` ReLU and ``A``, ``B`` (C x d) one row per channel and branch.
``a_c + b_c = 1``: a softmax *across branches*, for each channel, where SE has an
independent sigmoid per channel. The bottleneck width is ``d = max(C / r, L)`` with
``r = 16`` and ``L = 32`` in the paper (``min_rd_channels``). Each branch is
convolution, BatchNorm, ReLU; the paper's SKNets use grouped convolutions
(``groups=32``) inside ResNeXt units. Explained in "SE's family".
"""

from __future__ import annotations

import torch
from torch import nn

from . import checks
from .excitation import make_rd_channels
from .squeeze import global_avg_pool


def _branch(
    in_channels: int, out_channels: int, stride: int, dilation: int, groups: int
) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(
            in_channels,
            out_channels,
            3,
            stride,
            padding=dilation,
            dilation=dilation,
            groups=groups,
            bias=False,
        ),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class BranchSelect(nn.Module):
    """SK's select weights, a softmax over branches: (B, C) -> (B, 2, C).

    ``softmax over branches of [A z, B z]`` with ``z = ReLU(BN(W s))``.
    """

    def __init__(self, channels: int, rd_channels: int, branches: int = 2) -> None:
        super().__init__()
        self.channels, self.rd_channels, self.branches = channels, rd_channels, branches
        self.fc = nn.Linear(channels, rd_channels, bias=False)  # W
        self.bn = nn.BatchNorm1d(rd_channels)
        self.act = nn.ReLU(inplace=True)
        self.fc_select = nn.Linear(
            rd_channels, branches * channels, bias=False
        )  # A and B stacked

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        z = self.act(self.bn(self.fc(s)))
        return (
            self.fc_select(z)
            .unflatten(1, (self.branches, self.channels))
            .softmax(dim=1)
        )


class SelectiveKernel(nn.Module):
    """Selective Kernel convolution: ``V = a * U1 + b * U2``, per-channel weights.

    The weights ``a + b = 1`` come from a softmax.

    A drop-in replacement for a 3x3 convolution (with its BatchNorm and ReLU), from
    ``in_channels`` to ``out_channels``; not an attention block for
    :func:`sebook.attention.make_attention`, which only rescales a map it is given.

    Args:
        in_channels, out_channels: channels in and out.
        stride: 1 or 2, for both branches.
        groups: groups of both convolutions (must divide both channel counts; 32 in the
            paper's SKNets).
        reduction: r; ``d = max(out_channels / r, min_rd_channels)``.
        rd_channels: the bottleneck width d, given directly (overrides ``reduction`` and
            ``min_rd_channels``).
        rd_divisor: round ``out_channels / r`` to a multiple of this before taking the
            maximum.
        min_rd_channels: L, the smallest bottleneck width (32 in the paper).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        *,
        groups: int = 1,
        reduction: float = 16,
        rd_channels: int | None = None,
        rd_divisor: int = 1,
        min_rd_channels: int = 32,
    ) -> None:
        super().__init__()
        self.in_channels = checks.positive_int("in_channels", in_channels)
        self.out_channels = checks.positive_int("out_channels", out_channels)
        self.stride = int(
            checks.one_of("stride", stride, (1, 2))  # type: ignore[arg-type]
        )
        groups = checks.positive_int("groups", groups)
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"groups must divide in_channels ({in_channels}) and out_channels "
                f"({out_channels}), got {groups}"
            )
        min_rd_channels = checks.positive_int("min_rd_channels", min_rd_channels)
        if rd_channels is None:
            rd_channels = max(
                make_rd_channels(out_channels, reduction, rd_divisor), min_rd_channels
            )
        self.rd_channels = checks.positive_int("rd_channels", rd_channels)
        self.branch3 = _branch(in_channels, out_channels, stride, 1, groups)  # 3x3
        self.branch5 = _branch(
            in_channels, out_channels, stride, 2, groups
        )  # 3x3 dilated: 5x5 field
        self.select = BranchSelect(out_channels, self.rd_channels)

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """The (B, 2, C) branch weights: a for the 3x3 branch, b for the dilated one.

        ``[:, 0]`` is a, ``[:, 1]`` is b.
        """
        return self.select(global_avg_pool(self.branch3(x) + self.branch5(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u1, u2 = self.branch3(x), self.branch5(x)  # split
        ab = self.select(
            global_avg_pool(u1 + u2)
        )  # fuse: squeeze the sum, then (B, 2, C) weights
        return u1 * ab[:, 0, :, None, None] + u2 * ab[:, 1, :, None, None]  # select

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels} -> {self.out_channels}, stride={self.stride}, "
            f"branches=(3x3, 3x3 dilated 2), rd_channels={self.rd_channels}"
        )
