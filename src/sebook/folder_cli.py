"""The command line's image-folder path: ``python -m sebook.train --model NAME --data DIR``.

Parses nothing itself: :mod:`sebook.train_cli` builds the one parser and hands a
``--model`` other than FashionNet here. Trains with :func:`sebook.folder_training.train_folder`
by the SENet paper's recipe, through the run machinery of :mod:`sebook.train_runs`.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from . import timing
from .train_runs import (
    out_and_manifest,
    partial_path,
    record,
    run_saving_epochs,
    world_of_launch,
)

FOLDER_OVERRIDES = ("epochs", "batch_size", "lr", "threads", "image_size", "workers")
"""The options that override the folder recipe (sebook.folder_training.PAPER_SGD)."""


def main_folder(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``--model NAME --data DIR``: an ImageNet-size network on a folder of images."""
    from .folder_training import PAPER_SGD, save_folder_checkpoint, train_folder

    if args.data is None:
        parser.error(f"argument --data: required with --model {args.model}")
    for name in ("augment", "labels", "train_subset"):
        if getattr(args, name) is not None:
            parser.error(
                f"argument --{name.replace('_', '-')}: FashionNet's; --model "
                f"{args.model} trains by the SENet paper's recipe"
            )
    try:
        recipe = PAPER_SGD.replace(
            **{
                k: getattr(args, k)
                for k in FOLDER_OVERRIDES
                if getattr(args, k) is not None
            }
        )
    except (TypeError, ValueError) as error:
        parser.error(str(error))
    if not (Path(args.data) / "train").is_dir():
        parser.error(
            f"argument --data: {args.data!r} holds no train/ folder (expected "
            "DIR/train/<class>/<image>, and optionally DIR/val/<class>/<image>)"
        )
    out, manifest = out_and_manifest(parser, args)
    world = world_of_launch(parser, recipe.batch_size, args.micro_batches)
    parts = ["python", "-m", "sebook.train", "--model", args.model]
    parts += ["--data", args.data, "--seed", str(args.seed)]
    for name in FOLDER_OVERRIDES:
        if getattr(args, name) is not None:
            parts += ["--" + name.replace("_", "-"), str(getattr(args, name))]
    if args.micro_batches != 1:
        parts += ["--micro-batches", str(args.micro_batches)]
    command = shlex.join([*parts, "--out", args.out])
    run = run_saving_epochs(
        parser, args, world, command, recipe.epochs,
        lambda resume, on_epoch: train_folder(
            args.model, args.data, recipe, args.seed, world=world,
            micro_batches=args.micro_batches, resume=resume, on_epoch=on_epoch,
            progress=not args.no_progress and timing.watched(),
        ),
    )  # fmt: skip
    if isinstance(run, int):
        return run
    (model, metrics), seconds, cpu_seconds = run
    if not world.main:
        return 0
    save_folder_checkpoint(out, args.model, model, metrics, recipe, args.seed)
    record(
        manifest, out, seconds, cpu_seconds, world, args,
        {
            "command": command,
            "model": args.model,
            "data": str(args.data),
            "recipe": recipe.to_dict(),
            "seed": args.seed,
            "metrics": {k: v for k, v in metrics.items()},
        },
    )  # fmt: skip
    val = metrics["epoch_val_accuracy"][-1]
    print(
        f"{args.model} (seed {args.seed}, {len(metrics['classes'])} classes): "
        + (f"val accuracy {val:.4f}; " if val is not None else "no val/ folder; ")
        + f"{seconds:.1f} s; wrote {out} and {manifest}"
    )
    partial_path(out).unlink(missing_ok=True)
    return 0
