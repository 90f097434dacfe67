"""Demonstrations of the first chapters.

Crops of one photo, SE's shapes step by step, colour casts, fitted gates, a folded scale
and the excitation's gradients written out by hand.

Used in "Overview", "Excitation" and "Recalibration"; each function says which.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from . import checks
from .costs import run_with_hooks, zeros_input
from .excitation import Excitation
from .se import ChannelAttention, SEBlock

SE_STEPS = ("input", "squeeze", "fc1", "act", "fc2", "gate", "output")
"""The steps of an SE block in call order, as named by :func:`se_shapes`."""


def crop_grid(x: torch.Tensor, size: int, stride: int) -> torch.Tensor:
    """Every ``size`` x ``size`` crop of a (B, C, H, W) map with corner on a grid.

    The grid has step ``stride``.

    Returns (B * n, C, size, size), image by image, then row by row of the grid. Used in
    "Excitation" and "Recalibration" to get many different inputs out of one photo.
    """
    x = checks.feature_map(x)
    size = checks.positive_int("size", size)
    stride = checks.positive_int("stride", stride)
    if size > min(x.shape[2], x.shape[3]):
        raise ValueError(
            f"size must be at most the map's height and width {tuple(x.shape[2:])}, "
            f"got {size}"
        )
    crops = x.unfold(2, size, stride).unfold(
        3, size, stride
    )  # (B, C, rows, cols, size, size)
    return (
        crops.permute(0, 2, 3, 1, 4, 5).reshape(-1, x.shape[1], size, size).contiguous()
    )


def se_shapes(
    block: nn.Module, input_shape: tuple[int, ...]
) -> dict[str, tuple[int, ...]]:
    """The tensor shape after every step of an SE block (:data:`SE_STEPS`).

    Measured in one forward pass on zeros.

    Forward hooks on the squeeze, on ``fc1``, ``act``, ``fc2`` and ``gate`` of the
    excitation, and on the block record what really flows through it. Used in "Overview"
    to label :func:`sebook.diagrams.se_block_diagram`.
    """
    if not isinstance(block, ChannelAttention):
        raise TypeError(
            "block must be an SE block (a ChannelAttention module), got "
            f"{type(block).__name__}"
        )
    parts = [("squeeze", block.squeeze)]
    for name in ("fc1", "act", "fc2", "gate"):
        part = getattr(block.excitation, name, None)
        if not isinstance(part, nn.Module):
            raise ValueError(
                f"block.excitation has no {name!r} layer; se_shapes needs the SE "
                "excitation (fc1, act, fc2, gate), got "
                f"{type(block.excitation).__name__}"
            )
        parts.append((name, part))
    x = zeros_input(block, input_shape)
    shapes: dict[str, tuple[int, ...]] = {"input": tuple(x.shape)}
    run_with_hooks(
        block,
        x,
        lambda key: None,
        lambda key, _i, out: shapes.__setitem__(key, tuple(out.shape)),
        parts + [("output", block)],
    )
    return shapes


def colour_casts(
    warmth: torch.Tensor, jitter: float = 0.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Colour casts like those of warm light, for N warmth values in [0, 1].

    Returns (N, 3) multipliers of red, green and blue.

    Warmth ``t`` keeps red, multiplies green by ``1 - 0.3 t`` and blue by ``1 - 0.6 t``
    (tungsten light is rich in red, poor in blue). With ``jitter``, each multiplier is
    also scaled by a random factor in ``[1 - jitter, 1]``. Used in "Overview": tint a
    photo with ``photo * casts[:, :, None, None]``.
    """
    if (
        not isinstance(warmth, torch.Tensor)
        or warmth.dim() != 1
        or not warmth.is_floating_point()
    ):
        raise TypeError(f"warmth must be a 1-D floating-point tensor, got {warmth!r}")
    if warmth.numel() and (warmth.min() < 0 or warmth.max() > 1):
        raise ValueError(
            f"warmth must lie in [0, 1], got values from {float(warmth.min())} to "
            f"{float(warmth.max())}"
        )
    if (
        isinstance(jitter, bool)
        or not isinstance(jitter, (int, float))
        or not 0 <= jitter < 1
    ):
        raise ValueError(f"jitter must be a number in [0, 1), got {jitter!r}")
    t = warmth[:, None]
    casts = torch.cat([torch.ones_like(t), 1 - 0.3 * t, 1 - 0.6 * t], dim=1)
    if jitter:
        casts = casts * (
            1 - jitter * torch.rand(casts.shape, generator=generator, dtype=casts.dtype)
        )
    return casts


