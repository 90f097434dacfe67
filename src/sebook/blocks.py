"""Where SE goes inside a residual unit: the four integration variants of the SENet paper (Fig. 5, Table 14).

A residual unit computes ``act(shortcut(x) + branch(x))``. :class:`ResidualUnit` places an attention block
(:class:`sebook.SEBlock`, or ECA/CBAM from :mod:`sebook.attention`) in one of four positions:

- ``"standard"``: on the branch output, before the addition (fused with it: ``recalibrate_add``);
- ``"pre"``: on the branch input, before the branch;
- ``"post"``: after the addition and the activation;
- ``"identity"``: on the shortcut, in parallel with the branch.

Explained in the chapter "SE-ResNet"; the small Fashion-MNIST nets and the ResNets both build on it.
"""
from __future__ import annotations

import torch
from torch import nn

from . import checks

INTEGRATIONS = ("standard", "pre", "post", "identity")
"""Names of the SE positions in a residual unit (SENet paper, Fig. 5)."""


class ResidualUnit(nn.Module):
    """``act(shortcut(x) + branch(x))`` with ``attention`` placed by ``integration``.

    Args:
        branch: the residual branch (convolutions).
        shortcut: the identity or projection path (``nn.Identity()`` when shapes match).
        attention: a block with ``forward(x, residual=None)``, built for the channel count where it sits:
            the branch's input channels for ``"pre"``, its output channels otherwise.
        integration: one of :data:`INTEGRATIONS`.
        act: the activation after the addition (ReLU in ResNet).
    """

    def __init__(self, branch: nn.Module, shortcut: nn.Module, attention: nn.Module,
                 integration: str = "standard", act: nn.Module | None = None) -> None:
        super().__init__()
        self.integration = checks.one_of("integration", integration, INTEGRATIONS)
        self.branch, self.shortcut, self.attention = branch, shortcut, attention
        self.act = nn.ReLU(inplace=True) if act is None else act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.integration == "standard":
            return self.act(self.attention(self.branch(x), residual=self.shortcut(x)))
        if self.integration == "pre":
            return self.act(self.shortcut(x) + self.branch(self.attention(x)))
        if self.integration == "post":
            return self.attention(self.act(self.shortcut(x) + self.branch(x)))
        return self.act(self.attention(self.shortcut(x)) + self.branch(x))  # "identity"

    def extra_repr(self) -> str:
        return f"integration={self.integration!r}"
