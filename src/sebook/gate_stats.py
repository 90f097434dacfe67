"""The gates attention blocks compute, captured with forward hooks.

Per image, per class, and at initialisation.

:func:`capture_gates` hooks the ``excitation`` of every
:class:`~sebook.se.ChannelAttention` block (SE, ECA, CBAM); the rest summarise what it
records. Explained in "Learned channel weights", "The reduction ratio, measured",
"Successors" and the appendix "The excitation before training".
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn

from . import checks
from .runtime import forward_in_batches
from .se import ChannelAttention, SEBlock


@contextmanager
def capture_gates(model: nn.Module) -> Iterator[dict[str, list[torch.Tensor]]]:
    """Record the (B, C) gates of every SE, ECA or CBAM block in ``model``.

    Recording lasts while inside the ``with``.

    Hooks the ``excitation`` of every :class:`~sebook.se.ChannelAttention` block. Yields
    a dict from the block's qualified name (e.g. ``"stages.1.attention"``) to the list
    of gate tensors seen, one per forward call, detached and on the CPU. Hooks are
    removed on exit.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    gates: dict[str, list[torch.Tensor]] = {}
    handles = []
    for name, sub in model.named_modules():
        if isinstance(sub, ChannelAttention):
            gates[name] = []
            handles.append(
                sub.excitation.register_forward_hook(
                    lambda _m, _i, out, key=name: gates[key].append(out.detach().cpu())
                )
            )
    if not handles:
        raise ValueError(
            "model contains no SE, ECA or CBAM block, so there are no gates to capture"
        )
    try:
        yield gates
    finally:
        for handle in handles:
            handle.remove()


def gate_spread(gates: torch.Tensor) -> dict[str, float]:
    """Summary of a (N, C) tensor of gates: mean, std, and mean per-channel std.

    The std is over all values; the per-channel std is over samples.
    """
    gates = checks.channel_vector(gates, name="gates")
    return {
        "mean": float(gates.mean()),
        "std": float(gates.std()),
        "min": float(gates.min()),
        "max": float(gates.max()),
        "per_channel_std": float(gates.std(dim=0).mean()),
    }


def fresh_gates(
    channels: int, reductions: Sequence[float], x: torch.Tensor, seed: int = 0
) -> dict[float, torch.Tensor]:
    """The (N, C) gates of a new ``SEBlock(channels, r)`` for ``x``, for every ``r``.

    Each block is newly initialised, one per ratio ``r``.

    Every block is built right after seeding torch with ``seed`` (inside
    ``torch.random.fork_rng``, so the caller's random state is left alone), so the
    blocks differ only in their ratio. Used in "Excitation" for the reduction-ratio
    slider and the gate statistics at initialisation.
    """
    channels = checks.positive_int("channels", channels)
    x = checks.feature_map(x, channels)
    if (
        isinstance(reductions, (str, bytes))
        or not isinstance(reductions, Sequence)
        or not reductions
    ):
        raise ValueError(
            f"reductions must be a non-empty sequence of ratios > 0, got {reductions!r}"
        )
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


def gates_per_image(
    model: nn.Module, images: torch.Tensor, batch_size: int = 500
) -> dict[str, torch.Tensor]:
    """The gates of every attention block for every image: ``{block name: (N, C)}``.

    The images are in their given order.

    Runs ``model`` in eval mode without gradients over ``images`` in batches of
    ``batch_size``, with :func:`capture_gates`; the mode is restored afterwards. Blocks
    whose gates are not (B, C) (NoSqueeze) are an error. Explained in "Learned channel
    weights".
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
            raise ValueError(
                f"block {name!r} gives gates of shape {tuple(g.shape)[1:]} per image; "
                f"per-image gates need one gate per channel (B, C)"
            )
        result[name] = g
    return result


def gate_logits_per_image(
    model: nn.Module, images: torch.Tensor, batch_size: int = 500
) -> dict[str, torch.Tensor]:
    """The gate *logits* of every attention block for every image.

    Returns ``{block name: (N, C)}``, before the gate function.

    Like :func:`gates_per_image`, but records the input of each block's
    ``excitation.gate`` (the sigmoid of SE, ECA and CBAM) instead of its output, so that
    saturated gates (exactly 1.0 in float32) keep their information. Explained in
    "Successors".
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    images = checks.feature_map(images, name="images")
    batch_size = checks.positive_int("batch_size", batch_size)
    targets = [
        (name, m)
        for name, m in model.named_modules()
        if isinstance(m, ChannelAttention)
    ]
    for name, m in targets:
        if not isinstance(getattr(m.excitation, "gate", None), nn.Module):
            raise ValueError(
                f"block {name!r} has no excitation.gate module to record the logits of"
            )
    logits: dict[str, list[torch.Tensor]] = {name: [] for name, _ in targets}
    handles = [
        m.excitation.gate.register_forward_pre_hook(
            lambda _m, inputs, key=name: logits[key].append(inputs[0].detach().cpu())
        )
        for name, m in targets
    ]
    try:
        forward_in_batches(model, images, batch_size)
    finally:
        for handle in handles:
            handle.remove()
    result = {}
    for name, chunks in logits.items():
        x = torch.cat(chunks)
        if x.dim() != 2:
            raise ValueError(
                f"block {name!r} gives logits of shape {tuple(x.shape)[1:]} per image; "
                "need (B, C)"
            )
        result[name] = x
    return result


