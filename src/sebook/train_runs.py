"""One run of ``python -m sebook.train``: its outputs checked before any work, every epoch saved, its record.

Both trainers' command lines (FashionNet's in :mod:`sebook.train_cli`, the image-folder one in
:mod:`sebook.folder_cli`) run through these: the checkpoint path and manifest checked first, the
torchrun launch read, each finished epoch saved in ``OUT.partial`` (Ctrl-C and SIGTERM stop
cleanly), ``--resume`` read back, and the manifest entry written with where and how long the
net trained.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from . import distributed


def out_and_manifest(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> tuple[Path, Path]:
    """The checkpoint to write and the manifest beside it, checked before any work."""
    out = Path(args.out)
    if out.suffix != ".pt":
        parser.error(
            f"argument --out: the checkpoint file must end in .pt, got {args.out!r}"
        )
    if not out.parent.is_dir():
        parser.error(f"argument --out: folder {str(out.parent)!r} does not exist")
    manifest = Path(args.manifest) if args.manifest else out.parent / "manifest.json"
    if manifest.resolve().parent != out.resolve().parent:
        parser.error(
            "argument --manifest: the manifest must be in the same folder as the "
            "checkpoint (--out)"
        )
    return out, manifest


def world_of_launch(
    parser: argparse.ArgumentParser, batch_size: int, micro_batches: int
) -> distributed.World:
    """This process's place in a torchrun job; a bad launch fails before any work."""
    try:
        world = distributed.world_from_env()
        distributed.batch_share(batch_size, world, micro_batches)
    except (RuntimeError, ValueError) as error:
        parser.error(str(error))  # before joining the others: a bad launch fails fast
    return world


def run_saving_epochs(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    world: distributed.World,
    command: str,
    epochs: int,
    train: Callable[[dict | None, Callable[[dict], None]], object],
) -> tuple[object, float, float] | int:
    """``train(resume, on_epoch)`` with every finished epoch saved in OUT.partial.

    Returns ``(train's result, seconds, CPU seconds)`` counted over every resumed part,
    or the exit code 130 after Ctrl-C or SIGTERM (the last finished epoch saved, and the
    command to resume printed).
    """
    partial = partial_path(Path(args.out))
    resume, spent = None, (0.0, 0.0)
    if args.resume is not None:
        try:
            resume = read_partial(args.resume, command)
        except (OSError, ValueError) as error:
            parser.error(f"argument --resume: {error}")
        spent = resume["seconds"], resume["cpu_seconds"]
    finished = {"epoch": 0}
    start, start_cpu = time.perf_counter(), time.process_time()

    def save_epoch(state: dict) -> None:  # every epoch, so that even a kill loses one
        from .checkpoints import save_atomically

        finished["epoch"] = state["epoch"]
        if world.main:
            state |= {
                "command": command,
                "seconds": spent[0] + time.perf_counter() - start,
                "cpu_seconds": spent[1] + time.process_time() - start_cpu,
            }
            save_atomically(state, partial)

    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with distributed.process_group(world):
            result = train(resume, save_epoch)
    except KeyboardInterrupt:
        if world.main:
            print(
                f"\ninterrupted after epoch {finished['epoch']} of {epochs}; "
                + (
                    f"saved it in {partial}; resume with:\n{command} --resume "
                    f"{shlex.quote(str(partial))}"
                    if finished["epoch"]
                    else "nothing saved"
                ),
                file=sys.stderr,
            )
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    seconds = spent[0] + time.perf_counter() - start
    return result, seconds, spent[1] + time.process_time() - start_cpu


def record(
    manifest: Path,
    out: Path,
    seconds: float,
    cpu_seconds: float,
    world: distributed.World,
    args: argparse.Namespace,
    entry: dict,
) -> None:
    """Add ``out``'s entry to ``manifest``, with where and how long it trained."""
    from . import __version__
    from .manifest import update_manifest

    update_manifest(
        manifest,
        out,
        {
            **entry,
            "world_size": world.size,
            "micro_batches": args.micro_batches,
            "train_seconds": round(seconds, 1),
            "train_cpu_seconds": round(cpu_seconds, 1),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "sebook": __version__,
            "torch": str(torch.__version__),
            "python": platform.python_version(),
        },
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM ends a run as Ctrl-C does: the last epoch is saved


def partial_path(out: Path) -> Path:
    """Where an interrupted run writing ``out`` saves its last finished epoch."""
    return out.with_name(out.name + ".partial")


def read_partial(path: str | Path, command: str) -> dict:
    """The training state an interrupted run saved in ``path``, if ``command`` made it."""
    state = torch.load(path, weights_only=True)
    if not isinstance(state, dict) or "command" not in state:
        raise ValueError(f"{str(path)!r} is not a state saved by an interrupted run")
    if state["command"] != command:
        raise ValueError(
            f"{str(path)!r} was saved by another command; resume it with the command "
            f"that started it:\n{state['command']} --resume {shlex.quote(str(path))}"
        )
    return state
