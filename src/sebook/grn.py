"""Global Response Normalization (GRN): ConvNeXt V2's parameter-light cousin of SE.

Woo, Debnath, Hu, Chen, Liu, Kweon and Xie, *ConvNeXt V2: Co-designing and Scaling
ConvNets with Masked Autoencoders* (CVPR 2023), Sec. 3, Eqs. 1-3. For each channel ``i``
of ``X`` (B, C, H, W):

.. math::

    G(X)_i = \\lVert X_i \\rVert_2 = \\Big(\\sum_{h,w} X_{i,h,w}^2\\Big)^{1/2}, \\qquad
    N(X)_i = \\frac{G(X)_i}{\\frac{1}{C}\\sum_{j=1}^{C} G(X)_j + \\epsilon}, \\qquad
    X_i \\leftarrow \\gamma_i\\, X_i\\, N(X)_i + \\beta_i + X_i.

The same three steps as SE: a global descriptor per channel (the L2 norm instead of the
mean), a function of all descriptors (divisive normalization across channels instead of
an MLP with a sigmoid), and a per-channel rescaling of the map, plus a learned affine
part and a residual connection. It has ``2 C`` parameters (``gamma`` and ``beta``, both
starting at zero, so a new GRN is the identity). ConvNeXt V2 applies it to channels-last
tensors (B, H, W, C) inside its MLP; this module takes the book's (B, C, H, W) layout by
default and ``data_format="channels_last"`` for ConvNeXt's. Explained in "SE's family".
"""

from __future__ import annotations

import torch
from torch import nn

from . import checks
from .se import ChannelAttention

DATA_FORMATS = ("channels_first", "channels_last")
"""The two layouts, ``"channels_first"`` and ``"channels_last"``.

``"channels_first"``: (B, C, H, W), the book's layout; ``"channels_last"``: (B, H, W,
C), ConvNeXt V2's.
"""


class ResponseNorm(nn.Module):
    """GRN's squeeze: the L2 norm of each channel over all positions, ``G(X)``.

    Its shape is (B, C).
    """

    def __init__(self, spatial_dims: tuple[int, int]) -> None:
        super().__init__()
        self.spatial_dims = spatial_dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.linalg.vector_norm(x, dim=self.spatial_dims)


class DivisiveNorm(nn.Module):
    """GRN's excitation, without parameters: (B, C) -> (B, C).

    ``N(X) = G / (mean over channels of G + eps)``.
    """

    def __init__(self, eps: float) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, g: torch.Tensor) -> torch.Tensor:
        return g / (g.mean(dim=1, keepdim=True) + self.eps)

    def extra_repr(self) -> str:
        return f"eps={self.eps}"


class GRN(ChannelAttention):
    """Global Response Normalization: ``gamma * (x * N(x)) + beta + x``.

    ``N`` is from :class:`DivisiveNorm`.

    :meth:`gates` returns ``N(x)``, (B, C): each channel's response relative to the mean
    over channels (mean 1 across channels, up to ``eps``), which multiplies the map like
    SE's gates but is not bounded by 1.

    Args:
        channels: C, the number of channels.
        eps: added to the mean norm (ConvNeXt V2 uses 1e-6).
        data_format: ``"channels_first"`` for (B, C, H, W) input, ``"channels_last"``
            for (B, H, W, C).
    """

    def __init__(
        self, channels: int, eps: float = 1e-6, *, data_format: str = "channels_first"
    ) -> None:
        super().__init__()
        self.channels = checks.positive_int("channels", channels)
        self.eps = checks.positive_number("eps", eps)
        self.data_format = checks.one_of("data_format", data_format, DATA_FORMATS)
        self.squeeze = ResponseNorm(
            (2, 3) if data_format == "channels_first" else (1, 2)
        )
        self.excitation = DivisiveNorm(self.eps)
        self.gamma = nn.Parameter(torch.zeros(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def gates(self, x: torch.Tensor) -> torch.Tensor:
        """``N(x)``: (B, C), each channel's L2 norm over the mean norm.

        The mean is over channels.
        """
        if self.data_format == "channels_first":
            x = checks.feature_map(x, self.channels)
        else:
            x = checks.channels_last_map(x, self.channels)
        return self.excitation(self.squeeze(x))

    def forward(
        self, x: torch.Tensor, residual: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``gamma * (x * N(x)) + beta + x`` (Eq. 3), plus ``residual`` if given."""
        if self.data_format == "channels_first":
            nx, gamma, beta = (
                self.gates(x)[:, :, None, None],
                self.gamma[:, None, None],
                self.beta[:, None, None],
            )
        else:
            nx, gamma, beta = self.gates(x)[:, None, None, :], self.gamma, self.beta
        y = gamma * (x * nx) + beta + x
        return y if residual is None else residual + y

    def extra_repr(self) -> str:
        return f"{self.channels}, eps={self.eps}, data_format={self.data_format!r}"
