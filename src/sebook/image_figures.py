"""Figures made of images: the photo, feature maps, crops, images with their gates.

The crops are shown before and after recalibration.

Every function returns a ``matplotlib.figure.Figure`` with a title; the chapters add alt
text or a caption. Used in "Overview", "Squeeze", "Recalibration" and "Learned channel
weights".
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from .style import as_array


def show_image(image: torch.Tensor, title: str = "Input photo") -> Figure:
    """A (3, H, W) or (1, 3, H, W) image tensor in [0, 1], with pixel axes."""
    image = image[0] if image.dim() == 4 else image
    fig, ax = plt.subplots(figsize=(3.2, 3.4))
    ax.imshow(as_array(image.permute(1, 2, 0)).clip(0, 1))
    ax.set(title=title, xlabel="x (pixels)", ylabel="y (pixels)")
    return fig


def feature_map_grid(
    maps: torch.Tensor,
    labels: Sequence[str],
    title: str,
    ncols: int = 4,
    shared_scale: bool = True,
) -> Figure:
    """Channels of one (C, H, W) feature map as small images, each labelled underneath.

    ``shared_scale`` draws every panel with one colour scale (so scaling a channel is
    visible).
    """
    maps = as_array(maps)
    n = len(maps)
    if len(labels) != n:
        raise ValueError(
            f"labels must have one entry per channel: expected {n}, got {len(labels)}"
        )
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(2.0 * ncols, 2.15 * nrows + 0.5), squeeze=False
    )
    vmin, vmax = (
        (float(maps.min()), float(maps.max())) if shared_scale else (None, None)
    )
    image = None
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= n:
            ax.axis("off")
            continue
        image = ax.imshow(maps[i], vmin=vmin, vmax=vmax)
        # one line per part (parts are separated by newlines or runs of spaces), each
        # wrapped to the panel's width, so that neighbouring labels never run into each
        # other
        parts = [
            part
            for line in labels[i].splitlines()
            for part in re.split(r"\s{2,}", line.strip())
        ]
        ax.set_xlabel("\n".join(textwrap.fill(part, 16) for part in parts), fontsize=9)
    fig.suptitle(title)
    if shared_scale and image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label="activation")
    return fig


def descriptor_panel(feature_map: torch.Tensor, name: str, channel: int) -> Figure:
    """One channel's feature map beside the histogram of its values.

    The average and the max are marked.

    Used by the channel slider of "Squeeze".
    """
    values = as_array(feature_map)
    avg, mx = float(values.mean()), float(values.max())
    fig, (ax_map, ax_hist) = plt.subplots(
        1, 2, figsize=(7.0, 3.0), gridspec_kw={"width_ratios": [1, 1.4]}
    )
    image = ax_map.imshow(values, vmin=0)
    fig.colorbar(image, ax=ax_map, shrink=0.8, label="activation")
    ax_map.set(
        title=f"channel {channel}: {name}", xlabel="x (pixels)", ylabel="y (pixels)"
    )
    ax_hist.hist(values.ravel(), bins=40, color="0.6")
    ax_hist.set_yscale("log")
    ax_hist.axvline(avg, color="tab:blue", linewidth=2, label=f"average = {avg:.3f}")
    ax_hist.axvline(
        mx, color="tab:red", linewidth=2, linestyle="--", label=f"max = {mx:.3f}"
    )
    ax_hist.set(
        title="its squeeze: one number",
        xlabel="activation",
        ylabel="pixels (log scale)",
    )
    ax_hist.legend(loc="upper center")
    fig.tight_layout()
    return fig


def image_grid(
    rows: dict[str, torch.Tensor],
    title: str,
    column_titles: Sequence[str] | None = None,
    captions: dict[str, Sequence[str]] | None = None,
    normalise: bool = False,
) -> Figure:
    """Rows of RGB images, one row per name.

    ``rows[name]`` is an (N, 3, H, W) batch in [0, 1] drawn as one row labelled
    ``name``.

    ``captions[name][i]`` is written under image ``i`` of that row. With ``normalise``
    each image is divided by its largest value, so that images that differ only in
    overall brightness look alike (say so in the caption). Used in "Overview" to set
    tinted photos beside their corrected versions.
    """
    names = list(rows)
    if not names:
        raise ValueError("rows must hold at least one row of images")
    n = rows[names[0]].shape[0]
    for name in names:
        if (
            rows[name].dim() != 4
            or rows[name].shape[0] != n
            or rows[name].shape[1] != 3
        ):
            raise ValueError(
                f"rows[{name!r}] must be an (N, 3, H, W) batch with N = {n}, got "
                f"{tuple(rows[name].shape)}"
            )
    fig, axes = plt.subplots(
        len(names), n, figsize=(1.75 * n + 0.8, 1.9 * len(names) + 0.5), squeeze=False
    )
    for r, name in enumerate(names):
        for i in range(n):
            ax = axes[r, i]
            image = rows[name][i].detach().float()
            if normalise:
                image = image / image.max().clamp(min=1e-12)
            ax.imshow(as_array(image.permute(1, 2, 0)).clip(0, 1))
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


def recalibration_grid(
    after: torch.Tensor,
    gates: torch.Tensor,
    labels: Sequence[str],
    title: str,
    before: torch.Tensor | None = None,
    vmax: float | None = None,
    summed: bool = False,
    sum_vmax: float | None = None,
) -> Figure:
    """Channels of a (C, H, W) map after recalibration, each panel titled with its gate.

    All panels share one colour scale.

    With ``before``, a first row shows the map before recalibration on the same scale,
    so a gate of 0.3 shows as a panel 0.3 times as bright. ``vmax`` fixes the top of the
    scale (e.g. across the frames of a slider). With ``summed``, a last column shows the
    sum over channels, what a 1x1 convolution with equal weights would see, in grey on a
    scale that tops at ``sum_vmax`` (default: the largest sum of the first row). Used in
    "Recalibration".
    """
    import textwrap

    after_np = as_array(after)
    gates_np = as_array(gates).ravel()
    c = len(after_np)
    if len(gates_np) != c or len(labels) != c:
        raise ValueError(
            f"gates and labels need one entry per channel ({c}), got {len(gates_np)} "
            f"and {len(labels)}"
        )
    rows = [("before", as_array(before))] if before is not None else []
    rows.append(("after", after_np))
    top = vmax if vmax is not None else max(float(m.max()) for _, m in rows)
    sum_top = sum_vmax if sum_vmax is not None else float(rows[0][1].sum(0).max())
    ncols = c + (1 if summed else 0)
    fig = plt.figure(figsize=(1.1 * ncols + 0.8, 1.5 * len(rows) + 0.95))
    grid = fig.add_gridspec(
        len(rows),
        ncols + 1,
        width_ratios=[1] * c + ([1.15] if summed else []) + [0.08],
        wspace=0.08 if not summed else 0.12,
        hspace=0.35,
    )
    image = None
    for r, (name, maps) in enumerate(rows):
        for i in range(ncols):
            ax = fig.add_subplot(grid[r, i])
            ax.set_xticks([])
            ax.set_yticks([])
            if i == c:  # the sum over channels
                ax.imshow(maps.sum(0), cmap="gray", vmin=0, vmax=sum_top)
                ax.set_title("sum of channels" if r == 0 else "", fontsize=9)
                if r == len(rows) - 1:
                    ax.set_xlabel("(grey scale)", fontsize=8.5)
                continue
            image = ax.imshow(maps[i], vmin=0, vmax=top)
            if name == "after":
                ax.set_title(f"gate {gates_np[i]:.2f}", fontsize=9)
            if r == len(rows) - 1:
                ax.set_xlabel(textwrap.fill(labels[i], 12), fontsize=8.5)
            if i == 0:
                ax.set_ylabel(name, fontsize=10)
    if image is not None:
        fig.colorbar(image, cax=fig.add_subplot(grid[:, -1]), label="activation")
    fig.suptitle(title)
    return fig


def labelled_images(
    images: torch.Tensor | np.ndarray,
    captions: Sequence[str],
    title: str,
    ncols: int = 5,
) -> Figure:
    """Small images in [0, 1], each with its caption underneath.

    Grey-scale images, (N, 1, H, W) or (N, H, W), are drawn with dark as ink, as in
    Fashion-MNIST's own previews; colour images, (N, 3, H, W), in red, green and blue.
    Used in "Learned channel weights".
    """
    images = as_array(images)
    if images.ndim == 4 and images.shape[1] == 3:
        images = np.clip(images.transpose(0, 2, 3, 1), 0, 1)
    elif images.ndim == 4:
        images = images[:, 0]
    if len(captions) != len(images):
        raise ValueError(
            f"captions must have one entry per image: expected {len(images)}, got "
            f"{len(captions)}"
        )
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(1.35 * ncols, 1.5 * nrows + 0.4), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= len(images):
            ax.axis("off")
            continue
        if images.ndim == 4:
            ax.imshow(images[i], interpolation="nearest")
        else:
            ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=1)
        ax.set_xlabel(captions[i], fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_gate_rows(
    images: torch.Tensor | np.ndarray,
    captions: Sequence[str],
    gates: dict[str, torch.Tensor | np.ndarray],
    reference: dict[str, torch.Tensor | np.ndarray],
    title: str,
) -> Figure:
    """One row per image: the (1, 28, 28) image, then its gates at each depth.

    The gates are bars over a reference line.

    ``gates`` maps a depth's label to (n, C) gates of the n images; ``reference`` maps
    it to (C,) values drawn as a line (e.g. the mean over all test images). Within a
    depth the channels are sorted by the reference, as in
    :func:`~sebook.gate_charts.gate_profiles`. Used in "Learned channel weights".
    """
    images = as_array(images)
    depths = list(gates)
    n = len(images)
    if (
        len(captions) != n
        or any(len(as_array(gates[d])) != n for d in depths)
        or set(reference) != set(depths)
    ):
        raise ValueError(
            "captions and every gates[depth] need one entry per image, and reference "
            "the same depths"
        )
    fig, axes = plt.subplots(
        n,
        1 + len(depths),
        figsize=(1.6 + 2.6 * len(depths), 1.55 * n + 0.6),
        squeeze=False,
        gridspec_kw={"width_ratios": [0.6] + [1.0] * len(depths)},
    )
    for row in range(n):
        ax = axes[row, 0]
        ax.imshow(images[row].reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(captions[row], fontsize=8, rotation=0, ha="right", va="center")
        for col, depth in enumerate(depths, start=1):
            ref = as_array(reference[depth]).ravel()
            order = np.argsort(ref, kind="stable")
            values = as_array(gates[depth])[row][order]
            ax = axes[row, col]
            ax.bar(
                np.arange(len(values)), values, width=1.0, color="tab:blue", alpha=0.8
            )
            ax.step(
                np.arange(len(values)),
                ref[order],
                where="mid",
                color="black",
                linewidth=1.0,
            )
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
