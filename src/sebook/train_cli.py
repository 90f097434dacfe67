"""The command line of ``python -m sebook.train``: train one net, save it, record it.

Every option that affects the weights is spelled out in the canonical command stored in
the manifest beside the checkpoint, together with the structured recipe. Explained in
"Learned channel weights".
"""

from __future__ import annotations

import argparse
import math
import platform
import shlex
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from . import distributed, timing
from . import train as training
from .attention import ATTENTION
from .blocks import INTEGRATIONS
from .data import DATASETS, FASHION_MNIST_CLASSES, FASHION_MNIST_SHA256, image_channels
from .excitation import GATES
from .fashion_models import DEFAULT_WIDTHS, FashionNetConfig
from .folder_training import MODELS as FOLDER_MODELS
from .recipe import AUGMENTATIONS, LABELS, RECIPES
from .squeeze import SQUEEZE_MODES


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
        return _main_folder(parser, args)
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
    out, manifest = _out_and_manifest(parser, args)
    world = _world(parser, recipe.batch_size, args.micro_batches)
    command = command_line(args)
    run = _run_saving_epochs(
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
    _record(
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


FOLDER_OVERRIDES = ("epochs", "batch_size", "lr", "threads", "image_size", "workers")
"""The options that override the folder recipe (sebook.folder_training.PAPER_SGD)."""


def _main_folder(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
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
    out, manifest = _out_and_manifest(parser, args)
    world = _world(parser, recipe.batch_size, args.micro_batches)
    parts = ["python", "-m", "sebook.train", "--model", args.model]
    parts += ["--data", args.data, "--seed", str(args.seed)]
    for name in FOLDER_OVERRIDES:
        if getattr(args, name) is not None:
            parts += ["--" + name.replace("_", "-"), str(getattr(args, name))]
    if args.micro_batches != 1:
        parts += ["--micro-batches", str(args.micro_batches)]
    command = shlex.join([*parts, "--out", args.out])
    run = _run_saving_epochs(
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
    _record(
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


def _out_and_manifest(
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


def _world(
    parser: argparse.ArgumentParser, batch_size: int, micro_batches: int
) -> distributed.World:
    """This process's place in a torchrun job; a bad launch fails before any work."""
    try:
        world = distributed.world_from_env()
        distributed.batch_share(batch_size, world, micro_batches)
    except (RuntimeError, ValueError) as error:
        parser.error(str(error))  # before joining the others: a bad launch fails fast
    return world


def _run_saving_epochs(
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


def _record(
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


if __name__ == "__main__":
    sys.exit(main())
