"""Helpers of "Ablations" and "Successors": pooled seed spread, ablation rows, gate logits and their rank."""
import math

import pytest
import torch

import sebook
from sebook import analysis
from sebook.attention import ECABlock, NoSqueezeBlock


def test_pooled_seed_spread_pools_the_squares():
    results = {"a": [0.90, 0.92], "b": [0.80, 0.80], "c": [0.5, 0.6, 0.7]}
    spread = analysis.pooled_seed_spread(results)
    squares = 2 * 0.01 ** 2 + 0.0 + (0.1 ** 2 + 0 + 0.1 ** 2)
    assert spread["dof"] == 1 + 1 + 2 and spread["variants"] == 3
    assert spread["std"] == pytest.approx(math.sqrt(squares / 4))
    # one variant alone: its own sample standard deviation
    assert analysis.pooled_seed_spread({"a": [1.0, 2.0, 3.0]})["std"] == pytest.approx(1.0)


@pytest.mark.parametrize("results, exc, match", [
    ({}, ValueError, "non-empty"),
    ([0.9, 0.91], ValueError, "non-empty dict"),
    ({"a": [0.9], "b": [0.8]}, ValueError, "at least one variant with 2"),
    ({"a": [0.9, "x"]}, TypeError, "values"),
])
def test_pooled_seed_spread_bad_arguments(results, exc, match):
    with pytest.raises(exc, match=match):
        analysis.pooled_seed_spread(results)


def test_ablation_rows_with_a_pooled_spread():
    results = {"SE": [0.90, 0.91], "max": [0.88, 0.89], "new": [0.92, 0.93, 0.94]}
    paper = {"SE": 22.28, "max": 22.57}
    rows = analysis.ablation_rows(results, "SE", paper, spread=0.01)
    assert [r["label"] for r in rows] == ["SE", "max", "new"]
    base, worse, better = rows
    assert base["difference"] == 0 and base["standard_error"] == 0 and not base["beyond_noise"]
    assert worse["difference"] == pytest.approx(-0.02) and worse["standard_error"] == pytest.approx(0.01)
    assert worse["ratio"] == pytest.approx(2.0)
    assert worse["paper_error"] == 22.57 and worse["paper_gain"] == pytest.approx(-0.29)
    assert better["n"] == 3 and better["standard_error"] == pytest.approx(0.01 * math.sqrt(1 / 3 + 1 / 2))
    assert better["beyond_noise"] and better["paper_error"] is None and better["paper_gain"] is None


def test_ablation_rows_without_a_spread_use_each_pair():
    results = {"SE": [0.90, 0.91, 0.92], "max": [0.88, 0.90, 0.89]}
    rows = analysis.ablation_rows(results, "SE")
    expected = analysis.compare_with_baseline(results["max"], results["SE"])
    assert rows[1]["standard_error"] == pytest.approx(expected["standard_error"])
    assert rows[1]["beyond_noise"] == expected["exceeds_spread"]
    assert rows[1]["paper_gain"] is None  # no paper numbers at all


def test_ablation_rows_paper_gain_needs_the_baseline_number():
    rows = analysis.ablation_rows({"SE": [1.0, 1.0], "max": [1.0, 1.0]}, "SE", {"max": 22.57}, spread=0.0)
    assert rows[1]["paper_error"] == 22.57 and rows[1]["paper_gain"] is None
    assert rows[1]["ratio"] == 0.0


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"baseline": "ECA"}, ValueError, "baseline must be one of 'SE', 'max'; got 'ECA'"),
    ({"spread": -0.1}, ValueError, "spread"),
    ({"spread": True}, ValueError, "spread"),
    ({"spread": float("nan")}, ValueError, "spread"),
])
def test_ablation_rows_bad_arguments(kwargs, exc, match):
    arguments = {"results": {"SE": [0.9, 0.91], "max": [0.88, 0.89]}, "baseline": "SE", **kwargs}
    with pytest.raises(exc, match=match):
        analysis.ablation_rows(**arguments)


