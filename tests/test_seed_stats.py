"""Results over seeds (sebook.seed_stats): summaries, differences from a baseline, pooled spread, ablation
rows, intervals and Holm's correction."""

import math

import pytest
import torch

from sebook import seed_stats


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_pooled_seed_spread_pools_the_squares():
    results = {"a": [0.90, 0.92], "b": [0.80, 0.80], "c": [0.5, 0.6, 0.7]}
    spread = seed_stats.pooled_seed_spread(results)
    squares = 2 * 0.01**2 + 0.0 + (0.1**2 + 0 + 0.1**2)
    assert spread["dof"] == 1 + 1 + 2 and spread["variants"] == 3
    assert spread["std"] == pytest.approx(math.sqrt(squares / 4))
    # one variant alone: its own sample standard deviation
    assert seed_stats.pooled_seed_spread({"a": [1.0, 2.0, 3.0]})[
        "std"
    ] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "results, exc, match",
    [
        ({}, ValueError, "non-empty"),
        ([0.9, 0.91], ValueError, "non-empty dict"),
        ({"a": [0.9], "b": [0.8]}, ValueError, "at least one variant with 2"),
        ({"a": [0.9, "x"]}, TypeError, "values"),
    ],
)
def test_pooled_seed_spread_bad_arguments(results, exc, match):
    with pytest.raises(exc, match=match):
        seed_stats.pooled_seed_spread(results)


def test_ablation_rows_with_a_pooled_spread():
    results = {"SE": [0.90, 0.91], "max": [0.88, 0.89], "new": [0.92, 0.93, 0.94]}
    paper = {"SE": 22.28, "max": 22.57}
    rows = seed_stats.ablation_rows(results, "SE", paper, spread=0.01)
    assert [r["label"] for r in rows] == ["SE", "max", "new"]
    base, worse, better = rows
    assert (
        base["difference"] == 0
        and base["standard_error"] == 0
        and not base["beyond_noise"]
    )
    assert worse["difference"] == pytest.approx(-0.02) and worse[
        "standard_error"
    ] == pytest.approx(0.01)
    assert worse["ratio"] == pytest.approx(2.0)
    assert worse["paper_error"] == 22.57 and worse["paper_gain"] == pytest.approx(-0.29)
    assert better["n"] == 3 and better["standard_error"] == pytest.approx(
        0.01 * math.sqrt(1 / 3 + 1 / 2)
    )
    assert (
        better["beyond_noise"]
        and better["paper_error"] is None
        and better["paper_gain"] is None
    )


def test_ablation_rows_without_a_spread_use_each_pair():
    results = {"SE": [0.90, 0.91, 0.92], "max": [0.88, 0.90, 0.89]}
    rows = seed_stats.ablation_rows(results, "SE")
    expected = seed_stats.compare_with_baseline(results["max"], results["SE"])
    assert rows[1]["standard_error"] == pytest.approx(expected["standard_error"])
    assert rows[1]["beyond_noise"] == expected["exceeds_spread"]
    assert rows[1]["paper_gain"] is None  # no paper numbers at all


def test_ablation_rows_paper_gain_needs_the_baseline_number():
    rows = seed_stats.ablation_rows(
        {"SE": [1.0, 1.0], "max": [1.0, 1.0]}, "SE", {"max": 22.57}, spread=0.0
    )
    assert rows[1]["paper_error"] == 22.57 and rows[1]["paper_gain"] is None
    assert rows[1]["ratio"] == 0.0


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (
            {"baseline": "ECA"},
            ValueError,
            "baseline must be one of 'SE', 'max'; got 'ECA'",
        ),
        ({"spread": -0.1}, ValueError, "spread"),
        ({"spread": True}, ValueError, "spread"),
        ({"spread": float("nan")}, ValueError, "spread"),
    ],
)
def test_ablation_rows_bad_arguments(kwargs, exc, match):
    arguments = {
        "results": {"SE": [0.9, 0.91], "max": [0.88, 0.89]},
        "baseline": "SE",
        **kwargs,
    }
    with pytest.raises(exc, match=match):
        seed_stats.ablation_rows(**arguments)


