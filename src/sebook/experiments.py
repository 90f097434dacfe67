"""The book's training experiments, read from the manifest.

Which nets were trained, and their results over seeds.

Every committed checkpoint's manifest entry records its ``dataset``, ``recipe``
(structured), ``config`` and ``seed``; :func:`runs` selects the entries of one variant
and :func:`accuracies` and :func:`learning_curves` read their results, so no code
re-parses commands. :func:`untrained_twin` rebuilds a net as it was before training, the
baseline of the gate analyses. Explained in "Learned channel weights".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from . import checks
from .data import DATASETS
from .fashion_models import FashionNet, FashionNetConfig
from .recipe import RECIPES


def runs(
    entries: Mapping[str, Mapping[str, Any]],
    config: FashionNetConfig,
    dataset: str = "fashion-mnist",
    recipe: str = "plateau",
) -> list[Mapping[str, Any]]:
    """The manifest ``entries`` of ``config`` trained by ``recipe`` on ``dataset``.

    Sorted by seed; ``recipe`` is a recipe's name.

    ``entries`` is ``sebook.manifest.read_manifest(...)["checkpoints"]``. Raises if
    there is none, naming what was looked for.
    """
    if not isinstance(config, FashionNetConfig):
        raise TypeError(
            f"config must be a FashionNetConfig, got {type(config).__name__}"
        )
    checks.one_of("dataset", dataset, DATASETS)
    checks.one_of("recipe", recipe, RECIPES)
    wanted = config.to_dict()
    found = [
        e
        for e in entries.values()
        if e.get("dataset") == dataset
        and e.get("recipe", {}).get("name") == recipe
        and FashionNetConfig.from_dict(e["config"]).to_dict() == wanted
    ]
    if not found:
        raise ValueError(
            f"the manifest holds no net {config.name!r} trained by recipe {recipe!r} "
            f"on {dataset!r}"
        )
    return sorted(found, key=lambda e: e["seed"])


def accuracies(
    entries: Mapping[str, Mapping[str, Any]],
    config: FashionNetConfig,
    dataset: str = "fashion-mnist",
    recipe: str = "plateau",
) -> list[float]:
    """Test accuracy (in %) of every seed of one variant, in seed order."""
    return [
        100 * e["metrics"]["test_accuracy"]
        for e in runs(entries, config, dataset, recipe)
    ]


def learning_curves(
    entries: Mapping[str, Mapping[str, Any]],
    config: FashionNetConfig,
    dataset: str = "fashion-mnist",
    recipe: str = "plateau",
) -> list[list[float]]:
    """Test accuracy (in %) after each epoch, one list per seed, in seed order."""
    return [
        [100 * a for a in e["metrics"]["epoch_test_accuracy"]]
        for e in runs(entries, config, dataset, recipe)
    ]


def untrained_twin(config: FashionNetConfig, seed: int) -> FashionNet:
    """``config``'s network with the initial weights that training with ``seed`` uses.

    It is in eval mode.

    :func:`sebook.train.train` seeds torch's global generator with ``seed`` and then
    builds the network; this does the same without touching the caller's random state. A
    baseline: whatever structure its gates show comes from the architecture and the
    images, not from learning.
    """
    if not isinstance(config, FashionNetConfig):
        raise TypeError(
            f"config must be a FashionNetConfig, got {type(config).__name__}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = FashionNet(config)
    return model.eval()
