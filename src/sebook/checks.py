"""Argument checks shared by every public function of ``sebook``.

Each check raises ``ValueError`` or ``TypeError`` with a message that names the argument, the value
received and what is allowed, so a reader who mistypes sees at once what to change.
"""
from __future__ import annotations

from collections.abc import Iterable
from numbers import Integral, Real

import torch


def positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is an integer >= 1, else raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer >= 1, got {value!r} ({type(value).__name__})")
    if value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def positive_number(name: str, value: object) -> float:
    """Return ``value`` if it is a real number > 0, else raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number > 0, got {value!r} ({type(value).__name__})")
    if not value > 0:  # also rejects NaN
        raise ValueError(f"{name} must be a number > 0, got {value!r}")
    return float(value)


def one_of(name: str, value: object, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise listing the allowed values."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value  # type: ignore[return-value]


def feature_map(x: object, channels: int | None = None, name: str = "x") -> torch.Tensor:
    """Check that ``x`` is a floating-point (B, C, H, W) tensor with ``channels`` channels."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, C, H, W), got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"{name} must be 4-D (B, C, H, W); expected 4 dimensions, got {x.dim()} "
                         f"(shape {tuple(x.shape)})")
    if not x.is_floating_point():
        raise TypeError(f"{name} must have a floating-point dtype, got {x.dtype}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name} has the wrong number of channels: expected {channels}, got {x.shape[1]} "
                         f"(shape {tuple(x.shape)})")
    return x


def channel_vector(v: object, channels: int | None = None, name: str = "s") -> torch.Tensor:
    """Check that ``v`` is a floating-point (B, C) tensor with ``channels`` channels."""
    if not isinstance(v, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, C), got {type(v).__name__}")
    if v.dim() != 2:
        raise ValueError(f"{name} must be 2-D (B, C); expected 2 dimensions, got {v.dim()} (shape {tuple(v.shape)})")
    if not v.is_floating_point():
        raise TypeError(f"{name} must have a floating-point dtype, got {v.dtype}")
    if channels is not None and v.shape[1] != channels:
        raise ValueError(f"{name} has the wrong number of channels: expected {channels}, got {v.shape[1]}")
    return v


def same_device_and_dtype(**tensors: torch.Tensor) -> None:
    """Raise if the named tensors are not all on one device with one dtype."""
    items = list(tensors.items())
    first_name, first = items[0]
    for name, t in items[1:]:
        if t.device != first.device:
            raise ValueError(f"{name} is on {t.device} but {first_name} is on {first.device}; move both to one device")
        if t.dtype != first.dtype:
            raise TypeError(f"{name} has dtype {t.dtype} but {first_name} has {first.dtype}; use one dtype")


def matches_parameters(x: torch.Tensor, module: torch.nn.Module, name: str = "x") -> torch.Tensor:
    """Check that ``x`` has the dtype and device of ``module``'s parameters (a module without any passes)."""
    param = next(module.parameters(), None)
    if param is not None:
        if x.device != param.device:
            raise ValueError(f"{name} is on {x.device} but the block's parameters are on {param.device}; "
                             f"move one of them (e.g. {name}.to({str(param.device)!r}))")
        if x.dtype != param.dtype:
            raise TypeError(f"{name} has dtype {x.dtype} but the block's parameters have {param.dtype}; "
                            f"convert one of them (e.g. {name}.to({param.dtype}))")
    return x
