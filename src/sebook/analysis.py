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


# Measuring costs: parameters and FLOPs per part, and interleaved timings ("SE-ResNet", "MBConv", "Costs").
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402


def parameters_by_child(module: nn.Module) -> dict[str, int]:
    """Parameters of each direct child of ``module``, by the child's name (e.g. a ResNet's ``layer1`` .. ``layer4``).

    Used in "SE-ResNet" (where SE's parameters go, stage by stage) and "MBConv" (the parts of one block).
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module, got {type(module).__name__}")
    return {name: count_parameters(child) for name, child in module.named_children()}


def attention_parameters(model: nn.Module) -> int:
    """Parameters inside the SE, ECA or CBAM blocks of ``model`` (0 for a network without attention)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    return sum(count_parameters(m) for m in model.modules() if isinstance(m, ChannelAttention))


def _input_for(module: nn.Module, input_shape: tuple[int, ...]) -> torch.Tensor:
    if not input_shape or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in input_shape):
        raise ValueError(f"input_shape must be a tuple of positive integers, got {input_shape!r}")
    param = next(module.parameters(), None)
    return torch.zeros(input_shape, dtype=param.dtype if param is not None else torch.float32,
                       device=param.device if param is not None else "cpu")


def _run_with_hooks(module: nn.Module, x: torch.Tensor, pre, post, targets) -> None:  # type: ignore[no-untyped-def]
    handles = []
    for name, sub in targets:
        handles.append(sub.register_forward_pre_hook(lambda _m, _i, key=name: pre(key)))
        handles.append(sub.register_forward_hook(lambda _m, inputs, out, key=name: post(key, inputs, out)))
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            module(x)
    finally:
        module.train(was_training)
        for handle in handles:
            handle.remove()


def count_flops_by_child(module: nn.Module, input_shape: tuple[int, ...]) -> dict[str, int]:
    """FLOPs (1 MAC = 2 FLOPs, as :func:`count_flops`) spent inside each direct child of ``module``.

    Children that are not called in the forward pass are left out. Used in "MBConv" for the parts of a block.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module, got {type(module).__name__}")
    x = _input_for(module, input_shape)
    flops: dict[str, int] = {}
    start: dict[str, int] = {}
    with FlopCounterMode(display=False) as counter:
        _run_with_hooks(module, x, lambda key: start.__setitem__(key, counter.get_total_flops()),
                        lambda key, _i, _o: flops.__setitem__(key, flops.get(key, 0)
                                                              + counter.get_total_flops() - start[key]),
                        list(module.named_children()))
    return {name: int(v) for name, v in flops.items()}


def output_shapes(module: nn.Module, input_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """The output shape of each direct child of ``module`` for an input of ``input_shape`` (in call order)."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module, got {type(module).__name__}")
    shapes: dict[str, tuple[int, ...]] = {}
    _run_with_hooks(module, _input_for(module, input_shape), lambda key: None,
                    lambda key, _i, out: shapes.__setitem__(key, tuple(out.shape)), list(module.named_children()))
    return shapes


def attention_elementwise_ops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Operations of SE's squeeze and recalibration, which :func:`count_flops` does not count, for one forward pass.

    Per attention block on a (B, C, H, W) input: B·C·H·W additions for the global average (the squeeze) and
    B·C·H·W multiplications for the recalibration, so ``2·B·C·H·W``. The paper's "GFLOPs" include them. Used in
    "SE-ResNet" and "Costs".
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    targets = [(n, m) for n, m in model.named_modules() if isinstance(m, ChannelAttention)]
    if not targets:
        raise ValueError("model contains no SE, ECA or CBAM block")
    total = [0]
    _run_with_hooks(model, _input_for(model, input_shape), lambda key: None,
                    lambda key, inputs, _o: total.__setitem__(0, total[0] + 2 * inputs[0].numel()), targets)
    return total[0]


def machine_info() -> dict[str, object]:
    """Where a timing was taken: CPU model, logical CPUs, torch threads and version, load averages (Linux)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {"cpu": cpu, "logical_cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(),
            "load_average_1_5_15_min": [round(v, 2) for v in load]}


def interleaved_timings(candidates: dict[str, Callable[[], object]], repeats: int = 10,
                        warmup: int = 1) -> dict[str, list[float]]:
    """Wall-clock seconds of each zero-argument callable, measured in interleaved rounds (A B C, B C A, ...).

    Every round calls each candidate once, starting at a rotating position, so that slow phases of a shared
    machine hit all candidates alike; compare them with :func:`median_ratios`. ``warmup`` rounds are run first
    and discarded. Used by ``benchmarks/se_overhead.py`` and "Costs".
    """
    if not isinstance(candidates, dict) or not candidates:
        raise ValueError("candidates must be a non-empty dict from names to zero-argument callables")
    for name, fn in candidates.items():
        if not callable(fn):
            raise TypeError(f"candidates[{name!r}] must be callable, got {type(fn).__name__}")
    repeats = checks.positive_int("repeats", repeats)
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an integer >= 0, got {warmup!r}")
    names = list(candidates)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(warmup + repeats):
        for k in range(len(names)):
            name = names[(r + k) % len(names)]
            start = time.perf_counter()
            candidates[name]()
            elapsed = time.perf_counter() - start
            if r >= warmup:
                times[name].append(elapsed)
    return times


def median_ratios(timings: dict[str, list[float]], baseline: str) -> dict[str, dict[str, float]]:
    """For each candidate, the round-by-round ratio of its time to ``baseline``'s: median and quartiles.

    Ratios are taken within a round (same machine state) before the median, which makes them robust to a
    noisy, shared machine. Returns ``{name: {"median", "q25", "q75", "median_seconds"}}``.
    """
    if baseline not in timings:
        raise ValueError(f"baseline must be one of {', '.join(map(repr, timings))}; got {baseline!r}")
    base = timings[baseline]
    result = {}
    for name, values in timings.items():
        if len(values) != len(base) or not values:
            raise ValueError(f"timings[{name!r}] has {len(values)} values; expected {len(base)} like the baseline")
        ratios = sorted(v / b for v, b in zip(values, base))
        q = statistics.quantiles(ratios, n=4, method="inclusive") if len(ratios) > 1 else [ratios[0]] * 3
        result[name] = {"median": statistics.median(ratios), "q25": q[0], "q75": q[2],
                        "median_seconds": statistics.median(values)}
    return result
