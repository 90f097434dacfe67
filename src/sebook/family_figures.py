"""Figures of the chapter "SE's family": maps side by side, a block's output and input.

The output is shown next to its input.

Book style (:mod:`sebook.style`): white figures, titled panels, one colour bar per
panel.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from .style import as_array


def map_row(
    panels: dict[str, torch.Tensor],
    title: str,
    cmaps: dict[str, str] | None = None,
    width: float = 7.2,
) -> Figure:
    """One row of (H, W) maps, each with its title and colour bar; axes in pixels.

    ``cmaps`` picks a colour map per panel (default ``"gray"`` for the first panel, the
    input, and ``"viridis"`` for the others).
    """
    if not panels:
        raise ValueError("panels must hold at least one (H, W) map")
    for name, m in panels.items():
        if not isinstance(m, torch.Tensor) or m.dim() != 2:
            raise ValueError(
                f"panel {name!r} must be a 2-D (H, W) tensor, got "
                f"{getattr(m, 'shape', type(m))}"
            )
    cmaps = cmaps or {}
    fig, axes = plt.subplots(
        1, len(panels), figsize=(width, width / len(panels) + 0.9), squeeze=False
    )
    for i, (ax, (name, m)) in enumerate(zip(axes[0], panels.items())):
        image = ax.imshow(
            as_array(m), cmap=cmaps.get(name, "gray" if i == 0 else "viridis")
        )
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("x (pixels)", fontsize=8)
        if i == 0:
            ax.set_ylabel("y (pixels)", fontsize=8)
        ax.tick_params(labelsize=7)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03).ax.tick_params(labelsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
