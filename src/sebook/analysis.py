"""Measuring networks: parameters, FLOPs, and the gates SE blocks compute (captured with forward hooks).

Used from "Excitation" on; the per-class statistics of gates are explained in "Learned channel weights".
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from . import checks
from .se import ChannelAttention


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (elements) of ``module``."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module, got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def count_flops(module: nn.Module, input_shape: tuple[int, ...]) -> int:
    """FLOPs of one forward pass on a zero tensor of ``input_shape`` (``torch.utils.flop_counter``; 1 MAC = 2 FLOPs).

    The counter covers matrix products and convolutions; elementwise work (activations, the recalibration
    product, pooling) counts 0, which is why "Costs" measures time as well.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module, got {type(module).__name__}")
    if not input_shape or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in input_shape):
        raise ValueError(f"input_shape must be a tuple of positive integers, got {input_shape!r}")
    param = next(module.parameters(), None)
    x = torch.zeros(input_shape, dtype=param.dtype if param is not None else torch.float32,
                    device=param.device if param is not None else "cpu")
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            module(x)
    finally:
        module.train(was_training)
    return int(counter.get_total_flops())


@contextmanager
def capture_gates(model: nn.Module) -> Iterator[dict[str, list[torch.Tensor]]]:
    """Record the (B, C) channel gates of every SE, ECA or CBAM block in ``model`` while inside the ``with``.

    Hooks the ``excitation`` of every :class:`~sebook.se.ChannelAttention` block. Yields a dict from the
    block's qualified name (e.g. ``"stages.1.attention"``) to the list of gate
    tensors seen, one per forward call, detached and on the CPU. Hooks are removed on exit.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    gates: dict[str, list[torch.Tensor]] = {}
    handles = []
    for name, sub in model.named_modules():
        if isinstance(sub, ChannelAttention):
            gates[name] = []
            handles.append(sub.excitation.register_forward_hook(
                lambda _m, _i, out, key=name: gates[key].append(out.detach().cpu())))
    if not handles:
        raise ValueError("model contains no SE, ECA or CBAM block, so there are no gates to capture")
    try:
        yield gates
    finally:
        for handle in handles:
            handle.remove()


def gate_spread(gates: torch.Tensor) -> dict[str, float]:
    """Summary of a (N, C) tensor of gates: mean, std over all values, and the mean per-channel std over samples."""
    gates = checks.channel_vector(gates, name="gates")
    return {"mean": float(gates.mean()), "std": float(gates.std()), "min": float(gates.min()),
            "max": float(gates.max()), "per_channel_std": float(gates.std(dim=0).mean())}
