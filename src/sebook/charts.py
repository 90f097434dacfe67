"""Data charts: bars per channel or variant, curves, results over seeds, costs.

Charts of gates are in :mod:`sebook.gate_charts`.

Every function returns a ``matplotlib.figure.Figure`` with a title and labelled axes
(with units); the chapters add alt text or a caption.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from .style import as_array


def channel_bars(
    values: dict[str, torch.Tensor | np.ndarray],
    title: str,
    ylabel: str,
    xlabel: str = "channel",
) -> Figure:
    """Grouped bars: one group per channel, one bar per named series of (C,) values."""
    names = list(values)
    arrays = [as_array(values[k]).ravel() for k in names]
    channels = np.arange(len(arrays[0]))
    width = 0.8 / len(arrays)
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    for i, (name, array) in enumerate(zip(names, arrays)):
        ax.bar(channels + (i - (len(arrays) - 1) / 2) * width, array, width, label=name)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel, xticks=channels)
    if len(names) > 1:
        ax.legend()
    return fig


def grouped_bars(
    values: dict[str, dict[str, float]],
    title: str,
    xlabel: str,
    ylabel: str,
    errors: dict[str, dict[str, tuple[float, float]]] | None = None,
    reference: dict[str, float] | None = None,
    log: bool = False,
) -> Figure:
    """Bars for categories (x axis) and series (colours): ``values[series][category]``.

    ``errors`` gives (low, high) whiskers per bar (e.g. quartiles); ``reference`` draws
    labelled horizontal lines (e.g. ``{"ResNet-50": 1.0}``). Used in "SE-ResNet" and
    "What SE costs".
    """
    series = list(values)
    if not series:
        raise ValueError("values must hold at least one series")
    categories = list(values[series[0]])
    x = np.arange(len(categories))
    width = 0.8 / len(series)
    fig_width = min(
        9.0, max(4.8, 1.1 * len(categories) * max(1, len(series) / 2))
    )  # at most the column
    legend_height = 0.25 if len(series) > 1 or reference else 0.0
    fig, ax = plt.subplots(
        figsize=(fig_width, 3.2 + legend_height), layout="constrained"
    )
    for i, name in enumerate(series):
        heights = np.array([values[name][c] for c in categories], dtype=float)
        offset = (i - (len(series) - 1) / 2) * width
        yerr = None
        if errors is not None and name in errors:
            lows = np.array([errors[name][c][0] for c in categories])
            highs = np.array([errors[name][c][1] for c in categories])
            yerr = np.vstack([heights - lows, highs - heights]).clip(min=0)
        ax.bar(
            x + offset,
            heights,
            width,
            label=name,
            yerr=yerr,
            capsize=3 if yerr is not None else 0,
        )
    for i, (label, level) in enumerate((reference or {}).items()):
        ax.axhline(
            level,
            color="0.3",
            linewidth=1,
            linestyle=("--", ":", "-.")[i % 3],
            label=label,
        )
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel, xticks=x)
    ax.set_xticklabels(categories)
    if log:
        ax.set_yscale("log")
    if len(series) > 1 or reference:  # below the axes, never over a bar
        handles, names = ax.get_legend_handles_labels()
        fig.legend(
            handles,
            names,
            loc="outside lower center",
            ncol=min(3, len(names)),
            fontsize=8.5,
            frameon=False,
        )
    return fig


def function_curves(
    x: torch.Tensor | np.ndarray,
    curves: dict[str, torch.Tensor | np.ndarray],
    title: str,
    xlabel: str,
    ylabel: str,
) -> Figure:
    """Several functions of one variable on shared axes.

    For example the sigmoid gate and its hard approximation.
    """
    xs = as_array(x)
    fig, ax = plt.subplots(figsize=(5.0, 3.0))
    for i, (name, y) in enumerate(curves.items()):
        ax.plot(
            xs,
            as_array(y),
            label=name,
            linestyle=("-", "--", ":", "-.")[i % 4],
            linewidth=1.8,
        )
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def seed_dots(
    results: dict[str, Sequence[float]],
    title: str,
    xlabel: str = "test accuracy (%)",
    baseline: str | None = None,
    paper: dict[str, float] | None = None,
    paper_xlabel: str = "ImageNet top-1 error (%)",
    paper_title: str = "SENet paper (lower is better)",
) -> Figure:
    """One row per variant: a dot per seed, the mean as a bar with ± one std whiskers.

    ``baseline`` names the variant whose mean is drawn as a dashed line across all rows.
    With ``paper`` (``{variant: value}``), a second panel shows the published number of
    each variant that has one (rows without one say so). Used in "Ablations" and
    "Successors".
    """
    names = list(results)
    if not names:
        raise ValueError("results must hold at least one variant")
    if baseline is not None and baseline not in results:
        raise ValueError(
            f"baseline must be one of {', '.join(map(repr, names))}; got {baseline!r}"
        )
    y = np.arange(len(names))[::-1]
    height = 0.45 * len(names) + 1.1
    if paper:
        fig, (ax, ax_paper) = plt.subplots(
            1,
            2,
            figsize=(7.6, height),
            sharey=True,
            gridspec_kw={"width_ratios": [1.6, 1]},
        )
    else:
        fig, ax = plt.subplots(figsize=(5.6, height))
    for row, name in zip(y, names):
        values = np.asarray(results[name], dtype=float)
        mean = values.mean()
        std = values.std(ddof=1) if len(values) > 1 else 0.0
        ax.errorbar(
            mean,
            row,
            xerr=std,
            fmt="|",
            color="black",
            markersize=14,
            capsize=4,
            linewidth=1.2,
            label="mean ± std" if row == y[0] else None,
        )
        ax.plot(
            values,
            np.full_like(values, row),
            "o",
            color="tab:blue",
            alpha=0.7,
            markersize=5,
            label="one seed" if row == y[0] else None,
        )
    if baseline is not None:
        ax.axvline(
            float(np.mean(results[baseline])),
            color="0.4",
            linestyle="--",
            linewidth=1,
            label=f"{baseline} mean",
        )
    ax.set(title=title, xlabel=xlabel, yticks=y)
    ax.set_yticklabels(names)
    ax.set_ylim(y.min() - 0.6, y.max() + 0.6)
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    if paper:
        for row, name in zip(y, names):
            if name in paper:
                ax_paper.barh(row, paper[name], color="tab:orange", height=0.5)
                ax_paper.text(
                    paper[name], row, f" {paper[name]:.2f}", va="center", fontsize=8
                )
            else:
                ax_paper.text(
                    0.02,
                    row,
                    "not in the paper",
                    va="center",
                    fontsize=8,
                    color="0.4",
                    transform=ax_paper.get_yaxis_transform(),
                )
        known = [v for v in paper.values()]
        low, high = min(known), max(known)
        pad = max(0.5, 0.3 * (high - low))
        ax_paper.set_xlim(low - pad, high + pad)
        ax_paper.set(title=paper_title, xlabel=paper_xlabel)
        ax_paper.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def accuracy_vs_parameters(
    points: dict[str, tuple[int, Sequence[float]]],
    title: str,
    ylabel: str = "test accuracy (%)",
) -> Figure:
    """Accuracy against parameters: per seed a dot, per variant the mean ± one std.

    ``points`` maps a variant's label to ``(parameters, accuracies over seeds)``. Used
    in "The reduction ratio, measured".
    """
    if not points:
        raise ValueError("points must hold at least one variant")
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    for i, (label, (params, values)) in enumerate(points.items()):
        values = np.asarray(values, dtype=float)
        colour = plt.get_cmap("tab10")(i % 10)
        ax.plot(
            np.full(len(values), params),
            values,
            "o",
            color=colour,
            alpha=0.5,
            markersize=4,
        )
        std = values.std(ddof=1) if len(values) > 1 else 0.0
        ax.errorbar(
            params,
            values.mean(),
            yerr=std,
            fmt="s",
            color=colour,
            capsize=4,
            markersize=6,
            label=label,
        )
    ax.set(title=title, xlabel="parameters", ylabel=ylabel)
    ax.xaxis.set_major_formatter(
        matplotlib.ticker.FuncFormatter(lambda v, _pos: f"{v:,.0f}")
    )
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig
