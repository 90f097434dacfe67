"""The design of the evidence for SE (experiments/se_evidence/design.toml): complete, consistent, trainable."""

import tomllib
from pathlib import Path

from sebook.attention import ATTENTION
from sebook.data import DATASETS
from sebook.recipe import RECIPES

DESIGN = (
    Path(__file__).resolve().parents[1] / "experiments" / "se_evidence" / "design.toml"
)


def design() -> dict:
    return tomllib.loads(DESIGN.read_text(encoding="utf-8"))


def test_every_arm_is_trainable_and_every_comparison_names_two_arms():
    d = design()
    ids = [arm["id"] for arm in d["arms"]]
    assert len(ids) == len(set(ids))
    for arm in d["arms"]:
        assert arm["dataset"] in DATASETS and arm["attention"] in ATTENTION, arm
        assert arm["seeds"] >= 3
    for c in d["comparisons"]:
        assert c["arm"] in ids and c["baseline"] in ids and c["prediction"], c
    assert d["recipe"]["name"] in RECIPES
    assert RECIPES[d["recipe"]["name"]].epochs == d["recipe"]["epochs"]


def test_the_design_holds_what_issue_33_asks_for():
    d = design()
    arms = {arm["id"]: arm for arm in d["arms"]}
    testbed = [
        a
        for a in arms.values()
        if a["dataset"] == "cast-fashion-mnist" and not a["id"].startswith("dose")
    ]
    assert {a["attention"] for a in testbed} >= {
        "none",
        "se",
        "se_add",
        "nosqueeze",
        "ge",
        "gc",
        "eca",
    }
    assert all(a["seeds"] >= 5 for a in testbed) and arms["oracle"]["seeds"] >= 5
    assert {arms["fmnist_plain"]["seeds"], arms["fmnist_se"]["seeds"]} == {5}
    dose = [a for a in arms.values() if a["id"].startswith("dose_se")]
    assert (
        len({a["reduction"] for a in dose}) == 3
        and len({a["dataset"] for a in dose}) == 3
    )
    assert "cast-fashion-mnist-tint-0" in {a["dataset"] for a in dose}
    assert "Holm" in d["statistic"]["family"]
