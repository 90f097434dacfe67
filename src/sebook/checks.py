"""Argument checks shared by every public function of ``sebook``.

Each check raises ``ValueError`` or ``TypeError`` with a message that names the
argument, the value received and what is allowed, so a reader who mistypes sees at once
what to change.

The tensor checks (:func:`feature_map`, :func:`channel_vector`, :func:`gates_fit`,
:func:`same_shape`) are the few that run inside a forward pass: they compare shapes only
(never dtypes, so autocast's bfloat16 passes), are leaves for ``torch.fx``
(``torch.fx.wrap``: recorded in the graph, run when the graph runs) and constant for
``torch.compile`` (no graph break). ``torch.jit.trace`` records none of them, and
``torch.jit.script`` compiles none of them (``if not torch.jit.is_scripting()`` is decided
when the module is compiled): a traced or scripted module runs without the checks, with
torch's own errors for a bad shape.
"""

from __future__ import annotations

import dataclasses

from typing import Optional

from collections.abc import Iterable, Mapping
from numbers import Integral, Real

import torch


def positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is an integer >= 1, else raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(
            f"{name} must be an integer >= 1, got {value!r} ({type(value).__name__})"
        )
    if value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def positive_number(name: str, value: object) -> float:
    """Return ``value`` if it is a real number > 0, else raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(
            f"{name} must be a number > 0, got {value!r} ({type(value).__name__})"
        )
    if not value > 0:  # also rejects NaN
        raise ValueError(f"{name} must be a number > 0, got {value!r}")
    return float(value)


def one_of(name: str, value: object, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise listing them."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(
            f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}"
        )
    return value  # type: ignore[return-value]


@torch.fx.wrap
def feature_map(
    x: torch.Tensor, channels: Optional[int] = None, name: str = "x"
) -> torch.Tensor:
    """Check that ``x`` is a float (B, C, H, W) tensor with ``channels`` channels."""
    if not torch.jit.is_scripting():  # TorchScript compiles none of the checks
        if torch.jit.is_tracing():  # a trace records tensor ops; eager calls check
            return x
        if not isinstance(x, torch.Tensor):
            raise TypeError(
                f"{name} must be a torch.Tensor of shape (B, C, H, W), got "
                f"{type(x).__name__}"
            )
        if x.dim() != 4:
            raise ValueError(
                f"{name} must be 4-D (B, C, H, W); expected 4 dimensions, got {x.dim()} "
                f"(shape {tuple(x.shape)})"
            )
        if not x.is_floating_point():
            raise TypeError(f"{name} must have a floating-point dtype, got {x.dtype}")
        if channels is not None and x.shape[1] != channels:
            raise ValueError(
                f"{name} has the wrong number of channels: expected {channels}, got "
                f"{x.shape[1]} (shape {tuple(x.shape)})"
            )
    return x


@torch.fx.wrap
def channels_last_map(x: torch.Tensor, channels: int, name: str = "x") -> torch.Tensor:
    """Check that ``x`` is a float (B, H, W, C) tensor with ``channels`` channels."""
    if not torch.jit.is_scripting():  # TorchScript compiles none of the checks
        if torch.jit.is_tracing():  # a trace records tensor ops; eager calls check
            return x
        feature_map(x, name=name)
        if x.shape[-1] != channels:
            raise ValueError(
                f"{name} has the wrong number of channels: expected {channels} in its last "
                f"dimension (channels_last), got {x.shape[-1]} (shape {tuple(x.shape)})"
            )
    return x


@torch.fx.wrap
def channel_vector(
    v: torch.Tensor, channels: Optional[int] = None, name: str = "s"
) -> torch.Tensor:
    """Check that ``v`` is a floating-point (B, C) tensor with ``channels`` channels."""
    if not torch.jit.is_scripting():  # TorchScript compiles none of the checks
        if torch.jit.is_tracing():  # a trace records tensor ops; eager calls check
            return v
        if not isinstance(v, torch.Tensor):
            raise TypeError(
                f"{name} must be a torch.Tensor of shape (B, C), got {type(v).__name__}"
            )
        if v.dim() != 2:
            raise ValueError(
                f"{name} must be 2-D (B, C); expected 2 dimensions, got {v.dim()} (shape "
                f"{tuple(v.shape)})"
            )
        if not v.is_floating_point():
            raise TypeError(f"{name} must have a floating-point dtype, got {v.dtype}")
        if channels is not None and v.shape[1] != channels:
            raise ValueError(
                f"{name} has the wrong number of channels: expected {channels}, got "
                f"{v.shape[1]}"
            )
    return v


@torch.fx.wrap
def gates_fit(x: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
    """Check that ``x`` is a (B, C, H, W) map and ``gates`` fit it; return ``gates``.

    The gates are (B, C) or (1, C).
    """
    if not torch.jit.is_scripting():  # TorchScript compiles none of the checks
        if torch.jit.is_tracing():  # a trace records tensor ops; eager calls check
            return gates
        feature_map(x)
        channel_vector(gates, name="gates")
        if gates.shape[0] not in (1, x.shape[0]) or gates.shape[1] != x.shape[1]:
            raise ValueError(
                f"gates of shape {tuple(gates.shape)} do not fit x of shape "
                f"{tuple(x.shape)}; expected ({x.shape[0]}, {x.shape[1]})"
            )
    return gates


@torch.fx.wrap
def same_shape(
    residual: torch.Tensor, x: torch.Tensor, name: str = "residual"
) -> torch.Tensor:
    """Check that ``residual`` has ``x``'s shape (to be added to it); return it."""
    if not torch.jit.is_scripting():  # TorchScript compiles none of the checks
        if torch.jit.is_tracing():  # a trace records tensor ops; eager calls check
            return residual
        feature_map(residual, x.shape[1], name=name)
        if residual.shape != x.shape:  # type: ignore[union-attr]
            raise ValueError(
                f"{name} must have the shape of x: expected {tuple(x.shape)}, got "
                f"{tuple(residual.shape)}"
            )
    return residual  # type: ignore[return-value]


def known_fields(name: str, d: object, cls: type) -> dict:
    """Return ``d`` as a dict if its keys are all fields of the dataclass ``cls``.

    Raises naming ``name``, the unknown keys and the known ones.
    """
    if not isinstance(d, Mapping):
        raise TypeError(f"{name} must be a mapping (dict), got {type(d).__name__}")
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(d) - set(known))
    if unknown:
        raise ValueError(
            f"unknown {cls.__name__} key(s) {', '.join(map(repr, unknown))}; "
            f"the known keys are {', '.join(map(repr, known))}"
        )
    return dict(d)


def label_vector(labels: object, n: int, per: str) -> torch.Tensor:
    """Check that ``labels`` is a 1-D tensor of ``n`` labels, one per ``per``."""
    if (
        not isinstance(labels, torch.Tensor)
        or labels.dim() != 1
        or labels.shape[0] != n
    ):
        shape = (
            tuple(labels.shape)
            if isinstance(labels, torch.Tensor)
            else type(labels).__name__
        )
        raise ValueError(
            f"labels must be a 1-D tensor with one label per {per} ({n}), got {shape}"
        )
    return labels
