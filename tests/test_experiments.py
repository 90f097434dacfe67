"""Reading the training experiments from the manifest (sebook.experiments)."""

import pytest
import torch

from sebook.experiments import accuracies, learning_curves, runs, untrained_twin
from sebook.fashion_models import FashionNet, FashionNetConfig
from sebook.recipe import PLATEAU, SHORT

PLAIN = FashionNetConfig(attention="none", rd_divisor=4)


def entry(config, seed, accuracy, dataset="fashion-mnist", recipe=PLATEAU):
    return {
        "config": config.to_dict(),
        "seed": seed,
        "dataset": dataset,
        "recipe": recipe.to_dict(),
        "metrics": {
            "test_accuracy": accuracy,
            "epoch_test_accuracy": [accuracy - 0.1, accuracy],
        },
    }


ENTRIES = {
    "b": entry(PLAIN, 1, 0.90),
    "a": entry(PLAIN, 0, 0.80),
    "c": entry(PLAIN, 0, 0.50, recipe=SHORT),
    "d": entry(PLAIN, 0, 0.70, dataset="cast-fashion-mnist"),
    "e": entry(FashionNetConfig(rd_divisor=4), 0, 0.60),
}


def test_runs_select_one_variant_in_seed_order():
    assert [e["seed"] for e in runs(ENTRIES, PLAIN)] == [0, 1]
    assert accuracies(ENTRIES, PLAIN) == pytest.approx([80.0, 90.0])
    assert accuracies(ENTRIES, PLAIN, recipe="short") == pytest.approx([50.0])
    assert accuracies(ENTRIES, PLAIN, "cast-fashion-mnist") == pytest.approx([70.0])
    assert learning_curves(ENTRIES, PLAIN) == [
        pytest.approx([70.0, 80.0]),
        pytest.approx([80.0, 90.0]),
    ]


def test_old_entries_without_new_config_keys_still_match():
    old = {"x": {**entry(FashionNetConfig(), 0, 0.5, recipe=SHORT)}}
    del old["x"]["config"]["rd_divisor"], old["x"]["config"]["in_channels"]
    assert accuracies(old, FashionNetConfig(), recipe="short") == pytest.approx([50.0])


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: runs(ENTRIES, "none"), TypeError, "config must be a FashionNetConfig"),
        (lambda: runs(ENTRIES, PLAIN, "mnist"), ValueError, "dataset must be one of"),
        (
            lambda: runs(ENTRIES, PLAIN, recipe="long"),
            ValueError,
            "recipe must be one of 'short', 'plateau'",
        ),
        (
            lambda: runs(ENTRIES, FashionNetConfig(attention="eca")),
            ValueError,
            "the manifest holds no net 'eca_standard' trained by recipe 'plateau' on 'fashion-mnist'",
        ),
        (lambda: untrained_twin(PLAIN, -1), ValueError, "seed must be an integer >= 0"),
    ],
)
def test_bad_inputs(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_untrained_twin_is_the_start_of_training_and_leaves_the_random_state_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    twin = untrained_twin(PLAIN, 3)
    assert torch.equal(torch.random.get_rng_state(), before) and not twin.training
    torch.manual_seed(3)
    fresh = FashionNet(PLAIN)
    assert all(
        torch.equal(a, b)
        for a, b in zip(twin.state_dict().values(), fresh.state_dict().values())
    )


def test_budget_curve_and_the_plateau_rule():
    from sebook.experiments import budget_curve, plateau_budget
    from sebook.recipe import RECIPES

    se = FashionNetConfig(rd_divisor=4)

    def curve_entry(config, seed, recipe, final, gain):
        epochs = RECIPES[recipe].epochs
        accuracy = [final - gain * (epochs - 1 - i) for i in range(epochs)]
        e = entry(config, seed, final, "cast-fashion-mnist", RECIPES[recipe])
        e["metrics"]["epoch_test_accuracy"] = accuracy
        return e

    rows = {}
    # 6 epochs: still climbing 1 point an epoch; 12: flat, SE 5 points up; 24: flat, the same gap
    for recipe, gain, gap in (
        ("budget-6", 0.01, 0.07),
        ("budget-12", 0.0005, 0.05),
        ("budget-24", 0.0004, 0.05),
    ):
        for seed, noise in enumerate((-0.004, 0.0, 0.004)):
            rows[f"{recipe}p{seed}"] = curve_entry(
                PLAIN, seed, recipe, 0.8 + noise, gain
            )
            rows[f"{recipe}s{seed}"] = curve_entry(
                se, seed, recipe, 0.8 + gap + noise, gain
            )
    curve = budget_curve(
        rows, PLAIN, se, {6: "budget-6", 12: "budget-12", 24: "budget-24"}
    )
    assert curve[6]["baseline"]["gain_per_epoch"] == pytest.approx(1.0)
    assert not curve[6]["flat"] and curve[12]["flat"] and curve[24]["flat"]
    assert curve[24]["difference"]["difference"] == pytest.approx(5.0)
    assert plateau_budget(curve) == 24  # at 12 the gap still moved from 6's 7 points
    with pytest.raises(ValueError, match="recorded"):
        budget_curve(rows, PLAIN, se, {7: "budget-6"})
