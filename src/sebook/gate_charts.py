"""Charts of gates: per class and depth, histograms, and gates and costs per ratio.

Every function returns a ``matplotlib.figure.Figure`` with a title and labelled axes
(with units); the chapters add alt text or a caption. The class profiles have the
layout of the SENet paper's Fig. 6.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from .style import as_array


def class_gate_bars(
    class_gates: dict[str, torch.Tensor | np.ndarray],
    mean_gates: dict[str, torch.Tensor | np.ndarray],
    title: str,
    ylabel: str = "mean gate",
    sort: bool = True,
) -> Figure:
    """One panel per model: each channel's mean gate for one class and over all classes.

    The class is drawn as bars, all classes as a line.

    With ``sort``, each model's channels are ordered by their mean over all classes, so
    the line rises smoothly and every bar that leaves it marks a channel the block
    treats differently for this class. Used by the per-class slider of "Successors".
    """
    names = list(class_gates)
    if not names or set(names) != set(mean_gates):
        raise ValueError(
            "class_gates and mean_gates must name the same, non-empty set of models"
        )
    fig, axes = plt.subplots(
        len(names), 1, figsize=(6.4, 1.6 * len(names) + 0.8), squeeze=False
    )
    for i, (ax, name) in enumerate(zip(axes[:, 0], names)):
        values, mean = (
            as_array(class_gates[name]).ravel(),
            as_array(mean_gates[name]).ravel(),
        )
        if len(values) != len(mean):
            raise ValueError(
                f"class_gates[{name!r}] has {len(values)} channels but "
                f"mean_gates[{name!r}] {len(mean)}"
            )
        order = np.argsort(mean, kind="stable") if sort else np.arange(len(mean))
        channels = np.arange(len(values))
        ax.bar(
            channels,
            values[order],
            width=0.8,
            color="tab:blue",
            alpha=0.8,
            label="this class",
        )
        ax.step(
            channels,
            mean[order],
            where="mid",
            color="black",
            linewidth=1.2,
            label="all classes",
        )
        ax.set(ylabel=ylabel, xlim=(-0.6, len(values) - 0.4), ylim=(0, 1))
        ax.set_title(name, fontsize=10, loc="left")
        if i == 0:
            ax.legend(fontsize=8, loc="upper left")
    axes[-1, 0].set_xlabel(
        "channel of the block"
        + (", sorted by its mean gate over all classes" if sort else "")
    )
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def gate_profiles(
    class_means: dict[str, torch.Tensor | np.ndarray],
    class_names: Sequence[str],
    title: str,
    highlight: int | None = None,
) -> Figure:
    """One panel per SE depth: the mean gate of each channel for each class.

    Channels are sorted by their mean.

    ``class_means`` maps a depth's label to its (classes, C) class-mean gates. In each
    panel the channels are ordered by their mean over the classes (lowest left), so that
    a class that departs from the others shows as a line off the common curve. With
    ``highlight`` (a class index) that class is drawn in colour and the others in grey;
    otherwise every class has its own colour. The layout of the SENet paper's Fig. 6 (Hu
    et al., TPAMI). Used in "Learned channel weights" and "The reduction ratio,
    measured".
    """
    depths = list(class_means)
    if not depths:
        raise ValueError("class_means must hold at least one depth")
    fig, axes = plt.subplots(
        1, len(depths), figsize=(3.1 * len(depths) + 0.6, 3.0), squeeze=False
    )
    colours = plt.get_cmap("tab10")
    for ax, depth in zip(axes[0], depths):
        means = as_array(class_means[depth])
        if means.ndim != 2 or means.shape[0] != len(class_names):
            raise ValueError(
                f"class_means[{depth!r}] must be (classes, C) with {len(class_names)} "
                f"classes, got shape {means.shape}"
            )
        order = np.argsort(means.mean(0), kind="stable")
        x = np.arange(means.shape[1])
        for k in range(means.shape[0]):
            if highlight is None:
                ax.plot(
                    x,
                    means[k, order],
                    color=colours(k % 10),
                    linewidth=1.1,
                    label=class_names[k],
                )
            elif k != highlight:
                ax.plot(x, means[k, order], color="0.75", linewidth=0.8)
        if highlight is not None:
            ax.plot(
                x,
                means[highlight, order],
                color="tab:red",
                linewidth=2.0,
                label=class_names[highlight],
            )
        ax.plot(
            x,
            means.mean(0)[order],
            color="black",
            linestyle="--",
            linewidth=1.2,
            label="mean of classes",
        )
        ax.set(
            title=depth,
            xlabel="channel (sorted by mean gate)",
            ylim=(0, 1),
            xlim=(0, max(1, len(x) - 1)),
        )
        ax.grid(True, alpha=0.3)
    axes[0, 0].set_ylabel("mean gate over the class's images")
    if highlight is None:
        axes[0, -1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    else:
        axes[0, 0].legend(fontsize=8, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def reduction_ratio_panel(
    costs: dict[float, dict[int, dict[str, int]]], r: float, gates: torch.Tensor
) -> Figure:
    """One frame of the reduction-ratio slider: SE blocks of several widths.

    It shows their parameters, FLOPs and gates.

    ``costs[r][C]`` is :func:`sebook.costs.se_costs` for every ratio and width (all
    ratios are needed so that every frame shares its axes); ``gates`` are the (C,) gates
    of one block at ratio ``r`` for a fixed input. Used in "Excitation".
    """
    if r not in costs:
        raise ValueError(
            f"r must be one of the ratios in costs {sorted(costs)}, got {r!r}"
        )
    widths = sorted(costs[r])
    params_all = [costs[q][c]["params"] for q in costs for c in costs[q]]
    flops_all = [costs[q][c]["flops"] for q in costs for c in costs[q]]
    fig, (ax_p, ax_f, ax_g) = plt.subplots(
        1, 3, figsize=(9.0, 3.4), gridspec_kw={"width_ratios": [1, 1, 1.4]}
    )
    x = np.arange(len(widths))
    for ax, key, values_all, name in (
        (ax_p, "params", params_all, "parameters"),
        (ax_f, "flops", flops_all, "FLOPs of the two FC layers"),
    ):
        values = [costs[r][c][key] for c in widths]
        ax.bar(x, values, color="tab:orange" if key == "params" else "tab:blue")
        ax.set_yscale("log")
        ax.set_ylim(min(values_all) / 2, max(values_all) * 8)
        for xi, v in zip(x, values):
            ax.text(
                xi,
                v * 1.25,
                f"{v / 1e6:.2f}M" if v >= 1e5 else f"{v:,}",
                ha="center",
                va="bottom",
                fontsize=8,
            )
        ax.set_xticks(x)
        ax.set_xticklabels(
            [f"{c}\nw={costs[r][c]['width']}" for c in widths], fontsize=8.5
        )
        ax.set(
            title=f"{name}, r = {r:g}",
            xlabel="channels C (bottleneck width w)",
            ylabel=f"{key} (log scale)",
        )
    g = as_array(gates).ravel()
    ax_g.bar(np.arange(len(g)), g, width=0.85, color="tab:green")
    ax_g.axhline(0.5, color="0.4", linestyle=":", linewidth=1)
    ax_g.set(
        ylim=(0, 1),
        xlim=(-0.7, len(g) - 0.3),
        xlabel="channel",
        ylabel="gate (0 to 1)",
        title=f"gates of a fresh {len(g)}-channel block:\nmean {g.mean():.3f}, std "
        f"{g.std():.3f}",
    )
    ax_g.title.set_fontsize(10)
    fig.tight_layout()
    return fig


def gate_histogram(
    gates: dict[str, torch.Tensor], title: str, bins: int = 50
) -> Figure:
    """Histograms of gate values on [0, 1], one per named set of gates, overlaid.

    The mean of each set is marked.

    Used in "Excitation" to show how narrow the gates of a freshly initialised block
    are.
    """
    if not gates:
        raise ValueError("gates must hold at least one named tensor of gate values")
    fig, ax = plt.subplots(figsize=(5.6, 3.0))
    edges = np.linspace(0, 1, bins + 1)
    for i, (name, values) in enumerate(gates.items()):
        v = as_array(values).ravel()
        colour = f"C{i}"
        ax.hist(
            v,
            bins=edges,
            alpha=0.6,
            color=colour,
            label=f"{name} (mean {v.mean():.3f}, std {v.std():.3f})",
        )
        ax.axvline(float(v.mean()), color=colour, linestyle="--", linewidth=1)
    ax.set(
        title=title,
        xlabel="gate value",
        ylabel="count (channels × inputs)",
        xlim=(0, 1),
    )
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig
