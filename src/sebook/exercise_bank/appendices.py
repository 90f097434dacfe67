"""The exercises of the appendices: fresh excitations, measuring a 1 % effect, training beyond one machine.

Each exercise's reference answer and hints; :mod:`sebook.exercises` checks them.
"""

from __future__ import annotations

import torch

from ..exercises import Exercise, _relative, register


def _imagenet_steps(batch_size: int) -> int:
    from ..folder_training import IMAGENET_TRAIN_IMAGES

    return IMAGENET_TRAIN_IMAGES // batch_size


def _dead_initialisations() -> int:
    """Of 20 fresh SEBlock(8, 16), those whose one hidden unit is off for all four quarters of the photo."""
    from ..data import load_photo
    from ..demos import crop_grid
    from ..features import feature_maps
    from ..gate_stats import fresh_gates

    crops = crop_grid(feature_maps(load_photo(64)), 32, 32)
    return sum(
        bool(fresh_gates(8, (16,), crops, seed=seed)[16].std(dim=0).min() == 0)
        for seed in range(20)
    )


def _benchmark() -> dict:
    import json
    from pathlib import Path

    path = (
        Path(__file__).resolve().parents[3]
        / "benchmarks"
        / "results"
        / "se_overhead.json"
    )
    return json.loads(path.read_text(encoding="utf-8"))


def _headline_width_points() -> float:
    r = _benchmark()["cases"]["eager_b1_t1"]["ratios"]["se"]
    return 100 * (r["high"] - r["low"])


register(
    Exercise(
        "beyond-ex-per-gpu",
        "number",
        lambda: 1024 // 32,
        "the images each process gets per step: four machines of eight GPUs, the paper's batch",
        hints=(
            (
                lambda a, e: a == 128,
                "128 is one machine's share per GPU; here the batch is split over all 32 processes.",
            ),
            (
                lambda a, e: a == 1024,
                "1,024 is the global batch, summed over every process; each gets a share.",
            ),
        ),
    ),
    Exercise(
        "beyond-ex-lr",
        "number",
        lambda: 0.6 * 512 / 1024,
        "the learning rate for a global batch of 512 by the linear scaling rule",
        hints=(
            (
                lambda a, e: float(a) == 0.6,
                "0.6 belongs to a global batch of 1,024: scale the rate with the batch.",
            ),
            (
                lambda a, e: _relative(float(a), 1.2, 1e-6),
                "The other way round: half the batch, half the rate.",
            ),
        ),
    ),
    Exercise(
        "beyond-ex-steps",
        "number",
        lambda: _imagenet_steps(1024),
        "the optimizer steps in one epoch of ImageNet at a global batch of 1,024",
        hints=(
            (
                lambda a, e: a == e + 1,
                "The trainer drops the last, incomplete batch of an epoch (epoch_batches).",
            ),
            (
                lambda a, e: a == _imagenet_steps(256),
                "That is for the paper's timing batch of 256; the recipe's batch is 1,024.",
            ),
        ),
    ),
    Exercise(
        "fresh-ex-floor",
        "number",
        lambda: 2,
        "make_rd_channels(24, 16)",
        hints=(
            (
                lambda a, e: a == 1,
                "That is 24 // 16; the library rounds 1.5 to the nearest, halves up.",
            ),
        ),
    ),
    Exercise(
        "fresh-ex-bias",
        "number",
        lambda: float(torch.sigmoid(torch.tensor(1.0))),
        "the largest gate the second layer's bias alone can give at r = 64 (fan-in 1)",
        tolerance=0.001,
        hints=(
            (
                lambda a, e: _relative(float(a), 1.0, 0.001),
                "The bias is bounded by 1, the gate by sigmoid of it.",
            ),
        ),
    ),
    Exercise(
        "fresh-ex-dead",
        "number",
        _dead_initialisations,
        "how many of 20 initialisations of SEBlock(8, 16) give the same gates to all four quarters of the photo",
        hints=(
            (
                lambda a, e: a == 20 - e,
                "That is the count whose gates vary; the question asks for the others.",
            ),
        ),
    ),
    Exercise(
        "measuring-ex-width",
        "number",
        _headline_width_points,
        "the width in points of the first run's 95 % interval for eager_b1_t1 (high minus low, times 100)",
        tolerance=0.01,
        hints=(
            (
                lambda a, e: _relative(float(a), e / 100, 0.01),
                "In percentage points: multiply the ratios' difference by 100.",
            ),
        ),
    ),
    Exercise(
        "measuring-ex-rounds",
        "number",
        lambda: 4,
        "how many times as many rounds halve an interval's width",
        hints=(
            (
                lambda a, e: a == 2,
                "The width shrinks with the square root of the number of rounds.",
            ),
        ),
    ),
    Exercise(
        "measuring-ex-agree",
        "number",
        lambda: 8,
        "how many of the benchmark's 13 cases the two runs agree on within 0.5 points",
        hints=(
            (
                lambda a, e: a == 13,
                "Compare the medians case by case; not every case agrees.",
            ),
        ),
    ),
)
