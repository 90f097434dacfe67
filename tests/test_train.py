"""Training and its command line (sebook.train), including reproducing committed checkpoints from their commands."""

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from sebook import train as train_module
from sebook.checkpoints import file_sha256, load_checkpoint
from sebook.manifest import read_manifest, verify_manifest
from sebook.data import FASHION_MNIST_SHA256
from sebook.fashion_models import FashionNet, FashionNetConfig
from sebook.recipe import SHORT, Recipe
from sebook.train import evaluate, main, predict, reproducible, train
from sebook.train_cli import build_parser, command_line

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "checkpoints" / "manifest.json"
TINY = FashionNetConfig(attention="se", reduction=2, widths=(4, 8))
TINY_RECIPE = SHORT.replace(epochs=1, batch_size=50, train_subset=500)
TINY_ARGS = {"seed": 0, "recipe": TINY_RECIPE, "progress": False}


def states_equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_predict_and_evaluate():
    torch.manual_seed(0)
    model = FashionNet(TINY)
    images = torch.rand(30, 1, 28, 28)
    labels = torch.arange(30) % 10
    logits = predict(model, images, batch_size=7)
    assert logits.shape == (30, 10) and model.training  # the mode is restored
    result = evaluate(model, images, labels, batch_size=7)
    assert (
        result["accuracy"]
        == sum(int(p == t) for p, t in zip(logits.argmax(1).tolist(), labels.tolist()))
        / 30
    )
    assert len(result["class_accuracy"]) == 10 and result["loss"] > 0
    with pytest.raises(ValueError, match="labels must be a tensor of shape"):
        evaluate(model, images, labels[:5])
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        predict("model", images)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="images must be 4-D"):
        predict(model, images[0])


def test_train_is_deterministic_and_restores_global_settings():
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(False)
    first, metrics = train(TINY, **TINY_ARGS)
    assert (
        torch.get_num_threads() == 2
        and not torch.are_deterministic_algorithms_enabled()
    )
    second, again = train(TINY, **TINY_ARGS)
    assert states_equal(first.state_dict(), second.state_dict()) and metrics == again
    other, _ = train(TINY, **{**TINY_ARGS, "seed": 1})
    assert not states_equal(first.state_dict(), other.state_dict())
    assert not first.training
    assert set(metrics) >= {
        "test_accuracy",
        "test_loss",
        "class_accuracy",
        "epoch_loss",
        "epoch_accuracy",
        "epoch_test_accuracy",
    }
    assert len(metrics["epoch_loss"]) == 1 and 0 <= metrics["test_accuracy"] <= 1
    assert metrics["epoch_test_accuracy"] == [metrics["test_accuracy"]]
    assert metrics["steps"] == 10 and metrics["train_examples"] == 500


def test_training_learns():
    _, metrics = train(
        TINY, 0, TINY_RECIPE.replace(epochs=2, train_subset=2000), progress=False
    )
    assert metrics["epoch_loss"][1] < metrics["epoch_loss"][0] < 2.4
    assert metrics["test_accuracy"] > 0.2  # chance is 0.1


PORTABLE_KERNELS = {  # as the Makefile's PORTABLE_KERNELS
    "ATEN_CPU_CAPABILITY": "default",
    "ONEDNN_MAX_CPU_ISA": "SSE41",
    "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
}
SHORT_RUN = """
import torch
from sebook.fashion_models import FashionNetConfig
from sebook.recipe import SHORT
from sebook.train import train
_, m = train(FashionNetConfig(reduction=2, widths=(4, 8)), 0,
             SHORT.replace(epochs=1, batch_size=50, train_subset=500),
             progress=False, dtype=torch.float64)
print(m["test_accuracy"], repr(m["epoch_loss"][0]))
"""


