"""The exercises of the experiments: Learned channel weights, the reduction ratio, Does SE help.

Each exercise's reference answer and hints; :mod:`sebook.exercises` checks them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..exercises import Exercise, _relative, register
from ._common import _close


def _lit_minus_unlit(frame: bool = False) -> float:
    """Mean pixel of the lit channel minus that of the two others, over the cast test set."""
    from ..data import CAST_FRAME, load_cast_fashion_mnist

    images, _, lit = load_cast_fashion_mnist("test")
    f = CAST_FRAME
    means = (images if frame else images[:, :, f:-f, f:-f]).mean((2, 3))
    lit_mean = means[torch.arange(len(means)), lit.argmax(1)]
    return float(lit_mean.mean() - ((means.sum(1) - lit_mean) / 2).mean())


def _cast_se_seed_spread() -> float:
    """The seed-to-seed standard deviation (points) pooled over chapter 08's five SE networks."""
    from ..checkpoints import checkpoint_folder
    from ..experiments import accuracies
    from ..fashion_models import FashionNetConfig
    from ..manifest import read_manifest
    from ..seed_stats import pooled_seed_spread

    entries = read_manifest(checkpoint_folder() / "manifest.json")["checkpoints"]
    results = {
        r: accuracies(
            entries,
            FashionNetConfig(reduction=r, rd_divisor=4, in_channels=3),
            "cast-fashion-mnist",
        )
        for r in (1, 2, 4, 8, 16)
    }
    return pooled_seed_spread(results)["std"]


def _seeds_for_half_a_point() -> int:
    from ..seed_stats import seeds_for_power

    return seeds_for_power(_cast_se_seed_spread(), 0.5)


def _ablation_baseline_spread() -> float:
    """The seed-to-seed standard deviation (points) of chapter 09's SE baseline on the testbed."""
    from ..checkpoints import checkpoint_folder
    from ..experiments import accuracies
    from ..fashion_models import FashionNetConfig
    from ..manifest import read_manifest
    from ..seed_stats import seed_statistics

    entries = read_manifest(checkpoint_folder() / "manifest.json")["checkpoints"]
    config = FashionNetConfig(rd_divisor=4, in_channels=3)
    return seed_statistics(accuracies(entries, config, "cast-fashion-mnist"))["std"]


def _seeds_for_holm_family(comparisons: int = 8) -> int:
    """Seeds per variant for 80 % power at 0.5 points when Holm tests the first of ``comparisons`` at 5 % / m."""
    from ..seed_stats import seeds_for_power

    return seeds_for_power(_ablation_baseline_spread(), 0.5, alpha=0.05 / comparisons)


def _holm_adjusted(p: torch.Tensor) -> torch.Tensor:
    """The reference: Holm-adjusted p-values of a 1-D tensor, in the input's order."""
    from ..seed_stats import holm

    adjusted = holm({i: float(v) for i, v in enumerate(p)})
    return torch.tensor([adjusted[i]["adjusted"] for i in range(len(p))])


def _holm_inputs() -> list[tuple[torch.Tensor]]:
    # chosen so that each typical mistake changes the answer: a later product below an
    # earlier one (the running maximum) and products above 1 (the cap)
    return [
        (torch.tensor([0.004, 0.03, 0.001, 0.2, 0.006, 0.6, 0.012, 0.9]),),
        (torch.tensor([0.04, 0.01, 0.3, 0.02]),),
    ]


def _holm_mistake(p: torch.Tensor, mistake: str) -> torch.Tensor:
    """Holm done wrong in one typical way, to recognise the mistake in a learner's answer."""
    m = len(p)
    if mistake == "bonferroni":
        return (p * m).clamp(max=1)
    order = torch.argsort(p)
    products = p[order] * torch.arange(m, 0, -1)
    if mistake != "no-running-max":
        products = torch.cummax(products, 0).values
    if mistake != "no-cap":
        products = products.clamp(max=1)
    if mistake == "sorted":
        return products
    return torch.empty_like(p).scatter_(0, order, products)


def _holm_hint(mistake: str) -> Callable[[Any, Any], bool]:
    """A hint test: the learner's function makes ``mistake`` on every test input."""

    def test(answer: Any, expected: Any) -> bool:
        return all(
            _close(
                torch.as_tensor(answer(p.clone()), dtype=p.dtype),
                _holm_mistake(p, mistake),
            )
            for (p,) in _holm_inputs()
        )

    return test


