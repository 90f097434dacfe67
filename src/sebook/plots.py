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


def descriptor_panel(feature_map: torch.Tensor, name: str, channel: int) -> Figure:
    """One channel's feature map beside the histogram of its values, with the average and the max marked.

    Used by the channel slider of "Squeeze".
    """
    values = _numpy(feature_map)
    avg, mx = float(values.mean()), float(values.max())
    fig, (ax_map, ax_hist) = plt.subplots(1, 2, figsize=(7.0, 3.0), gridspec_kw={"width_ratios": [1, 1.4]})
    image = ax_map.imshow(values, vmin=0)
    fig.colorbar(image, ax=ax_map, shrink=0.8, label="activation")
    ax_map.set(title=f"channel {channel}: {name}", xlabel="x (pixels)", ylabel="y (pixels)")
    ax_hist.hist(values.ravel(), bins=40, color="0.6")
    ax_hist.set_yscale("log")
    ax_hist.axvline(avg, color="tab:blue", linewidth=2, label=f"average = {avg:.3f}")
    ax_hist.axvline(mx, color="tab:red", linewidth=2, linestyle="--", label=f"max = {mx:.3f}")
    ax_hist.set(title="its squeeze: one number", xlabel="activation", ylabel="pixels (log scale)")
    ax_hist.legend(loc="upper center")
    fig.tight_layout()
    return fig


_SE_COLOUR, _BOX_COLOUR, _ADD_COLOUR = "#f4a261", "#dbe9f6", "white"


def _node(ax: plt.Axes, x: float, y: float, text: str, kind: str = "box", width: float = 0.5) -> None:
    """One node of a block diagram: a box (``"box"``, ``"se"``), a sum (``"add"``) or plain text (``"text"``)."""
    if kind == "add":
        ax.add_patch(matplotlib.patches.Circle((x, y), 0.035, facecolor=_ADD_COLOUR, edgecolor="black", zorder=3))
        ax.text(x, y, "+", ha="center", va="center", fontsize=11, zorder=4)
        return
    if kind == "text":
        ax.text(x, y, text, ha="center", va="center", fontsize=9, zorder=4)
        return
    colour = _SE_COLOUR if kind == "se" else _BOX_COLOUR
    ax.add_patch(matplotlib.patches.FancyBboxPatch((x - width / 2, y - 0.045), width, 0.09,
                                                   boxstyle="round,pad=0.01", facecolor=colour,
                                                   edgecolor="black", linewidth=0.8, zorder=3))
    ax.text(x, y, text, ha="center", va="center", fontsize=8, zorder=4)


def _edge(ax: plt.Axes, points: Sequence[tuple[float, float]]) -> None:
    """A polyline from the first point to the last, with an arrow head at the end."""
    xs, ys = zip(*points)
    ax.plot(xs[:-1], ys[:-1], color="black", linewidth=0.9, zorder=1)
    ax.annotate("", xy=points[-1], xytext=points[-2], zorder=2,
                arrowprops={"arrowstyle": "-|>", "color": "black", "linewidth": 0.9, "shrinkA": 0, "shrinkB": 6})


def integration_diagrams() -> Figure:
    """The four places for SE in a residual unit (SENet paper, Fig. 5): standard, pre, post and identity.

    Boxes are layers, orange is SE, the circle is the residual addition; the shortcut runs on the left.
    Used in "SE-ResNet".
    """
    fig, axes = plt.subplots(1, 4, figsize=(9.6, 3.9))
    L, R = 0.2, 0.62  # x of the shortcut and of the residual branch
    for ax, variant in zip(axes, ("standard", "pre", "post", "identity")):
        ax.set(xlim=(0, 1), ylim=(-0.06, 1), title=f"SE-{variant}" if variant != "standard" else "standard SE")
        ax.axis("off")
        _node(ax, 0.45, 0.96, "input x", "text")
        branch_top = 0.80 if variant == "pre" else 0.66
        if variant == "pre":
            _node(ax, R, 0.80, "SE", "se", 0.3)
        _node(ax, R, 0.62 if variant == "pre" else 0.66, "residual\n1x1, 3x3, 1x1", width=0.42)
        if variant == "standard":
            _node(ax, R, 0.47, "SE", "se", 0.3)
        if variant == "identity":
            _node(ax, L, 0.55, "SE", "se", 0.3)
        _node(ax, 0.45, 0.34, "", "add")
        _node(ax, 0.45, 0.22, "ReLU", width=0.3)
        if variant == "post":
            _node(ax, 0.45, 0.08, "SE", "se", 0.3)
        # edges: input -> branch, input -> shortcut
        _edge(ax, [(0.45, 0.92), (0.45, 0.88), (R, 0.88), (R, branch_top + 0.05)])
        if variant == "pre":
            _edge(ax, [(R, 0.755), (R, 0.67)])
        branch_bottom = 0.575 if variant == "pre" else 0.615
        if variant == "standard":
            _edge(ax, [(R, branch_bottom), (R, 0.52)])
            branch_bottom = 0.425
        _edge(ax, [(R, branch_bottom), (R, 0.34), (0.49, 0.34)])
        if variant == "identity":
            _edge(ax, [(0.45, 0.88), (L, 0.88), (L, 0.6)])
            _edge(ax, [(L, 0.505), (L, 0.34), (0.41, 0.34)])
        else:
            _edge(ax, [(0.45, 0.88), (L, 0.88), (L, 0.34), (0.41, 0.34)])
        ax.text(L - 0.03, 0.74, "shortcut", rotation=90, ha="right", va="center", fontsize=8)
        _edge(ax, [(0.45, 0.305), (0.45, 0.27)])
        if variant == "post":
            _edge(ax, [(0.45, 0.175), (0.45, 0.128)])
        _edge(ax, [(0.45, 0.035 if variant == "post" else 0.175), (0.45, -0.05 if variant == "post" else 0.06)])
    fig.suptitle("Four places for SE in a residual unit (SE in orange)")
    fig.tight_layout()
    return fig


