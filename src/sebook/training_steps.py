"""What both trainers share: the reproducible mode, the progress bar's text, one optimizer step, resuming.

:func:`sebook.train.train` (FashionNet) and :func:`sebook.folder_training.train_folder`
(ImageNet-size networks on a folder of images) run their epochs through these, so that a
step over a global batch split among processes and micro-batches, and a resumed run, mean
the same in both.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from . import checks
from .distributed import World

BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} steps{postfix}"
"""The progress bar written to a file or pipe shows no rates or times, so its text is the
same on every run."""

TERMINAL_BAR_FORMAT = BAR_FORMAT + ", {remaining} left"
"""On a terminal the bar also shows the time left."""

PROGRESS_UPDATES = 10
"""The bar is redrawn this many times per epoch, after fixed numbers of steps.

It is never redrawn on a timer.
"""


@contextlib.contextmanager
def reproducible(threads: int | None) -> Iterator[None]:
    """Within the ``with``: deterministic algorithms on and ``threads`` torch threads.

    Both are restored afterwards.
    """
    old_threads, old_deterministic = (
        torch.get_num_threads(),
        torch.are_deterministic_algorithms_enabled(),
    )
    old_fill = torch.utils.deterministic.fill_uninitialized_memory
    try:
        if threads is not None:
            torch.set_num_threads(checks.positive_int("threads", threads))
        torch.use_deterministic_algorithms(True)
        # Filling every new tensor with NaN only guards against kernels that read
        # uninitialised memory; the layers used here never do, and the filling costs a
        # fifth of the training time.
        torch.utils.deterministic.fill_uninitialized_memory = False
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_deterministic)
        torch.utils.deterministic.fill_uninitialized_memory = old_fill


def optimizer_step(
    net: nn.Module,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    images: torch.Tensor,
    labels: torch.Tensor,
    world: World,
    micro_batches: int,
) -> tuple[torch.Tensor, int]:
    """One optimizer step on this process's parts of a global batch.

    ``net`` is ``model`` or its ``DistributedDataParallel`` wrapper. Returns this
    process's share of the batch's mean loss (float64) and its correct predictions.
    """
    parts = world.size * micro_batches
    share = len(images) // parts
    optimizer.zero_grad(set_to_none=True)
    loss_sum, correct = torch.zeros((), dtype=torch.float64), 0
    for k in range(micro_batches):
        start = (world.rank * micro_batches + k) * share
        part = slice(start, start + share)
        # BatchNorm keeps the running statistics of rank 0's first part, as DDP does
        kept = [b.clone() for b in model.buffers()] if k > 0 else None
        last = k == micro_batches - 1
        with contextlib.nullcontext() if last or net is model else net.no_sync():
            logits = net(images[part])
            loss = F.cross_entropy(logits, labels[part])
            (loss / micro_batches if micro_batches > 1 else loss).backward()
        if kept is not None:
            for buffer, value in zip(model.buffers(), kept):
                buffer.copy_(value)
        loss_sum += (
            loss.detach().double() / parts if parts > 1 else loss.detach().double()
        )
        correct += int((logits.argmax(1) == labels[part]).sum())
    optimizer.step()
    return loss_sum, correct


def resume_state(
    state: Mapping[str, Any],
    epochs: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    generator: torch.Generator | None,
    keys: frozenset[str],
    source: str,
) -> int:
    """Load a state from ``source``'s ``on_epoch`` into the run; return its epoch.

    ``keys`` are the keys such a state has; ``generator`` None for a trainer that draws
    its order from the seed and the epoch alone.
    """
    missing = keys - set(state) if isinstance(state, Mapping) else keys
    if missing:
        raise ValueError(
            f"resume must be a training state from {source}(on_epoch=...); it lacks "
            + ", ".join(sorted(missing))
        )
    epoch = state["epoch"]
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 0 < epoch < epochs:
        raise ValueError(
            f"resume holds epoch {epoch!r}; a run of {epochs} epochs resumes from 1 to "
            f"{epochs - 1}"
        )
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    schedule.load_state_dict(state["schedule"])
    if generator is not None:
        generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    return epoch


def epoch_state(
    epoch: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    **history: Any,
) -> dict[str, Any]:
    """What a trainer hands its ``on_epoch`` after ``epoch``: all a resumed run needs, copied.

    The model, optimizer and schedule states, torch's global random state, and the
    trainer's own ``history`` (its metrics so far, a data-order generator's state).
    """
    return copy.deepcopy(
        {
            "epoch": epoch,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict(),
            "torch_rng": torch.get_rng_state(),
            **history,
        }
    )
