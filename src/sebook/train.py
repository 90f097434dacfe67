"""Training the small Fashion-MNIST networks, reproducibly.

It provides :func:`train`, :func:`evaluate`, :func:`trained_model` and
``python -m sebook.train``.

Every run is a function of its arguments: the seed fixes the initial weights and a
dedicated random generator fixes the order of the training examples; deterministic
algorithms are switched on for the run, and the thread count is fixed (1 by default:
these tiny convolutions run faster on one thread than on two that compete for a shared
CPU, and the thread count can change the last bits of a result). The same command on the
same kind of CPU gives the same weights, bit for bit. Explained in
"Learned channel weights"; the committed checkpoints and the commands that made them are
listed in ``checkpoints/manifest.json``; the command line is :mod:`sebook.train_cli`.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from . import checks
from .data import DATASETS, FASHION_MNIST_SHA256, load_dataset
from .distributed import World, batch_share, sum_over_processes
from .fashion_models import FashionNet, FashionNetConfig
from .recipe import RECIPES, SHORT, Recipe, augment
from .runtime import forward_in_batches, progress_bar
from .training_steps import (
    BAR_FORMAT,
    PROGRESS_UPDATES,
    TERMINAL_BAR_FORMAT,
    epoch_state,
    optimizer_step,
    reproducible,
    resume_state,
)

DTYPES = (torch.float32, torch.float64)
"""The precisions :func:`train` trains in."""


def _built_in(dtype: torch.dtype, build, *args):
    """``build(*args)`` with ``dtype`` as torch's default dtype.

    The random initial weights are drawn in ``dtype`` itself, not in float32 and then
    converted, whose last bits follow the CPU's vector kernels.
    """
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        return build(*args)
    finally:
        torch.set_default_dtype(old)


@torch.no_grad()
def predict(
    model: nn.Module, images: torch.Tensor, batch_size: int = 1000
) -> torch.Tensor:
    """Logits (N, classes) of ``model`` in eval mode for (N, 1, 28, 28) ``images``.

    In order, batch by batch.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    images = checks.feature_map(images, name="images")
    batch_size = checks.positive_int("batch_size", batch_size)
    return forward_in_batches(model, images, batch_size)


def evaluate(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000
) -> dict[str, Any]:
    """Accuracy, mean cross-entropy and per-class accuracy of ``model``.

    On ``(images, labels)``, in a fixed order.
    """
    logits = predict(model, images, batch_size)
    if not isinstance(labels, torch.Tensor) or labels.shape != (len(images),):
        raise ValueError(
            f"labels must be a tensor of shape ({len(images)},), got "
            f"{getattr(labels, 'shape', labels)!r}"
        )
    correct = logits.argmax(1) == labels
    per_class = [
        (
            int(correct[labels == k].sum()) / int((labels == k).sum())
            if (labels == k).any()
            else float("nan")
        )
        for k in range(logits.shape[1])
    ]
    return {
        "accuracy": int(correct.sum()) / len(labels),
        "loss": float(F.cross_entropy(logits, labels)),
        "class_accuracy": per_class,
    }


def train(
    config: FashionNetConfig,
    seed: int = 0,
    recipe: Recipe = SHORT,
    dataset: str = "fashion-mnist",
    progress: bool = True,
    data_root: str | None = None,
    dtype: torch.dtype = torch.float32,
    *,
    resume: Mapping[str, Any] | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    micro_batches: int = 1,
    world: World | None = None,
) -> tuple[FashionNet, dict[str, Any]]:
    """Train a :class:`~sebook.fashion_models.FashionNet` by ``recipe`` on ``dataset``.

    Then evaluate it on its test set.

    ``seed`` fixes the initial weights, and a generator seeded with it fixes the
    training subset, the label permutation (``recipe.labels == "shuffled"``), the order
    of the examples and the augmentation. ``progress`` shows a tqdm bar on stderr whose
    text does not depend on timing. ``dtype`` (``torch.float32`` or ``torch.float64``)
    is the precision of the weights and data: in float32 the last digits of a short
    training's results follow the vector kernels the CPU picks, in float64 they do not
    move at the precision anyone prints.

    After each epoch ``on_epoch`` (if given) receives the training state: a dict of
    plain data (``epoch``, the epochs finished, and the model's, optimizer's, schedule's
    and random generators' states) that ``resume`` takes to continue from that epoch
    and reach the same weights as an uninterrupted run.

    ``micro_batches`` splits each batch into that many parts, each normalised by
    BatchNorm on its own, their gradients averaged (gradient accumulation). ``world``
    (:mod:`sebook.distributed`; a single process by default) trains this process's
    share of every batch in a ``DistributedDataParallel`` run, inside
    :func:`sebook.distributed.process_group`: N processes train exactly as one process
    with N micro-batches, and only rank 0 evaluates (the others return no test metrics).

    Returns ``(model in eval mode, metrics)``; ``metrics`` holds ``test_accuracy``,
    ``test_loss``, ``class_accuracy`` (test, per class), ``epoch_loss`` and
    ``epoch_accuracy`` (training, per epoch) and ``epoch_test_accuracy`` (the test
    accuracy after each epoch: the learning curve).
    """
    if not isinstance(config, FashionNetConfig):
        raise TypeError(
            f"config must be a FashionNetConfig, got {type(config).__name__}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if not isinstance(recipe, Recipe):
        raise TypeError(
            f"recipe must be a sebook.recipe.Recipe, got {type(recipe).__name__}"
        )
    checks.one_of("dataset", dataset, DATASETS)
    micro_batches = checks.positive_int("micro_batches", micro_batches)
    world = World() if world is None else world
    if not isinstance(world, World):
        raise TypeError(
            f"world must be a sebook.distributed.World, got {type(world).__name__}"
        )
    if dtype not in DTYPES:
        raise ValueError(
            f"dtype must be one of {', '.join(map(str, DTYPES))}, got {dtype!r}"
        )
    train_images, train_labels = load_dataset(dataset, "train", data_root)
    test_images, test_labels = load_dataset(dataset, "test", data_root)
    train_images, test_images = train_images.to(dtype), test_images.to(dtype)
    if train_images.shape[1] != config.in_channels:
        raise ValueError(
            f"{dataset} has {train_images.shape[1]}-channel images but "
            f"config.in_channels is {config.in_channels}"
        )
    with reproducible(recipe.threads):
        generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        model = _built_in(dtype, FashionNet, config)
        if recipe.train_subset is not None:
            chosen = torch.randperm(len(train_images), generator=generator)[
                : recipe.train_subset
            ]
            train_images, train_labels = train_images[chosen], train_labels[chosen]
        if recipe.labels == "shuffled":
            train_labels = train_labels[
                torch.randperm(len(train_labels), generator=generator)
            ]
        n, batch_size = len(train_images), recipe.batch_size
        steps_per_epoch = n // batch_size
        if steps_per_epoch == 0:
            raise ValueError(
                f"batch_size {batch_size} is larger than the {n} training examples"
            )
        batch_share(batch_size, world, micro_batches)  # raises if it does not divide
        total_steps = recipe.epochs * steps_per_epoch
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay
        )
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: 1.0 - step / total_steps
        )
        every = max(1, math.ceil(steps_per_epoch / PROGRESS_UPDATES))
        epoch_loss, epoch_accuracy, epoch_test_accuracy = [], [], []
        first = 0
        if resume is not None:
            first = resume_state(
                resume, recipe.epochs, model, optimizer, schedule, generator,
                RESUME_KEYS, "train",
            )  # fmt: skip
            epoch_loss, epoch_accuracy, epoch_test_accuracy, test = (
                list(resume["epoch_loss"]),
                list(resume["epoch_accuracy"]),
                list(resume["epoch_test_accuracy"]),
                dict(resume["test"]),
            )
        net = model
        if world.size > 1:  # averages the gradients over the processes
            net = nn.parallel.DistributedDataParallel(model)
        with progress_bar(
            total=total_steps,
            initial=first * steps_per_epoch,
            desc=config.name,
            bar_format=TERMINAL_BAR_FORMAT if sys.stderr.isatty() else BAR_FORMAT,
            disable=not (progress and world.main),
            mininterval=0,
            miniters=1,
            maxinterval=math.inf,
            ncols=88,
            file=sys.stderr,
        ) as bar:
            for epoch in range(first, recipe.epochs):
                model.train()
                order = torch.randperm(n, generator=generator)
                loss_sum, correct, pending = torch.zeros((), dtype=torch.float64), 0, 0
                for step in range(steps_per_epoch):
                    index = order[step * batch_size : (step + 1) * batch_size]
                    images = train_images[index]
                    if recipe.augment == "shift-flip":  # the whole batch, everywhere
                        images = augment(images, generator)
                    step_loss, step_correct = optimizer_step(
                        net, model, optimizer, images, train_labels[index], world,
                        micro_batches,
                    )  # fmt: skip
                    schedule.step()
                    loss_sum += step_loss
                    correct += step_correct
                    pending += 1
                    if pending == every or step == steps_per_epoch - 1:
                        bar.set_postfix_str(
                            f"epoch {epoch + 1}/{recipe.epochs}, "
                            f"loss {float(loss_sum) / (step + 1):.3f}",
                            refresh=False,
                        )
                        bar.update(pending)
                        pending = 0
                loss_sum = sum_over_processes(loss_sum, world)
                correct = int(sum_over_processes(torch.tensor(correct), world))
                epoch_loss.append(float(loss_sum) / steps_per_epoch)
                epoch_accuracy.append(correct / (steps_per_epoch * batch_size))
                model.eval()
                test = (
                    evaluate(model, test_images, test_labels)
                    if world.main
                    else {"accuracy": None, "loss": None, "class_accuracy": None}
                )
                epoch_test_accuracy.append(test["accuracy"])
                if on_epoch is not None:
                    on_epoch(
                        epoch_state(
                            epoch + 1, model, optimizer, schedule,
                            generator=generator.get_state(),
                            epoch_loss=epoch_loss,
                            epoch_accuracy=epoch_accuracy,
                            epoch_test_accuracy=epoch_test_accuracy,
                            test=test,
                        )
                    )  # fmt: skip
    metrics = {
        "test_accuracy": test["accuracy"],
        "test_loss": test["loss"],
        "class_accuracy": test["class_accuracy"],
        "epoch_loss": epoch_loss,
        "epoch_accuracy": epoch_accuracy,
        "epoch_test_accuracy": epoch_test_accuracy,
        "train_examples": n,
        "steps": total_steps,
    }
    return model, metrics


RESUME_KEYS = frozenset(
    "epoch model optimizer schedule generator torch_rng epoch_loss epoch_accuracy "
    "epoch_test_accuracy test".split()
)
"""The keys of a training state (:func:`train`'s ``on_epoch`` and ``resume``)."""


RETRAIN_ENV = "SEBOOK_RETRAIN"
"""Set this environment variable to 1 to make :func:`trained_model` retrain.

The chapters then retrain too instead of loading.
"""


def trained_model(
    config: FashionNetConfig,
    seed: int = 0,
    recipe: str = "short",
    dataset: str = "fashion-mnist",
    *,
    retrain: bool | None = None,
    folder: str | None = None,
) -> tuple[FashionNet, dict[str, Any]]:
    """The network ``config`` trained with ``seed`` by ``recipe`` on ``dataset``.

    It is loaded, or retrained; ``recipe`` names a recipe.

    By default the checkpoint :func:`sebook.checkpoints.checkpoint_path` is loaded
    (weights only). With ``retrain=True``, or ``retrain=None`` and the environment
    variable ``SEBOOK_RETRAIN=1``, the network is trained again with the recipe its
    manifest entry records (:data:`sebook.recipe.RECIPES` if it has none), without a
    progress bar; on the same kind of CPU the weights are the same bit for bit. Returns
    ``(model in eval mode, metadata)`` as :func:`sebook.checkpoints.load_checkpoint`
    does.
    """
    import os

    from .checkpoints import checkpoint_path, load_checkpoint
    from .manifest import read_manifest

    checks.one_of("recipe", recipe, RECIPES)
    path = checkpoint_path(config, seed, folder, recipe=recipe, dataset=dataset)
    if retrain is None:
        retrain = os.environ.get(RETRAIN_ENV, "0") == "1"
    if not retrain:
        return load_checkpoint(path)
    entry = read_manifest(path.parent / "manifest.json")["checkpoints"].get(
        path.name, {}
    )
    chosen = Recipe.from_dict(entry["recipe"]) if "recipe" in entry else RECIPES[recipe]
    model, metrics = train(config, seed, chosen, dataset, progress=False)
    return model, {
        "config": config,
        "metrics": metrics,
        "seed": seed,
        "data_sha256": FASHION_MNIST_SHA256,
        "retrained": True,
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m sebook.train`` (see :mod:`sebook.train_cli`)."""
    from .train_cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
