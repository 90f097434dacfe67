"""The command line of ``python -m sebook.train``: train one net, save it, record it.

Every option that affects the weights is spelled out in the canonical command stored in
the manifest beside the checkpoint, together with the structured recipe. Explained in
"Learned channel weights".
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
from collections.abc import Callable


from . import timing
from . import train as training
from .attention import ATTENTION
from .blocks import INTEGRATIONS
from .data import DATASETS, FASHION_MNIST_CLASSES, FASHION_MNIST_SHA256, image_channels
from .excitation import GATES
from .fashion_models import DEFAULT_WIDTHS, FashionNetConfig
from .folder_training import MODELS as FOLDER_MODELS
from .recipe import AUGMENTATIONS, LABELS, RECIPES
from .squeeze import SQUEEZE_MODES
from .train_runs import (
    out_and_manifest,
    partial_path,
    record,
    run_saving_epochs,
    world_of_launch,
)


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``minimum``, with a message that says so."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"expected an integer >= {minimum}, got {text!r}"
            )
        return value

    return parse


_positive_int, _non_negative_int = _int_at_least(1), _int_at_least(0)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number > 0, got {text!r}"
        ) from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m sebook.train``."""
    parser = argparse.ArgumentParser(
        prog="python -m sebook.train",
        description=(
            "Train a small network (sebook.fashion_models.FashionNet) on Fashion-MNIST "
            "or the cast testbed, evaluate it on the test set, save a weights-only "
            "checkpoint and record it (config, dataset, structured recipe, metrics) in "
            "the manifest beside it. Run it from the repository root."
        ),
        epilog=(
            "Example: python -m sebook.train --recipe plateau --attention se "
            "--rd-divisor 4 --seed 0 --out "
            "checkpoints/fashion-mnist_plateau_se_r16_avg_sigmoid_standard_d4_s0.pt"
        ),
    )
    net = parser.add_argument_group("network (sebook.fashion_models.FashionNetConfig)")
    net.add_argument(
        "--attention",
        default="se",
        choices=list(ATTENTION),
        help="attention block (default: se)",
    )
    net.add_argument(
        "--reduction",
        type=_positive_float,
        default=16.0,
        help="reduction ratio r (default: 16)",
    )
    net.add_argument(
        "--rd-divisor",
        type=_positive_int,
        default=1,
        help="round bottleneck widths to a multiple of this (default: 1)",
    )
    net.add_argument(
        "--squeeze",
        default="avg",
        choices=SQUEEZE_MODES,
        help="SE's squeeze (default: avg)",
    )
    net.add_argument(
        "--gate",
        default="sigmoid",
        choices=list(GATES),
        help="SE's gate (default: sigmoid)",
    )
    net.add_argument(
        "--integration",
        default="standard",
        choices=INTEGRATIONS,
        help="where the block sits in each residual unit (default: standard)",
    )
    net.add_argument(
        "--widths",
        type=_positive_int,
        nargs="+",
        default=list(DEFAULT_WIDTHS),
        help="channels per stage (default: 16 32 64)",
    )
    run = parser.add_argument_group(
        "training (sebook.recipe.Recipe; options override the named recipe)"
    )
    run.add_argument(
        "--dataset",
        default="fashion-mnist",
        choices=DATASETS,
        help="default: fashion-mnist",
    )
    run.add_argument(
        "--recipe",
        default="short",
        choices=list(RECIPES),
        help="named recipe (default: short)",
    )
    run.add_argument(
        "--seed",
        type=_non_negative_int,
        default=0,
        help="seed of weights and data order (default: 0)",
    )
    run.add_argument("--epochs", type=_positive_int)
    run.add_argument("--batch-size", type=_positive_int)
    run.add_argument("--lr", type=_positive_float, help="peak learning rate")
    run.add_argument("--augment", choices=AUGMENTATIONS)
    run.add_argument("--labels", choices=LABELS)
    run.add_argument(
        "--train-subset",
        type=_positive_int,
        help=(
            "train on this many training examples (a seeded choice; default: all 60000)"
        ),
    )
    run.add_argument("--threads", type=_positive_int, help="torch threads")
    run.add_argument(
        "--micro-batches",
        type=_positive_int,
        default=1,
        help="split each batch into this many parts, each normalised on its own, and "
        "average their gradients (default: 1); under torchrun each process splits its "
        "share so: N processes train as one process with N micro-batches",
    )
    folder = parser.add_argument_group(
        "ImageNet-shaped data (sebook.folder_training; the options above are FashionNet's)"
    )
    folder.add_argument(
        "--model",
        default="fashionnet",
        choices=["fashionnet", *FOLDER_MODELS],
        help="fashionnet (default) trains on --dataset; the others train on --data by "
        "the SENet paper's SGD recipe (override --epochs, --batch-size, --lr, --threads)",
    )
    folder.add_argument(
        "--data",
        metavar="DIR",
        help="with --model: a folder holding train/<class>/<image> and, optionally, "
        "val/<class>/<image> (ImageNet's layout)",
    )
    folder.add_argument(
        "--image-size", type=_positive_int, help="with --model: crop size (default 224)"
    )
    folder.add_argument(
        "--workers",
        type=_non_negative_int,
        help="with --model: image-decoding processes per training process (default 8)",
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--out",
        required=True,
        help="checkpoint file to write (.pt), e.g. checkpoints/NAME.pt",
    )
    out.add_argument(
        "--manifest",
        default=None,
        help="manifest to update (default: manifest.json beside --out)",
    )
    out.add_argument(
        "--data-root",
        default=None,
        help="folder with the Fashion-MNIST files (default: searched, "
        "see sebook.archives.search_dirs)",
    )
    out.add_argument(
        "--no-progress",
        action="store_true",
        help="do not show the progress bar (shown, with the time left, only where "
        "stderr is a terminal and the environment variable CI is unset)",
    )
    out.add_argument(
        "--resume",
        default=None,
        metavar="PATH",
        help="continue the run that an interrupted run of this same command saved in "
        "PATH (OUT.partial); on Ctrl-C or SIGTERM the last finished epoch is saved "
        "there, and the command to resume is printed",
    )
    return parser