def test_float64_training_gives_the_same_results_on_other_cpu_kernels():
    """Chapter 07 trains a small net in float64 so that its printed accuracy is the same on every CPU."""
    runs = [
        subprocess.run(
            [sys.executable, "-c", SHORT_RUN],
            env={**os.environ, **kernels},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        for kernels in ({}, PORTABLE_KERNELS)
    ]
    (acc_here, loss_here), (acc_portable, loss_portable) = runs
    assert acc_here == acc_portable
    assert float(loss_here) == pytest.approx(float(loss_portable), rel=1e-9)


def test_float64_training_trains_float64_weights():
    model, metrics = train(TINY, **TINY_ARGS, dtype=torch.float64)
    assert all(p.dtype == torch.float64 for p in model.parameters())
    assert 0 <= metrics["test_accuracy"] <= 1 and torch.get_default_dtype() == torch.float32


def test_progress_bar_text_does_not_depend_on_timing(capsys):
    outputs = []
    for _ in range(2):
        train(TINY, **{**TINY_ARGS, "progress": True})
        outputs.append(capsys.readouterr().err)
    assert outputs[0] == outputs[1]
    assert "10/10 steps, epoch 1/1, loss" in outputs[0]
    assert not re.search(r"it/s|s/it|\d+:\d\d", outputs[0])


def test_reproducible_context_restores_settings():
    torch.set_num_threads(2)
    with reproducible(1):
        assert (
            torch.get_num_threads() == 1
            and torch.are_deterministic_algorithms_enabled()
        )
    assert torch.get_num_threads() == 2
    with pytest.raises(ValueError, match="threads must be an integer >= 1"):
        with reproducible(0):
            pass


@pytest.mark.parametrize(
    "changes, error, message",
    [
        ({"config": "se"}, TypeError, "config must be a FashionNetConfig"),
        ({"seed": -1}, ValueError, "seed must be an integer >= 0"),
        ({"recipe": "plateau"}, TypeError, "recipe must be a sebook.recipe.Recipe"),
        (
            {"dataset": "mnist"},
            ValueError,
            "dataset must be one of 'fashion-mnist', 'cast-fashion-mnist'",
        ),
        (
            {"dataset": "cast-fashion-mnist"},
            ValueError,
            "cast-fashion-mnist has 3-channel images but config.in_channels",
        ),
        (
            {"recipe": TINY_RECIPE.replace(train_subset=40)},
            ValueError,
            "batch_size 50 is larger than the 40 training examples",
        ),
        (
            {"dtype": torch.float16},
            ValueError,
            "dtype must be one of torch.float32, torch.float64, got torch.float16",
        ),
    ],
)
def test_train_rejects_bad_arguments(changes, error, message):
    kwargs = {"config": TINY, **TINY_ARGS, **changes}
    with pytest.raises(error, match=message):
        train(**kwargs)


@pytest.mark.parametrize(
    "changes, error, message",
    [
        ({"epochs": 0}, ValueError, "epochs must be an integer >= 1"),
        ({"batch_size": 1}, ValueError, "batch_size must be at least 2"),
        ({"lr": 0}, ValueError, "lr must be a number > 0"),
        ({"weight_decay": -1}, ValueError, "weight_decay must be a number >= 0"),
        ({"schedule": "cosine"}, ValueError, "schedule must be one of 'linear'"),
        (
            {"augment": "rotate"},
            ValueError,
            "augment must be one of 'none', 'shift-flip'",
        ),
        ({"labels": "random"}, ValueError, "labels must be one of 'true', 'shuffled'"),
        (
            {"train_subset": 70_000},
            ValueError,
            "train_subset must be between 2 and 60000",
        ),
        ({"name": "a b"}, ValueError, "name must be letters, digits and '-'"),
    ],
)
def test_recipe_rejects_bad_fields(changes, error, message):
    with pytest.raises(error, match=message):
        SHORT.replace(**changes)


def test_recipe_round_trips_through_plain_data():
    recipe = TINY_RECIPE.replace(augment="shift-flip", labels="shuffled")
    assert Recipe.from_dict(recipe.to_dict()) == recipe
    with pytest.raises(ValueError, match="unknown Recipe key"):
        Recipe.from_dict({**recipe.to_dict(), "momentum": 0.9})


# --- the command line ----------------------------------------------------------------------------------------------


def test_help_runs_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "sebook.train", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0
    for option in (
        "--attention",
        "--reduction",
        "--rd-divisor",
        "--squeeze",
        "--gate",
        "--integration",
        "--dataset",
        "--recipe",
        "--seed",
        "--epochs",
        "--augment",
        "--labels",
        "--out",
    ):
        assert option in result.stdout


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--attention", "sk"], "argument --attention: invalid choice: 'sk'"),
        (
            ["--reduction", "0"],
            "argument --reduction: expected a finite number > 0, got '0'",
        ),
        (
            ["--reduction", "four"],
            "argument --reduction: expected a number > 0, got 'four'",
        ),
        (["--epochs", "0"], "argument --epochs: expected an integer >= 1, got '0'"),
        (["--seed", "-2"], "argument --seed: expected an integer >= 0"),
        (["--squeeze", "median"], "argument --squeeze: invalid choice"),
        (["--gate", "step"], "argument --gate: invalid choice"),
        (["--integration", "after"], "argument --integration: invalid choice"),
        (["--batch-size", "1"], "batch_size must be at least 2"),
        (["--train-subset", "99999"], "train_subset must be between 2 and 60000"),
        (["--recipe", "long"], "argument --recipe: invalid choice: 'long'"),
        (["--dataset", "mnist"], "argument --dataset: invalid choice: 'mnist'"),
        (
            ["--rd-divisor", "0"],
            "argument --rd-divisor: expected an integer >= 1, got '0'",
        ),
        (["--out", "model.pth"], "argument --out: the checkpoint file must end in .pt"),
        (
            ["--out", "no/such/folder/x.pt"],
            "argument --out: folder 'no/such/folder' does not exist",
        ),
        (
            ["--manifest", "elsewhere/manifest.json"],
            "argument --manifest: the manifest must be in the same folder",
        ),
    ],
)
def test_bad_arguments_exit_2_before_any_work(
    argv, message, capsys, monkeypatch, tmp_path
):
    def no_work(*args, **kwargs):
        raise AssertionError("training started despite a bad argument")

    monkeypatch.setattr(train_module, "train", no_work)
    monkeypatch.chdir(tmp_path)
    full = ["--out", "x.pt"] + argv if "--out" not in argv else argv
    with pytest.raises(SystemExit) as exit_info:
        main(full)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "usage: python -m sebook.train" in err and message in err


