"""The book's controlled experiment on SE: its design, read from the file committed before any of its nets was
trained, and its one table of comparisons.

``experiments/se_evidence/design.toml`` names the net, the recipe, the arms (a data set, an attention block and a
number of seeds each) and the comparisons, each with its prediction, all in one Holm family. :func:`read_design`
reads it; :func:`arm_config` gives each arm's network; :func:`evidence_table` computes every comparison from the
accuracies that the committed nets' manifest entries record, and nothing else. Explained in "Does SE help, and
why?".
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .data import image_channels
from .experiments import accuracies
from .fashion_models import FashionNetConfig
from .seed_stats import holm, welch_interval

DESIGN = (
    Path(__file__).resolve().parents[2] / "experiments" / "se_evidence" / "design.toml"
)
"""Where the design lives in a checkout of the book."""


def read_design(path: str | Path = DESIGN) -> dict[str, Any]:
    """The design file as a dict: ``net``, ``recipe``, ``metric``, ``statistic``, ``arms``, ``comparisons``."""
    design = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    ids = [arm["id"] for arm in design["arms"]]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: arm ids must be unique, got {ids}")
    for c in design["comparisons"]:
        for key in ("arm", "baseline"):
            if c[key] not in ids:
                raise ValueError(
                    f"{path}: comparison names the unknown arm {c[key]!r}; the arms are {ids}"
                )
    return design


def arm_config(design: Mapping[str, Any], arm_id: str) -> tuple[str, FashionNetConfig]:
    """The data set and network of one arm: the design's net with the arm's own settings."""
    arms = {arm["id"]: arm for arm in design["arms"]}
    if arm_id not in arms:
        raise ValueError(
            f"arm_id must be one of {', '.join(map(repr, arms))}; got {arm_id!r}"
        )
    net = {**design["net"], **arms[arm_id]}
    dataset = net["dataset"]
    config = FashionNetConfig(
        attention=net["attention"],
        reduction=net["reduction"],
        widths=tuple(net["widths"]),
        rd_divisor=net["rd_divisor"],
        in_channels=image_channels(dataset),
    )
    return dataset, config


def arm_accuracies(
    design: Mapping[str, Any], entries: Mapping[str, Mapping[str, Any]]
) -> dict[str, list[float]]:
    """Each arm's test accuracies (in %), seed by seed, from the manifest ``entries`` of the design's recipe.

    An arm none of whose nets is trained yet gets an empty list."""
    found = {}
    for arm in design["arms"]:
        dataset, config = arm_config(design, arm["id"])
        try:
            found[arm["id"]] = accuracies(
                entries, config, dataset, design["recipe"]["name"]
            )
        except ValueError:  # none of its nets trained yet
            found[arm["id"]] = []
    return found


def evidence_table(
    design: Mapping[str, Any],
    entries: Mapping[str, Mapping[str, Any]],
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Every comparison of the design: arm minus baseline (points), Welch's 95 % interval and p, Holm-adjusted p.

    Returns ``{"complete": whether every arm has its seeds, "missing": {arm: seeds lacking}, "rows": [...]}``;
    each row holds the comparison's ``arm``, ``baseline``, ``prediction``, ``n`` (seeds of the arm and of the
    baseline), and, once both arms have at least two seeds, ``difference``, ``low``, ``high``, ``p``, and, when the
    design is complete, ``adjusted`` and ``significant`` from one Holm family over all the rows.
    """
    found = arm_accuracies(design, entries)
    missing = {
        arm["id"]: arm["seeds"] - len(found[arm["id"]])
        for arm in design["arms"]
        if len(found[arm["id"]]) < arm["seeds"]
    }
    rows = []
    for c in design["comparisons"]:
        a, b = found[c["arm"]], found[c["baseline"]]
        row: dict[str, Any] = {
            "arm": c["arm"],
            "baseline": c["baseline"],
            "prediction": c["prediction"],
            "n": (len(a), len(b)),
        }
        if len(a) >= 2 and len(b) >= 2:
            w = welch_interval(a, b)
            row |= {k: w[k] for k in ("difference", "low", "high", "p")}
        rows.append(row)
    if not missing:
        adjusted = holm({f"{r['arm']} - {r['baseline']}": r["p"] for r in rows}, alpha)
        for r in rows:
            h = adjusted[f"{r['arm']} - {r['baseline']}"]
            r |= {"adjusted": h["adjusted"], "significant": h["significant"]}
    return {
        "complete": not missing,
        "missing": missing,
        "rows": rows,
        "family": len(rows),
        "alpha": alpha,
    }


def dose_response(
    design: Mapping[str, Any], entries: Mapping[str, Mapping[str, Any]]
) -> dict[float, dict[int, dict[str, float]]]:
    """SE minus plain at each cast strength and first-stage bottleneck width: the design's dose arms.

    Returns ``{strength: {bottleneck units: Welch interval}}``: strength is the frame's tint relative to the
    testbed's (1, 0.5, 0; :data:`sebook.data.CAST_VARIANTS`), the width is the first SE block's bottleneck
    (:func:`sebook.excitation.make_rd_channels`). Arms without two seeds yet are left out.
    """
    from .data import CAST_TINT, CAST_VARIANTS
    from .excitation import make_rd_channels

    found = arm_accuracies(design, entries)
    plain = {}
    for arm in design["arms"]:
        dataset, config = arm_config(design, arm["id"])
        if arm["id"].startswith("dose_") and config.attention == "none":
            plain[dataset] = found[arm["id"]]
    out: dict[float, dict[int, dict[str, float]]] = {}
    for arm in design["arms"]:
        dataset, config = arm_config(design, arm["id"])
        if not arm["id"].startswith("dose_") or config.attention == "none":
            continue
        se, base = found[arm["id"]], plain.get(dataset, [])
        if len(se) < 2 or len(base) < 2:
            continue
        strength = CAST_VARIANTS[dataset]["tint"] / CAST_TINT
        units = make_rd_channels(
            config.widths[0], config.reduction, rd_divisor=config.rd_divisor
        )
        out.setdefault(strength, {})[units] = welch_interval(se, base)
    return {s: dict(sorted(out[s].items())) for s in sorted(out, reverse=True)}
