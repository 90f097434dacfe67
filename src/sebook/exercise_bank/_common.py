"""Helpers that several parts' exercises share: tensor closeness, a hint test for a factor, SE's parameters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..exercises import _relative


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, rtol=1e-5, atol=1e-5)


def _times(factor: float) -> Callable[[Any, Any], bool]:
    """A hint test: the answer is ``factor`` times the reference."""
    return lambda a, e: _relative(float(a), factor * e, 0.005)


def _se_parameters(channels: int, reduction: int) -> int:
    from ..costs import count_parameters
    from ..se import SEBlock

    return count_parameters(SEBlock(channels, reduction))
