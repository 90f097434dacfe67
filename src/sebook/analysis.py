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
from .runtime import forward_in_batches, inference
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
    with inference(module), FlopCounterMode(display=False) as counter:
        module(x)
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
    try:
        with inference(module):
            module(x)
    finally:
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
    return 2 * sum(numel for numel, _ in attention_inputs(model, input_shape))


def attention_inputs(model: nn.Module, input_shape: tuple[int, ...]) -> list[tuple[int, int]]:
    """(values, bytes per value) of the input of every SE, ECA or CBAM block of ``model``, for one forward pass."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    targets = [(n, m) for n, m in model.named_modules() if isinstance(m, ChannelAttention)]
    if not targets:
        raise ValueError("model contains no SE, ECA or CBAM block")
    sizes: list[tuple[int, int]] = []
    _run_with_hooks(model, _input_for(model, input_shape), lambda key: None,
                    lambda key, inputs, _o: sizes.append((inputs[0].numel(), inputs[0].element_size())), targets)
    return sizes


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


# Results over seeds and per-class gates ("Ablations", "Successors").
from collections.abc import Sequence  # noqa: E402


def seed_statistics(values: Sequence[float]) -> dict[str, float]:
    """Mean, sample standard deviation (divisor n - 1), min, max and count of one variant's results over seeds.

    Used in "Ablations" and "Successors" to report ``mean ± std`` over the seeds of each trained variant.
    """
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) < 1:
        raise ValueError(f"values must be a non-empty sequence of numbers, got {values!r}")
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
            raise TypeError(f"values[{i}] must be a number, got {v!r}")
    n = len(values)
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if n > 1 else 0.0,
            "min": float(min(values)), "max": float(max(values)), "n": n}


def compare_with_baseline(values: Sequence[float], baseline: Sequence[float]) -> dict[str, float | bool]:
    """How a variant's results over seeds differ from the baseline's, and whether that exceeds the seed spread.

    Returns the difference of the means, its standard error ``sqrt(s_v^2 / n_v + s_b^2 / n_b)`` (Welch's), their
    ratio, ``exceeds_spread`` (the difference is more than two standard errors) and ``ranges_overlap`` (some seed
    of one lies within the other's range). With three seeds per variant these are rough guides, not tests;
    "Ablations" explains how to read them.
    """
    v, b = seed_statistics(values), seed_statistics(baseline)
    if v["n"] < 2 or b["n"] < 2:
        raise ValueError(f"values and baseline need at least 2 seeds each to estimate a spread; got {v['n']} and "
                         f"{b['n']}")
    diff = v["mean"] - b["mean"]
    se = (v["std"] ** 2 / v["n"] + b["std"] ** 2 / b["n"]) ** 0.5
    ratio = abs(diff) / se if se > 0 else (0.0 if diff == 0 else float("inf"))
    return {"difference": diff, "standard_error": se, "ratio": ratio, "exceeds_spread": ratio > 2.0,
            "ranges_overlap": v["min"] <= b["max"] and b["min"] <= v["max"]}


def class_mean_gates(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, num_classes: int,
                     batch_size: int = 500) -> dict[str, torch.Tensor]:
    """The mean gate of every channel for every class, for each attention block: ``{block: (num_classes, C)}``.

    Runs ``model`` in eval mode without gradients over ``images`` in batches, records the gates with
    :func:`capture_gates` and averages them over the images of each class (a class with no image gives NaN).
    Used for the per-class comparison of SE, ECA and CBAM in "Successors".
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    images = checks.feature_map(images, name="images")
    if not isinstance(labels, torch.Tensor) or labels.dim() != 1 or labels.shape[0] != images.shape[0]:
        shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"labels must be a 1-D tensor with one label per image ({images.shape[0]}), got {shape}")
    num_classes = checks.positive_int("num_classes", num_classes)
    batch_size = checks.positive_int("batch_size", batch_size)
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes - 1}], got values from {int(labels.min())} to "
                         f"{int(labels.max())}")
    result = {}
    for name, g in gates_per_image(model, images, batch_size).items():
        sums = torch.zeros(num_classes, g.shape[1], dtype=g.dtype).index_add_(0, labels.long(), g)
        counts = torch.bincount(labels.long(), minlength=num_classes).to(g.dtype)[:, None]
        result[name] = sums / counts
    return result


# Gates per image and their per-class statistics ("Learned channel weights", "The reduction ratio, measured").

