"""A small, hand-made convolution for the photo chapters.

Every feature map has a meaning you can name.

A trained network's first-layer filters are hard to read; these eight are textbook
filters (colour, edges, a centre-surround), each followed by a ReLU like a real layer.
Used in "Overview", "Squeeze" and "Recalibration".
"""

from __future__ import annotations

import torch
from torch import nn

from . import checks

FILTER_NAMES = (
    "red",
    "green",
    "blue",
    "brightness",
    "horizontal edges",
    "vertical edges",
    "diagonal edges",
    "spots (centre-surround)",
)
"""What each output channel of :func:`photo_conv` responds to, in channel order."""


def _kernels() -> torch.Tensor:
    k = torch.zeros(len(FILTER_NAMES), 3, 5, 5)
    for c in range(3):  # colour channels: a 5x5 box average of one input channel
        k[c, c] = 1 / 25
    k[3] = 1 / 75  # brightness: box average over all colours
    sobel = (
        torch.tensor(
            [
                [1.0, 2, 0, -2, -1],
                [2, 4, 0, -4, -2],
                [3, 6, 0, -6, -3],
                [2, 4, 0, -4, -2],
                [1, 2, 0, -2, -1],
            ]
        )
        / 48
    )
    k[4] = (
        sobel.T / 3
    )  # responds to horizontal edges (intensity changing from top to bottom)
    k[5] = sobel / 3  # vertical edges
    k[6] = (torch.eye(5) - torch.eye(5).flip(1)) / 24  # diagonal structure
    centre = -torch.ones(5, 5) / 24
    centre[2, 2] = 1.0
    k[7] = centre / 3  # a bright spot on a darker surround
    return k


def photo_conv() -> nn.Sequential:
    """Conv2d(3 -> 8, 5x5, padding 2) with the filters :data:`FILTER_NAMES`, then ReLU.

    The filters are fixed.
    """
    conv = nn.Conv2d(3, len(FILTER_NAMES), kernel_size=5, padding=2, bias=False)
    with torch.no_grad():
        conv.weight.copy_(_kernels())
    conv.weight.requires_grad_(False)
    return nn.Sequential(conv, nn.ReLU())


def feature_maps(image: torch.Tensor) -> torch.Tensor:
    """Feature maps of a (B, 3, H, W) image under :func:`photo_conv`: (B, 8, H, W)."""
    checks.feature_map(image, 3, name="image")
    with torch.no_grad():
        return photo_conv()(image)
