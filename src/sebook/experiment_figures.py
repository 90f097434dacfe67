"""Figures of the training experiments: learning curves, differences, gates by group.

The differences come with their confidence intervals.

Every function returns a ``matplotlib.figure.Figure`` at most 8.5 inches (680 pixels at
the book's 80 dpi) wide, so it is shown at its natural size in the site's column; the
chapters add alt text. Used in "Learned channel weights".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from .style import as_array

COLOURS = ("tab:gray", "tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")
"""One colour per variant, in the order the variants are given."""


def learning_curves(
    panels: Mapping[str, Mapping[str, Sequence[Sequence[float]]]],
    ylabel: str = "test accuracy (%)",
    title: str = "Test accuracy after each epoch",
) -> Figure:
    """One panel per data set: a thin line per seed and a thick line for the mean.

    One colour per variant; the mean is over seeds.

    ``panels[panel title][variant] = [[value per epoch] per seed]``.
    """
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.2 * len(panels), 3.9), squeeze=False
    )
    for ax, (panel, variants) in zip(axes[0], panels.items()):
        for colour, (name, curves) in zip(COLOURS, variants.items()):
            values = np.asarray(curves, dtype=float)
            epochs = np.arange(1, values.shape[1] + 1)
            ax.plot(epochs, values.T, color=colour, alpha=0.35, linewidth=0.8)
            ax.plot(epochs, values.mean(0), color=colour, linewidth=2, label=name)
        ax.set(title=panel, xlabel="epoch", ylabel=ylabel, xticks=epochs)
        ax.grid(True, alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=len(labels),
        frameon=False,
        title="thin lines: single seeds; thick lines: their mean",
        title_fontsize=9,
    )
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    return fig


def forest_plot(
    intervals: Mapping[str, Mapping[str, float]],
    title: str,
    xlabel: str = "difference of mean test accuracy (points)",
) -> Figure:
    """One row per comparison: the difference as a dot, its confidence interval a bar.

    A line marks zero.

    ``intervals[label]`` holds ``difference``, ``low`` and ``high`` (e.g. from
    :func:`sebook.seed_stats.welch_interval`).
    """
    labels = list(intervals)
    y = np.arange(len(labels))[::-1]
    fig, ax = plt.subplots(figsize=(6.8, 0.55 * len(labels) + 1.3))
    for row, label in zip(y, labels):
        d = intervals[label]
        ax.plot(
            [d["low"], d["high"]],
            [row, row],
            color="tab:blue",
            linewidth=3,
            solid_capstyle="butt",
        )
        ax.plot(d["difference"], row, "o", color="black")
    ax.axvline(0, color="0.3", linestyle="--", linewidth=1)
    ax.set(title=title, xlabel=xlabel, yticks=y, ylim=(y.min() - 0.7, y.max() + 0.7))
    ax.set_yticklabels(labels)
    ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def gate_heatmaps(
    panels: Mapping[str, torch.Tensor | np.ndarray],
    row_labels: Sequence[str],
    title: str,
    xlabel: str = "channel of the first SE block",
) -> Figure:
    """Panels of (K, C) mean gates, one row per group of images, on one scale [0, 1].

    A group is, for example, the images of one lit channel.
    """
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(6.8, 1.0 + 1.0 * len(panels) * len(row_labels) / 3),
        squeeze=False,
    )
    image = None
    for ax, (panel, values) in zip(axes[:, 0], panels.items()):
        image = ax.imshow(
            as_array(values), vmin=0, vmax=1, cmap="viridis", aspect="auto"
        )
        ax.set_title(panel, fontsize=10)
        ax.set_yticks(range(len(row_labels)))
        ax.set_yticklabels(row_labels)
        ax.set_xticks(range(as_array(values).shape[1]))
    axes[-1, 0].set_xlabel(xlabel)
    fig.suptitle(title)
    fig.tight_layout()
    fig.colorbar(
        image, ax=axes[:, 0].tolist(), label="mean gate", fraction=0.04, pad=0.02
    )
    return fig


def group_histograms(
    panels: Mapping[str, Mapping[str, torch.Tensor | np.ndarray]],
    colours: Sequence[str],
    title: str,
    xlabel: str = "gate value",
    bins: int = 40,
) -> Figure:
    """Side-by-side panels of overlaid histograms on [0, 1].

    ``panels[panel title][group] = values``.

    Each group (e.g. the images of one lit colour) gets its colour from ``colours``, in
    order; the y axis counts images.
    """
    fig, axes = plt.subplots(
        1, len(panels), figsize=(2.8 * len(panels), 3.2), squeeze=False, sharey=True
    )
    edges = np.linspace(0, 1, bins + 1)
    for ax, (panel, groups) in zip(axes[0], panels.items()):
        for colour, (name, values) in zip(colours, groups.items()):
            ax.hist(
                as_array(values).ravel(),
                bins=edges,
                alpha=0.55,
                color=colour,
                label=name,
            )
        ax.set(title=panel, xlabel=xlabel, xlim=(0, 1))
    axes[0, 0].set_ylabel("images")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def budget_curve(
    curve: Mapping[int, Mapping[str, object]],
    names: tuple[str, str] = ("plain", "SE (r = 16)"),
    title: str = "Test accuracy against the training budget",
) -> Figure:
    """Two panels from :func:`sebook.experiments.budget_curve`'s result.

    Left, each seed's final test accuracy (dots) and the mean (line) of both nets at
    each budget; right, the difference of the means with its 95 % interval.
    """
    budgets = sorted(curve)
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.4, 3.9))
    for colour, key, name in zip(COLOURS, ("baseline", "config"), names):
        finals = [curve[b][key]["final"] for b in budgets]
        for b, values in zip(budgets, finals):
            left.plot([b] * len(values), values, "o", color=colour, alpha=0.45, ms=4)
        left.plot(budgets, [np.mean(v) for v in finals], color=colour, lw=2, label=name)
    left.set(
        xlabel="epochs (each a full run of its own schedule)",
        ylabel="test accuracy (%)",
    )
    left.set_xticks(budgets)
    left.legend(frameon=False)
    d = [curve[b]["difference"] for b in budgets]
    mid = np.array([x["difference"] for x in d])
    right.errorbar(
        budgets,
        mid,
        yerr=[mid - [x["low"] for x in d], [x["high"] for x in d] - mid],
        fmt="o-",
        color="black",
        capsize=4,
    )
    right.axhline(0, color="0.5", lw=0.8)
    right.set(
        xlabel="epochs",
        ylabel=f"{names[1]} minus {names[0]} (points)",
        title="difference of the means, 95 % interval",
    )
    right.set_xticks(budgets)
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def dose_response(
    doses: Mapping[float, Mapping[int, Mapping[str, float]]],
    title: str = "SE minus plain against the cast's strength and the bottleneck",
) -> Figure:
    """SE's gain with its 95 % interval, from :func:`sebook.evidence.dose_response`.

    Left, against the first block's bottleneck width, one line per cast strength; right,
    against the cast's strength, one line per width.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.4, 3.9))
    widths = sorted({w for row in doses.values() for w in row})
    for ax, outer, inner, label in (
        (left, sorted(doses, reverse=True), widths, "strength"),
        (right, widths, sorted(doses, reverse=True), "units"),
    ):
        for k, (colour, key) in enumerate(zip(COLOURS, outer)):
            points = [
                (x, doses[key][x] if label == "strength" else doses[x][key])
                for x in inner
                if (x in doses[key] if label == "strength" else key in doses[x])
            ]
            if not points:
                continue
            xs = np.array([p[0] for p in points], dtype=float)
            # side by side, not on top of each other: a log axis shifts by a factor
            xs = xs * 1.06 ** (k - 1) if label == "strength" else xs + 0.03 * (k - 1)
            mid = np.array([p[1]["difference"] for p in points])
            low = np.array([p[1]["low"] for p in points])
            high = np.array([p[1]["high"] for p in points])
            name = f"strength {key:g}" if label == "strength" else f"{key} unit(s)"
            ax.errorbar(xs, mid, yerr=[mid - low, high - mid], fmt="o-", color=colour,
                        capsize=4, label=name)  # fmt: skip
        ax.axhline(0, color="0.5", lw=0.8)
        ax.grid(True, alpha=0.3)
        ax.legend(frameon=False, fontsize=8)
    left.set(xscale="log", xlabel="first SE block's bottleneck (units)",
             ylabel="SE minus plain (points)")  # fmt: skip
    left.set_xticks(widths, [str(w) for w in widths])
    left.minorticks_off()
    right.set(
        xlabel="strength of the cast (1: the testbed's)",
        ylabel="SE minus plain (points)",
    )
    fig.suptitle(title)
    fig.tight_layout()
    return fig