def gates_per_image(model: nn.Module, images: torch.Tensor, batch_size: int = 500) -> dict[str, torch.Tensor]:
    """The gates of every attention block for every image: ``{block name: (N, C)}``, images in their given order.

    Runs ``model`` in eval mode without gradients over ``images`` in batches of ``batch_size``, with
    :func:`capture_gates`; the mode is restored afterwards. Blocks whose gates are not (B, C) (NoSqueeze) are an
    error. Explained in "Learned channel weights".
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    images = checks.feature_map(images, name="images")
    batch_size = checks.positive_int("batch_size", batch_size)
    with capture_gates(model) as gates:
        forward_in_batches(model, images, batch_size)
    result = {}
    for name, chunks in gates.items():
        g = torch.cat(chunks) if chunks else torch.empty(0, 0)
        if g.dim() != 2:
            raise ValueError(f"block {name!r} gives gates of shape {tuple(g.shape)[1:]} per image; per-image gates "
                             f"need one gate per channel (B, C)")
        result[name] = g
    return result


def class_gate_statistics(gates: torch.Tensor, labels: torch.Tensor, num_classes: int) -> dict[str, object]:
    """How much one block's gates depend on the class: class means and three numbers, from (N, C) ``gates``.

    Returns, computed in float64:

    - ``class_means``: (num_classes, C), the mean gate of each channel over the images of each class;
    - ``overall_mean``: (C,), the mean over all images;
    - ``mean_gate``: the mean of all gates;
    - ``class_spread``: for each channel the standard deviation across classes of its class means (divisor
      ``num_classes``), averaged over channels. 0 when every class gets the same mean gate;
    - ``class_share``: for each channel the share of its gate variance over images that lies between the class
      means (between-class variance / total variance, the correlation ratio eta squared), averaged over the
      channels whose gates vary at all. 0: the class tells nothing about the gate; 1: every image of a class gets
      the same gate;
    - ``within_class_std``: for each channel the square root of the variance left within classes, averaged over
      channels: how much single images move the gates beyond their class.

    Every class must have at least one image. Explained in "Learned channel weights".
    """
    gates = checks.channel_vector(gates, name="gates")
    num_classes = checks.positive_int("num_classes", num_classes)
    if not isinstance(labels, torch.Tensor) or labels.dim() != 1 or labels.shape[0] != gates.shape[0]:
        shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"labels must be a 1-D tensor with one label per row of gates ({gates.shape[0]}), got {shape}")
    labels = labels.long()
    counts = torch.bincount(labels, minlength=num_classes) if labels.numel() else torch.zeros(num_classes)
    if labels.numel() == 0 or labels.min() < 0 or labels.max() >= num_classes or (counts[:num_classes] == 0).any():
        raise ValueError(f"labels must lie in [0, {num_classes - 1}] with at least one image per class; "
                         f"got counts {counts.tolist()}")
    g = gates.double()
    n = counts.double()[:, None]
    class_means = torch.zeros(num_classes, g.shape[1], dtype=torch.float64).index_add_(0, labels, g) / n
    overall = g.mean(0)
    total_var = ((g - overall) ** 2).mean(0)
    between_var = (n * (class_means - overall) ** 2).sum(0) / g.shape[0]
    varying = total_var > 1e-12
    share = float((between_var[varying] / total_var[varying]).mean()) if varying.any() else 0.0
    within = (total_var - between_var).clamp(min=0).sqrt()
    return {"class_means": class_means, "overall_mean": overall, "mean_gate": float(g.mean()),
            "class_spread": float(class_means.std(0, correction=0).mean()), "class_share": share,
            "within_class_std": float(within.mean())}


# Teaching helpers for "Overview", "Excitation" and "Recalibration": crops, shapes, costs, fitted gates, gradients.
from dataclasses import dataclass  # noqa: E402

from .se import SEBlock  # noqa: E402

SE_STEPS = ("input", "squeeze", "fc1", "act", "fc2", "gate", "output")
"""The steps of an SE block in call order, as named by :func:`se_shapes`."""


def crop_grid(x: torch.Tensor, size: int, stride: int) -> torch.Tensor:
    """Every ``size`` x ``size`` crop of a (B, C, H, W) map whose corner lies on a grid of step ``stride``.

    Returns (B * n, C, size, size), image by image, then row by row of the grid. Used in "Excitation" and
    "Recalibration" to get many different inputs out of one photo.
    """
    x = checks.feature_map(x)
    size = checks.positive_int("size", size)
    stride = checks.positive_int("stride", stride)
    if size > min(x.shape[2], x.shape[3]):
        raise ValueError(f"size must be at most the map's height and width {tuple(x.shape[2:])}, got {size}")
    crops = x.unfold(2, size, stride).unfold(3, size, stride)  # (B, C, rows, cols, size, size)
    return crops.permute(0, 2, 3, 1, 4, 5).reshape(-1, x.shape[1], size, size).contiguous()


def se_shapes(block: nn.Module, input_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """The tensor shape after every step of an SE block (:data:`SE_STEPS`), from one forward pass on zeros.

    Forward hooks on the squeeze, on ``fc1``, ``act``, ``fc2`` and ``gate`` of the excitation, and on the block
    record what really flows through it. Used in "Overview" to label :func:`sebook.plots.se_block_diagram`.
    """
    if not isinstance(block, ChannelAttention):
        raise TypeError(f"block must be an SE block (a ChannelAttention module), got {type(block).__name__}")
    parts = [("squeeze", block.squeeze)]
    for name in ("fc1", "act", "fc2", "gate"):
        part = getattr(block.excitation, name, None)
        if not isinstance(part, nn.Module):
            raise ValueError(f"block.excitation has no {name!r} layer; se_shapes needs the SE excitation "
                             f"(fc1, act, fc2, gate), got {type(block.excitation).__name__}")
        parts.append((name, part))
    x = _input_for(block, input_shape)
    shapes: dict[str, tuple[int, ...]] = {"input": tuple(x.shape)}
    _run_with_hooks(block, x, lambda key: None, lambda key, _i, out: shapes.__setitem__(key, tuple(out.shape)),
                    parts + [("output", block)])
    return shapes


def se_costs(channels: int, reduction: float, spatial: tuple[int, int] = (7, 7)) -> dict[str, int]:
    """Cost of one ``SEBlock(channels, reduction)`` on a (1, C, H, W) map of ``spatial`` size.

    Returns the bottleneck ``width``, the ``params``, the ``flops`` of the two FC layers (1 MAC = 2 FLOPs, as
    :func:`count_flops`) and the ``elementwise`` operations of squeeze and scale (:func:`attention_elementwise_ops`).
    Used by the reduction-ratio slider of "Excitation".
    """
    if not (isinstance(spatial, tuple) and len(spatial) == 2):
        raise ValueError(f"spatial must be a (height, width) tuple, got {spatial!r}")
    block = SEBlock(channels, reduction)
    shape = (1, block.channels, *spatial)
    return {"width": block.excitation.rd_channels, "params": count_parameters(block),
            "flops": count_flops(block, shape), "elementwise": attention_elementwise_ops(block, shape)}


def colour_casts(warmth: torch.Tensor, jitter: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """Colour casts like those of warm light: (N, 3) multipliers of red, green and blue for N warmth values in [0, 1].

    Warmth ``t`` keeps red, multiplies green by ``1 - 0.3 t`` and blue by ``1 - 0.6 t`` (tungsten light is rich in
    red, poor in blue). With ``jitter``, each multiplier is also scaled by a random factor in ``[1 - jitter, 1]``.
    Used in "Overview": tint a photo with ``photo * casts[:, :, None, None]``.
    """
    if not isinstance(warmth, torch.Tensor) or warmth.dim() != 1 or not warmth.is_floating_point():
        raise TypeError(f"warmth must be a 1-D floating-point tensor, got {warmth!r}")
    if warmth.numel() and (warmth.min() < 0 or warmth.max() > 1):
        raise ValueError(f"warmth must lie in [0, 1], got values from {float(warmth.min())} to {float(warmth.max())}")
    if isinstance(jitter, bool) or not isinstance(jitter, (int, float)) or not 0 <= jitter < 1:
        raise ValueError(f"jitter must be a number in [0, 1), got {jitter!r}")
    t = warmth[:, None]
    casts = torch.cat([torch.ones_like(t), 1 - 0.3 * t, 1 - 0.6 * t], dim=1)
    if jitter:
        casts = casts * (1 - jitter * torch.rand(casts.shape, generator=generator, dtype=casts.dtype))
    return casts


@dataclass
class FittedGates:
    """What :func:`fit_gates` returns: the fixed scale, the fitted SE block, and their final mean squared errors."""

    fixed: torch.Tensor
    """(C,) the fixed per-channel scale, one number per channel and the same for every input."""
    block: SEBlock
    """The SE block whose excitation was fitted; its gates depend on the input."""
    fixed_loss: float
    """Mean squared error between the fixed scale and the target gates."""
    se_loss: float
    """Mean squared error between the SE block's gates and the target gates."""


