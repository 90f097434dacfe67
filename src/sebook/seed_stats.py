"""Results over random seeds: summaries, differences, noise level, ablation tables.

Differences are from a baseline; the noise level is pooled.

A trained variant is a handful of numbers, one per seed; these functions say how far two
variants differ and whether that exceeds the seed-to-seed spread. Explained in
"Ablations"; used in "The reduction ratio, measured" and "Successors".
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from . import checks


def seed_statistics(values: Sequence[float]) -> dict[str, float]:
    """Mean, sample std (divisor n - 1), min, max and count of one variant over seeds.

    Used in "Ablations" and "Successors" to report ``mean ± std`` over the seeds of
    each trained variant.
    """
    if (
        isinstance(values, (str, bytes))
        or not isinstance(values, Sequence)
        or len(values) < 1
    ):
        raise ValueError(
            f"values must be a non-empty sequence of numbers, got {values!r}"
        )
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
            raise TypeError(f"values[{i}] must be a number, got {v!r}")
    n = len(values)
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if n > 1 else 0.0,
        "min": float(min(values)),
        "max": float(max(values)),
        "n": n,
    }


def compare_with_baseline(
    values: Sequence[float], baseline: Sequence[float]
) -> dict[str, float | bool]:
    """How a variant's results over seeds differ from the baseline's.

    And whether that exceeds the seed spread.

    Returns the difference of the means, its standard error
    ``sqrt(s_v^2 / n_v + s_b^2 / n_b)`` (Welch's), their ratio, ``exceeds_spread`` (the
    difference is more than two standard errors) and ``ranges_overlap`` (some seed of
    one lies within the other's range). With three seeds per variant these are rough
    guides, not tests; "Ablations" explains how to read them.
    """
    v, b = seed_statistics(values), seed_statistics(baseline)
    if v["n"] < 2 or b["n"] < 2:
        raise ValueError(
            "values and baseline need at least 2 seeds each to estimate a spread; got "
            f"{v['n']} and {b['n']}"
        )
    diff = v["mean"] - b["mean"]
    se = (v["std"] ** 2 / v["n"] + b["std"] ** 2 / b["n"]) ** 0.5
    ratio = abs(diff) / se if se > 0 else (0.0 if diff == 0 else float("inf"))
    return {
        "difference": diff,
        "standard_error": se,
        "ratio": ratio,
        "exceeds_spread": ratio > 2.0,
        "ranges_overlap": v["min"] <= b["max"] and b["min"] <= v["max"],
    }


def pooled_seed_spread(results: dict[str, Sequence[float]]) -> dict[str, float]:
    """The seed-to-seed standard deviation pooled over variants.

    One noise level estimated from all of them.

    ``sqrt(sum_v sum_i (x_vi - mean_v)^2 / sum_v (n_v - 1))``: with two seeds per
    variant each variant alone says little about the noise, but a dozen variants trained
    the same way say a lot, if the noise is alike for all. Returns
    ``{"std", "dof", "variants"}`` (``dof``: the degrees of freedom,
    ``sum_v (n_v - 1)``). Explained in "Ablations".
    """
    if not isinstance(results, dict) or not results:
        raise ValueError(
            "results must be a non-empty dict from variant labels to results over seeds"
        )
    squares, dof = 0.0, 0
    for label, values in results.items():
        s = seed_statistics(values)
        squares += s["std"] ** 2 * (s["n"] - 1)
        dof += s["n"] - 1
    if dof == 0:
        raise ValueError(
            "results need at least one variant with 2 or more seeds to estimate a "
            "spread"
        )
    return {"std": (squares / dof) ** 0.5, "dof": dof, "variants": len(results)}


def ablation_rows(
    results: dict[str, Sequence[float]],
    baseline: str,
    paper: dict[str, float] | None = None,
    spread: float | None = None,
) -> list[dict[str, object]]:
    """One row per variant of an ablation: its mean and its differences.

    The mean is over seeds; the differences are from ``baseline`` and the paper's.

    ``results`` maps a label to accuracies over seeds (fractions or %); ``paper`` maps
    labels to the published top-1 *error* (%) of the same variant (labels without one
    get ``None``). Each row holds ``label``, ``mean``, ``std``, ``n``, ``difference``
    (mean minus the baseline's mean), ``standard_error`` of that difference, ``ratio``
    (``|difference|`` / standard error), ``beyond_noise`` (ratio > 2), ``paper_error``
    and ``paper_gain`` (the paper's baseline error minus the variant's, so that a
    positive gain means better, as for the difference). With ``spread`` (e.g.
    :func:`pooled_seed_spread`'s ``std``) the standard error is
    ``spread * sqrt(1/n + 1/n_b)``; without it, each pair's own spreads (Welch's, as
    :func:`compare_with_baseline`). Explained in "Ablations".
    """
    if not isinstance(results, dict) or baseline not in results:
        names = (
            ", ".join(map(repr, results))
            if isinstance(results, dict)
            else type(results).__name__
        )
        raise ValueError(f"baseline must be one of {names}; got {baseline!r}")
    if spread is not None and (
        isinstance(spread, bool)
        or not isinstance(spread, (int, float))
        or not spread >= 0
    ):
        raise ValueError(f"spread must be a number >= 0 or None, got {spread!r}")
    paper = paper or {}
    base = seed_statistics(results[baseline])
    rows = []
    for label, values in results.items():
        s = seed_statistics(values)
        diff = s["mean"] - base["mean"]
        if spread is None:
            se = (
                compare_with_baseline(values, results[baseline])["standard_error"]
                if label != baseline
                else 0.0
            )
        else:
            se = (
                spread * (1 / s["n"] + 1 / base["n"]) ** 0.5
                if label != baseline
                else 0.0
            )
        ratio = abs(diff) / se if se > 0 else 0.0
        error = paper.get(label)
        gain = (
            None if error is None or baseline not in paper else paper[baseline] - error
        )
        rows.append(
            {
                "label": label,
                "mean": s["mean"],
                "std": s["std"],
                "n": s["n"],
                "difference": diff,
                "standard_error": se,
                "ratio": ratio,
                "beyond_noise": ratio > 2.0,
                "paper_error": error,
                "paper_gain": gain,
            }
        )
    return rows


def format_ablation_rows(
    rows: Sequence[dict[str, object]], scale: float = 100.0
) -> str:
    """:func:`ablation_rows` as a fixed-width text table.

    Accuracies are multiplied by ``scale`` (to %).
    """
    lines = [
        f"{'variant':24s} {'mean':>6s} {'std':>5s}  {'diff':>6s} {'± 2 SE':>6s}  "
        f"{'paper top-1 err':>15s}"
    ]
    for row in rows:
        paper = "" if row["paper_error"] is None else f"{row['paper_error']:.2f}"
        noise = (
            ""
            if row["standard_error"] == 0
            else f"{2 * row['standard_error'] * scale:6.2f}"
        )
        diff = (
            "" if row["standard_error"] == 0 else f"{row['difference'] * scale:+6.2f}"
        )
        lines.append(
            f"{str(row['label']):24s} {row['mean'] * scale:6.2f} "
            f"{row['std'] * scale:5.2f}  {diff:>6s} {noise:>6s}  {paper:>15s}"
        )
    return "\n".join(lines)


def student_t_cdf(t: float, dof: float) -> float:
    """P(T <= t) for Student's t distribution with ``dof`` degrees of freedom.

    ``dof`` is real and > 0; computed by Simpson's rule.
    """
    import math

    dof = float(dof)
    if not dof > 0:
        raise ValueError(f"dof must be a number > 0, got {dof!r}")
    log_c = (
        math.lgamma((dof + 1) / 2)
        - math.lgamma(dof / 2)
        - 0.5 * math.log(dof * math.pi)
    )
    x = abs(float(t))
    # even; the density is smooth, so this is exact to about 1e-10 for the values
    # used here
    steps = 2000
    h = x / steps
    total = 0.0
    for i in range(steps + 1):
        weight = 1 if i in (0, steps) else (4 if i % 2 else 2)
        total += weight * math.exp(
            log_c - (dof + 1) / 2 * math.log1p((i * h) ** 2 / dof)
        )
    half = total * h / 3
    return 0.5 + half if t >= 0 else 0.5 - half


def student_t_quantile(p: float, dof: float) -> float:
    """The t with ``student_t_cdf(t, dof) == p`` for ``0 < p < 1``, by bisection."""
    if not 0 < p < 1:
        raise ValueError(f"p must lie strictly between 0 and 1, got {p!r}")
    low, high = -1e3, 1e3
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if student_t_cdf(middle, dof) < p else (low, middle)
    return (low + high) / 2


def power_of_comparison(
    sigma: float, difference: float, n: int, alpha: float = 0.05
) -> float:
    """The power of a two-sided t test at level ``alpha`` between two networks.

    Each has ``n`` seeds with seed-to-seed spread ``sigma``; the power is the chance of
    declaring a true ``difference`` of means. The noncentral t is approximated by a
    shifted central t with ``2n - 2`` degrees of freedom, and the far tail is neglected.
    """
    sigma = checks.positive_number("sigma", sigma)
    difference = checks.positive_number("difference", difference)
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha!r}")
    dof = 2 * n - 2
    standard_error = sigma * (2 / n) ** 0.5
    critical = student_t_quantile(1 - alpha / 2, dof)
    return 1 - student_t_cdf(critical - difference / standard_error, dof)


def seeds_for_power(
    sigma: float, difference: float, power: float = 0.8, alpha: float = 0.05
) -> int:
    """The fewest seeds per network for :func:`power_of_comparison` to reach ``power``.

    Searched by bisection over ``n`` from 2 to 100,000.
    """
    if not 0 < power < 1:
        raise ValueError(f"power must lie strictly between 0 and 1, got {power!r}")
    low, high = 2, 100_000
    if power_of_comparison(sigma, difference, high, alpha) < power:
        raise ValueError(
            f"more than {high:,} seeds would be needed for a difference of "
            f"{difference!r} at spread {sigma!r}"
        )
    while low < high:
        middle = (low + high) // 2
        if power_of_comparison(sigma, difference, middle, alpha) >= power:
            high = middle
        else:
            low = middle + 1
    return low


def welch_interval(
    values: Sequence[float], baseline: Sequence[float], level: float = 0.95
) -> dict[str, float]:
    """Difference of means ``mean(values) - mean(baseline)``, with interval and p-value.

    Welch's ``level`` confidence interval and p-value.

    Welch's t: standard error ``sqrt(s_v^2 / n_v + s_b^2 / n_b)``, degrees of freedom by
    the Welch-Satterthwaite formula; the interval is
    ``difference ± t_(1 - (1 - level) / 2, dof) * standard_error`` and ``p`` is the
    two-sided p-value of "no difference". Returns a dict with the keys
    ``"difference"``, ``"low"``, ``"high"``, ``"standard_error"``, ``"dof"``, ``"t"``,
    ``"p"``, ``"n"`` and ``"n_baseline"``. Explained in "Learned channel weights".
    """
    v, b = seed_statistics(values), seed_statistics(baseline)
    if v["n"] < 2 or b["n"] < 2:
        raise ValueError(
            f"values and baseline need at least 2 seeds each; got {v['n']} and {b['n']}"
        )
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level!r}")
    a, c = v["std"] ** 2 / v["n"], b["std"] ** 2 / b["n"]
    se = (a + c) ** 0.5
    diff = v["mean"] - b["mean"]
    if se == 0:
        return {
            "difference": diff,
            "low": diff,
            "high": diff,
            "standard_error": 0.0,
            "dof": float("inf"),
            "t": 0.0 if diff == 0 else float("inf"),
            "p": 1.0 if diff == 0 else 0.0,
            "n": v["n"],
            "n_baseline": b["n"],
        }
    dof = (a + c) ** 2 / (a**2 / (v["n"] - 1) + c**2 / (b["n"] - 1))
    half = student_t_quantile(1 - (1 - level) / 2, dof) * se
    t = diff / se
    return {
        "difference": diff,
        "low": diff - half,
        "high": diff + half,
        "standard_error": se,
        "dof": dof,
        "t": t,
        "p": 2 * (1 - student_t_cdf(abs(t), dof)),
        "n": v["n"],
        "n_baseline": b["n"],
    }


def holm(
    p_values: dict[str, float], alpha: float = 0.05
) -> dict[str, dict[str, float | bool]]:
    """Holm's step-down correction for several comparisons.

    Adjusted p-values and which stay significant.

    Sort the m p-values; the i-th smallest (from 0) is multiplied by ``m - i``, the
    products are made non-decreasing and capped at 1. A comparison is significant at
    family-wise error ``alpha`` if its adjusted p-value is at most ``alpha``. Returns
    ``{label: {"p", "adjusted", "significant"}}`` in the input's order.
    """
    if not isinstance(p_values, dict) or not p_values:
        raise ValueError("p_values must be a non-empty dict from labels to p-values")
    for label, p in p_values.items():
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise ValueError(
                f"p_values[{label!r}] must be a number in [0, 1], got {p!r}"
            )
    order = sorted(p_values, key=p_values.get)
    m, running, adjusted = len(order), 0.0, {}
    for i, label in enumerate(order):
        running = max(running, min(1.0, (m - i) * p_values[label]))
        adjusted[label] = running
    return {
        label: {
            "p": float(p_values[label]),
            "adjusted": adjusted[label],
            "significant": adjusted[label] <= alpha,
        }
        for label in p_values
    }