def test_format_ablation_rows():
    rows = seed_stats.ablation_rows(
        {"SE": [0.90, 0.91], "max": [0.88, 0.89]}, "SE", {"SE": 22.28}, spread=0.005
    )
    text = seed_stats.format_ablation_rows(rows)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["variant", "mean", "std"]
    assert lines[1].split() == ["SE", "90.50", "0.71", "22.28"]
    assert lines[2].split() == ["max", "88.50", "0.71", "-2.00", "1.00"]


def test_seed_statistics():
    s = seed_stats.seed_statistics([0.90, 0.91, 0.92])
    assert s["n"] == 3 and s["min"] == 0.90 and s["max"] == 0.92
    assert s["mean"] == pytest.approx(0.91) and s["std"] == pytest.approx(0.01)
    assert seed_stats.seed_statistics([0.5])["std"] == 0.0


@pytest.mark.parametrize(
    "values, exc",
    [
        ([], ValueError),
        ("abc", ValueError),
        ([0.1, "x"], TypeError),
        ([0.1, float("nan")], TypeError),
        ([True, 0.2], TypeError),
    ],
)
def test_seed_statistics_bad_values(values, exc):
    with pytest.raises(exc, match="values"):
        seed_stats.seed_statistics(values)


def test_compare_with_baseline():
    far = seed_stats.compare_with_baseline([0.95, 0.951, 0.949], [0.90, 0.901, 0.899])
    assert (
        far["difference"] == pytest.approx(0.05)
        and far["exceeds_spread"]
        and not far["ranges_overlap"]
    )
    assert far["standard_error"] == pytest.approx((2 * 0.001**2 / 3) ** 0.5)
    near = seed_stats.compare_with_baseline([0.90, 0.92, 0.91], [0.905, 0.915, 0.91])
    assert not near["exceeds_spread"] and near["ranges_overlap"]
    same = seed_stats.compare_with_baseline([0.9, 0.9], [0.9, 0.9])
    assert same["ratio"] == 0.0 and not same["exceeds_spread"]
    with pytest.raises(ValueError, match="at least 2 seeds"):
        seed_stats.compare_with_baseline([0.9], [0.9, 0.91])


def test_power_at_two_standard_errors_is_about_a_half():
    # a true difference of two standard errors is declared about half the time
    sigma, n = 1.0, 1000
    two_se = 2 * sigma * math.sqrt(2 / n)
    assert seed_stats.power_of_comparison(sigma, two_se, n) == pytest.approx(
        0.516, abs=0.003
    )


def test_seeds_for_power_matches_the_normal_formula_for_large_n():
    # n = 2 (z_0.975 + z_0.8)^2 sigma^2 / d^2 = 62.8 for sigma = 1, d = 0.5; t adds one
    n = seed_stats.seeds_for_power(1.0, 0.5)
    assert n in (64, 65)
    assert seed_stats.power_of_comparison(1.0, 0.5, n) >= 0.8
    assert seed_stats.power_of_comparison(1.0, 0.5, n - 1) < 0.8


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sigma": 0.0, "difference": 1.0, "n": 3}, "sigma must be a number > 0"),
        ({"sigma": 1.0, "difference": -1.0, "n": 3}, "difference must be a number > 0"),
        ({"sigma": 1.0, "difference": 1.0, "n": 1}, "n must be an integer >= 2"),
        ({"sigma": 1.0, "difference": 1.0, "n": 3, "alpha": 1.5}, "alpha must lie"),
    ],
)
def test_power_of_comparison_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        seed_stats.power_of_comparison(**kwargs)


def test_seeds_for_power_bad_arguments():
    with pytest.raises(ValueError, match="power must lie strictly between 0 and 1"):
        seed_stats.seeds_for_power(1.0, 0.5, power=1.0)
    with pytest.raises(ValueError, match="more than 100,000 seeds"):
        seed_stats.seeds_for_power(100.0, 0.01)