def fit_gates(z: torch.Tensor, targets: torch.Tensor, rd_channels: int, steps: int = 400, lr: float = 0.03,
              seed: int = 0) -> FittedGates:
    """Fit a fixed per-channel scale and an SE block's excitation to the same target gates (mean squared error).

    ``z`` (N, C) holds the squeezed descriptors of N inputs and ``targets`` (N, C) the gates each input should get.
    The fixed scale is ``sigmoid(theta)``, one learned ``theta`` per channel, as the seed notebook's "one parameter
    per channel"; the SE block (``SEBlock(C, rd_channels=rd_channels)``) computes its gates from ``z``. Both are
    trained with Adam for ``steps`` full-batch steps on one thread (faster than two for so small a model). Used in
    "Overview" and "Recalibration".
    """
    z = checks.channel_vector(z, name="z")
    targets = checks.channel_vector(targets, z.shape[1], name="targets")
    if targets.shape != z.shape:
        raise ValueError(f"targets must have the shape of z {tuple(z.shape)}, got {tuple(targets.shape)}")
    if targets.min() < 0 or targets.max() > 1:
        raise ValueError("targets must lie in [0, 1]: they are gates")
    steps = checks.positive_int("steps", steps)
    lr = checks.positive_number("lr", lr)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        block = SEBlock(z.shape[1], rd_channels=rd_channels)
        theta = torch.zeros(z.shape[1], requires_grad=True)
        optimizer = torch.optim.Adam([theta, *block.parameters()], lr=lr)
        for _ in range(steps):
            optimizer.zero_grad()
            loss = ((block.excitation(z) - targets) ** 2).mean() + ((torch.sigmoid(theta) - targets) ** 2).mean()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            fixed = torch.sigmoid(theta).detach()
            fixed_loss = float(((fixed - targets) ** 2).mean())
            se_loss = float(((block.excitation(z) - targets) ** 2).mean())
    finally:
        torch.set_num_threads(threads)
    block.eval()
    return FittedGates(fixed=fixed, block=block, fixed_loss=fixed_loss, se_loss=se_loss)