register(
    Exercise(
        "learned-ex-plain",
        "choice",
        lambda: "raises",
        "'raises' or 'empty': what gate_stats.gates_per_image does with a net without gates",
        hints=(
            (
                lambda a, e: a.strip().lower() == "empty",
                "Try it: an empty result would make every later statistic silently empty.",
            ),
        ),
    ),
    Exercise(
        "learned-ex-frame",
        "number",
        _lit_minus_unlit,
        "the lit channel's mean inner pixel minus the other two channels', over the cast test set (frame left out)",
        tolerance=0.005,
        hints=(
            (
                lambda a, e: _relative(float(a), _lit_minus_unlit(frame=True), 0.005),
                "Leave out the 2-pixel frame: it is what differs by construction.",
            ),
        ),
    ),
    Exercise(
        "learned-ex-steps",
        "number",
        lambda: 60_000 // 128 * 6,
        "the optimizer steps of one PLATEAU run on all 60,000 training images (batches of 128, 6 epochs)",
        hints=(
            (
                lambda a, e: a == -(-60_000 // 128) * 6,
                "Each epoch uses full batches only: the remainder is skipped.",
            ),
            (
                lambda a, e: a == 60_000 // 128,
                "That is one epoch; the recipe runs six.",
            ),
        ),
    ),
    Exercise(
        "ch08-ex-seeds",
        "number",
        _seeds_for_half_a_point,
        "the seeds per network for 80 % power at a true difference of 0.5 points (Welch's test, 5 % level)",
        hints=(
            (
                lambda a, e: abs(
                    float(a)
                    - 2
                    * (1.959964 + 0.841621) ** 2
                    * _cast_se_seed_spread() ** 2
                    / 0.25
                )
                < 1
                and float(a) != e,
                "That is the normal approximation; with few seeds Welch's t has heavier tails (seed_stats.seeds_for_power).",
            ),
            (
                lambda a, e: abs(float(a) - e / 2) <= 1,
                "Both networks have seeds: the variance of a difference of two means is 2 s^2 / n.",
            ),
        ),
    ),
    Exercise(
        "ch08-ex-divisor",
        "number",
        lambda: 4,
        "how many different networks the five ratios leave with a divisor of 8",
        hints=(
            (
                lambda a, e: a == 5,
                "Compare the widths of r = 8 and r = 16 with a divisor of 8.",
            ),
        ),
    ),
    Exercise(
        "ch08-ex-width",
        "number",
        lambda: 4,
        "the first block's bottleneck width for 16 channels at r = 16 with rd_divisor=4",
        hints=(
            (
                lambda a, e: a == 1,
                "The divisor rounds to a multiple of 4 and never goes below it.",
            ),
        ),
    ),
    Exercise(
        "ch09-ex-softmax",
        "number",
        lambda: 1 / 64,
        "the mean softmax gate of a block with 64 channels (a number near 0)",
        tolerance=1e-3,
        hints=(
            (
                lambda a, e: float(a) == 0.5,
                "0.5 is a sigmoid gate at logit 0; softmax gates of one image sum to 1 over the channels.",
            ),
            (
                lambda a, e: float(a) == 1,
                "1 is the sum of the 64 gates; the mean divides it by the channel count.",
            ),
            (
                lambda a, e: float(a) == 64,
                "The other way round: the gates sum to 1, so each is 1/64 on average.",
            ),
        ),
    ),
    Exercise(
        "ch09-ex-seeds",
        "number",
        _seeds_for_holm_family,
        "the seeds per variant for 80 % power at 0.5 points, Welch's test at Holm's first level 0.05 / 8",
        hints=(
            (
                lambda a, e: float(a) == _seeds_for_holm_family(1),
                "That is the answer for one comparison; Holm tests the smallest of eight p-values at 0.05 / 8.",
            ),
            (
                lambda a, e: abs(float(a) - e / 2) <= 1,
                "Both variants have seeds: the variance of a difference of two means is 2 s^2 / n.",
            ),
        ),
    ),
    Exercise(
        "ch09-ex-relu",
        "choice",
        lambda: "zero",
        "'zero', 'small' or 'large': the gradient that reaches the excitation through a ReLU gate whose input is negative",
        hints=(
            (
                lambda a, e: a.strip().lower() == "small",
                "A small gradient is what a sigmoid passes near 0; a ReLU is flat below 0.",
            ),
            (
                lambda a, e: a.strip().lower() == "large",
                "A ReLU's slope is 1 only above 0; below it, the slope is 0.",
            ),
        ),
    ),
    Exercise(
        "ch09-ex-holm",
        "function",
        lambda: _holm_adjusted,
        "holm_adjusted(p) returning a 1-D tensor's Holm-adjusted p-values in the input's order",
        tolerance=1e-5,
        inputs=_holm_inputs,
        apply=lambda f, args: torch.as_tensor(f(args[0].clone()), dtype=args[0].dtype),
        hints=(
            (
                _holm_hint("bonferroni"),
                "That is Bonferroni: Holm multiplies the i-th smallest p-value (from 0) by m - i, not by m.",
            ),
            (
                _holm_hint("no-running-max"),
                "Make the products non-decreasing along the sorted order (a running maximum): a larger p-value never gets a smaller adjusted one.",
            ),
            (
                _holm_hint("no-cap"),
                "An adjusted p-value is a probability: cap it at 1.",
            ),
            (
                _holm_hint("sorted"),
                "The values are right but sorted; return them in the input's order.",
            ),
        ),
    ),
)
