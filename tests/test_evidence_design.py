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


# --- sebook.evidence: the design read back and its table -------------------------------------------------------

import pytest  # noqa: E402

from sebook import evidence  # noqa: E402
from sebook.seed_stats import holm, welch_interval  # noqa: E402

TINY = """
[net]
widths = [8, 16, 32]
rd_divisor = 4
reduction = 16

[recipe]
name = "evidence"

[[arms]]
id = "plain"
dataset = "cast-fashion-mnist"
attention = "none"
seeds = 3

[[arms]]
id = "se"
dataset = "cast-fashion-mnist"
attention = "se"
seeds = 3

[[arms]]
id = "eca"
dataset = "cast-fashion-mnist"
attention = "eca"
seeds = 3

[[comparisons]]
arm = "se"
baseline = "plain"
prediction = "gain"

[[comparisons]]
arm = "eca"
baseline = "plain"
prediction = "gain"
"""


def fake_entries(design, accuracy):
    """Manifest entries as training would write them, with chosen accuracies: {arm: [per seed]}."""
    entries = {}
    for arm_id, values in accuracy.items():
        dataset, config = evidence.arm_config(design, arm_id)
        for seed, value in enumerate(values):
            entries[f"{arm_id}_{seed}.pt"] = {
                "dataset": dataset,
                "recipe": {"name": "evidence"},
                "config": config.to_dict(),
                "seed": seed,
                "metrics": {"test_accuracy": value / 100},
            }
    return entries


def test_the_book_reads_the_committed_design_and_its_arms_are_the_nets_the_tool_trains():
    import train_checkpoints
    from sebook.checkpoints import checkpoint_path

    d = evidence.read_design()
    names = {name for name, _ in train_checkpoints.jobs()}
    for arm in d["arms"]:
        dataset, config = evidence.arm_config(d, arm["id"])
        for seed in range(arm["seeds"]):
            name = checkpoint_path(config, seed, "checkpoints", recipe="evidence", dataset=dataset).name
            assert name in names, (arm["id"], seed)


def test_the_table_is_welch_per_comparison_and_one_holm_family(tmp_path):
    path = tmp_path / "design.toml"
    path.write_text(TINY)
    d = evidence.read_design(path)
    acc = {"plain": [80.0, 81.0, 80.5], "se": [87.0, 88.0, 86.5], "eca": [81.0, 80.2, 81.9]}
    table = evidence.evidence_table(d, fake_entries(d, acc))
    assert table["complete"] and table["family"] == 2 and not table["missing"]
    se, eca = table["rows"]
    expected = welch_interval(acc["se"], acc["plain"])
    assert se["difference"] == pytest.approx(expected["difference"]) and se["p"] == pytest.approx(expected["p"])
    adjusted = holm({"se - plain": se["p"], "eca - plain": eca["p"]})
    assert se["adjusted"] == adjusted["se - plain"]["adjusted"] and se["significant"]
    assert eca["adjusted"] == adjusted["eca - plain"]["adjusted"] and not eca["significant"]


def test_an_incomplete_design_has_no_family_yet(tmp_path):
    path = tmp_path / "design.toml"
    path.write_text(TINY)
    d = evidence.read_design(path)
    table = evidence.evidence_table(d, fake_entries(d, {"plain": [80.0, 81.0], "se": [87.0, 88.0, 86.0]}))
    assert not table["complete"] and table["missing"] == {"plain": 1, "eca": 3}
    se, eca = table["rows"]
    assert se["n"] == (3, 2) and "difference" in se and "adjusted" not in se
    assert eca["n"] == (0, 2) and "difference" not in eca


def test_a_design_naming_an_unknown_arm_is_refused(tmp_path):
    path = tmp_path / "design.toml"
    path.write_text(TINY.replace('arm = "eca"', 'arm = "cbam"'))
    with pytest.raises(ValueError, match="comparison names the unknown arm 'cbam'"):
        evidence.read_design(path)
    with pytest.raises(ValueError, match="arm_id must be one of 'plain', 'se', 'eca'; got 'x'"):
        evidence.arm_config(tomllib.loads(TINY), "x")


def test_dose_response_pairs_each_se_arm_with_the_plain_net_at_its_strength():
    d = tomllib.loads(TINY.split("[[arms]]")[0])
    d["arms"], d["comparisons"] = [], []
    for dataset, tint in (("cast-fashion-mnist", "1"), ("cast-fashion-mnist-tint-0", "0")):
        d["arms"].append({"id": f"dose_plain_tint{tint}", "dataset": dataset, "attention": "none", "seeds": 2})
        for r in (16, 1):
            d["arms"].append({"id": f"dose_se_r{r}_tint{tint}", "dataset": dataset, "attention": "se",
                              "reduction": r, "rd_divisor": 1, "seeds": 2})  # fmt: skip
    acc = {"dose_plain_tint1": [80, 81], "dose_se_r16_tint1": [86, 87], "dose_se_r1_tint1": [87, 88],
           "dose_plain_tint0": [60, 61], "dose_se_r16_tint0": [60, 61.5], "dose_se_r1_tint0": [61, 60]}  # fmt: skip
    doses = evidence.dose_response(d, fake_entries(d, acc))
    assert list(doses) == [1.0, 0.0] and list(doses[1.0]) == [1, 8]  # units: 8 channels / 16 -> 1, / 1 -> 8
    assert doses[1.0][1]["difference"] == pytest.approx(6.0)
    assert doses[0.0][8]["difference"] == pytest.approx(0.0)