def fold_scale(conv: nn.Conv2d, scale: torch.Tensor) -> nn.Conv2d:
    """A copy of ``conv`` that absorbs a fixed scale of its input channels: ``fold_scale(conv, s)(x) == conv(x * s)``.

    Input channel ``c`` of every filter is multiplied by ``s[c]``. It shows, in "Overview", that a fixed
    per-channel scale before a convolution adds nothing the convolution could not learn by itself.
    """
    if not isinstance(conv, nn.Conv2d):
        raise TypeError(f"conv must be an nn.Conv2d, got {type(conv).__name__}")
    if conv.groups != 1:
        raise ValueError(f"conv must have groups=1 to absorb a per-channel scale this way, got groups={conv.groups}")
    if not isinstance(scale, torch.Tensor) or scale.shape != (conv.in_channels,):
        shape = tuple(scale.shape) if isinstance(scale, torch.Tensor) else type(scale).__name__
        raise ValueError(f"scale must be a tensor of shape ({conv.in_channels},), one number per input channel, "
                         f"got {shape}")
    folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                       conv.dilation, bias=conv.bias is not None, padding_mode=conv.padding_mode)
    with torch.no_grad():
        folded.weight.copy_(conv.weight * scale.to(conv.weight)[None, :, None, None])
        if conv.bias is not None:
            folded.bias.copy_(conv.bias)
    return folded.to(conv.weight.device)


