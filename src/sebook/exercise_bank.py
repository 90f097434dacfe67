"""The book's checkable exercises, chapter by chapter: each one's reference answer and hints.

The checker is :mod:`sebook.exercises`; this module only registers what it checks. Reference
answers are computed from the library, the data or the committed results, never typed twice.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch

from .exercises import Exercise, _relative, register


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, rtol=1e-5, atol=1e-5)


def _times(factor: float) -> Callable[[Any, Any], bool]:
    """A hint test: the answer is ``factor`` times the reference."""
    return lambda a, e: _relative(float(a), factor * e, 0.005)


def _se_parameters(channels: int, reduction: int) -> int:
    from .costs import count_parameters
    from .se import SEBlock

    return count_parameters(SEBlock(channels, reduction))


def _fold_after(conv: torch.nn.Conv2d, scale: torch.Tensor) -> torch.nn.Conv2d:
    """The reference: ``conv`` followed by a fixed scale of each output channel, as one convolution."""
    folded = copy.deepcopy(conv)
    with torch.no_grad():
        folded.weight.mul_(scale[:, None, None, None])
        folded.bias.mul_(scale)
    return folded


def _fold_after_inputs() -> list[tuple[Any, ...]]:
    generator = torch.Generator().manual_seed(0)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    with torch.no_grad():
        for p in conv.parameters():
            p.copy_(torch.randn(p.shape, generator=generator))
    scale = torch.rand(4, generator=generator) + 0.5
    return [(conv, scale, torch.randn(2, 3, 6, 6, generator=generator))]


def _random_maps() -> list[tuple[torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    return [(torch.randn(2, 8, 5, 7, generator=generator),)]


def _affine_inputs() -> list[tuple[torch.Tensor, ...]]:
    generator = torch.Generator().manual_seed(0)
    u = torch.randn(2, 4, 3, 3, generator=generator)
    s = torch.rand(2, 4, 1, 1, generator=generator)
    gamma, beta = (torch.randn(1, 4, 1, 1, generator=generator) for _ in range(2))
    return [(u, s, gamma, beta)]


def _global_avg_pool(x: torch.Tensor) -> torch.Tensor:
    from .squeeze import global_avg_pool

    return global_avg_pool(x)


def _se_3x3_parameters() -> int:
    """SE inside the branch, after the 3x3 convolution: one block on w channels per unit."""
    return sum(
        n * _se_parameters(w, 16) for n, w in ((3, 64), (4, 128), (6, 256), (3, 512))
    )


def _b0_mobilenet_width_parameters() -> int:
    """EfficientNet-B0's SE blocks with MobileNetV3's squeeze width, make_divisible(E // 4, 8)."""
    from .excitation import make_divisible
    from .models import efficientnet_b0

    with torch.device("meta"):
        b0 = efficientnet_b0()
    total = 0
    for m in (m for stage in list(b0.features)[1:-1] for m in stage):
        d = make_divisible(m.expanded // 4, 8)
        total += 2 * m.expanded * d + d + m.expanded
    return total


def _lit_minus_unlit(frame: bool = False) -> float:
    """Mean pixel of the lit channel minus that of the two others, over the cast test set."""
    from .data import CAST_FRAME, load_cast_fashion_mnist

    images, _, lit = load_cast_fashion_mnist("test")
    f = CAST_FRAME
    means = (images if frame else images[:, :, f:-f, f:-f]).mean((2, 3))
    lit_mean = means[torch.arange(len(means)), lit.argmax(1)]
    return float(lit_mean.mean() - ((means.sum(1) - lit_mean) / 2).mean())


def _cast_se_seed_spread() -> float:
    """The seed-to-seed standard deviation (points) pooled over chapter 08's five SE networks."""
    from .checkpoints import checkpoint_folder
    from .experiments import accuracies
    from .fashion_models import FashionNetConfig
    from .manifest import read_manifest
    from .seed_stats import pooled_seed_spread

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
    from .seed_stats import seeds_for_power

    return seeds_for_power(_cast_se_seed_spread(), 0.5)


def _ablation_baseline_spread() -> float:
    """The seed-to-seed standard deviation (points) of chapter 09's SE baseline on the testbed."""
    from .checkpoints import checkpoint_folder
    from .experiments import accuracies
    from .fashion_models import FashionNetConfig
    from .manifest import read_manifest
    from .seed_stats import seed_statistics

    entries = read_manifest(checkpoint_folder() / "manifest.json")["checkpoints"]
    config = FashionNetConfig(rd_divisor=4, in_channels=3)
    return seed_statistics(accuracies(entries, config, "cast-fashion-mnist"))["std"]


def _seeds_for_holm_family(comparisons: int = 8) -> int:
    """Seeds per variant for 80 % power at 0.5 points when Holm tests the first of ``comparisons`` at 5 % / m."""
    from .seed_stats import seeds_for_power

    return seeds_for_power(_ablation_baseline_spread(), 0.5, alpha=0.05 / comparisons)


def _holm_adjusted(p: torch.Tensor) -> torch.Tensor:
    """The reference: Holm-adjusted p-values of a 1-D tensor, in the input's order."""
    from .seed_stats import holm

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


def _imagenet_steps(batch_size: int) -> int:
    from .folder_training import IMAGENET_TRAIN_IMAGES

    return IMAGENET_TRAIN_IMAGES // batch_size


def _eca_kernel(channels: int) -> int:
    from .attention import eca_kernel_size

    return eca_kernel_size(channels)


def _traffic_448_fused_mb() -> float:
    from .costs import recalibration_traffic
    from .models import se_resnet50

    with torch.device("meta"):
        net = se_resnet50()
    return recalibration_traffic(net, (8, 3, 448, 448))["fused"] / 1e6


def _mobilenet_se_blocks() -> int:
    from .deployed import se_census
    from .mobilenet_v3 import mobilenet_v3_large

    with torch.device("meta"):
        return len(se_census(mobilenet_v3_large(), 224)["placements"])


def _grn_parameters(channels: int) -> int:
    from .costs import count_parameters
    from .grn import GRN

    return count_parameters(GRN(channels))


def _dead_initialisations() -> int:
    """Of 20 fresh SEBlock(8, 16), those whose one hidden unit is off for all four quarters of the photo."""
    from .data import load_photo
    from .demos import crop_grid
    from .features import feature_maps
    from .gate_stats import fresh_gates

    crops = crop_grid(feature_maps(load_photo(64)), 32, 32)
    return sum(
        bool(fresh_gates(8, (16,), crops, seed=seed)[16].std(dim=0).min() == 0)
        for seed in range(20)
    )


def _benchmark() -> dict:
    import json
    from pathlib import Path

    path = (
        Path(__file__).resolve().parents[2]
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
        "overview-ex-shapes",
        "number",
        lambda: _se_parameters(2048, 16),
        "the parameter count of SEBlock(2048, reduction=16), biases included",
        hints=(
            (
                lambda a, e: a == 2 * 2048 * 128,
                "That counts the weights only: the two FC layers have biases too.",
            ),
            (
                lambda a, e: a == 2 * 2048 * 2048 // 16 * 16,
                "Check the bottleneck width: C / r = 2048 / 16.",
            ),
        ),
    ),
    Exercise(
        "overview-ex-gates",
        "shape",
        lambda: (8, 2048),
        "the shape of SEBlock(2048).gates(x) for x of shape (8, 2048, 7, 7)",
        hints=(
            (
                lambda a, e: tuple(a) == (8, 2048, 1, 1),
                "That is torchvision's form; the library's gates are one number per channel and image.",
            ),
            (
                lambda a, e: tuple(a) == (8, 2048, 7, 7),
                "That is the block's output; the gates do not depend on the position.",
            ),
            (lambda a, e: tuple(a) == (2048, 8), "Batch first, then channels."),
        ),
    ),
    Exercise(
        "squeeze-ex-flatten",
        "number",
        lambda: 2048 * 7 * 7 * 128,
        "the weights (without biases) of a linear layer from the flattened 2048 x 7 x 7 map to 2048 / 16 units",
        hints=(
            (
                _times(1 / 49),
                "That is the squeezed input's layer: flatten all 7 x 7 positions of every channel.",
            ),
            (
                lambda a, e: a == e + 128,
                "Count the weights only, without the 128 biases.",
            ),
        ),
    ),
    Exercise(
        "squeeze-ex-adaptive",
        "shape",
        lambda: (1, 8, 1, 1),
        "the shape of nn.AdaptiveAvgPool2d(1)(maps) for the photo's (1, 8, 64, 64) maps",
        hints=(
            (
                lambda a, e: tuple(a) == (1, 8),
                "That is the library's squeeze; the pooling layer keeps the two spatial axes, of size 1.",
            ),
        ),
    ),
    Exercise(
        "squeeze-ex-mean",
        "function",
        lambda: _global_avg_pool,
        "descriptor(x) returning the (B, C) channel means of a (B, C, H, W) map",
        inputs=_random_maps,
        hints=(
            (
                lambda a, e: a(_random_maps()[0][0]).dim() == 4,
                "Return (B, C): one number per channel, without the spatial axes.",
            ),
            (
                lambda a, e: _close(
                    a(_random_maps()[0][0]), e(_random_maps()[0][0]) * 5 * 7
                ),
                "That is the sum: divide by the number of positions, H x W.",
            ),
        ),
    ),
    Exercise(
        "excitation-ex-scaled-softmax",
        "choice",
        lambda: "competition",
        "'scale' or 'competition': the problem that multiplying the softmax gates by C leaves",
        hints=(
            (
                lambda a, e: a.strip().lower() == "scale",
                "Multiplied by C the gates average 1, so the scale is fixed; look at what their sum does.",
            ),
        ),
    ),
    Exercise(
        "recalibration-ex-fuse-bias",
        "function",
        lambda: lambda u, s, gamma, beta: gamma * (s * u) + beta,
        "affine_recalibrate(u, s, gamma, beta) computing gamma * (s * u) + beta with one torch.addcmul",
        tolerance=1e-5,
        inputs=_affine_inputs,
        hints=(
            (
                lambda a, e: _close(
                    a(*_affine_inputs()[0]),
                    e(*_affine_inputs()[0]) - _affine_inputs()[0][3],
                ),
                "beta is missing: it is the tensor that addcmul adds to the product.",
            ),
        ),
    ),
    Exercise(
        "recalibration-ex-bytes",
        "number",
        lambda: 3 / 5,
        "the fused form's bytes as a fraction of the unfused form's (read u and r, write y; against five passes)",
        hints=(
            (
                _times(5 / 3 / (3 / 5)),
                "That is the unfused form over the fused one; the question asks the other way round.",
            ),
            (
                lambda a, e: _relative(float(a), 60, 1e-6),
                "As a fraction, not a percentage.",
            ),
        ),
    ),
    Exercise(
        "se-resnet-ex-3x3",
        "number",
        _se_3x3_parameters,
        "the parameters of all 16 SE blocks of the SE 3x3 variant (r = 16), biases included",
        hints=(
            (
                lambda a, e: a
                == sum(
                    n * 2 * w * w // 16
                    for n, w in ((3, 64), (4, 128), (6, 256), (3, 512))
                ),
                "Count the biases of both FC layers too.",
            ),
            (
                lambda a, e: a
                == sum(_se_parameters(w, 16) for w in (64, 128, 256, 512)),
                "That is one block per stage; every unit of a stage has one.",
            ),
        ),
    ),
    Exercise(
        "se-resnet-ex-pre",
        "number",
        lambda: _se_parameters(64, 16),
        "P(64): the parameters of an SE block (r = 16) on the 64 input channels of the first unit",
        hints=(
            (
                lambda a, e: a == 2 * 64 * 64 // 16,
                "Count the biases too: C / r + C of them.",
            ),
        ),
    ),
    Exercise(
        "se-resnet-ex-resolution",
        "number",
        lambda: 4,
        "the factor by which SE's squeeze and recalibration operations grow from 224 x 224 to 448 x 448",
        hints=(
            (lambda a, e: a == 2, "Both sides double: count the positions."),
            (
                lambda a, e: a == 1,
                "That is the FC layers' factor; the squeeze and the product touch every position.",
            ),
        ),
    ),
    Exercise(
        "mbconv-ex-mobilenetv3-width",
        "number",
        _b0_mobilenet_width_parameters,
        "the parameters of EfficientNet-B0's 16 SE blocks with the squeeze width make_divisible(E // 4, 8)",
        hints=(
            (
                lambda a, e: a == 636_540,
                "That is B0's own SE; use the expanded width E for the squeeze width.",
            ),
        ),
    ),
    Exercise(
        "mbconv-ex-stochastic",
        "number",
        lambda: 1.0,
        "the expected value of stochastic_depth(torch.ones(...), 0.2) per element",
        tolerance=0.03,
        hints=(
            (
                lambda a, e: _relative(float(a), 0.8, 0.03),
                "The kept samples are scaled by 1 / (1 - p).",
            ),
        ),
    ),
    Exercise(
        "mbconv-ex-linear",
        "number",
        lambda: 0.5,
        "the fraction of exactly-zero values at the projection's output with an extra ReLU",
        tolerance=0.1,
        hints=(
            (
                lambda a, e: float(a) < 0.05,
                "That is without the ReLU; add torch.relu after block.block.project.",
            ),
            (lambda a, e: float(a) > 1, "As a fraction, not a percentage."),
        ),
    ),
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
        "ch10-ex-kernel",
        "number",
        lambda: 128,
        "the smallest channel count for which eca_kernel_size gives k = 5",
        hints=((lambda a, e: a == 127, "One off: log2(127) + 1 is still below 8."),),
    ),
    Exercise(
        "ch10-ex-bound",
        "number",
        lambda: 2,
        "how many principal directions hold almost all (over 99 %) of the first SE block's gate logits",
        hints=(
            (
                lambda a, e: a == 4,
                "Four is the bound the bottleneck sets; count what the gates use.",
            ),
        ),
    ),
    Exercise(
        "ch10-ex-eca-2048",
        "number",
        lambda: _eca_kernel(2048),
        "ECA's kernel size at ResNet-50's widest layer, 2048 channels",
        hints=((lambda a, e: a == 6, "The rule rounds to an odd number."),),
    ),
    Exercise(
        "ch11-ex-resolution",
        "number",
        _traffic_448_fused_mb,
        "the extra traffic in MB of fused SE in SE-ResNet-50 at 448 x 448, batch 8",
        tolerance=0.005,
        hints=(
            (
                _times(1 / 4),
                "That is at 224 x 224: the maps have four times the positions.",
            ),
            (_times(3), "That is the naive form; the question asks for the fused one."),
        ),
    ),
    Exercise(
        "ch11-ex-post",
        "choice",
        lambda: "identity",
        "'pre', 'post' or 'identity': the variant whose recalibration fuses with the residual addition",
        hints=(
            (
                lambda a, e: a.strip().lower() in ("pre", "post"),
                "Neither is followed by an addition; look for the variant that scales one of the two summands.",
            ),
        ),
    ),
    Exercise(
        "ch11-ex-passes",
        "number",
        lambda: 5,
        "the passes over memory of the naive shortcut + x * gates (each a read or a write of a whole map)",
        hints=(
            (lambda a, e: a == 3, "That is the fused form, or the plain addition."),
        ),
    ),
    Exercise(
        "family-ex-ge",
        "number",
        lambda: 0.5,
        "the gate GE-theta-minus with the global extent gives a channel whose mean is 0",
        hints=(
            (
                lambda a, e: a == 0,
                "The gate is a sigmoid of the mean: what is sigmoid(0)?",
            ),
        ),
    ),
    Exercise(
        "family-ex-grn",
        "number",
        lambda: _grn_parameters(256),
        "the parameters of GRN on 256 channels",
        hints=(
            (
                lambda a, e: a == 256,
                "GRN learns two numbers per channel, gamma and beta.",
            ),
        ),
    ),
    Exercise(
        "family-ex-mobilenet-blocks",
        "number",
        _mobilenet_se_blocks,
        "how many of MobileNetV3-Large's 15 inverted-residual blocks have SE",
        hints=(
            (
                lambda a, e: a == 15,
                "Not every block: count the placements deployed.se_census finds.",
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
    Exercise(
        "excitation-ex-divisor",
        "number",
        lambda: 96 / 8,
        "the effective reduction ratio of make_rd_channels(96, 16, rd_divisor=8)",
        hints=(
            (
                lambda a, e: a == 16,
                "The divisor rounds the width to a multiple of 8: compute the width first.",
            ),
            (
                lambda a, e: a == 8,
                "That is the width; the ratio is the channels divided by it.",
            ),
        ),
    ),
    Exercise(
        "excitation-ex-collapse",
        "number",
        lambda: 2 * 64 * 64 // 16 + 64 // 16 + 64,
        "the parameter count of Excitation(64, 16), biases included",
        hints=(
            (
                lambda a, e: a == 64 * 64 + 64,
                "That is the collapsed single layer; count the two-layer form.",
            ),
            (
                lambda a, e: a == 2 * 64 * 64 // 16,
                "Count the biases of both layers too.",
            ),
        ),
    ),
    Exercise(
        "recalibration-ex-channels-last",
        "shape",
        lambda: (4, 1, 1, 16),
        "the shape to view (4, 16) gates as, to scale a channels-last (4, 7, 7, 16) map",
        hints=(
            (
                lambda a, e: tuple(a) == (4, 16, 1, 1),
                "That is the view for (B, C, H, W); here the channels are last.",
            ),
            (
                lambda a, e: tuple(a) == (1, 1, 4, 16),
                "Batch first: the gates must line up with the map's first axis.",
            ),
        ),
    ),
    Exercise(
        "overview-ex-fold",
        "function",
        lambda: _fold_after,
        "fold_after(conv, scale) returning an nn.Conv2d that computes conv(x) * scale per output channel",
        tolerance=1e-5,
        inputs=_fold_after_inputs,
        apply=lambda fold, args: fold(args[0], args[1])(args[2]),
        hints=(
            (
                lambda a, e: _close(
                    a(*_fold_after_inputs()[0][:2]).bias,
                    _fold_after_inputs()[0][0].bias,
                ),
                "The bias is part of each output channel: it is scaled too.",
            ),
        ),
    ),
)
