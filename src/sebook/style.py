"""The book's figure style: small, sharp figures on white.

They read the same in the site's light and dark mode.

:func:`use_book_style` is applied by :func:`sebook.runtime.setup`; :func:`as_array` is
the one conversion every figure module shares.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import torch

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
"""The book's rcParams, small, sharp figures on white.

They read the same in light and dark mode.
"""


def use_book_style() -> None:
    """Apply :data:`BOOK_STYLE` (called by :func:`sebook.runtime.setup`)."""
    matplotlib.rcParams.update(BOOK_STYLE)


def as_array(t: torch.Tensor | np.ndarray) -> np.ndarray:
    """A NumPy array of ``t`` (a tensor is detached and moved to the CPU first)."""
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