def excitation_weight_gradients(excitation: nn.Module, z: torch.Tensor, grad_gates: torch.Tensor) -> dict[str, torch.Tensor]:
    """Gradients of a loss w.r.t. the weights of a ReLU/sigmoid excitation, by backpropagation written out by hand.

    With ``h = relu(z W1^T + b1)``, ``a = h W2^T + b2`` and gates ``s = sigmoid(a)``, and ``grad_gates = dL/ds``
    (B, C): ``dL/da = dL/ds * s (1 - s)``, ``dL/dW2 = (dL/da)^T h``, ``dL/dh = dL/da W2`` masked where the ReLU was
    off, ``dL/dW1 = (dL/dh)^T z``; bias gradients are the sums over the batch. Returns a dict keyed like
    ``excitation.named_parameters()``. "Recalibration" checks it against autograd.
    """
    from .excitation import Excitation

    if not isinstance(excitation, Excitation):
        raise TypeError(f"excitation must be a sebook Excitation, got {type(excitation).__name__}")
    if not (isinstance(excitation.act, nn.ReLU) and isinstance(excitation.gate, nn.Sigmoid)):
        raise ValueError("excitation_weight_gradients derives the paper's excitation: act_layer='relu' and "
                         f"gate_layer='sigmoid'; got {type(excitation.act).__name__} and {type(excitation.gate).__name__}")
    z = checks.channel_vector(z, excitation.channels, name="z")
    grad_gates = checks.channel_vector(grad_gates, excitation.channels, name="grad_gates")
    if grad_gates.shape != z.shape:
        raise ValueError(f"grad_gates must have the shape of z {tuple(z.shape)}, got {tuple(grad_gates.shape)}")
    fc1, fc2 = excitation.fc1, excitation.fc2
    with torch.no_grad():
        pre = torch.nn.functional.linear(z, fc1.weight, fc1.bias)
        h = pre.clamp(min=0)
        s = torch.sigmoid(torch.nn.functional.linear(h, fc2.weight, fc2.bias))
        grad_a = grad_gates * s * (1 - s)
        grad_h = (grad_a @ fc2.weight) * (pre > 0)
        grads = {"fc1.weight": grad_h.T @ z, "fc2.weight": grad_a.T @ h}
        if fc1.bias is not None:
            grads["fc1.bias"] = grad_h.sum(0)
        if fc2.bias is not None:
            grads["fc2.bias"] = grad_a.sum(0)
    return {name: grads[name] for name, _ in excitation.named_parameters()}


def training_recipe(command: str) -> dict[str, object]:
    """The training options of a ``python -m sebook.train`` command: all but the network, the seed and the output.

    Parsed with the command line's own parser, so defaults are filled in; two checkpoints whose recipes are equal
    were trained the same way (same widths, epochs, batch size, learning rate, data, threads). Used in "Ablations"
    and "Successors" to check that compared variants differ only in their attention block.
    """
    import shlex

    from .train import build_parser

    if not isinstance(command, str):
        raise TypeError(f"command must be a str, got {type(command).__name__}")
    words = shlex.split(command)
    if words[:3] != ["python", "-m", "sebook.train"]:
        raise ValueError(f"command must start with 'python -m sebook.train', got {command[:40]!r}")
    options = vars(build_parser().parse_args(words[3:]))
    for key in ("attention", "reduction", "squeeze", "gate", "integration", "seed", "out", "manifest", "data_root",
                "no_progress"):
        options.pop(key, None)
    return options


def seed_results(entries: dict[str, dict], names: dict[str, str], seeds: Sequence[int] = (0, 1, 2),
                 metric: str = "test_accuracy") -> dict[str, list[float]]:
    """``metric`` of each variant over ``seeds``, from a checkpoint manifest's entries: ``{label: [one per seed]}``.

    ``names`` maps a label to the checkpoint family's file stem (``"<config name>"``; the files are
    ``"<stem>_s<seed>.pt"``). Raises naming the first missing file, or if the variants were trained with different
    recipes (:func:`training_recipe`), so a comparison can never mix training budgets. Used in "Ablations" and
    "Successors".
    """
    if not isinstance(entries, dict) or not isinstance(names, dict) or not names:
        raise TypeError("entries must be a manifest's 'checkpoints' dict and names a non-empty dict of label -> stem")
    results: dict[str, list[float]] = {}
    recipes: dict[str, str] = {}
    for label, stem in names.items():
        values = []
        for seed in seeds:
            file = f"{stem}_s{seed}.pt"
            if file not in entries:
                raise ValueError(f"checkpoint {file!r} (variant {label!r}, seed {seed}) is not in the manifest")
            entry = entries[file]
            if entry.get("seed") != seed or metric not in entry.get("metrics", {}):
                raise ValueError(f"manifest entry {file!r} has no seed {seed} or no metric {metric!r}")
            recipes[file] = repr(sorted(training_recipe(entry["command"]).items()))
            values.append(float(entry["metrics"][metric]))
        results[label] = values
    if len(set(recipes.values())) > 1:
        first = next(iter(recipes))
        other = next(f for f, r in recipes.items() if r != recipes[first])
        raise ValueError(f"the variants were trained differently: {first!r} and {other!r} have different recipes")
    return results