def test_format_ablation_rows():
    rows = analysis.ablation_rows({"SE": [0.90, 0.91], "max": [0.88, 0.89]}, "SE", {"SE": 22.28}, spread=0.005)
    text = analysis.format_ablation_rows(rows)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["variant", "mean", "std"]
    assert lines[1].split() == ["SE", "90.50", "0.71", "22.28"]
    assert lines[2].split() == ["max", "88.50", "0.71", "-2.00", "1.00"]


def _logits(block, x):
    model = torch.nn.Sequential(block)
    return analysis.gate_logits_per_image(model, x)["0"]


def test_gate_logits_per_image_are_the_sigmoids_inputs():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 16, 3, padding=1), sebook.SEBlock(16, 4), ECABlock(16),
                                sebook.CBAMBlock(16, 4))
    images = torch.randn(7, 1, 5, 5)
    logits = analysis.gate_logits_per_image(model, images, batch_size=3)
    gates = analysis.gates_per_image(model, images)
    assert list(logits) == ["1", "2", "3"]
    for name in logits:
        assert logits[name].shape == (7, 16)
        torch.testing.assert_close(torch.sigmoid(logits[name]), gates[name])
    assert model.training and not model[1].excitation.gate._forward_pre_hooks  # mode restored, hooks removed


def test_gate_logits_per_image_bad_arguments():
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        analysis.gate_logits_per_image("model", torch.randn(2, 1, 4, 4))
    with pytest.raises(ValueError, match="images must be 4-D"):
        analysis.gate_logits_per_image(torch.nn.Sequential(sebook.SEBlock(8)), torch.randn(2, 8))
    with pytest.raises(ValueError, match="batch_size"):
        analysis.gate_logits_per_image(torch.nn.Sequential(sebook.SEBlock(8)), torch.randn(2, 8, 3, 3), batch_size=0)
    nosqueeze = torch.nn.Sequential(NoSqueezeBlock(8, 2))
    with pytest.raises(ValueError, match="no excitation.gate"):
        analysis.gate_logits_per_image(nosqueeze, torch.randn(2, 8, 3, 3))


def test_variance_shares_of_a_bottleneck_of_width_one():
    torch.manual_seed(0)
    block = sebook.SEBlock(16, 16)  # squeeze width 1: the 16 logits move along one direction only
    assert block.excitation.rd_channels == 1
    shares = analysis.variance_shares(_logits(block, torch.randn(200, 16, 3, 3) + 0.5))
    assert shares.shape == (16,) and shares.sum() == pytest.approx(1.0)
    assert shares[0] == pytest.approx(1.0, abs=1e-6)
    assert torch.all(shares[:-1] >= shares[1:])  # largest first


def test_variance_shares_without_reduction_spread_out():
    torch.manual_seed(0)
    x = torch.randn(300, 16, 3, 3)
    se_shares = analysis.variance_shares(_logits(sebook.SEBlock(16, 4), x))  # width 4
    cbam_shares = analysis.variance_shares(_logits(sebook.CBAMBlock(16, 4), x))  # the same MLP on both descriptors
    eca_shares = analysis.variance_shares(_logits(ECABlock(16), x))  # no bottleneck
    assert se_shares[:4].sum() == pytest.approx(1.0, abs=1e-6)
    assert cbam_shares[:4].sum() == pytest.approx(1.0, abs=1e-6)
    assert eca_shares[:4].sum() < 0.9
    values = torch.randn(20, 4, requires_grad=True)  # values with a graph attached are accepted
    assert analysis.variance_shares(values * 2).shape == (4,)


def test_variance_shares_of_constant_values_are_zero():
    assert analysis.variance_shares(torch.full((5, 4), 0.5)).tolist() == [0.0] * 4


@pytest.mark.parametrize("values, exc, match", [
    (torch.rand(1, 8), ValueError, "at least 2 rows"),
    (torch.rand(4, 8, 2), ValueError, "values must be 2-D"),
    ([[0.5]], TypeError, "values must be a torch.Tensor"),
    (torch.ones(4, 8, dtype=torch.long), TypeError, "floating-point"),
])
def test_variance_shares_bad_arguments(values, exc, match):
    with pytest.raises(exc, match=match):
        analysis.variance_shares(values)
