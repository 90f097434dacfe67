"""Recalibration: scale each channel of the feature map by its gate.

Hu et al., *Squeeze-and-Excitation Networks*, Sec. 3.2 (Eq. 4): ``x_tilde_c = s_c * u_c``. Explained in
the chapter "Recalibration"; the fused form with the residual addition in "Costs".
"""
from __future__ import annotations

import torch

from . import checks


def _as_scale(x: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
    checks.feature_map(x)
    checks.channel_vector(gates, name="gates")
    if gates.shape[0] not in (1, x.shape[0]) or gates.shape[1] != x.shape[1]:
        raise ValueError(f"gates of shape {tuple(gates.shape)} do not fit x of shape {tuple(x.shape)}; "
                         f"expected ({x.shape[0]}, {x.shape[1]})")
    checks.same_device_and_dtype(x=x, gates=gates)
    return gates[:, :, None, None]  # (B, C, 1, 1): broadcasts over H and W


def recalibrate(x: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
    """``x * gates`` with the (B, C) gates broadcast over height and width: (B, C, H, W) out."""
    return x * _as_scale(x, gates)


def recalibrate_add(x: torch.Tensor, gates: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
    """``residual + x * gates`` in one pass over memory (``torch.addcmul``), as used after a residual branch."""
    scale = _as_scale(x, gates)
    checks.feature_map(residual, x.shape[1], name="residual")
    if residual.shape != x.shape:
        raise ValueError(f"residual must have the shape of x: expected {tuple(x.shape)}, got {tuple(residual.shape)}")
    checks.same_device_and_dtype(x=x, residual=residual)
    return torch.addcmul(residual, x, scale)