# Memory traffic of SE's elementwise steps ("Costs").


def recalibration_traffic(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, int]:
    """Bytes of feature map that SE's squeeze and recalibration move on top of the residual addition, per forward.

    For an attention block on an input of n values of e bytes each: the squeeze reads the map once (n·e); the
    naive recalibration reads it again and writes a scaled copy (2·n·e), which the addition then reads in place of
    the branch output; the fused ``torch.addcmul`` reads branch and shortcut and writes the sum, the traffic of the
    plain addition. So SE adds 3·n·e bytes in the naive form and n·e in the fused one, if nothing stays in cache.
    Returns ``{"one_pass": Σ n·e, "naive": 3·Σ n·e, "fused": Σ n·e}`` in bytes. Used in "Costs".
    """
    one_pass = sum(numel * size for numel, size in attention_inputs(model, input_shape))
    return {"one_pass": one_pass, "naive": 3 * one_pass, "fused": one_pass}


# Gates of freshly initialised SE blocks ("Excitation").

def fresh_gates(channels: int, reductions: Sequence[float], x: torch.Tensor, seed: int = 0) -> dict[float, torch.Tensor]:
    """The (N, C) gates that a newly initialised ``SEBlock(channels, r)`` computes for ``x``, for every ratio ``r``.

    Every block is built right after seeding torch with ``seed`` (inside ``torch.random.fork_rng``, so the caller's
    random state is left alone), so the blocks differ only in their ratio. Used in "Excitation" for the
    reduction-ratio slider and the gate statistics at initialisation.
    """
    channels = checks.positive_int("channels", channels)
    x = checks.feature_map(x, channels)
    if isinstance(reductions, (str, bytes)) or not isinstance(reductions, Sequence) or not reductions:
        raise ValueError(f"reductions must be a non-empty sequence of ratios > 0, got {reductions!r}")
    for r in reductions:
        checks.positive_number("reductions[i]", r)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    gates: dict[float, torch.Tensor] = {}
    for r in reductions:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            block = SEBlock(channels, r)
        with torch.no_grad():
            gates[r] = block.gates(x)
    return gates


# Reading ablations over seeds and the rank of gates ("Ablations", "Successors").

def pooled_seed_spread(results: dict[str, Sequence[float]]) -> dict[str, float]:
    """The seed-to-seed standard deviation pooled over variants: one noise level estimated from all of them.

    ``sqrt(sum_v sum_i (x_vi - mean_v)^2 / sum_v (n_v - 1))``: with two seeds per variant each variant alone says
    little about the noise, but a dozen variants trained the same way say a lot, if the noise is alike for all.
    Returns ``{"std", "dof", "variants"}`` (``dof``: the degrees of freedom, ``sum_v (n_v - 1)``). Explained in
    "Ablations".
    """
    if not isinstance(results, dict) or not results:
        raise ValueError("results must be a non-empty dict from variant labels to results over seeds")
    squares, dof = 0.0, 0
    for label, values in results.items():
        s = seed_statistics(values)
        squares += s["std"] ** 2 * (s["n"] - 1)
        dof += s["n"] - 1
    if dof == 0:
        raise ValueError("results need at least one variant with 2 or more seeds to estimate a spread")
    return {"std": (squares / dof) ** 0.5, "dof": dof, "variants": len(results)}


