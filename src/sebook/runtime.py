"""One call at the top of every chapter: seeds, threads, deterministic algorithms and the figure style."""
from __future__ import annotations

import os
import random

import numpy as np
import torch

from . import checks, plots

BOOK_THREADS = 2
"""Thread count the stored outputs were produced with (the CI machine has 2 cores)."""


def setup(seed: int = 0, threads: int = BOOK_THREADS) -> None:
    """Seed Python, NumPy and torch, fix the thread count, turn on deterministic algorithms, set the plot style."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    threads = checks.positive_int("threads", threads)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    plots.use_book_style()
