"""Recalibration: scale each channel of the feature map by its gate.

Hu et al., *Squeeze-and-Excitation Networks*, Sec. 3.2 (Eq. 4):
``x_tilde_c = s_c * u_c``. Explained in the chapter "Recalibration"; the fused form with
the residual addition in "What SE costs".
"""

from __future__ import annotations

import torch

from . import checks


def recalibrate(x: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
    """``x * gates`` with the (B, C) gates broadcast over height and width.

    The output is (B, C, H, W).
    """
    gates = checks.gates_fit(x, gates)
    return x * gates[:, :, None, None]  # (B, C, 1, 1): broadcasts over H and W


def recalibrate_add(
    x: torch.Tensor, gates: torch.Tensor, residual: torch.Tensor
) -> torch.Tensor:
    """``residual + x * gates`` in one pass over memory (``torch.addcmul``).

    As used after a residual branch.
    """
    gates, residual = checks.gates_fit(x, gates), checks.same_shape(residual, x)
    return torch.addcmul(residual, x, gates[:, :, None, None])