@dataclass
class FittedGates:
    """What :func:`fit_gates` returns: the scale, the fitted SE block and their errors.

    The scale is fixed; the errors are final mean squared errors.
    """

    fixed: torch.Tensor
    """(C,) the fixed per-channel scale, the same for every input."""
    block: SEBlock
    """The SE block whose excitation was fitted; its gates depend on the input."""
    fixed_loss: float
    """Mean squared error between the fixed scale and the target gates."""
    se_loss: float
    """Mean squared error between the SE block's gates and the target gates."""


def fit_gates(
    z: torch.Tensor,
    targets: torch.Tensor,
    rd_channels: int,
    steps: int = 400,
    lr: float = 0.03,
    seed: int = 0,
) -> FittedGates:
    """Fit a fixed per-channel scale and an SE block's excitation to the same gates.

    Both are fitted to the target gates by mean squared error.

    ``z`` (N, C) holds the squeezed descriptors of N inputs and ``targets`` (N, C) the
    gates each input should get. The fixed scale is ``sigmoid(theta)``, one learned
    ``theta`` per channel, as the seed notebook's "one parameter per channel"; the SE
    block (``SEBlock(C, rd_channels=rd_channels)``) computes its gates from ``z``. Both
    are trained with Adam for ``steps`` full-batch steps on one thread (faster than two
    for so small a model). Used in "Overview" and "Recalibration".
    """
    z = checks.channel_vector(z, name="z")
    targets = checks.channel_vector(targets, z.shape[1], name="targets")
    if targets.shape != z.shape:
        raise ValueError(
            f"targets must have the shape of z {tuple(z.shape)}, got "
            f"{tuple(targets.shape)}"
        )
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
            loss = ((block.excitation(z) - targets) ** 2).mean() + (
                (torch.sigmoid(theta) - targets) ** 2
            ).mean()
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
    """A copy of ``conv`` that absorbs a fixed scale of its input channels.

    ``fold_scale(conv, s)(x) == conv(x * s)``.

    Input channel ``c`` of every filter is multiplied by ``s[c]``. It shows, in
    "Overview", that a fixed per-channel scale before a convolution adds nothing the
    convolution could not learn by itself.
    """
    if not isinstance(conv, nn.Conv2d):
        raise TypeError(f"conv must be an nn.Conv2d, got {type(conv).__name__}")
    if conv.groups != 1:
        raise ValueError(
            "conv must have groups=1 to absorb a per-channel scale this way, got "
            f"groups={conv.groups}"
        )
    if not isinstance(scale, torch.Tensor) or scale.shape != (conv.in_channels,):
        shape = (
            tuple(scale.shape)
            if isinstance(scale, torch.Tensor)
            else type(scale).__name__
        )
        raise ValueError(
            f"scale must be a tensor of shape ({conv.in_channels},), one number per "
            f"input channel, got {shape}"
        )
    folded = nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        conv.dilation,
        bias=conv.bias is not None,
        padding_mode=conv.padding_mode,
    )
    with torch.no_grad():
        folded.weight.copy_(conv.weight * scale.to(conv.weight)[None, :, None, None])
        if conv.bias is not None:
            folded.bias.copy_(conv.bias)
    return folded.to(conv.weight.device)


def excitation_weight_gradients(
    excitation: nn.Module, z: torch.Tensor, grad_gates: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Gradients of a loss w.r.t. the weights of a ReLU/sigmoid excitation.

    Computed by backpropagation written out by hand.

    With ``h = relu(z W1^T + b1)``, ``a = h W2^T + b2`` and gates ``s = sigmoid(a)``,
    and ``grad_gates = dL/ds`` (B, C): ``dL/da = dL/ds * s (1 - s)``,
    ``dL/dW2 = (dL/da)^T h``, ``dL/dh = dL/da W2`` masked where the ReLU was off,
    ``dL/dW1 = (dL/dh)^T z``; bias gradients are the sums over the batch. Returns a dict
    keyed like ``excitation.named_parameters()``. "Recalibration" checks it against
    autograd.
    """
    if not isinstance(excitation, Excitation):
        raise TypeError(
            f"excitation must be a sebook Excitation, got {type(excitation).__name__}"
        )
    if not (
        isinstance(excitation.act, nn.ReLU) and isinstance(excitation.gate, nn.Sigmoid)
    ):
        raise ValueError(
            "excitation_weight_gradients derives the paper's excitation: "
            "act_layer='relu' and gate_layer='sigmoid'; got "
            f"{type(excitation.act).__name__} and {type(excitation.gate).__name__}"
        )
    z = checks.channel_vector(z, excitation.channels, name="z")
    grad_gates = checks.channel_vector(
        grad_gates, excitation.channels, name="grad_gates"
    )
    if grad_gates.shape != z.shape:
        raise ValueError(
            f"grad_gates must have the shape of z {tuple(z.shape)}, got "
            f"{tuple(grad_gates.shape)}"
        )
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
