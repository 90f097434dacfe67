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
"""The book's rcParams, small, sharp figures on white that read the same in light and dark mode."""


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


def seed_dots(results: dict[str, Sequence[float]], title: str, xlabel: str = "test accuracy (%)",
              baseline: str | None = None, paper: dict[str, float] | None = None,
              paper_xlabel: str = "ImageNet top-1 error (%)",
              paper_title: str = "SENet paper (lower is better)") -> Figure:
    """One row per variant: a dot per seed, the mean as a bar with whiskers of ± one standard deviation.

    ``baseline`` names the variant whose mean is drawn as a dashed line across all rows. With ``paper``
    (``{variant: value}``), a second panel shows the published number of each variant that has one (rows without
    one say so). Used in "Ablations" and "Successors".
    """
    names = list(results)
    if not names:
        raise ValueError("results must hold at least one variant")
    if baseline is not None and baseline not in results:
        raise ValueError(f"baseline must be one of {', '.join(map(repr, names))}; got {baseline!r}")
    y = np.arange(len(names))[::-1]
    height = 0.45 * len(names) + 1.1
    if paper:
        fig, (ax, ax_paper) = plt.subplots(1, 2, figsize=(7.6, height), sharey=True,
                                           gridspec_kw={"width_ratios": [1.6, 1]})
    else:
        fig, ax = plt.subplots(figsize=(5.6, height))
    for row, name in zip(y, names):
        values = np.asarray(results[name], dtype=float)
        mean = values.mean()
        std = values.std(ddof=1) if len(values) > 1 else 0.0
        ax.errorbar(mean, row, xerr=std, fmt="|", color="black", markersize=14, capsize=4, linewidth=1.2,
                    label="mean ± std" if row == y[0] else None)
        ax.plot(values, np.full_like(values, row), "o", color="tab:blue", alpha=0.7, markersize=5,
                label="one seed" if row == y[0] else None)
    if baseline is not None:
        ax.axvline(float(np.mean(results[baseline])), color="0.4", linestyle="--", linewidth=1,
                   label=f"{baseline} mean")
    ax.set(title=title, xlabel=xlabel, yticks=y)
    ax.set_yticklabels(names)
    ax.set_ylim(y.min() - 0.6, y.max() + 0.6)
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    if paper:
        for row, name in zip(y, names):
            if name in paper:
                ax_paper.barh(row, paper[name], color="tab:orange", height=0.5)
                ax_paper.text(paper[name], row, f" {paper[name]:.2f}", va="center", fontsize=8)
            else:
                ax_paper.text(0.02, row, "not in the paper", va="center", fontsize=8, color="0.4",
                              transform=ax_paper.get_yaxis_transform())
        known = [v for v in paper.values()]
        low, high = min(known), max(known)
        pad = max(0.5, 0.3 * (high - low))
        ax_paper.set_xlim(low - pad, high + pad)
        ax_paper.set(title=paper_title, xlabel=paper_xlabel)
        ax_paper.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def class_gate_bars(class_gates: dict[str, torch.Tensor | np.ndarray], mean_gates: dict[str, torch.Tensor | np.ndarray],
                    title: str, ylabel: str = "mean gate", sort: bool = True) -> Figure:
    """One panel per model: the mean gate of each channel for one class (bars) and over all classes (line).

    With ``sort``, each model's channels are ordered by their mean over all classes, so the line rises smoothly and
    every bar that leaves it marks a channel the block treats differently for this class. Used by the per-class
    slider of "Successors".
    """
    names = list(class_gates)
    if not names or set(names) != set(mean_gates):
        raise ValueError("class_gates and mean_gates must name the same, non-empty set of models")
    fig, axes = plt.subplots(len(names), 1, figsize=(6.4, 1.6 * len(names) + 0.8), squeeze=False)
    for i, (ax, name) in enumerate(zip(axes[:, 0], names)):
        values, mean = _numpy(class_gates[name]).ravel(), _numpy(mean_gates[name]).ravel()
        if len(values) != len(mean):
            raise ValueError(f"class_gates[{name!r}] has {len(values)} channels but mean_gates[{name!r}] {len(mean)}")
        order = np.argsort(mean, kind="stable") if sort else np.arange(len(mean))
        channels = np.arange(len(values))
        ax.bar(channels, values[order], width=0.8, color="tab:blue", alpha=0.8, label="this class")
        ax.step(channels, mean[order], where="mid", color="black", linewidth=1.2, label="all classes")
        ax.set(ylabel=ylabel, xlim=(-0.6, len(values) - 0.4), ylim=(0, 1))
        ax.set_title(name, fontsize=10, loc="left")
        if i == 0:
            ax.legend(fontsize=8, loc="upper left")
    axes[-1, 0].set_xlabel("channel of the block" + (", sorted by its mean gate over all classes" if sort else ""))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def gate_profiles(class_means: dict[str, torch.Tensor | np.ndarray], class_names: Sequence[str], title: str,
                  highlight: int | None = None) -> Figure:
    """One panel per SE depth: the mean gate of each channel for each class, channels sorted by their mean.

    ``class_means`` maps a depth's label to its (classes, C) class-mean gates. In each panel the channels are
    ordered by their mean over the classes (lowest left), so that a class that departs from the others shows as a
    line off the common curve. With ``highlight`` (a class index) that class is drawn in colour and the others in
    grey; otherwise every class has its own colour. The layout of the SENet paper's Fig. 6 (Hu et al., TPAMI).
    Used in "Learned channel weights" and "The reduction ratio, measured".
    """
    depths = list(class_means)
    if not depths:
        raise ValueError("class_means must hold at least one depth")
    fig, axes = plt.subplots(1, len(depths), figsize=(3.1 * len(depths) + 0.6, 3.0), squeeze=False)
    colours = plt.get_cmap("tab10")
    for ax, depth in zip(axes[0], depths):
        means = _numpy(class_means[depth])
        if means.ndim != 2 or means.shape[0] != len(class_names):
            raise ValueError(f"class_means[{depth!r}] must be (classes, C) with {len(class_names)} classes, "
                             f"got shape {means.shape}")
        order = np.argsort(means.mean(0), kind="stable")
        x = np.arange(means.shape[1])
        for k in range(means.shape[0]):
            if highlight is None:
                ax.plot(x, means[k, order], color=colours(k % 10), linewidth=1.1, label=class_names[k])
            elif k != highlight:
                ax.plot(x, means[k, order], color="0.75", linewidth=0.8)
        if highlight is not None:
            ax.plot(x, means[highlight, order], color="tab:red", linewidth=2.0, label=class_names[highlight])
        ax.plot(x, means.mean(0)[order], color="black", linestyle="--", linewidth=1.2, label="mean of classes")
        ax.set(title=depth, xlabel="channel (sorted by mean gate)", ylim=(0, 1), xlim=(0, max(1, len(x) - 1)))
        ax.grid(True, alpha=0.3)
    axes[0, 0].set_ylabel("mean gate over the class's images")
    if highlight is None:
        axes[0, -1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    else:
        axes[0, 0].legend(fontsize=8, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_gate_rows(images: torch.Tensor | np.ndarray, captions: Sequence[str],
                    gates: dict[str, torch.Tensor | np.ndarray], reference: dict[str, torch.Tensor | np.ndarray],
                    title: str) -> Figure:
    """One row per image: the (1, 28, 28) image, then its gates at each depth as bars over a reference line.

    ``gates`` maps a depth's label to (n, C) gates of the n images; ``reference`` maps it to (C,) values drawn as a
    line (e.g. the mean over all test images). Within a depth the channels are sorted by the reference, as in
    :func:`gate_profiles`. Used in "Learned channel weights".
    """
    images = _numpy(images)
    depths = list(gates)
    n = len(images)
    if len(captions) != n or any(len(_numpy(gates[d])) != n for d in depths) or set(reference) != set(depths):
        raise ValueError("captions and every gates[depth] need one entry per image, and reference the same depths")
    fig, axes = plt.subplots(n, 1 + len(depths), figsize=(1.6 + 2.6 * len(depths), 1.55 * n + 0.6), squeeze=False,
                             gridspec_kw={"width_ratios": [0.6] + [1.0] * len(depths)})
    for row in range(n):
        ax = axes[row, 0]
        ax.imshow(images[row].reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(captions[row], fontsize=8, rotation=0, ha="right", va="center")
        for col, depth in enumerate(depths, start=1):
            ref = _numpy(reference[depth]).ravel()
            order = np.argsort(ref, kind="stable")
            values = _numpy(gates[depth])[row][order]
            ax = axes[row, col]
            ax.bar(np.arange(len(values)), values, width=1.0, color="tab:blue", alpha=0.8)
            ax.step(np.arange(len(values)), ref[order], where="mid", color="black", linewidth=1.0)
            ax.set(ylim=(0, 1), xlim=(-0.5, len(values) - 0.5))
            ax.tick_params(labelsize=7)
            if row == 0:
                ax.set_title(depth, fontsize=9)
            if row == n - 1:
                ax.set_xlabel("channel (sorted by mean gate)", fontsize=8)
            if col == 1:
                ax.set_ylabel("gate", fontsize=8)
    axes[-1, 0].set_xlabel("image (28 x 28 px)", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def accuracy_vs_parameters(points: dict[str, tuple[int, Sequence[float]]], title: str,
                           ylabel: str = "test accuracy (%)") -> Figure:
    """Accuracy against parameter count: a dot per seed and the mean with ± one standard deviation, per variant.

    ``points`` maps a variant's label to ``(parameters, accuracies over seeds)``. Used in "The reduction ratio,
    measured".
    """
    if not points:
        raise ValueError("points must hold at least one variant")
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    for i, (label, (params, values)) in enumerate(points.items()):
        values = np.asarray(values, dtype=float)
        colour = plt.get_cmap("tab10")(i % 10)
        ax.plot(np.full(len(values), params), values, "o", color=colour, alpha=0.5, markersize=4)
        std = values.std(ddof=1) if len(values) > 1 else 0.0
        ax.errorbar(params, values.mean(), yerr=std, fmt="s", color=colour, capsize=4, markersize=6, label=label)
    ax.set(title=title, xlabel="parameters", ylabel=ylabel)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


# Figures of "Overview", "Excitation" and "Recalibration".
_STEP_COLOURS = {"squeeze": "#a8dadc", "excitation": "#f4a261", "recalibration": "#b7e4c7"}
_SYMBOLIC_SHAPES = {"input": "B × C × H × W", "squeeze": "B × C", "fc1": "B × C/r", "act": "B × C/r", "fc2": "B × C",
                    "gate": "B × C", "output": "B × C × H × W"}


def _step_box(ax: plt.Axes, x: float, y: float, text: str, step: str, width: float = 0.42) -> None:
    ax.add_patch(matplotlib.patches.FancyBboxPatch((x - width / 2, y - 0.035), width, 0.07,
                                                   boxstyle="round,pad=0.008", facecolor=_STEP_COLOURS[step],
                                                   edgecolor="black", linewidth=0.8, zorder=3))
    ax.text(x, y, text, ha="center", va="center", fontsize=9, zorder=4)


def se_block_diagram(shapes: dict[str, tuple[int, ...]] | None = None, title: str = "The SE block, step by step") -> Figure:
    """The SE pipeline as boxes and arrows, with the tensor shape on every arrow.

    Squeeze (blue), excitation (orange: FC, ReLU, FC, sigmoid) and recalibration (green, the product with the
    input carried around on the left). Each arrow is labelled with its symbolic shape and, if ``shapes`` (from
    :func:`sebook.analysis.se_shapes`) is given, with the shape measured in a real forward pass. Used in "Overview".
    """
    if shapes is not None:
        missing = [k for k in _SYMBOLIC_SHAPES if k not in shapes]
        if missing:
            raise ValueError(f"shapes lacks the steps {missing}; pass the dict returned by analysis.se_shapes")

    def label(step: str) -> str:
        text = _SYMBOLIC_SHAPES[step]
        return text if shapes is None else f"{text}   {tuple(shapes[step])}"

    fig, ax = plt.subplots(figsize=(7.0, 6.6))
    ax.set(xlim=(0, 1), ylim=(0, 1), title=title)
    ax.axis("off")
    x, skip_x = 0.45, 0.08
    steps = [(0.84, "squeeze: global average pool", "squeeze"), (0.70, "FC 1:  C → C/r", "excitation"),
             (0.58, "ReLU", "excitation"), (0.46, "FC 2:  C/r → C", "excitation"),
             (0.34, "sigmoid", "excitation")]
    ax.text(x, 0.97, "input feature map  U", ha="center", va="center", fontsize=10, zorder=4)
    for y, text, step in steps:
        _step_box(ax, x, y, text, step)
    y_scale = 0.19
    ax.add_patch(matplotlib.patches.Circle((x, y_scale), 0.035, facecolor=_STEP_COLOURS["recalibration"],
                                           edgecolor="black", zorder=3))
    ax.text(x, y_scale, "×", ha="center", va="center", fontsize=13, zorder=4)
    ax.text(x, 0.03, "output  X̃ = s · U  (per channel)", ha="center", va="center", fontsize=10, zorder=4)
    arrows = [(0.95, 0.875, "input"), (0.805, 0.735, "squeeze"), (0.665, 0.615, "fc1"), (0.545, 0.495, "act"),
              (0.425, 0.375, "fc2"), (0.305, y_scale + 0.035, "gate"), (y_scale - 0.035, 0.055, "output")]
    for top, bottom, step in arrows:
        _edge(ax, [(x, top), (x, bottom)])
        name = {"gate": "gates s:  ", "squeeze": "z:  "}.get(step, "")
        ax.text(x + 0.03, (top + bottom) / 2, name + label(step), ha="left", va="center", fontsize=8,
                color="0.15")
    _edge(ax, [(x - 0.01, 0.95), (skip_x, 0.95), (skip_x, y_scale), (x - 0.035, y_scale)])
    ax.text(skip_x - 0.015, 0.55, "U itself:  " + label("input"), rotation=90, ha="right", va="center", fontsize=8,
            color="0.15")
    for (y0, y1), name in [((0.81, 0.87), "squeeze"), ((0.31, 0.73), "excitation"),
                           ((y_scale - 0.035, y_scale + 0.035), "recalibration")]:
        ax.plot([0.985, 0.985], [y0, y1], color=_STEP_COLOURS[name], linewidth=6, solid_capstyle="butt")
        ax.text(0.965, (y0 + y1) / 2, name, ha="right", va="center", fontsize=9, fontweight="bold")
    fig.tight_layout()
    return fig


def image_grid(rows: dict[str, torch.Tensor], title: str, column_titles: Sequence[str] | None = None,
               captions: dict[str, Sequence[str]] | None = None, normalise: bool = False) -> Figure:
    """Rows of RGB images: ``rows[name]`` is an (N, 3, H, W) batch in [0, 1] drawn as one row labelled ``name``.

    ``captions[name][i]`` is written under image ``i`` of that row. With ``normalise`` each image is divided by
    its largest value, so that images that differ only in overall brightness look alike (say so in the caption).
    Used in "Overview" to set tinted photos beside their corrected versions.
    """
    names = list(rows)
    if not names:
        raise ValueError("rows must hold at least one row of images")
    n = rows[names[0]].shape[0]
    for name in names:
        if rows[name].dim() != 4 or rows[name].shape[0] != n or rows[name].shape[1] != 3:
            raise ValueError(f"rows[{name!r}] must be an (N, 3, H, W) batch with N = {n}, got {tuple(rows[name].shape)}")
    fig, axes = plt.subplots(len(names), n, figsize=(1.75 * n + 0.8, 1.9 * len(names) + 0.5), squeeze=False)
    for r, name in enumerate(names):
        for i in range(n):
            ax = axes[r, i]
            image = rows[name][i].detach().float()
            if normalise:
                image = image / image.max().clamp(min=1e-12)
            ax.imshow(_numpy(image.permute(1, 2, 0)).clip(0, 1))
            ax.set_xticks([])
            ax.set_yticks([])
            if captions is not None and name in captions:
                ax.set_xlabel(captions[name][i], fontsize=8)
            if i == 0:
                ax.set_ylabel(name, fontsize=10)
            if r == 0 and column_titles is not None:
                ax.set_title(column_titles[i], fontsize=10)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def recalibration_grid(after: torch.Tensor, gates: torch.Tensor, labels: Sequence[str], title: str,
                       before: torch.Tensor | None = None, vmax: float | None = None, summed: bool = False,
                       sum_vmax: float | None = None) -> Figure:
    """Channels of a (C, H, W) map after recalibration, each panel titled with its gate, on one colour scale.

    With ``before``, a first row shows the map before recalibration on the same scale, so a gate of 0.3 shows as
    a panel 0.3 times as bright. ``vmax`` fixes the top of the scale (e.g. across the frames of a slider). With
    ``summed``, a last column shows the sum over channels, what a 1x1 convolution with equal weights would see,
    in grey on a scale that tops at ``sum_vmax`` (default: the largest sum of the first row). Used in
    "Recalibration".
    """
    import textwrap

    after_np = _numpy(after)
    gates_np = _numpy(gates).ravel()
    c = len(after_np)
    if len(gates_np) != c or len(labels) != c:
        raise ValueError(f"gates and labels need one entry per channel ({c}), got {len(gates_np)} and {len(labels)}")
    rows = [("before", _numpy(before))] if before is not None else []
    rows.append(("after", after_np))
    top = vmax if vmax is not None else max(float(m.max()) for _, m in rows)
    sum_top = sum_vmax if sum_vmax is not None else float(rows[0][1].sum(0).max())
    ncols = c + (1 if summed else 0)
    fig = plt.figure(figsize=(1.25 * ncols + 1.0, 1.55 * len(rows) + 0.95))
    grid = fig.add_gridspec(len(rows), ncols + 1, width_ratios=[1] * c + ([1.15] if summed else []) + [0.08],
                            wspace=0.08 if not summed else 0.12, hspace=0.35)
    image = None
    for r, (name, maps) in enumerate(rows):
        for i in range(ncols):
            ax = fig.add_subplot(grid[r, i])
            ax.set_xticks([])
            ax.set_yticks([])
            if i == c:  # the sum over channels
                ax.imshow(maps.sum(0), cmap="gray", vmin=0, vmax=sum_top)
                ax.set_title("sum of channels" if r == 0 else "", fontsize=8)
                if r == len(rows) - 1:
                    ax.set_xlabel("(grey scale)", fontsize=7)
                continue
            image = ax.imshow(maps[i], vmin=0, vmax=top)
            if name == "after":
                ax.set_title(f"gate {gates_np[i]:.2f}", fontsize=8.5)
            if r == len(rows) - 1:
                ax.set_xlabel(textwrap.fill(labels[i], 12), fontsize=7.5)
            if i == 0:
                ax.set_ylabel(name, fontsize=10)
    if image is not None:
        fig.colorbar(image, cax=fig.add_subplot(grid[:, -1]), label="activation")
    fig.suptitle(title)
    return fig


def reduction_ratio_panel(costs: dict[float, dict[int, dict[str, int]]], r: float, gates: torch.Tensor) -> Figure:
    """One frame of the reduction-ratio slider: parameters and FLOPs of SE blocks of several widths, and gates.

    ``costs[r][C]`` is :func:`sebook.analysis.se_costs` for every ratio and width (all ratios are needed so that
    every frame shares its axes); ``gates`` are the (C,) gates of one block at ratio ``r`` for a fixed input.
    Used in "Excitation".
    """
    if r not in costs:
        raise ValueError(f"r must be one of the ratios in costs {sorted(costs)}, got {r!r}")
    widths = sorted(costs[r])
    params_all = [costs[q][c]["params"] for q in costs for c in costs[q]]
    flops_all = [costs[q][c]["flops"] for q in costs for c in costs[q]]
    fig, (ax_p, ax_f, ax_g) = plt.subplots(1, 3, figsize=(10.8, 3.2), gridspec_kw={"width_ratios": [1, 1, 1.5]})
    x = np.arange(len(widths))
    for ax, key, values_all, name in ((ax_p, "params", params_all, "parameters"),
                                      (ax_f, "flops", flops_all, "FLOPs of the two FC layers")):
        values = [costs[r][c][key] for c in widths]
        ax.bar(x, values, color="tab:orange" if key == "params" else "tab:blue")
        ax.set_yscale("log")
        ax.set_ylim(min(values_all) / 2, max(values_all) * 8)
        for xi, v in zip(x, values):
            ax.text(xi, v * 1.25, f"{v / 1e6:.2f}M" if v >= 1e5 else f"{v:,}", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(x)
        ax.set_xticklabels([f"{c}\nw={costs[r][c]['width']}" for c in widths], fontsize=7.5)
        ax.set(title=f"{name}, r = {r:g}", xlabel="channels C (bottleneck width w)", ylabel=f"{key} (log scale)")
    g = _numpy(gates).ravel()
    ax_g.bar(np.arange(len(g)), g, width=0.85, color="tab:green")
    ax_g.axhline(0.5, color="0.4", linestyle=":", linewidth=1)
    ax_g.set(ylim=(0, 1), xlim=(-0.7, len(g) - 0.3), xlabel="channel", ylabel="gate (0 to 1)",
             title=f"gates of a fresh {len(g)}-channel block: mean {g.mean():.3f}, std {g.std():.3f}")
    ax_g.title.set_fontsize(9)
    fig.tight_layout()
    return fig


def gate_histogram(gates: dict[str, torch.Tensor], title: str, bins: int = 50) -> Figure:
    """Histograms of gate values on [0, 1], one per named set of gates (overlaid, with their means marked).

    Used in "Excitation" to show how narrow the gates of a freshly initialised block are.
    """
    if not gates:
        raise ValueError("gates must hold at least one named tensor of gate values")
    fig, ax = plt.subplots(figsize=(5.6, 3.0))
    edges = np.linspace(0, 1, bins + 1)
    for i, (name, values) in enumerate(gates.items()):
        v = _numpy(values).ravel()
        colour = f"C{i}"
        ax.hist(v, bins=edges, alpha=0.6, color=colour, label=f"{name} (mean {v.mean():.3f}, std {v.std():.3f})")
        ax.axvline(float(v.mean()), color=colour, linestyle="--", linewidth=1)
    ax.set(title=title, xlabel="gate value", ylabel="count (channels × inputs)", xlim=(0, 1))
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def labelled_images(images: torch.Tensor | np.ndarray, captions: Sequence[str], title: str,
                    ncols: int = 5) -> Figure:
    """Small grey-scale images (N, 1, H, W) or (N, H, W) in [0, 1], each with its caption underneath.

    Dark is ink, as in the dataset's own previews. Used in "Learned channel weights".
    """
    images = _numpy(images)
    if images.ndim == 4:
        images = images[:, 0]
    if len(captions) != len(images):
        raise ValueError(f"captions must have one entry per image: expected {len(images)}, got {len(captions)}")
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.35 * ncols, 1.5 * nrows + 0.4), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= len(images):
            ax.axis("off")
            continue
        ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=1)
        ax.set_xlabel(captions[i], fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