def ablation_rows(results: dict[str, Sequence[float]], baseline: str, paper: dict[str, float] | None = None,
                  spread: float | None = None) -> list[dict[str, object]]:
    """One row per variant of an ablation: its mean over seeds, its difference from ``baseline`` and the paper's.

    ``results`` maps a label to accuracies over seeds (fractions or %); ``paper`` maps labels to the published top-1
    *error* (%) of the same variant (labels without one get ``None``). Each row holds ``label``, ``mean``, ``std``,
    ``n``, ``difference`` (mean minus the baseline's mean), ``standard_error`` of that difference, ``ratio``
    (``|difference|`` / standard error), ``beyond_noise`` (ratio > 2), ``paper_error`` and ``paper_gain`` (the paper's
    baseline error minus the variant's, so that a positive gain means better, as for the difference). With
    ``spread`` (e.g. :func:`pooled_seed_spread`'s ``std``) the standard error is ``spread * sqrt(1/n + 1/n_b)``;
    without it, each pair's own spreads (Welch's, as :func:`compare_with_baseline`). Explained in "Ablations".
    """
    if not isinstance(results, dict) or baseline not in results:
        names = ", ".join(map(repr, results)) if isinstance(results, dict) else type(results).__name__
        raise ValueError(f"baseline must be one of {names}; got {baseline!r}")
    if spread is not None and (isinstance(spread, bool) or not isinstance(spread, (int, float)) or not spread >= 0):
        raise ValueError(f"spread must be a number >= 0 or None, got {spread!r}")
    paper = paper or {}
    base = seed_statistics(results[baseline])
    rows = []
    for label, values in results.items():
        s = seed_statistics(values)
        diff = s["mean"] - base["mean"]
        if spread is None:
            se = compare_with_baseline(values, results[baseline])["standard_error"] if label != baseline else 0.0
        else:
            se = spread * (1 / s["n"] + 1 / base["n"]) ** 0.5 if label != baseline else 0.0
        ratio = abs(diff) / se if se > 0 else 0.0
        error = paper.get(label)
        gain = None if error is None or baseline not in paper else paper[baseline] - error
        rows.append({"label": label, "mean": s["mean"], "std": s["std"], "n": s["n"], "difference": diff,
                     "standard_error": se, "ratio": ratio, "beyond_noise": ratio > 2.0, "paper_error": error,
                     "paper_gain": gain})
    return rows


def format_ablation_rows(rows: Sequence[dict[str, object]], scale: float = 100.0) -> str:
    """:func:`ablation_rows` as a fixed-width text table; accuracies are multiplied by ``scale`` (to %)."""
    lines = [f"{'variant':24s} {'mean':>6s} {'std':>5s}  {'diff':>6s} {'± 2 SE':>6s}  {'paper top-1 err':>15s}"]
    for row in rows:
        paper = "" if row["paper_error"] is None else f"{row['paper_error']:.2f}"
        noise = "" if row["standard_error"] == 0 else f"{2 * row['standard_error'] * scale:6.2f}"
        diff = "" if row["standard_error"] == 0 else f"{row['difference'] * scale:+6.2f}"
        lines.append(f"{str(row['label']):24s} {row['mean'] * scale:6.2f} {row['std'] * scale:5.2f}  {diff:>6s} "
                     f"{noise:>6s}  {paper:>15s}")
    return "\n".join(lines)