def class_mean_gates(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    batch_size: int = 500,
) -> dict[str, torch.Tensor]:
    """The mean gate of every channel for every class, for each attention block.

    Returns ``{block: (num_classes, C)}``.

    Runs ``model`` in eval mode without gradients over ``images`` in batches, records
    the gates with :func:`capture_gates` and averages them over the images of each class
    (a class with no image gives NaN). Used for the per-class comparison of SE, ECA and
    CBAM in "Successors".
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    images = checks.feature_map(images, name="images")
    labels = checks.label_vector(labels, images.shape[0], "image")
    num_classes = checks.positive_int("num_classes", num_classes)
    batch_size = checks.positive_int("batch_size", batch_size)
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"labels must lie in [0, {num_classes - 1}], got values from "
            f"{int(labels.min())} to {int(labels.max())}"
        )
    result = {}
    for name, g in gates_per_image(model, images, batch_size).items():
        sums = torch.zeros(num_classes, g.shape[1], dtype=g.dtype).index_add_(
            0, labels.long(), g
        )
        counts = torch.bincount(labels.long(), minlength=num_classes).to(g.dtype)[
            :, None
        ]
        result[name] = sums / counts
    return result


def class_gate_statistics(
    gates: torch.Tensor, labels: torch.Tensor, num_classes: int
) -> dict[str, object]:
    """How much one block's gates depend on the class.

    Class means and three numbers, from (N, C) ``gates``.

    Returns, computed in float64:

    - ``class_means``: (num_classes, C), the mean gate of each channel over the images
      of each class;
    - ``overall_mean``: (C,), the mean over all images;
    - ``mean_gate``: the mean of all gates;
    - ``class_spread``: for each channel the standard deviation across classes of its
      class means (divisor ``num_classes``), averaged over channels. 0 when every class
      gets the same mean gate;
    - ``class_share``: for each channel the share of its gate variance over images that
      lies between the class means (between-class variance / total variance, the
      correlation ratio eta squared), averaged over the channels whose gates vary at
      all. 0: the class tells nothing about the gate; 1: every image of a class gets the
      same gate;
    - ``within_class_std``: for each channel the square root of the variance left within
      classes, averaged over channels: how much single images move the gates beyond
      their class.

    Every class must have at least one image. Explained in "Learned channel weights".
    """
    gates = checks.channel_vector(gates, name="gates")
    num_classes = checks.positive_int("num_classes", num_classes)
    labels = checks.label_vector(labels, gates.shape[0], "row of gates")
    labels = labels.long()
    counts = (
        torch.bincount(labels, minlength=num_classes)
        if labels.numel()
        else torch.zeros(num_classes)
    )
    if (
        labels.numel() == 0
        or labels.min() < 0
        or labels.max() >= num_classes
        or (counts[:num_classes] == 0).any()
    ):
        raise ValueError(
            f"labels must lie in [0, {num_classes - 1}] with at least one image per "
            f"class; got counts {counts.tolist()}"
        )
    g = gates.double()
    n = counts.double()[:, None]
    class_means = (
        torch.zeros(num_classes, g.shape[1], dtype=torch.float64).index_add_(
            0, labels, g
        )
        / n
    )
    overall = g.mean(0)
    total_var = ((g - overall) ** 2).mean(0)
    between_var = (n * (class_means - overall) ** 2).sum(0) / g.shape[0]
    varying = total_var > 1e-12
    share = (
        float((between_var[varying] / total_var[varying]).mean())
        if varying.any()
        else 0.0
    )
    within = (total_var - between_var).clamp(min=0).sqrt()
    return {
        "class_means": class_means,
        "overall_mean": overall,
        "mean_gate": float(g.mean()),
        "class_spread": float(class_means.std(0, correction=0).mean()),
        "class_share": share,
        "within_class_std": float(within.mean()),
    }


def class_share_null(
    gates: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    permutations: int = 1000,
    seed: int = 0,
) -> dict[str, object]:
    """The class share of (N, C) ``gates`` against a permutation null.

    The labels are shuffled ``permutations`` times (a generator seeded with ``seed``)
    and the class share of :func:`class_gate_statistics` is computed for each
    shuffle: the shares that gates with no link to the labels would show, with these
    images and this many classes. Returns ``observed`` (the share with the true
    labels), ``null`` (the shuffled shares, a float64 tensor), ``null_high`` (their 99th
    percentile) and ``p_value`` = (1 + shuffles at least as large as observed) /
    (1 + permutations). The null rules out chance alone; it does not tell learned
    structure from structure that the images carry into any network's gates.
    """
    observed = class_gate_statistics(gates, labels, num_classes)["class_share"]
    permutations = checks.positive_int("permutations", permutations)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    g = gates.detach().double()
    g = g - g.mean(0)
    total_var = (g**2).mean(0)
    varying = total_var > 1e-12
    g, total_var = g[:, varying], total_var[varying]
    labels = labels.long()
    counts = torch.bincount(labels, minlength=num_classes).double()[:, None]
    generator = torch.Generator().manual_seed(seed)
    null = torch.zeros(permutations, dtype=torch.float64)
    for k in range(permutations):
        shuffled = labels[torch.randperm(len(labels), generator=generator)]
        sums = torch.zeros(num_classes, g.shape[1], dtype=torch.float64)
        sums.index_add_(0, shuffled, g)
        between = (sums**2 / counts).sum(0) / g.shape[0]  # the mean of g is 0
        null[k] = (between / total_var).mean() if g.shape[1] else 0.0
    return {
        "observed": observed,
        "null": null,
        "null_high": float(torch.quantile(null, 0.99)),
        "p_value": (1 + int((null >= observed).sum())) / (1 + permutations),
    }


def variance_shares(values: torch.Tensor) -> torch.Tensor:
    """Share of the variance of (N, C) ``values`` along each principal direction.

    Largest first: (C,), sums to 1.

    Applied to the gate logits of N images (:func:`gate_logits_per_image`): an SE block
    whose bottleneck has width d computes its logits as ``W2 relu(W1 z + b1) + b2``, so
    they can only move within the d columns of ``W2`` and at most d shares are non-zero;
    a block without reduction (ECA, or SE with r = 1) has no such limit. Computed in
    float64; all zeros if the values do not vary. Explained in "Successors".
    """
    values = checks.channel_vector(values, name="values")
    if values.shape[0] < 2:
        raise ValueError(
            "values must hold at least 2 rows (images) to have a variance, got "
            f"{values.shape[0]}"
        )
    x = values.detach().double()
    variances = torch.linalg.svdvals(x - x.mean(0)) ** 2
    total = variances.sum()
    shares = torch.zeros(values.shape[1], dtype=torch.float64)
    if total > 0:
        shares[: len(variances)] = variances / total
    return shares


def bottleneck_activity(
    model: nn.Module, images: torch.Tensor, batch_size: int = 500
) -> dict[str, torch.Tensor]:
    """For each SE block of ``model``: how often each bottleneck unit is on.

    The share of ``images`` for which each hidden unit of its bottleneck is on.

    Hooks the activation (``excitation.act``, a ReLU in the paper) of every
    :class:`~sebook.se.ChannelAttention` block that has one and returns
    ``{block name: (hidden,) fraction of images with activation > 0}``. Where a unit is
    off, it contributes nothing and the gates fall back on the second layer's bias; with
    one hidden unit (r = C), every image for which it is off gets exactly the same
    gates. Runs in eval mode without gradients, in batches of ``batch_size``. Explained
    in "Learned channel weights".
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
            handles.append(
                act.register_forward_hook(
                    lambda _m, _i, out, key=name: counts.__setitem__(
                        key,
                        counts.get(key, 0) + (out.detach() > 0).sum(0).double().cpu(),
                    )
                )
            )
    if not handles:
        raise ValueError(
            "model contains no SE block with a bottleneck activation (excitation.act)"
        )
    try:
        forward_in_batches(model, images, batch_size)
    finally:
        for handle in handles:
            handle.remove()
    return {name: counts[name] / images.shape[0] for name in counts}
