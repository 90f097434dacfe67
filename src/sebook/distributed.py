"""Training on several processes: ``torch.distributed``, launched by ``torchrun``.

``torchrun --nproc_per_node N -m sebook.train ...`` starts N processes and gives each
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``;
:func:`world_from_env` reads them, and a process started without them is a world of one.
Every process draws the same example order and augmentation from the recipe's seeded
generator and trains on its share of each batch, so the global batch stays the recipe's;
``DistributedDataParallel`` averages the gradients (gloo on CPUs, nccl on GPUs).

BatchNorm normalises each process's share separately (torch's ``SyncBatchNorm`` runs on
GPUs only): N processes train exactly like one process that splits each batch into N
micro-batches (``--micro-batches N``), and the tests check that. Explained in the appendix
"Training beyond one machine".
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator, Mapping

import torch

LAUNCH_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
"""The environment variables torchrun sets for each process it starts."""


@dataclasses.dataclass(frozen=True)
class World:
    """Where this process stands: its ``rank`` among ``size`` processes."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Whether this is rank 0, the process that writes files and shows progress."""
        return self.rank == 0


def world_from_env(env: Mapping[str, str] | None = None) -> World:
    """The :class:`World` that torchrun's variables in ``env`` (default: ``os.environ``) describe.

    None of them set: a single process. Some but not all set, or values that do not fit
    together: a ``RuntimeError`` that names what is wrong.
    """
    env = os.environ if env is None else env
    present = [name for name in LAUNCH_VARIABLES if name in env]
    if not present:
        return World()
    missing = [name for name in LAUNCH_VARIABLES if name not in env]
    if missing:
        raise RuntimeError(
            f"this process has {', '.join(present)} but not {', '.join(missing)} in its "
            "environment; start several processes with torchrun (for example "
            "'torchrun --standalone --nproc_per_node 2 -m sebook.train ...'), or one "
            "without any of these variables"
        )
    try:
        rank, size, local_rank = (
            int(env[name]) for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK")
        )
    except ValueError as error:
        raise RuntimeError(
            f"RANK, WORLD_SIZE and LOCAL_RANK must be integers: {error}"
        ) from None
    if size < 1 or not 0 <= rank < size or local_rank < 0:
        raise RuntimeError(
            f"RANK must lie in [0, WORLD_SIZE) with WORLD_SIZE >= 1; got RANK={rank}, "
            f"WORLD_SIZE={size}, LOCAL_RANK={local_rank}"
        )
    return World(rank, size, local_rank)


def batch_share(batch_size: int, world: World, micro_batches: int = 1) -> int:
    """The examples each micro-batch of each process gets of a global batch.

    Raises if ``batch_size`` does not divide into ``world.size * micro_batches`` parts.
    """
    parts = world.size * micro_batches
    if batch_size % parts:
        raise ValueError(
            f"the batch size {batch_size} does not divide among {world.size} "
            f"process(es) x {micro_batches} micro-batch(es); choose a batch size that "
            f"is a multiple of {parts} (--batch-size), or another --nproc_per_node or "
            "--micro-batches"
        )
    return batch_size // parts


@contextlib.contextmanager
def process_group(world: World) -> Iterator[None]:
    """Join the other processes for the run (nothing to join for a world of one)."""
    if world.size == 1:
        yield
        return
    import torch.distributed as dist

    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend, rank=world.rank, world_size=world.size)
    try:
        yield
    finally:
        dist.destroy_process_group()


def sum_over_processes(value: torch.Tensor, world: World) -> torch.Tensor:
    """``value`` summed over every process (itself in a world of one)."""
    if world.size == 1:
        return value
    import torch.distributed as dist

    value = value.clone()
    dist.all_reduce(value)
    return value