def test_missing_out_is_an_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--attention", "se"])
    assert (
        exit_info.value.code == 2
        and "the following arguments are required: --out" in capsys.readouterr().err
    )


def test_cli_writes_checkpoint_and_manifest_and_its_command_reproduces_it(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "first").mkdir()
    argv = [
        "--reduction",
        "2",
        "--widths",
        "4",
        "8",
        "--epochs",
        "1",
        "--batch-size",
        "50",
        "--train-subset",
        "500",
        "--seed",
        "3",
        "--out",
        "first/tiny.pt",
        "--no-progress",
    ]
    assert main(argv) == 0
    assert (
        "se_r2_avg_sigmoid_standard_w4-8 (seed 3, fashion-mnist, short): test accuracy"
        in capsys.readouterr().out
    )
    entry = verify_manifest("first/manifest.json")["tiny.pt"]
    assert entry["command"] == (
        "python -m sebook.train --attention se --reduction 2 --rd-divisor 1 --squeeze avg "
        "--gate sigmoid --integration standard --widths 4 8 --dataset fashion-mnist "
        "--recipe short --seed 3 --epochs 1 --batch-size 50 --train-subset 500 "
        "--out first/tiny.pt"
    )
    assert (
        entry["config"] == FashionNetConfig(reduction=2, widths=(4, 8)).to_dict()
        and entry["seed"] == 3
    )
    assert (
        entry["dataset"] == "fashion-mnist"
        and Recipe.from_dict(entry["recipe"]) == TINY_RECIPE
    )
    assert entry["data_sha256"] == FASHION_MNIST_SHA256
    model, meta = load_checkpoint("first/tiny.pt")
    assert meta["metrics"]["test_accuracy"] == entry["metrics"]["test_accuracy"]

    (tmp_path / "second").mkdir()
    command = shlex.split(entry["command"])
    command[command.index("--out") + 1] = "second/tiny.pt"
    assert main(command[3:] + ["--no-progress"]) == 0
    again, _ = load_checkpoint("second/tiny.pt")
    assert states_equal(model.state_dict(), again.state_dict())
    assert file_sha256("second/tiny.pt") == entry["sha256"]  # the same bytes


