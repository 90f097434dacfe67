"""The exercise checker (sebook.exercises): every exercise's solution passes, a typical mistake gets its hint."""

import copy

import pytest
import torch

from sebook.exercises import EXERCISES, check


def fold_after(conv, scale):
    folded = copy.deepcopy(conv)
    with torch.no_grad():
        folded.weight.mul_(scale[:, None, None, None])
        folded.bias.mul_(scale)
    return folded


def fold_weights_only(conv, scale):
    folded = copy.deepcopy(conv)
    with torch.no_grad():
        folded.weight.mul_(scale[:, None, None, None])
    return folded


def mean_descriptor(x):
    return x.mean((2, 3))


def sum_descriptor(x):
    return x.sum((2, 3))


def holm_adjusted(p):
    order = torch.argsort(p)
    products = p[order] * torch.arange(len(p), 0, -1)
    adjusted = torch.cummax(products, 0).values.clamp(max=1)
    return torch.empty_like(p).scatter_(0, order, adjusted)


def bonferroni(p):
    return (p * len(p)).clamp(max=1)


def affine_recalibrate(u, s, gamma, beta):
    return torch.addcmul(beta, gamma * s, u)


def affine_without_beta(u, s, gamma, beta):
    return gamma * s * u


# exercise id: (the solution's answer, a typical wrong answer, words of the hint it gets)
CASES = {
    "overview-ex-shapes": (526_464, 2 * 2048 * 128, "biases"),
    "overview-ex-gates": (torch.Size([8, 2048]), (8, 2048, 1, 1), "torchvision"),
    "overview-ex-fold": (fold_after, fold_weights_only, "bias"),
    "squeeze-ex-flatten": (2048 * 49 * 128, 2048 * 128, "flatten"),
    "squeeze-ex-adaptive": ((1, 8, 1, 1), (1, 8), "spatial axes"),
    "excitation-ex-divisor": (12, 16, "width first"),
    "excitation-ex-collapse": (580, 64 * 64 + 64, "two-layer"),
    "recalibration-ex-channels-last": ((4, 1, 1, 16), (4, 16, 1, 1), "channels are last"),
    "squeeze-ex-mean": (mean_descriptor, sum_descriptor, "divide by the number of positions"),
    "excitation-ex-scaled-softmax": ("competition", "scale", "scale is fixed"),
    "recalibration-ex-fuse-bias": (affine_recalibrate, affine_without_beta, "beta is missing"),
    "recalibration-ex-bytes": (0.6, 60, "fraction"),
    "se-resnet-ex-3x3": (161_196, 2 * (3 * 64**2 + 4 * 128**2 + 6 * 256**2 + 3 * 512**2) // 16, "biases"),
    "se-resnet-ex-pre": (580, 512, "biases"),
    "se-resnet-ex-resolution": (4, 2, "positions"),
    "mbconv-ex-mobilenetv3-width": (3_778_000, 636_540, "expanded width"),
    "mbconv-ex-stochastic": (0.998, 0.8, "1 / (1 - p)"),
    "mbconv-ex-linear": (0.49, 0.0, "without the ReLU"),
    "learned-ex-plain": ("raises", "empty", "silently empty"),
    "learned-ex-frame": (0.0012, 0.2353, "frame"),
    "learned-ex-steps": (2808, 2814, "remainder"),
    "ch08-ex-seeds": (60, 59, "normal approximation"),
    "ch08-ex-divisor": (4, 5, "r = 8"),
    "ch08-ex-width": (4, 1, "divisor"),
    "ch09-ex-softmax": (1 / 64, 1, "sum of the 64 gates"),
    "ch09-ex-seeds": (130, 80, "one comparison"),
    "ch09-ex-relu": ("zero", "small", "sigmoid"),
    "ch09-ex-holm": (holm_adjusted, bonferroni, "Bonferroni"),
    "beyond-ex-per-gpu": (32, 128, "one machine's share"),
    "beyond-ex-lr": (0.3, 0.6, "scale the rate"),
    "beyond-ex-steps": (1251, 1252, "incomplete batch"),
    "ch10-ex-kernel": (128, 127, "One off"),
    "ch10-ex-bound": (2, 4, "bound"),
    "ch10-ex-eca-2048": (7, 6, "odd"),
    "ch11-ex-resolution": (706.5, 176.6, "four times"),
    "ch11-ex-post": ("identity", "post", "addition"),
    "ch11-ex-passes": (5, 3, "fused"),
    "family-ex-ge": (0.5, 0, "sigmoid(0)"),
    "family-ex-grn": (512, 256, "two numbers"),
    "family-ex-mobilenet-blocks": (8, 15, "placements"),
    "fresh-ex-floor": (2, 1, "nearest"),
    "fresh-ex-bias": (0.731, 1.0, "sigmoid"),
    "fresh-ex-dead": (9, 11, "vary"),
    "measuring-ex-width": (0.47, 0.0047, "percentage points"),
    "measuring-ex-rounds": (4, 2, "square root"),
    "measuring-ex-agree": (8, 13, "not every case"),
}


def test_every_exercise_has_a_case():
    assert set(CASES) == set(EXERCISES)


@pytest.mark.parametrize("exercise_id", sorted(CASES))
def test_the_solution_passes_and_a_typical_mistake_gets_its_hint(exercise_id, capsys):
    right, wrong, hint = CASES[exercise_id]
    assert check(exercise_id, right) is True
    assert capsys.readouterr().out.strip() == f"{exercise_id}: right."
    assert check(exercise_id, wrong) is False
    out = capsys.readouterr().out
    assert out.startswith(f"{exercise_id}: not yet.") and hint in out


def test_unknown_ids_and_malformed_answers_get_clear_errors():
    with pytest.raises(ValueError, match="exercise_id must be one of"):
        check("overview-ex-nothing", 1)
    with pytest.raises(TypeError, match="'overview-ex-shapes' expects a number"):
        check("overview-ex-shapes", "526464")
    with pytest.raises(TypeError, match="expects a shape"):
        check("overview-ex-gates", torch.zeros(8, 2048))
    with pytest.raises(TypeError, match="expects a function"):
        check("overview-ex-fold", 3)


def test_a_wrong_answer_without_a_known_mistake_says_what_was_expected(capsys):
    assert check("overview-ex-shapes", 1) is False
    assert "Expected the parameter count" in capsys.readouterr().out
