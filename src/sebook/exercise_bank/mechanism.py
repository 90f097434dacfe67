"""The exercises of the first part, the mechanism: Overview, Squeeze, Excitation, Recalibration.

Each exercise's reference answer and hints; :mod:`sebook.exercises` checks them.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from ..exercises import Exercise, _relative, register
from ._common import _close, _se_parameters, _times


def _fold_after(conv: torch.nn.Conv2d, scale: torch.Tensor) -> torch.nn.Conv2d:
    """The reference: ``conv`` followed by a fixed scale of each output channel, as one convolution."""
    folded = copy.deepcopy(conv)
    with torch.no_grad():
        folded.weight.mul_(scale[:, None, None, None])
        folded.bias.mul_(scale)
    return folded


def _fold_after_inputs() -> list[tuple[Any, ...]]:
    generator = torch.Generator().manual_seed(0)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    with torch.no_grad():
        for p in conv.parameters():
            p.copy_(torch.randn(p.shape, generator=generator))
    scale = torch.rand(4, generator=generator) + 0.5
    return [(conv, scale, torch.randn(2, 3, 6, 6, generator=generator))]


def _random_maps() -> list[tuple[torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    return [(torch.randn(2, 8, 5, 7, generator=generator),)]


def _affine_inputs() -> list[tuple[torch.Tensor, ...]]:
    generator = torch.Generator().manual_seed(0)
    u = torch.randn(2, 4, 3, 3, generator=generator)
    s = torch.rand(2, 4, 1, 1, generator=generator)
    gamma, beta = (torch.randn(1, 4, 1, 1, generator=generator) for _ in range(2))
    return [(u, s, gamma, beta)]


def _global_avg_pool(x: torch.Tensor) -> torch.Tensor:
    from ..squeeze import global_avg_pool

    return global_avg_pool(x)


register(
    Exercise(
        "overview-ex-shapes",
        "number",
        lambda: _se_parameters(2048, 16),
        "the parameter count of SEBlock(2048, reduction=16), biases included",
        hints=(
            (
                lambda a, e: a == 2 * 2048 * 128,
                "That counts the weights only: the two FC layers have biases too.",
            ),
            (
                lambda a, e: a == 2 * 2048 * 2048 // 16 * 16,
                "Check the bottleneck width: C / r = 2048 / 16.",
            ),
        ),
    ),
    Exercise(
        "overview-ex-gates",
        "shape",
        lambda: (8, 2048),
        "the shape of SEBlock(2048).gates(x) for x of shape (8, 2048, 7, 7)",
        hints=(
            (
                lambda a, e: tuple(a) == (8, 2048, 1, 1),
                "That is torchvision's form; the library's gates are one number per channel and image.",
            ),
            (
                lambda a, e: tuple(a) == (8, 2048, 7, 7),
                "That is the block's output; the gates do not depend on the position.",
            ),
            (lambda a, e: tuple(a) == (2048, 8), "Batch first, then channels."),
        ),
    ),
    Exercise(
        "squeeze-ex-flatten",
        "number",
        lambda: 2048 * 7 * 7 * 128,
        "the weights (without biases) of a linear layer from the flattened 2048 x 7 x 7 map to 2048 / 16 units",
        hints=(
            (
                _times(1 / 49),
                "That is the squeezed input's layer: flatten all 7 x 7 positions of every channel.",
            ),
            (
                lambda a, e: a == e + 128,
                "Count the weights only, without the 128 biases.",
            ),
        ),
    ),
    Exercise(
        "squeeze-ex-adaptive",
        "shape",
        lambda: (1, 8, 1, 1),
        "the shape of nn.AdaptiveAvgPool2d(1)(maps) for the photo's (1, 8, 64, 64) maps",
        hints=(
            (
                lambda a, e: tuple(a) == (1, 8),
                "That is the library's squeeze; the pooling layer keeps the two spatial axes, of size 1.",
            ),
        ),
    ),
    Exercise(
        "squeeze-ex-mean",
        "function",
        lambda: _global_avg_pool,
        "descriptor(x) returning the (B, C) channel means of a (B, C, H, W) map",
        inputs=_random_maps,
        hints=(
            (
                lambda a, e: a(_random_maps()[0][0]).dim() == 4,
                "Return (B, C): one number per channel, without the spatial axes.",
            ),
            (
                lambda a, e: _close(
                    a(_random_maps()[0][0]), e(_random_maps()[0][0]) * 5 * 7
                ),
                "That is the sum: divide by the number of positions, H x W.",
            ),
        ),
    ),
    Exercise(
        "excitation-ex-scaled-softmax",
        "choice",
        lambda: "competition",
        "'scale' or 'competition': the problem that multiplying the softmax gates by C leaves",
        hints=(
            (
                lambda a, e: a.strip().lower() == "scale",
                "Multiplied by C the gates average 1, so the scale is fixed; look at what their sum does.",
            ),
        ),
    ),
    Exercise(
        "recalibration-ex-fuse-bias",
        "function",
        lambda: lambda u, s, gamma, beta: gamma * (s * u) + beta,
        "affine_recalibrate(u, s, gamma, beta) computing gamma * (s * u) + beta with one torch.addcmul",
        tolerance=1e-5,
        inputs=_affine_inputs,
        hints=(
            (
                lambda a, e: _close(
                    a(*_affine_inputs()[0]),
                    e(*_affine_inputs()[0]) - _affine_inputs()[0][3],
                ),
                "beta is missing: it is the tensor that addcmul adds to the product.",
            ),
        ),
    ),
    Exercise(
        "recalibration-ex-bytes",
        "number",
        lambda: 3 / 5,
        "the fused form's bytes as a fraction of the unfused form's (read u and r, write y; against five passes)",
        hints=(
            (
                _times(5 / 3 / (3 / 5)),
                "That is the unfused form over the fused one; the question asks the other way round.",
            ),
            (
                lambda a, e: _relative(float(a), 60, 1e-6),
                "As a fraction, not a percentage.",
            ),
        ),
    ),
    Exercise(
        "excitation-ex-divisor",
        "number",
        lambda: 96 / 8,
        "the effective reduction ratio of make_rd_channels(96, 16, rd_divisor=8)",
        hints=(
            (
                lambda a, e: a == 16,
                "The divisor rounds the width to a multiple of 8: compute the width first.",
            ),
            (
                lambda a, e: a == 8,
                "That is the width; the ratio is the channels divided by it.",
            ),
        ),
    ),
    Exercise(
        "excitation-ex-collapse",
        "number",
        lambda: 2 * 64 * 64 // 16 + 64 // 16 + 64,
        "the parameter count of Excitation(64, 16), biases included",
        hints=(
            (
                lambda a, e: a == 64 * 64 + 64,
                "That is the collapsed single layer; count the two-layer form.",
            ),
            (
                lambda a, e: a == 2 * 64 * 64 // 16,
                "Count the biases of both layers too.",
            ),
        ),
    ),
    Exercise(
        "recalibration-ex-channels-last",
        "shape",
        lambda: (4, 1, 1, 16),
        "the shape to view (4, 16) gates as, to scale a channels-last (4, 7, 7, 16) map",
        hints=(
            (
                lambda a, e: tuple(a) == (4, 16, 1, 1),
                "That is the view for (B, C, H, W); here the channels are last.",
            ),
            (
                lambda a, e: tuple(a) == (1, 1, 4, 16),
                "Batch first: the gates must line up with the map's first axis.",
            ),
        ),
    ),
    Exercise(
        "overview-ex-fold",
        "function",
        lambda: _fold_after,
        "fold_after(conv, scale) returning an nn.Conv2d that computes conv(x) * scale per output channel",
        tolerance=1e-5,
        inputs=_fold_after_inputs,
        apply=lambda fold, args: fold(args[0], args[1])(args[2]),
        hints=(
            (
                lambda a, e: _close(
                    a(*_fold_after_inputs()[0][:2]).bias,
                    _fold_after_inputs()[0][0].bias,
                ),
                "The bias is part of each output channel: it is scaled too.",
            ),
        ),
    ),
)
