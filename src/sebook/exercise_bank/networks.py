"""The exercises of SE in networks: SE-ResNet, MBConv, Successors, What SE costs, SE's family.

Each exercise's reference answer and hints; :mod:`sebook.exercises` checks them.
"""

from __future__ import annotations

import torch

from ..exercises import Exercise, _relative, register
from ._common import _se_parameters, _times


def _se_3x3_parameters() -> int:
    """SE inside the branch, after the 3x3 convolution: one block on w channels per unit."""
    return sum(
        n * _se_parameters(w, 16) for n, w in ((3, 64), (4, 128), (6, 256), (3, 512))
    )


def _b0_mobilenet_width_parameters() -> int:
    """EfficientNet-B0's SE blocks with MobileNetV3's squeeze width, make_divisible(E // 4, 8)."""
    from ..excitation import make_divisible
    from ..models import efficientnet_b0

    with torch.device("meta"):
        b0 = efficientnet_b0()
    total = 0
    for m in (m for stage in list(b0.features)[1:-1] for m in stage):
        d = make_divisible(m.expanded // 4, 8)
        total += 2 * m.expanded * d + d + m.expanded
    return total


def _eca_kernel(channels: int) -> int:
    from ..attention import eca_kernel_size

    return eca_kernel_size(channels)


def _traffic_448_fused_mb() -> float:
    from ..costs import recalibration_traffic
    from ..models import se_resnet50

    with torch.device("meta"):
        net = se_resnet50()
    return recalibration_traffic(net, (8, 3, 448, 448))["fused"] / 1e6


def _mobilenet_se_blocks() -> int:
    from ..deployed import se_census
    from ..mobilenet_v3 import mobilenet_v3_large

    with torch.device("meta"):
        return len(se_census(mobilenet_v3_large(), 224)["placements"])


def _grn_parameters(channels: int) -> int:
    from ..costs import count_parameters
    from ..grn import GRN

    return count_parameters(GRN(channels))


register(
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
)
