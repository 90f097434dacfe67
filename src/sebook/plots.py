"""Matplotlib figures for the book, one function per kind of figure.

Every function returns a ``matplotlib.figure.Figure`` with a title and labelled axes; the chapters add alt
text or a caption. Figures have a white background so they stay readable in the site's dark mode.
"""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

BOOK_STYLE = {
    "figure.dpi": 80,
    "savefig.dpi": 80,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "axes.facecolor": "white",
    "axes.grid": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "figure.titlesize": 12,
    "font.family": "DejaVu Sans",
    "image.cmap": "viridis",
    "svg.hashsalt": "sebook",
}
"""rcParams of the book: small, sharp figures on white that read the same in light and dark mode."""


def use_book_style() -> None:
    """Apply :data:`BOOK_STYLE` (called by :func:`sebook.runtime.setup`)."""
    matplotlib.rcParams.update(BOOK_STYLE)


def _numpy(t: torch.Tensor | np.ndarray) -> np.ndarray:
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def show_image(image: torch.Tensor, title: str = "Input photo") -> Figure:
    """A (3, H, W) or (1, 3, H, W) image tensor in [0, 1], with pixel axes."""
    image = image[0] if image.dim() == 4 else image
    fig, ax = plt.subplots(figsize=(3.2, 3.4))
    ax.imshow(_numpy(image.permute(1, 2, 0)).clip(0, 1))
    ax.set(title=title, xlabel="x (pixels)", ylabel="y (pixels)")
    return fig


def feature_map_grid(maps: torch.Tensor, labels: Sequence[str], title: str, ncols: int = 4,
                     shared_scale: bool = True) -> Figure:
    """Channels of one (C, H, W) feature map as small images, each with its label underneath.

    ``shared_scale`` draws every panel with one colour scale (so scaling a channel is visible).
    """
    maps = _numpy(maps)
    n = len(maps)
    if len(labels) != n:
        raise ValueError(f"labels must have one entry per channel: expected {n}, got {len(labels)}")
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.0 * ncols, 2.15 * nrows + 0.5), squeeze=False)
    vmin, vmax = (float(maps.min()), float(maps.max())) if shared_scale else (None, None)
    image = None
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= n:
            ax.axis("off")
            continue
        image = ax.imshow(maps[i], vmin=vmin, vmax=vmax)
        ax.set_xlabel(labels[i], fontsize=9)
    fig.suptitle(title)
    if shared_scale and image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label="activation")
    return fig


def channel_bars(values: dict[str, torch.Tensor | np.ndarray], title: str, ylabel: str,
                 xlabel: str = "channel") -> Figure:
    """Grouped bars: one group per channel, one bar per named series of (C,) values."""
    names = list(values)
    arrays = [_numpy(values[k]).ravel() for k in names]
    channels = np.arange(len(arrays[0]))
    width = 0.8 / len(arrays)
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    for i, (name, array) in enumerate(zip(names, arrays)):
        ax.bar(channels + (i - (len(arrays) - 1) / 2) * width, array, width, label=name)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel, xticks=channels)
    if len(names) > 1:
        ax.legend()
    return fig