def test_command_line_is_canonical():
    args = build_parser().parse_args(
        ["--attention", "none", "--out", "c/none_s0.pt"]
    )
    assert command_line(args) == (
        "python -m sebook.train --attention none --reduction 16 --rd-divisor 1 --squeeze "
        "avg --gate sigmoid --integration standard --widths 16 32 64 --dataset "
        "fashion-mnist --recipe short --seed 0 --out c/none_s0.pt"
    )


# --- reproducing the committed checkpoints from their manifest entries -----------------------------------------------


def reproduce(name, tmp_path):
    entry = read_manifest(MANIFEST)["checkpoints"][name]
    if entry["cpu_capability"] != torch.backends.cpu.get_cpu_capability() or entry[
        "torch"
    ] != str(torch.__version__):
        pytest.skip(
            f"{name} was trained with torch {entry['torch']} on a {entry['cpu_capability']} CPU; this is "
            f"torch {torch.__version__} on {torch.backends.cpu.get_cpu_capability()}: the last bits may differ"
        )
    config = FashionNetConfig.from_dict(entry["config"])
    rebuilt, metrics = train(
        config,
        entry["seed"],
        Recipe.from_dict(entry["recipe"]),
        entry["dataset"],
        progress=False,
    )
    committed, _ = load_checkpoint(MANIFEST.parent / name)
    assert states_equal(
        committed.state_dict(), rebuilt.state_dict()
    )  # the same weights, bit for bit
    assert metrics["test_accuracy"] == entry["metrics"]["test_accuracy"]


def test_tiny_committed_checkpoint_is_reproduced_bit_for_bit(tmp_path):
    reproduce("tiny_se_r4_w4-8-8_s0.pt", tmp_path)


@pytest.mark.skipif(
    not os.environ.get("SEBOOK_SLOW_TESTS"),
    reason="about 1-2 minutes; set SEBOOK_SLOW_TESTS=1",
)
def test_full_size_committed_checkpoint_is_reproduced_bit_for_bit(tmp_path):
    reproduce("fashion-mnist_plateau_se_r16_avg_sigmoid_standard_d4_s0.pt", tmp_path)


RESUMABLE = [
    "--reduction", "2", "--widths", "4", "8", "--recipe", "plateau", "--epochs", "5",
    "--batch-size", "50", "--train-subset", "3000", "--seed", "1",
]  # fmt: skip
"""A run of five short epochs with augmentation, so the random generator's state matters on resume."""


def test_train_resumes_from_any_epoch_to_the_same_weights():
    recipe = SHORT.replace(epochs=3, batch_size=50, train_subset=500, augment="shift-flip")
    states = []
    model, metrics = train(TINY, 0, recipe, progress=False, on_epoch=states.append)
    assert [s["epoch"] for s in states] == [1, 2, 3]
    for state in states[:2]:
        again, again_metrics = train(TINY, 0, recipe, progress=False, resume=state)
        assert states_equal(model.state_dict(), again.state_dict())
        assert again_metrics == metrics
    with pytest.raises(ValueError, match="resume holds epoch 3; a run of 3 epochs resumes from 1 to 2"):
        train(TINY, 0, recipe, progress=False, resume=states[2])
    with pytest.raises(ValueError, match="resume must be a training state .* it lacks generator"):
        train(TINY, 0, recipe, progress=False, resume={k: v for k, v in states[0].items() if k != "generator"})


