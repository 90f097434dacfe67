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


PLATEAU_GAIN = 0.1
"""The plateau rule's threshold in points of test accuracy gained per epoch.

Over the last three epochs, the mean over seeds; below it a budget counts as trained to
its plateau."""


def budget_curve(
    entries: Mapping[str, Mapping[str, Any]],
    baseline: FashionNetConfig,
    config: FashionNetConfig,
    budgets: Mapping[int, str],
    dataset: str = "cast-fashion-mnist",
) -> dict[int, dict[str, Any]]:
    """Accuracy against training budget, and the plateau rule, for ``config`` against ``baseline``.

    ``budgets`` maps epochs to the recipe trained for that many epochs. For each budget:
    ``"baseline"`` and ``"config"``, each ``{"final": [accuracy per seed, %],
    "gain_per_epoch": mean over seeds of (last - third-to-last-but-one) / 3}``;
    ``"difference"``, :func:`sebook.seed_stats.welch_interval` of config minus baseline;
    and ``"flat"``, whether both gains are below :data:`PLATEAU_GAIN`.
    """
    from .seed_stats import welch_interval

    out: dict[int, dict[str, Any]] = {}
    for epochs, recipe in sorted(budgets.items()):
        row: dict[str, Any] = {}
        for key, net in (("baseline", baseline), ("config", config)):
            curves = learning_curves(entries, net, dataset, recipe)
            if any(len(c) != epochs for c in curves):
                raise ValueError(
                    f"recipe {recipe!r} was given as {epochs} epochs, but its nets "
                    f"recorded {sorted({len(c) for c in curves})}"
                )
            if epochs < 4:
                raise ValueError(f"a budget needs at least 4 epochs, got {epochs}")
            gains = [(c[-1] - c[-4]) / 3 for c in curves]
            row[key] = {
                "final": [c[-1] for c in curves],
                "gain_per_epoch": sum(gains) / len(gains),
            }
        row["difference"] = welch_interval(
            row["config"]["final"], row["baseline"]["final"]
        )
        row["flat"] = all(
            row[k]["gain_per_epoch"] < PLATEAU_GAIN for k in ("baseline", "config")
        )
        out[epochs] = row
    return out


def plateau_budget(curve: Mapping[int, Mapping[str, Any]]) -> int | None:
    """The smallest budget of :func:`budget_curve`'s result that meets the plateau rule.

    The rule: (a) both nets gain less than :data:`PLATEAU_GAIN` points per epoch over
    their last three epochs, and (b) the difference config minus baseline moves by less
    than its own interval's half-width from the next smaller budget. ``None`` if none does.
    """
    budgets = sorted(curve)
    for smaller, budget in zip(budgets, budgets[1:]):
        d, before = curve[budget]["difference"], curve[smaller]["difference"]
        half_width = (d["high"] - d["low"]) / 2
        if (
            curve[budget]["flat"]
            and abs(d["difference"] - before["difference"]) < half_width
        ):
            return budget
    return None
