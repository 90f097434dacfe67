"""Schematic diagrams: the SE block step by step, its four positions, block layouts.

The positions are those in a residual unit.

Boxes and arrows drawn with matplotlib; every function returns a ``Figure`` with a
title. Used in "Overview", "SE-ResNet" and "MBConv".
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

_SE_COLOUR, _BOX_COLOUR, _ADD_COLOUR = "#f4a261", "#dbe9f6", "white"


def _node(
    ax: plt.Axes, x: float, y: float, text: str, kind: str = "box", width: float = 0.5
) -> None:
    """One node of a block diagram: a box, a sum or plain text.

    Its kind is ``"box"`` or ``"se"`` (a box), ``"add"`` (a sum) or ``"text"``.
    """
    if kind == "add":
        ax.add_patch(
            matplotlib.patches.Circle(
                (x, y), 0.035, facecolor=_ADD_COLOUR, edgecolor="black", zorder=3
            )
        )
        ax.text(x, y, "+", ha="center", va="center", fontsize=11, zorder=4)
        return
    if kind == "text":
        ax.text(x, y, text, ha="center", va="center", fontsize=9, zorder=4)
        return
    colour = _SE_COLOUR if kind == "se" else _BOX_COLOUR
    ax.add_patch(
        matplotlib.patches.FancyBboxPatch(
            (x - width / 2, y - 0.045),
            width,
            0.09,
            boxstyle="round,pad=0.01",
            facecolor=colour,
            edgecolor="black",
            linewidth=0.8,
            zorder=3,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=8, zorder=4)


def _edge(ax: plt.Axes, points: Sequence[tuple[float, float]]) -> None:
    """A polyline from the first point to the last, with an arrow head at the end."""
    xs, ys = zip(*points)
    ax.plot(xs[:-1], ys[:-1], color="black", linewidth=0.9, zorder=1)
    ax.annotate(
        "",
        xy=points[-1],
        xytext=points[-2],
        zorder=2,
        arrowprops={
            "arrowstyle": "-|>",
            "color": "black",
            "linewidth": 0.9,
            "shrinkA": 0,
            "shrinkB": 6,
        },
    )


def integration_diagrams() -> Figure:
    """The four places for SE in a residual unit (SENet paper, Fig. 5).

    They are standard, pre, post and identity.

    Boxes are layers, orange is SE, the circle is the residual addition; the shortcut
    runs on the left. Used in "SE-ResNet".
    """
    fig, axes = plt.subplots(1, 4, figsize=(9.6, 3.9))
    L, R = 0.2, 0.62  # x of the shortcut and of the residual branch
    for ax, variant in zip(axes, ("standard", "pre", "post", "identity")):
        ax.set(
            xlim=(0, 1),
            ylim=(-0.06, 1),
            title=f"SE-{variant}" if variant != "standard" else "standard SE",
        )
        ax.axis("off")
        _node(ax, 0.45, 0.96, "input x", "text")
        branch_top = 0.80 if variant == "pre" else 0.66
        if variant == "pre":
            _node(ax, R, 0.80, "SE", "se", 0.3)
        _node(
            ax,
            R,
            0.62 if variant == "pre" else 0.66,
            "residual\n1x1, 3x3, 1x1",
            width=0.42,
        )
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
        ax.text(
            L - 0.03, 0.74, "shortcut", rotation=90, ha="right", va="center", fontsize=8
        )
        _edge(ax, [(0.45, 0.305), (0.45, 0.27)])
        if variant == "post":
            _edge(ax, [(0.45, 0.175), (0.45, 0.128)])
        _edge(
            ax,
            [
                (0.45, 0.035 if variant == "post" else 0.175),
                (0.45, -0.05 if variant == "post" else 0.06),
            ],
        )
    fig.suptitle("Four places for SE in a residual unit (SE in orange)")
    fig.tight_layout()
    return fig


def block_flow_diagrams(
    panels: dict[str, Sequence[str]],
    title: str,
    residual: bool = True,
    highlight: str = "SE",
) -> Figure:
    """Side-by-side flow diagrams of blocks, one panel per block.

    Each block is a top-to-bottom list of layer labels.

    Labels that start with ``highlight`` are drawn in orange; with ``residual`` the
    input is added back after the last layer. Used in "MBConv" to set two SE placements
    side by side.
    """
    if not panels:
        raise ValueError("panels must name at least one block")
    n_rows = max(len(v) for v in panels.values())
    fig, axes = plt.subplots(
        1, len(panels), figsize=(3.6 * len(panels), 0.75 * n_rows + 1.6), squeeze=False
    )
    for ax, (name, labels) in zip(axes[0], panels.items()):
        ax.set(xlim=(0, 1), ylim=(0, 1), title=name)
        ax.axis("off")
        step = 0.8 / (n_rows + 1)
        ys = [0.88 - step * (i + 1) for i in range(len(labels))]
        _node(ax, 0.5, 0.95, "input", "text")
        previous = 0.92
        for y, label in zip(ys, labels):
            _node(
                ax, 0.5, y, label, "se" if label.startswith(highlight) else "box", 0.72
            )
            _edge(ax, [(0.5, previous), (0.5, y + 0.05)])
            previous = y - 0.045
        if residual:
            y_add = ys[-1] - step * 0.8
            _node(ax, 0.5, y_add, "", "add")
            _edge(ax, [(0.5, previous), (0.5, y_add + 0.035)])
            _edge(ax, [(0.5, 0.92), (0.05, 0.92), (0.05, y_add), (0.465, y_add)])
            ax.text(
                0.035,
                (0.92 + y_add) / 2,
                "identity",
                rotation=90,
                ha="right",
                va="center",
                fontsize=8,
            )
            previous = y_add - 0.035
        _edge(ax, [(0.5, previous), (0.5, max(previous - 0.07, 0.0))])
    fig.suptitle(title)
    fig.tight_layout()
    return fig


_STEP_COLOURS = {
    "squeeze": "#a8dadc",
    "excitation": "#f4a261",
    "recalibration": "#b7e4c7",
}

_SYMBOLIC_SHAPES = {
    "input": "B × C × H × W",
    "squeeze": "B × C",
    "fc1": "B × C/r",
    "act": "B × C/r",
    "fc2": "B × C",
    "gate": "B × C",
    "output": "B × C × H × W",
}


def _step_box(
    ax: plt.Axes, x: float, y: float, text: str, step: str, width: float = 0.42
) -> None:
    ax.add_patch(
        matplotlib.patches.FancyBboxPatch(
            (x - width / 2, y - 0.035),
            width,
            0.07,
            boxstyle="round,pad=0.008",
            facecolor=_STEP_COLOURS[step],
            edgecolor="black",
            linewidth=0.8,
            zorder=3,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=9, zorder=4)


def se_block_diagram(
    shapes: dict[str, tuple[int, ...]] | None = None,
    title: str = "The SE block, step by step",
) -> Figure:
    """The SE pipeline as boxes and arrows, with the tensor shape on every arrow.

    Squeeze (blue), excitation (orange: FC, ReLU, FC, sigmoid) and recalibration (green:
    the (B, C) gates viewed as (B, C, 1, 1) so that they broadcast over H and W, and the
    product with the input carried around on the left). Each arrow is labelled with
    its symbolic shape and, if ``shapes`` (from :func:`sebook.demos.se_shapes`) is
    given, with the shape measured in a real forward pass. Used in "Overview".
    """
    if shapes is not None:
        missing = [k for k in _SYMBOLIC_SHAPES if k not in shapes]
        if missing:
            raise ValueError(
                f"shapes lacks the steps {missing}; pass the dict returned by "
                "demos.se_shapes"
            )

    def label(step: str) -> str:
        text = _SYMBOLIC_SHAPES.get(step, "B × C × 1 × 1")
        if shapes is None:
            return text
        measured = (*shapes["gate"], 1, 1) if step == "view" else shapes[step]
        return f"{text}   {tuple(measured)}"

    fig, ax = plt.subplots(figsize=(7.0, 7.6))
    ax.set(xlim=(0, 1), ylim=(0, 1), title=title)
    ax.axis("off")
    x, skip_x = 0.45, 0.08
    steps = [
        (0.88, "squeeze: global average pool", "squeeze"),
        (0.76, "FC 1:  C → C/r", "excitation"),
        (0.64, "ReLU", "excitation"),
        (0.52, "FC 2:  C/r → C", "excitation"),
        (0.40, "sigmoid", "excitation"),
        (0.27, "view each gate as a 1 × 1 map", "recalibration"),
    ]
    ax.text(
        x,
        0.975,
        "input feature map  U",
        ha="center",
        va="center",
        fontsize=10,
        zorder=4,
    )
    for y, text, step in steps:
        _step_box(ax, x, y, text, step)
    y_scale = 0.14
    ax.add_patch(
        matplotlib.patches.Circle(
            (x, y_scale),
            0.035,
            facecolor=_STEP_COLOURS["recalibration"],
            edgecolor="black",
            zorder=3,
        )
    )
    ax.text(x, y_scale, "×", ha="center", va="center", fontsize=13, zorder=4)
    ax.text(
        x,
        0.015,
        "output  X̃ = s · U  (per channel)",
        ha="center",
        va="center",
        fontsize=10,
        zorder=4,
    )
    arrows = [
        (0.955, 0.92, "input"),
        (0.837, 0.803, "squeeze"),
        (0.717, 0.683, "fc1"),
        (0.597, 0.563, "act"),
        (0.477, 0.443, "fc2"),
        (0.357, 0.313, "gate"),
        (0.227, y_scale + 0.035, "view"),
        (y_scale - 0.035, 0.035, "output"),
    ]
    for top, bottom, step in arrows:
        _edge(ax, [(x, top), (x, bottom)])
        name = {"gate": "gates s:  ", "squeeze": "z:  "}.get(step, "")
        ax.text(
            x + 0.03,
            (top + bottom) / 2,
            name + label(step),
            ha="left",
            va="center",
            fontsize=8,
            color="0.15",
        )
    _edge(
        ax,
        [(x - 0.01, 0.955), (skip_x, 0.955), (skip_x, y_scale), (x - 0.035, y_scale)],
    )
    ax.text(
        skip_x - 0.015,
        0.55,
        "U itself:  " + label("input"),
        rotation=90,
        ha="right",
        va="center",
        fontsize=8,
        color="0.15",
    )
    for (y0, y1), name in [
        ((0.845, 0.915), "squeeze"),
        ((0.365, 0.795), "excitation"),
        ((y_scale - 0.035, 0.305), "recalibration"),
    ]:
        ax.plot(
            [0.985, 0.985],
            [y0, y1],
            color=_STEP_COLOURS[name],
            linewidth=6,
            solid_capstyle="butt",
        )
        ax.text(
            0.965,
            (y0 + y1) / 2,
            name,
            ha="right",
            va="center",
            fontsize=9,
            fontweight="bold",
        )
    fig.tight_layout()
    return fig