def gate_logits_per_image(model: nn.Module, images: torch.Tensor, batch_size: int = 500) -> dict[str, torch.Tensor]:
    """The gate *logits* of every attention block for every image: ``{block name: (N, C)}``, before the gate function.

    Like :func:`gates_per_image`, but records the input of each block's ``excitation.gate`` (the sigmoid of SE, ECA
    and CBAM) instead of its output, so that saturated gates (exactly 1.0 in float32) keep their information.
    Explained in "Successors".
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    images = checks.feature_map(images, name="images")
    batch_size = checks.positive_int("batch_size", batch_size)
    targets = [(name, m) for name, m in model.named_modules() if isinstance(m, ChannelAttention)]
    for name, m in targets:
        if not isinstance(getattr(m.excitation, "gate", None), nn.Module):
            raise ValueError(f"block {name!r} has no excitation.gate module to record the logits of")
    logits: dict[str, list[torch.Tensor]] = {name: [] for name, _ in targets}
    handles = [m.excitation.gate.register_forward_pre_hook(
        lambda _m, inputs, key=name: logits[key].append(inputs[0].detach().cpu())) for name, m in targets]
    try:
        forward_in_batches(model, images, batch_size)
    finally:
        for handle in handles:
            handle.remove()
    result = {}
    for name, chunks in logits.items():
        x = torch.cat(chunks)
        if x.dim() != 2:
            raise ValueError(f"block {name!r} gives logits of shape {tuple(x.shape)[1:]} per image; need (B, C)")
        result[name] = x
    return result


def variance_shares(values: torch.Tensor) -> torch.Tensor:
    """Share of the variance of (N, C) ``values`` along each principal direction, largest first: (C,), sums to 1.

    Applied to the gate logits of N images (:func:`gate_logits_per_image`): an SE block whose bottleneck has width
    d computes its logits as ``W2 relu(W1 z + b1) + b2``, so they can only move within the d columns of ``W2`` and
    at most d shares are non-zero; a block without reduction (ECA, or SE with r = 1) has no such limit. Computed in
    float64; all zeros if the values do not vary. Explained in "Successors".
    """
    values = checks.channel_vector(values, name="values")
    if values.shape[0] < 2:
        raise ValueError(f"values must hold at least 2 rows (images) to have a variance, got {values.shape[0]}")
    x = values.detach().double()
    variances = torch.linalg.svdvals(x - x.mean(0)) ** 2
    total = variances.sum()
    shares = torch.zeros(values.shape[1], dtype=torch.float64)
    if total > 0:
        shares[:len(variances)] = variances / total
    return shares


def elementwise_overhead(ops: dict[str, dict[str, dict[str, float]]],
                         blocks_per_stage: dict[str, int]) -> dict[str, float]:
    """Seconds that SE's squeeze and recalibration add to one forward pass, estimated from the steps timed alone.

    ``ops[stage][step]["median_seconds"]`` for the steps ``"add"``, ``"squeeze"``, ``"scale_then_add"`` and
    ``"fused_scale_add"`` on each stage's feature map (one memory format of ``benchmarks/se_overhead.py``'s
    ``"ops"``), and ``blocks_per_stage[stage]`` SE blocks per stage. Naive: Σ n·(squeeze + scale_then_add − add);
    fused: Σ n·(squeeze + fused_scale_add − add). The excitation's FC layers are left out. Used in "Costs".
    """
    if not isinstance(ops, dict) or not isinstance(blocks_per_stage, dict) or not blocks_per_stage:
        raise TypeError("ops must be a dict {stage: {step: timing}} and blocks_per_stage a non-empty dict {stage: n}")
    steps = ("add", "squeeze", "scale_then_add", "fused_scale_add")
    total = {"naive": 0.0, "fused": 0.0}
    for stage, n in blocks_per_stage.items():
        n = checks.positive_int(f"blocks_per_stage[{stage!r}]", n)
        if stage not in ops:
            raise ValueError(f"ops has no stage {stage!r}; it has {', '.join(map(repr, ops))}")
        missing = [s for s in steps if s not in ops[stage]]
        if missing:
            raise ValueError(f"ops[{stage!r}] must hold the steps {', '.join(steps)}; missing {', '.join(missing)}")
        t = {s: float(ops[stage][s]["median_seconds"]) for s in steps}
        total["naive"] += n * (t["squeeze"] + t["scale_then_add"] - t["add"])
        total["fused"] += n * (t["squeeze"] + t["fused_scale_add"] - t["add"])
    return total


# How often the units of each SE bottleneck are on ("Learned channel weights", "The reduction ratio, measured").

def bottleneck_activity(model: nn.Module, images: torch.Tensor, batch_size: int = 500) -> dict[str, torch.Tensor]:
    """For each SE block of ``model``: the share of ``images`` for which each hidden unit of its bottleneck is on.

    Hooks the activation (``excitation.act``, a ReLU in the paper) of every :class:`~sebook.se.ChannelAttention`
    block that has one and returns ``{block name: (hidden,) fraction of images with activation > 0}``. Where a
    unit is off, it contributes nothing and the gates fall back on the second layer's bias; with one hidden unit
    (r = C), every image for which it is off gets exactly the same gates. Runs in eval mode without gradients,
    in batches of ``batch_size``. Explained in "Learned channel weights".
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    images = checks.feature_map(images, name="images")
    batch_size = checks.positive_int("batch_size", batch_size)
    counts: dict[str, torch.Tensor] = {}
    handles = []
    for name, sub in model.named_modules():
        act = getattr(getattr(sub, "excitation", None), "act", None)
        if isinstance(sub, ChannelAttention) and isinstance(act, nn.Module):
            handles.append(act.register_forward_hook(lambda _m, _i, out, key=name: counts.__setitem__(
                key, counts.get(key, 0) + (out.detach() > 0).sum(0).double().cpu())))
    if not handles:
        raise ValueError("model contains no SE block with a bottleneck activation (excitation.act)")
    try:
        forward_in_batches(model, images, batch_size)
    finally:
        for handle in handles:
            handle.remove()
    return {name: counts[name] / images.shape[0] for name in counts}
