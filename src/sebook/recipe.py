"""Training recipes: the hyperparameters of a training run, as one structured record.

A :class:`Recipe` is stored in every checkpoint's manifest entry (``recipe``), so a net
can be retrained from its record alone. :data:`RECIPES` names the recipes the book uses;
:func:`augment` is the data augmentation they name. Explained in "Learned channel
weights".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch.nn import functional as F

from . import checks

SCHEDULES = ("linear",)
"""Learning-rate schedules; ``"linear"`` falls from ``lr`` to 0 over all steps."""

AUGMENTATIONS = ("none", "shift-flip")
"""Augmentations; ``"shift-flip"`` shifts each image and flips half of them.

The shift is up to 2 pixels each way.
"""

LABELS = ("true", "shuffled")
"""Training labels; ``"shuffled"`` is a fixed random permutation of them.

The shuffled labels are a baseline that can learn no class.
"""


@dataclass(frozen=True)
class Recipe:
    """How a network is trained (AdamW, cross-entropy); every field is plain data.

    Args:
        name: a short name, used in checkpoint file names.
        epochs, batch_size, lr, weight_decay: AdamW's run; each epoch visits the
            training set in a new seeded order in full batches (the remainder is
            skipped).
        schedule: one of :data:`SCHEDULES`.
        augment: one of :data:`AUGMENTATIONS`.
        labels: one of :data:`LABELS`.
        train_subset: train on this many examples (a seeded choice), or ``None`` for
            all.
        threads: torch threads during training (the thread count can change the last
            bits of a result).
    """

    name: str
    epochs: int = 2
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 1e-4
    schedule: str = "linear"
    augment: str = "none"
    labels: str = "true"
    train_subset: int | None = None
    threads: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.replace("-", "").isalnum():
            raise ValueError(f"name must be letters, digits and '-', got {self.name!r}")
        checks.positive_int("epochs", self.epochs)
        if checks.positive_int("batch_size", self.batch_size) < 2:
            raise ValueError(
                "batch_size must be at least 2 (BatchNorm needs two examples), got "
                f"{self.batch_size}"
            )
        object.__setattr__(self, "lr", checks.positive_number("lr", self.lr))
        if (
            isinstance(self.weight_decay, bool)
            or not isinstance(self.weight_decay, (int, float))
            or not self.weight_decay >= 0
        ):
            raise ValueError(
                f"weight_decay must be a number >= 0, got {self.weight_decay!r}"
            )
        object.__setattr__(self, "weight_decay", float(self.weight_decay))
        checks.one_of("schedule", self.schedule, SCHEDULES)
        checks.one_of("augment", self.augment, AUGMENTATIONS)
        checks.one_of("labels", self.labels, LABELS)
        if (
            self.train_subset is not None
            and not 2
            <= checks.positive_int("train_subset", self.train_subset)
            <= 60_000
        ):
            raise ValueError(
                "train_subset must be between 2 and 60000 (or None for all), got "
                f"{self.train_subset!r}"
            )
        checks.positive_int("threads", self.threads)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values; :meth:`from_dict` inverts it."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Recipe:
        """Rebuild a recipe from :meth:`to_dict`'s output; unknown keys are an error."""
        return cls(**checks.known_fields("recipe", d, cls))

    def replace(self, **changes: Any) -> Recipe:
        """A copy with some fields changed (checked again)."""
        return dataclasses.replace(self, **changes)


SHORT = Recipe("short")
"""The first edition's recipe of 2 epochs without augmentation.

Too short to tell SE from noise; kept for quick runs and the tiny net of the
bit-for-bit reproduction test.
"""

PLATEAU = Recipe("plateau", epochs=6, augment="shift-flip")
"""The book's recipe, 6 epochs with shifts and flips (chapters 07 to 10 and 12).

Test accuracy levels off as the learning rate decays.
"""

BUDGET_EPOCHS = (6, 12, 24, 48)
"""The training budgets of the budget curve in "Learned channel weights".

Each is a full run of ``PLATEAU``'s schedule (the learning rate falls to 0 over its own
epochs), named ``budget-<epochs>``."""

EVIDENCE = PLATEAU.replace(name="evidence", epochs=48)
"""The recipe of the evidence design (``experiments/se_evidence/design.toml``).

``PLATEAU`` at the smallest budget of the budget curve that meets the plateau rule
(:func:`sebook.experiments.plateau_budget`)."""

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        SHORT,
        PLATEAU,
        PLATEAU.replace(name="plateau-shuffled", labels="shuffled"),
        *(PLATEAU.replace(name=f"budget-{e}", epochs=e) for e in BUDGET_EPOCHS),
        EVIDENCE,
    )
}
"""The named recipes of the committed checkpoints."""


def augment(
    images: torch.Tensor, generator: torch.Generator, max_shift: int = 2
) -> torch.Tensor:
    """Shift each (B, C, H, W) image by up to ``max_shift`` pixels; flip half of them.

    The shift is each way, with zero fill.

    The shifts and flips are drawn from ``generator``, so a seeded run augments
    identically every time.
    """
    b, _, h, w = images.shape
    shifts = torch.randint(0, 2 * max_shift + 1, (2, b), generator=generator)
    flips = torch.rand(b, generator=generator) < 0.5
    padded = F.pad(images, (max_shift,) * 4)
    rows = (shifts[0][:, None] + torch.arange(h))[:, None, :, None]
    cols = (shifts[1][:, None] + torch.arange(w))[:, None, None, :]
    shifted = padded[
        torch.arange(b)[:, None, None, None],
        torch.arange(images.shape[1])[None, :, None, None],
        rows,
        cols,
    ]
    return torch.where(flips[:, None, None, None], shifted.flip(-1), shifted)