def block_flow_diagrams(panels: dict[str, Sequence[str]], title: str, residual: bool = True,
                        highlight: str = "SE") -> Figure:
    """Side-by-side flow diagrams of blocks, each a top-to-bottom list of layer labels (one panel per block).

    Labels that start with ``highlight`` are drawn in orange; with ``residual`` the input is added back after
    the last layer. Used in "MBConv" to set two SE placements side by side.
    """
    if not panels:
        raise ValueError("panels must name at least one block")
    n_rows = max(len(v) for v in panels.values())
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 0.75 * n_rows + 1.6), squeeze=False)
    for ax, (name, labels) in zip(axes[0], panels.items()):
        ax.set(xlim=(0, 1), ylim=(0, 1), title=name)
        ax.axis("off")
        step = 0.8 / (n_rows + 1)
        ys = [0.88 - step * (i + 1) for i in range(len(labels))]
        _node(ax, 0.5, 0.95, "input", "text")
        previous = 0.92
        for y, label in zip(ys, labels):
            _node(ax, 0.5, y, label, "se" if label.startswith(highlight) else "box", 0.72)
            _edge(ax, [(0.5, previous), (0.5, y + 0.05)])
            previous = y - 0.045
        if residual:
            y_add = ys[-1] - step * 0.8
            _node(ax, 0.5, y_add, "", "add")
            _edge(ax, [(0.5, previous), (0.5, y_add + 0.035)])
            _edge(ax, [(0.5, 0.92), (0.05, 0.92), (0.05, y_add), (0.465, y_add)])
            ax.text(0.035, (0.92 + y_add) / 2, "identity", rotation=90, ha="right", va="center", fontsize=8)
            previous = y_add - 0.035
        _edge(ax, [(0.5, previous), (0.5, max(previous - 0.07, 0.0))])
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def grouped_bars(values: dict[str, dict[str, float]], title: str, xlabel: str, ylabel: str,
                 errors: dict[str, dict[str, tuple[float, float]]] | None = None,
                 reference: dict[str, float] | None = None, log: bool = False) -> Figure:
    """Bars for categories (x axis) and series (colours): ``values[series][category]``.

    ``errors`` gives (low, high) whiskers per bar (e.g. quartiles); ``reference`` draws labelled horizontal
    lines (e.g. ``{"ResNet-50": 1.0}``). Used in "SE-ResNet" and "Costs".
    """
    series = list(values)
    if not series:
        raise ValueError("values must hold at least one series")
    categories = list(values[series[0]])
    x = np.arange(len(categories))
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(max(4.8, 1.1 * len(categories) * max(1, len(series) / 2)), 3.2))
    for i, name in enumerate(series):
        heights = np.array([values[name][c] for c in categories], dtype=float)
        offset = (i - (len(series) - 1) / 2) * width
        yerr = None
        if errors is not None and name in errors:
            lows = np.array([errors[name][c][0] for c in categories])
            highs = np.array([errors[name][c][1] for c in categories])
            yerr = np.vstack([heights - lows, highs - heights]).clip(min=0)
        ax.bar(x + offset, heights, width, label=name, yerr=yerr, capsize=3 if yerr is not None else 0)
    for i, (label, level) in enumerate((reference or {}).items()):
        ax.axhline(level, color="0.3", linewidth=1, linestyle=("--", ":", "-.")[i % 3], label=label)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel, xticks=x)
    ax.set_xticklabels(categories)
    if log:
        ax.set_yscale("log")
    if len(series) > 1 or reference:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def function_curves(x: torch.Tensor | np.ndarray, curves: dict[str, torch.Tensor | np.ndarray], title: str,
                    xlabel: str, ylabel: str) -> Figure:
    """Several functions of one variable on shared axes (e.g. the sigmoid gate and its hard approximation)."""
    xs = _numpy(x)
    fig, ax = plt.subplots(figsize=(5.0, 3.0))
    for i, (name, y) in enumerate(curves.items()):
        ax.plot(xs, _numpy(y), label=name, linestyle=("-", "--", ":", "-.")[i % 4], linewidth=1.8)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig
