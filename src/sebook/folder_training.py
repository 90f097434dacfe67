"""Training ImageNet-size networks on a folder of images, by the SENet paper's recipe.

``python -m sebook.train --model se_resnet50 --data DIR --out FILE.pt`` trains one of
:data:`MODELS` on ``DIR/train`` (a folder of class folders, ImageNet's layout, read by
:mod:`sebook.image_folder` with the standard augmentation) and, where ``DIR/val`` exists,
evaluates it there after every epoch. The recipe is :data:`PAPER_SGD`. Under torchrun
(:mod:`sebook.distributed`) every process loads only its share of each global batch, so N
processes train as one process with N micro-batches, and rank 0 alone evaluates and
writes. Explained in the appendix "Training beyond one machine".
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from . import checks, models
from .distributed import World, batch_share, sum_over_processes
from .image_folder import ImageFolder, eval_transform, train_transform
from .runtime import progress_bar
from .training_steps import (
    BAR_FORMAT,
    TERMINAL_BAR_FORMAT,
    epoch_state,
    optimizer_step,
    reproducible,
    resume_state,
)

MODELS: dict[str, Callable[..., nn.Module]] = {
    "se_resnet50": models.se_resnet50,
    "resnet50": models.resnet50,
    "se_resnet101": models.se_resnet101,
    "resnet101": models.resnet101,
    "efficientnet_b0": models.efficientnet_b0,
}
"""The networks ``--model`` names; each takes ``num_classes``."""

IMAGENET_TRAIN_IMAGES = 1_281_167
"""Images in ImageNet's (ILSVRC-2012) training set (Russakovsky et al. 2015)."""

CHECKPOINT_FORMAT = "sebook-folder-checkpoint"
"""The ``format`` field of the checkpoints :func:`save_folder_checkpoint` writes."""


@dataclasses.dataclass(frozen=True)
class SGDRecipe:
    """Synchronous SGD with momentum and a step schedule, on ``image_size`` crops.

    ``batch_size`` is the global batch, summed over all processes; ``lr`` is the rate
    at that batch (scale both together, as Goyal et al. 2017 do, to keep the recipe).
    The rate drops tenfold every ``step_epochs`` epochs. ``workers`` decode images in
    parallel (DataLoader worker processes per training process); ``threads`` is torch's
    thread count in each process (None leaves torch's default).
    """

    name: str = "paper-sgd"
    epochs: int = 100
    batch_size: int = 1024
    lr: float = 0.6
    momentum: float = 0.9
    weight_decay: float = 1e-4
    step_epochs: int = 30
    image_size: int = 224
    workers: int = 8
    threads: int | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "step_epochs", "image_size"):
            checks.positive_int(name, getattr(self, name))
        checks.positive_number("lr", self.lr)
        if (
            isinstance(self.workers, bool)
            or not isinstance(self.workers, int)
            or self.workers < 0
        ):
            raise ValueError(f"workers must be an integer >= 0, got {self.workers!r}")
        for name in ("momentum", "weight_decay"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not 0 <= value < 1
            ):
                raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
        if self.threads is not None:
            checks.positive_int("threads", self.threads)

    def replace(self, **changes: Any) -> SGDRecipe:
        """A copy with ``changes`` (checked like the original)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PAPER_SGD = SGDRecipe()
"""The recipe of the SENet paper, from Sec. 6.1 of its TPAMI version.

SGD with momentum 0.9, a global batch of 1,024, a rate of 0.6 divided by 10 every 30
epochs, 100 epochs from scratch, random-size crops of 224 x 224 and horizontal flips. The
paper does not state its weight decay; 1e-4 is ResNet's (He et al. 2016).
"""


def epoch_batches(
    n: int,
    recipe: SGDRecipe,
    seed: int,
    epoch: int,
    world: World,
    micro_batches: int = 1,
) -> list[list[int]]:
    """This process's example indices in each global batch of ``epoch``.

    Every process draws the same order from ``seed`` and ``epoch`` and takes its slice of
    each batch; the last, incomplete batch is dropped.
    """
    share = batch_share(recipe.batch_size, world, micro_batches) * micro_batches
    order = torch.randperm(
        n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    )
    first = world.rank * share
    return [
        order[start + first : start + first + share].tolist()
        for start in range(0, n - recipe.batch_size + 1, recipe.batch_size)
    ]


def _device(world: World) -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", world.local_rank)
    return torch.device("cpu")


def evaluate_folder(
    model: nn.Module, data: ImageFolder, device: torch.device, workers: int = 0
) -> dict[str, float]:
    """Top-1 accuracy and mean cross-entropy of ``model`` (in eval mode) on ``data``."""
    loader = torch.utils.data.DataLoader(data, batch_size=100, num_workers=workers)
    correct, loss = 0, 0.0
    with torch.no_grad():
        for images, labels in loader:
            logits = model(images.to(device))
            labels = labels.to(device)
            loss += float(F.cross_entropy(logits, labels, reduction="sum"))
            correct += int((logits.argmax(1) == labels).sum())
    return {"accuracy": correct / len(data), "loss": loss / len(data)}


def train_folder(
    model_name: str,
    data: str | Path,
    recipe: SGDRecipe = PAPER_SGD,
    seed: int = 0,
    *,
    world: World | None = None,
    micro_batches: int = 1,
    resume: Mapping[str, Any] | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    progress: bool = False,
) -> tuple[nn.Module, dict[str, Any]]:
    """Train ``model_name`` on ``data``/train by ``recipe``; evaluate on ``data``/val if present.

    ``seed`` fixes the initial weights, the order of the examples and every
    augmentation. ``world``, ``micro_batches``, ``resume`` and ``on_epoch`` work as in
    :func:`sebook.train.train`: after each epoch ``on_epoch`` gets the training state,
    and ``resume`` continues from it to the weights of an uninterrupted run.

    Returns ``(model in eval mode, metrics)``: ``classes``, ``epoch_loss`` and
    ``epoch_accuracy`` (training) and ``epoch_val_accuracy`` (None without ``val``).
    """
    checks.one_of("model_name", model_name, MODELS)
    if not isinstance(recipe, SGDRecipe):
        raise TypeError(
            f"recipe must be a sebook.folder_training.SGDRecipe, got {type(recipe).__name__}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    micro_batches = checks.positive_int("micro_batches", micro_batches)
    world = World() if world is None else world
    root = Path(data)
    if not (root / "train").is_dir():
        raise ValueError(
            f"data must be a folder with a train/ folder of class folders (ImageNet's "
            f"layout: DATA/train/<class>/<image>, DATA/val/<class>/<image>), got {str(root)!r}"
        )
    train_set = ImageFolder(root / "train", train_transform(recipe.image_size), seed)
    val_set = None
    if (root / "val").is_dir():
        resize = round(recipe.image_size * 256 / 224)  # 256 for 224, as ImageNet's
        val_set = ImageFolder(root / "val", eval_transform(recipe.image_size, resize))
        if val_set.classes != train_set.classes:
            raise ValueError(
                f"{root / 'val'} and {root / 'train'} must hold the same class folders"
            )
    steps = len(train_set) // recipe.batch_size
    if steps == 0:
        raise ValueError(
            f"batch_size {recipe.batch_size} is larger than the {len(train_set)} "
            "training images"
        )
    batch_share(recipe.batch_size, world, micro_batches)  # raises if it does not divide
    device = _device(world)
    with reproducible(recipe.threads):
        torch.manual_seed(seed)
        model = MODELS[model_name](num_classes=len(train_set.classes)).to(device)
        optimizer = torch.optim.SGD(
            model.parameters(),
            lr=recipe.lr,
            momentum=recipe.momentum,
            weight_decay=recipe.weight_decay,
        )
        schedule = torch.optim.lr_scheduler.StepLR(optimizer, recipe.step_epochs, 0.1)
        history: dict[str, list] = {
            "epoch_loss": [],
            "epoch_accuracy": [],
            "epoch_val_accuracy": [],
        }
        first = 0
        if resume is not None:
            first = resume_state(
                resume, recipe.epochs, model, optimizer, schedule, None,
                RESUME_KEYS, "train_folder",
            )  # fmt: skip
            history = {k: list(resume[k]) for k in history}
        net = model
        if world.size > 1:  # averages the gradients over the processes
            ids = [device.index] if device.type == "cuda" else None
            net = nn.parallel.DistributedDataParallel(model, device_ids=ids)
        with progress_bar(
            total=recipe.epochs * steps,
            initial=first * steps,
            desc=model_name,
            bar_format=TERMINAL_BAR_FORMAT if sys.stderr.isatty() else BAR_FORMAT,
            disable=not (progress and world.main),
            mininterval=0,
            maxinterval=math.inf,
            ncols=88,
            file=sys.stderr,
        ) as bar:
            for epoch in range(first, recipe.epochs):
                model.train()
                train_set.set_epoch(epoch)
                loader = torch.utils.data.DataLoader(
                    train_set,
                    batch_sampler=epoch_batches(
                        len(train_set), recipe, seed, epoch, world, micro_batches
                    ),
                    num_workers=recipe.workers,
                    pin_memory=device.type == "cuda",
                )
                loss_sum, correct = torch.zeros((), dtype=torch.float64), 0
                for images, labels in loader:
                    # this process's share only: a world of one for the split into parts
                    step_loss, step_correct = optimizer_step(
                        net, model, optimizer, images.to(device), labels.to(device),
                        World(), micro_batches,
                    )  # fmt: skip
                    loss_sum += step_loss.cpu()
                    correct += step_correct
                    bar.set_postfix_str(
                        f"epoch {epoch + 1}/{recipe.epochs}", refresh=False
                    )
                    bar.update(1)
                schedule.step()
                loss_sum = sum_over_processes(loss_sum.to(device), world).cpu()
                correct = int(
                    sum_over_processes(torch.tensor(correct, device=device), world)
                )
                history["epoch_loss"].append(float(loss_sum) / (steps * world.size))
                history["epoch_accuracy"].append(correct / (steps * recipe.batch_size))
                model.eval()
                history["epoch_val_accuracy"].append(
                    evaluate_folder(model, val_set, device, recipe.workers)["accuracy"]
                    if val_set is not None and world.main
                    else None
                )
                if on_epoch is not None:
                    on_epoch(
                        epoch_state(epoch + 1, model, optimizer, schedule, **history)
                    )
    model.eval()
    return model, {"classes": train_set.classes, **history}


RESUME_KEYS = frozenset(
    "epoch model optimizer schedule torch_rng epoch_loss epoch_accuracy "
    "epoch_val_accuracy".split()
)
"""The keys of a training state (:func:`train_folder`'s ``on_epoch`` and ``resume``)."""


def save_folder_checkpoint(
    path: str | Path,
    model_name: str,
    model: nn.Module,
    metrics: Mapping[str, Any],
    recipe: SGDRecipe,
    seed: int,
) -> Path:
    """Write ``model``'s weights with what rebuilds it (name, classes), atomically."""
    from .checkpoints import save_atomically

    payload = {
        "format": CHECKPOINT_FORMAT,
        "format_version": 1,
        "model": model_name,
        "classes": list(metrics["classes"]),
        "recipe": recipe.to_dict(),
        "seed": seed,
        "state_dict": model.state_dict(),
    }
    return save_atomically(payload, path)


def load_folder_checkpoint(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """The model a :func:`save_folder_checkpoint` file holds (in eval mode), and the file's fields."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{str(path)!r} is not a checkpoint of python -m sebook.train --model "
            f"({CHECKPOINT_FORMAT})"
        )
    model = MODELS[payload["model"]](num_classes=len(payload["classes"]))
    model.load_state_dict(payload["state_dict"])
    return model.eval(), payload