OVERRIDES = (
    "epochs",
    "batch_size",
    "lr",
    "augment",
    "labels",
    "train_subset",
    "threads",
)
"""Recipe fields that command-line options can override."""


def config_from_args(args: argparse.Namespace) -> FashionNetConfig:
    """The network the options describe; its input channels follow the data set."""
    return FashionNetConfig(
        attention=args.attention,
        reduction=args.reduction,
        squeeze=args.squeeze,
        gate=args.gate,
        integration=args.integration,
        widths=tuple(args.widths),
        rd_divisor=args.rd_divisor,
        in_channels=image_channels(args.dataset),
    )


def command_line(args: argparse.Namespace) -> str:
    """The canonical command for ``args``, with ``--out``.

    Every option that affects the weights is spelled out.
    """
    parts = [
        "python",
        "-m",
        "sebook.train",
        "--attention",
        args.attention,
        "--reduction",
        f"{args.reduction:g}",
        "--rd-divisor",
        str(args.rd_divisor),
        "--squeeze",
        args.squeeze,
        "--gate",
        args.gate,
        "--integration",
        args.integration,
        "--widths",
        *map(str, args.widths),
        "--dataset",
        args.dataset,
        "--recipe",
        args.recipe,
        "--seed",
        str(args.seed),
    ]
    for name in OVERRIDES:
        if getattr(args, name) is not None:
            parts += ["--" + name.replace("_", "-"), str(getattr(args, name))]
    if args.micro_batches != 1:
        parts += ["--micro-batches", str(args.micro_batches)]
    parts += ["--out", args.out]
    return shlex.join(parts)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m sebook.train`` (and the ``sebook-train`` script)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.model != "fashionnet":
        from .folder_cli import main_folder

        return main_folder(parser, args)
    for name in ("data", "image_size", "workers"):
        if getattr(args, name) is not None:
            parser.error(
                f"argument --{name.replace('_', '-')}: only with --model "
                f"({', '.join(FOLDER_MODELS)}); FashionNet trains on --dataset"
            )
    from .checkpoints import save_checkpoint

    try:
        config = config_from_args(args)
        recipe = RECIPES[args.recipe].replace(
            **{k: getattr(args, k) for k in OVERRIDES if getattr(args, k) is not None}
        )
    except (TypeError, ValueError) as error:
        parser.error(str(error))
    out, manifest = out_and_manifest(parser, args)
    world = world_of_launch(parser, recipe.batch_size, args.micro_batches)
    command = command_line(args)
    run = run_saving_epochs(
        parser, args, world, command, recipe.epochs,
        lambda resume, on_epoch: training.train(
            config, args.seed, recipe, args.dataset,
            progress=not args.no_progress and timing.watched(),
            data_root=args.data_root, resume=resume, on_epoch=on_epoch,
            micro_batches=args.micro_batches, world=world,
        ),
    )  # fmt: skip
    if isinstance(run, int):
        return run
    (model, metrics), seconds, cpu_seconds = run
    if not world.main:
        return 0  # rank 0 writes the checkpoint and the manifest
    save_checkpoint(out, model, config, metrics, args.seed, FASHION_MNIST_SHA256)
    record(
        manifest, out, seconds, cpu_seconds, world, args,
        {
            "command": command,
            "dataset": args.dataset,
            "recipe": recipe.to_dict(),
            "config": config.to_dict(),
            "seed": args.seed,
            "metrics": {
                k: metrics[k]
                for k in ("test_accuracy", "test_loss", "epoch_loss", "epoch_test_accuracy")
            },
            "data_sha256": FASHION_MNIST_SHA256,
        },
    )  # fmt: skip
    worst = min(range(10), key=lambda k: metrics["class_accuracy"][k])
    print(
        f"{config.name} (seed {args.seed}, {args.dataset}, {recipe.name}): test "
        f"accuracy {metrics['test_accuracy']:.4f}, weakest class "
        f"{FASHION_MNIST_CLASSES[worst]} {metrics['class_accuracy'][worst]:.3f}; "
        f"{seconds:.1f} s; wrote {out} and {manifest}"
    )
    partial_path(out).unlink(missing_ok=True)  # finished: the saved epoch is not needed
    return 0


if __name__ == "__main__":
    sys.exit(main())
