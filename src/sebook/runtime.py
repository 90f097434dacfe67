"""One call at the top of every chapter, and running a model for inference.

The call sets seeds, threads, deterministic algorithms and the figure style; inference
leaves the model unchanged.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from . import checks

BOOK_THREADS = 2
"""Thread count the stored outputs were produced with (the CI machine has 2 cores)."""


def setup(seed: int = 0, threads: int = BOOK_THREADS) -> None:
    """Seed Python, NumPy and torch, fix the threads, use deterministic algorithms.

    Also set the plot style.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    threads = checks.positive_int("threads", threads)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    from .style import (
        use_book_style,
    )  # matplotlib loads here, never on importing the blocks

    use_book_style()


@contextlib.contextmanager
def inference(module: nn.Module) -> Iterator[nn.Module]:
    """Within the ``with``: ``module`` in eval mode and no gradients.

    Its train/eval mode is restored afterwards.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module, got {type(module).__name__}")
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            yield module
    finally:
        module.train(was_training)


def forward_in_batches(
    model: nn.Module, inputs: torch.Tensor, batch_size: int
) -> torch.Tensor:
    """``model``'s outputs for ``inputs``, ``batch_size`` at a time, concatenated.

    Computed under :func:`inference`.
    """
    batch_size = checks.positive_int("batch_size", batch_size)
    if len(inputs) == 0:
        return torch.empty(0)
    with inference(model):
        return torch.cat(
            [
                model(inputs[i : i + batch_size])
                for i in range(0, len(inputs), batch_size)
            ]
        )


class _NoBar(contextlib.nullcontext):
    """What :func:`progress_bar` gives where tqdm is not installed: a bar that shows nothing."""

    def __enter__(self) -> _NoBar:
        return self

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str = "", refresh: bool = True) -> None:
        pass


def progress_bar(**options: object) -> contextlib.AbstractContextManager:
    """A tqdm progress bar with ``options``; a silent stand-in where tqdm is missing.

    tqdm comes with the book's extras (``pip install ".[book]"``), not with the library
    alone, which needs only torch and numpy.
    """
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(**options)


def glue(name: str, value: object, display: bool = True) -> None:
    """Store ``value`` under ``name`` for the page's prose: myst-nb's ``glue``.

    Where myst-nb is not installed (Colab, a reader's own Jupyter) a glued value is only
    needed for building the website, so nothing is stored; with ``display`` the value is
    shown as a cell output would show it.
    """
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        if display:
            from IPython.display import display as show

            show(value)
        return
    myst_glue(name, value, display=display)
