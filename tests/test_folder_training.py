"""python -m sebook.train --model NAME --data DIR (sebook.folder_training) on a tiny ImageFolder generated here.

Nothing downloads. SE-ResNet-50 on 32 x 32 crops of 18 images in 3 classes: a few seconds a run on one core.
Two gloo processes reproduce one process with two micro-batches bit for bit, for the reason given in
test_distributed.py (halving is exact and a sum of two numbers does not depend on their order).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from sebook.folder_training import (
    PAPER_SGD,
    SGDRecipe,
    epoch_batches,
    load_folder_checkpoint,
    train_folder,
)
from sebook.distributed import World
from sebook.image_folder import write_example_folder
from sebook.manifest import read_manifest
from sebook.train import main

pytest.importorskip("PIL")

RECIPE = SGDRecipe(epochs=2, batch_size=4, lr=0.05, image_size=32, workers=0, threads=1)
RUN = [
    "--model", "se_resnet50", "--epochs", "2", "--batch-size", "4", "--lr", "0.05", "--image-size", "32",
    "--workers", "0", "--threads", "1", "--seed", "1", "--no-progress",
]  # fmt: skip


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """DIR/train: 3 classes of 5 images; DIR/val: 3 classes of 1 image; sizes and formats differ."""
    return write_example_folder(tmp_path_factory.mktemp("imagenet"))


def states_equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_the_paper_recipe():
    assert (PAPER_SGD.batch_size, PAPER_SGD.lr, PAPER_SGD.momentum) == (1024, 0.6, 0.9)
    assert (PAPER_SGD.epochs, PAPER_SGD.step_epochs, PAPER_SGD.image_size) == (
        100,
        30,
        224,
    )


def test_each_process_takes_its_slice_of_every_global_batch():
    one = epoch_batches(18, RECIPE, 1, 0, World())
    two = [epoch_batches(18, RECIPE, 1, 0, World(rank, 2)) for rank in (0, 1)]
    assert len(one) == 4 and all(
        len(b) == 4 for b in one
    )  # 18 // 4 batches; the rest dropped
    assert [a + b for a, b in zip(*two)] == one
    assert epoch_batches(18, RECIPE, 1, 1, World()) != one  # a new order each epoch


def test_the_command_trains_writes_and_records(tiny, tmp_path, capsys):
    assert main([*RUN, "--data", str(tiny), "--out", str(tmp_path / "se.pt")]) == 0
    model, payload = load_folder_checkpoint(tmp_path / "se.pt")
    assert payload["classes"] == ["n00000000", "n00000001", "n00000002"]
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 3) and not model.training
    entry = read_manifest(tmp_path / "manifest.json")["checkpoints"]["se.pt"]
    assert entry["model"] == "se_resnet50" and entry["world_size"] == 1
    assert entry["recipe"] == RECIPE.to_dict()
    assert len(entry["metrics"]["epoch_val_accuracy"]) == 2
    assert entry["command"].startswith(
        "python -m sebook.train --model se_resnet50 --data "
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "se.pt"]
    assert "val accuracy" in capsys.readouterr().out


def test_a_stopped_run_resumes_to_the_same_weights(tiny):
    full, _ = train_folder("se_resnet50", tiny, RECIPE, seed=1)
    saved = []

    def stop_after_first_epoch(state):
        saved.append(state)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_folder(
            "se_resnet50", tiny, RECIPE, seed=1, on_epoch=stop_after_first_epoch
        )
    resumed, metrics = train_folder(
        "se_resnet50", tiny, RECIPE, seed=1, resume=saved[0]
    )
    assert states_equal(resumed.state_dict(), full.state_dict())
    assert len(metrics["epoch_loss"]) == 2


def test_two_processes_train_as_one_with_two_micro_batches(tiny, tmp_path):
    run = [*RUN, "--data", str(tiny)]
    one = subprocess.run(
        [sys.executable, "-m", "sebook.train", *run, "--micro-batches", "2", "--out", "one.pt"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert one.returncode == 0, one.stderr
    two = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "sebook.train", *run, "--out", "two.pt"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert two.returncode == 0, two.stderr
    a, b = (
        load_folder_checkpoint(tmp_path / f)[0].state_dict()
        for f in ("one.pt", "two.pt")
    )
    assert states_equal(a, b)
    assert (
        read_manifest(tmp_path / "manifest.json")["checkpoints"]["two.pt"]["world_size"]
        == 2
    )


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "argument --data: required with --model se_resnet50"),
        (["--data", "nowhere"], "holds no train/ folder"),
        (["--data", "DIR", "--augment", "none"], "argument --augment: FashionNet's"),
        (
            ["--data", "DIR", "--batch-size", "5", "--micro-batches", "2"],
            "does not divide",
        ),
    ],
)
def test_bad_folder_commands_fail_before_any_work(
    extra, message, tiny, tmp_path, capsys
):
    extra = [str(tiny) if a == "DIR" else a for a in extra]
    with pytest.raises(SystemExit) as exit_info:
        main([*RUN, *extra, "--out", str(tmp_path / "x.pt")])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_folder_options_are_refused_for_fashionnet(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--data", "DIR", "--out", str(tmp_path / "x.pt")])
    assert "argument --data: only with --model" in capsys.readouterr().err