def test_ctrl_c_saves_the_last_epoch_and_resume_finishes_the_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(RESUMABLE + ["--out", "whole.pt", "--no-progress"]) == 0
    calls = {"n": 0}
    real_evaluate = train_module.evaluate

    def interrupted_in_epoch_3(*args, **kwargs):  # Ctrl-C while epoch 3 evaluates
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(train_module, "evaluate", interrupted_in_epoch_3)
    assert main(RESUMABLE + ["--out", "cut.pt", "--no-progress"]) == 130
    err = capsys.readouterr().err
    assert "interrupted after epoch 2 of 5; saved it in cut.pt.partial; resume with:" in err
    assert not Path("cut.pt").exists() and Path("cut.pt.partial").exists()
    monkeypatch.setattr(train_module, "evaluate", real_evaluate)
    resume = err.strip().splitlines()[-1]
    assert resume.endswith("--out cut.pt --resume cut.pt.partial")
    assert main(shlex.split(resume)[3:] + ["--no-progress"]) == 0
    assert not Path("cut.pt.partial").exists()  # finished: the saved epoch is gone
    whole, cut = load_checkpoint("whole.pt")[0], load_checkpoint("cut.pt")[0]
    assert states_equal(whole.state_dict(), cut.state_dict())
    entries = read_manifest("manifest.json")["checkpoints"]
    assert entries["cut.pt"]["metrics"] == entries["whole.pt"]["metrics"]


def test_sigterm_stops_a_real_run_and_it_resumes(tmp_path):
    """A real process and a real signal: the message, exit status 130, nothing half-written."""
    command = [sys.executable, "-m", "sebook.train", *RESUMABLE, "--out", "run.pt"]
    process = subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    while not (tmp_path / "run.pt.partial").exists():  # written after every epoch
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    err = process.stderr.read()
    assert process.wait(timeout=60) == 130, err
    assert re.search(r"interrupted after epoch [1-4] of 5; saved it in run.pt.partial", err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt.partial"]
    resume = shlex.split(err.strip().splitlines()[-1])
    assert resume[-2:] == ["--resume", "run.pt.partial"]
    subprocess.run([sys.executable, *resume[1:], "--no-progress"], cwd=tmp_path, check=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "run.pt"]


def test_resume_refuses_another_commands_state(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    torch.save({"command": "python -m sebook.train --seed 9 --out x.pt"}, "x.pt.partial")
    with pytest.raises(SystemExit) as exit_info:
        main(RESUMABLE + ["--out", "x.pt", "--resume", "x.pt.partial"])
    assert exit_info.value.code == 2
    assert "argument --resume: 'x.pt.partial' was saved by another command" in capsys.readouterr().err


@pytest.mark.parametrize("dataset", ["fashion-mnist", "cast-fashion-mnist", "cast-fashion-mnist-tint-0.5",
                                     "cast-fashion-mnist-tint-0", "cast-fashion-mnist-oracle"])  # fmt: skip
def test_the_network_takes_its_data_sets_channels(dataset):
    from sebook.data import DATASETS
    from sebook.train_cli import config_from_args

    assert dataset in DATASETS
    args = build_parser().parse_args(["--dataset", dataset, "--out", "x.pt"])
    assert config_from_args(args).in_channels == (1 if dataset == "fashion-mnist" else 3)


def test_a_cast_variant_trains_from_the_command_line(tmp_path, monkeypatch):
    """The dose-response and oracle arms of the evidence design train on the cast testbed's variants."""
    monkeypatch.chdir(tmp_path)
    argv = ["--dataset", "cast-fashion-mnist-tint-0", "--widths", "4", "8", "--epochs", "1",
            "--train-subset", "500", "--batch-size", "50", "--out", "x.pt", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert load_checkpoint("x.pt")[0].config.in_channels == 3
