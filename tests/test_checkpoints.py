"""Weights-only checkpoints and the manifest (sebook.checkpoints), and the committed checkpoints themselves."""

import json
import pickle
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sebook import checkpoints
from sebook.checkpoints import (
    CheckpointError,
    file_sha256,
    load_checkpoint,
    save_checkpoint,
    state_sha256,
)
from sebook.manifest import (
    read_manifest,
    update_manifest,
    update_manifest_fields,
    verify_manifest,
)
from sebook.data import DATASETS, FASHION_MNIST_SHA256, load_dataset
from sebook.recipe import RECIPES, Recipe
from sebook.train import evaluate, reproducible
from sebook.fashion_models import FashionNet, FashionNetConfig

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "checkpoints" / "manifest.json"
CONFIG = FashionNetConfig(attention="se", reduction=2, widths=(4, 8))
METRICS = {
    "test_accuracy": 0.5,
    "epoch_loss": [1.0, 0.5],
    "training": {"epochs": 2, "train_subset": None},
}


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = FashionNet(CONFIG)
    path = save_checkpoint(
        tmp_path / "net.pt", model, CONFIG, METRICS, 3, FASHION_MNIST_SHA256
    )
    return path, model


def payload_of(path):
    return torch.load(path, weights_only=True)


def rewrite(path, **changes):
    payload = payload_of(path)
    payload.update(changes)
    torch.save(payload, path)


def test_round_trip(saved):
    path, model = saved
    loaded, meta = load_checkpoint(path)
    assert not loaded.training and meta["config"] == CONFIG
    assert (
        meta["metrics"] == METRICS
        and meta["seed"] == 3
        and meta["data_sha256"] == FASHION_MNIST_SHA256
    )
    assert (
        meta["versions"]["torch"] == str(torch.__version__)
        and meta["versions"]["sebook"]
    )
    assert (
        meta["format_version"] == checkpoints.FORMAT_VERSION
        and meta["architecture"] == "FashionNet"
    )
    assert "state_dict" not in meta
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    x = torch.rand(2, 1, 28, 28)
    assert torch.equal(loaded(x), model.eval()(x))


def test_save_is_atomic_and_deterministic(saved, tmp_path):
    path, model = saved
    assert [p.name for p in tmp_path.iterdir()] == [
        "net.pt"
    ]  # no temporary file left behind
    again = save_checkpoint(
        tmp_path / "again.pt", model, CONFIG, METRICS, 3, FASHION_MNIST_SHA256
    )
    assert file_sha256(again) == file_sha256(path)


def test_failed_save_leaves_the_old_file(saved, monkeypatch):
    path, model = saved
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", fail)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, CONFIG, METRICS, 3, FASHION_MNIST_SHA256)
    assert path.read_bytes() == before and [p.name for p in path.parent.iterdir()] == [
        "net.pt"
    ]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"model": "weights"}, TypeError, "model must be an nn.Module"),
        (
            {"config": {"attention": "se"}},
            TypeError,
            "config must be a FashionNetConfig",
        ),
        ({"metrics": [0.5]}, TypeError, "metrics must be a mapping"),
        ({"seed": -1}, ValueError, "seed must be an integer >= 0"),
        (
            {"data_sha256": "abc"},
            ValueError,
            "data_sha256 must be 64 lowercase hex digits",
        ),
        ({"path": "net.pth"}, ValueError, "path must end in .pt"),
    ],
)
def test_save_rejects_bad_arguments(tmp_path, kwargs, error, message):
    args = {
        "path": tmp_path / "x.pt",
        "model": FashionNet(CONFIG),
        "config": CONFIG,
        "metrics": METRICS,
        "seed": 0,
        "data_sha256": FASHION_MNIST_SHA256,
    }
    args.update(kwargs)
    if isinstance(args["path"], str):
        args["path"] = tmp_path / args["path"]
    with pytest.raises(error, match=message):
        save_checkpoint(**args)


def test_missing_file(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=f"checkpoint {tmp_path / 'gone.pt'} not found"
    ):
        load_checkpoint(tmp_path / "gone.pt")


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_corrupt_or_truncated_file(saved, damage):
    path, _ = saved
    data = path.read_bytes()
    path.write_bytes(
        {
            "truncated": data[: len(data) // 2],
            "garbage": bytes(range(256)) * 40,
            "empty": b"",
        }[damage]
    )
    with pytest.raises(CheckpointError, match=f"{path} is not a readable checkpoint"):
        load_checkpoint(path)


def test_changed_weights_are_noticed(saved):
    path, _ = saved
    payload = payload_of(path)
    payload["state_dict"]["classifier.bias"] += 1.0
    torch.save(payload, path)
    with pytest.raises(
        CheckpointError, match=f"{path}: the weights do not match the fingerprint"
    ):
        load_checkpoint(path)


def test_a_file_changed_after_its_manifest_entry_is_refused(saved, tmp_path):
    """The weights' fingerprint does not cover the metadata; the manifest's SHA-256 does."""
    path, _ = saved
    manifest = tmp_path / "manifest.json"
    update_manifest(manifest, path, {"seed": 3})
    assert load_checkpoint(path)[1]["seed"] == 3
    rewrite(path, metrics={**METRICS, "test_accuracy": 0.99})  # weights untouched
    with pytest.raises(CheckpointError, match="differs from the SHA-256 that manifest"):
        load_checkpoint(path)


class WritesAFile:
    """Unpickling this object would run ``exec`` and create the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').write('code ran')",)


class CallsSystem:
    """Unpickling this would run a shell command (it is never unpickled unrestricted here)."""

    def __reduce__(self):
        import os

        return (os.system, ("false",))


def test_pickled_code_is_refused_without_running(saved, tmp_path):
    path, _ = saved
    marker = tmp_path / "marker.txt"
    payload = payload_of(path)
    payload["metrics"] = {"test_accuracy": WritesAFile(marker)}
    torch.save(payload, path)  # a zip checkpoint whose pickle calls exec(...)
    with pytest.raises(
        CheckpointError, match=f"{path} was refused: it holds pickled objects"
    ):
        load_checkpoint(path)
    assert not marker.exists()
    raw = tmp_path / "raw.pt"  # a bare pickle, the legacy format
    raw.write_bytes(pickle.dumps({"state_dict": WritesAFile(marker)}, protocol=2))
    with pytest.raises(
        CheckpointError, match=f"{raw} was refused.*Unsupported global: GLOBAL exec"
    ):
        load_checkpoint(raw)
    assert not marker.exists()
    blocked = (
        tmp_path / "blocked.pt"
    )  # a call into a module torch blocks outright (os.system)
    torch.save({"metrics": CallsSystem()}, blocked)
    with pytest.raises(
        CheckpointError, match=f"{blocked} was refused.*unsupported GLOBAL posix.system"
    ):
        load_checkpoint(blocked)
    # the payload really is dangerous: an unrestricted unpickler runs it
    pickle.loads(pickle.dumps(WritesAFile(marker)))
    assert marker.read_text() == "code ran"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"format": "other"}, "not a sebook checkpoint"),
        ({"format_version": 99}, "format version 99 is not supported"),
        ({"architecture": "ResNet"}, "architecture 'ResNet' is unknown"),
        (
            {"config": {"attention": "se", "ratio": 2}},
            "its config is not valid.*unknown FashionNetConfig key",
        ),
        (
            {"config": {"attention": "se", "widths": [4, 16]}},
            "the weights do not fit the architecture",
        ),
        ({"versions": {"python": "3.11"}}, "versions that wrote it are not recorded"),
        ({"seed": "zero"}, "metadata field 'seed' is missing or not a int"),
        ({"data_sha256": "f" * 10}, "data_sha256 is not a SHA-256 digest"),
    ],
)
def test_incompatible_metadata(saved, changes, message):
    path, _ = saved
    rewrite(path, **changes)
    with pytest.raises(CheckpointError, match=f"{re.escape(str(path))}: .*{message}"):
        load_checkpoint(path)


def test_missing_weights(saved):
    path, _ = saved
    payload = payload_of(path)
    del payload["state_dict"]["classifier.weight"]
    payload["state_sha256"] = state_sha256(payload["state_dict"])
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match=r"missing \['classifier.weight'\]"):
        load_checkpoint(path)


def test_state_sha256_depends_on_names_and_values():
    a = {"w": torch.zeros(3)}
    assert state_sha256(a) == state_sha256({"w": torch.zeros(3)})
    assert state_sha256(a) != state_sha256({"v": torch.zeros(3)})
    assert state_sha256(a) != state_sha256({"w": torch.zeros(3, dtype=torch.float64)})
    assert state_sha256(a) != state_sha256({"w": torch.tensor([0.0, 0.0, 1e-30])})


# --- the manifest --------------------------------------------------------------------------------------------------


def test_manifest_update_and_verify(saved, tmp_path):
    path, model = saved
    manifest = tmp_path / "manifest.json"
    assert read_manifest(manifest)["checkpoints"] == {}
    entry = update_manifest(
        manifest, path, {"command": "python -m sebook.train ...", "seed": 3}
    )
    assert entry["sha256"] == file_sha256(path) and entry["size"] == path.stat().st_size
    assert verify_manifest(manifest) == {"net.pt": entry}
    assert [p.name for p in tmp_path.iterdir()] == [
        "manifest.json",
        "net.pt",
    ] or sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "net.pt"]

    other = save_checkpoint(
        tmp_path / "other.pt", model, CONFIG, METRICS, 4, FASHION_MNIST_SHA256
    )
    with pytest.raises(CheckpointError, match="other.pt: not listed"):
        verify_manifest(manifest)
    update_manifest(manifest, other, {"seed": 4})
    assert list(verify_manifest(manifest)) == ["net.pt", "other.pt"]

    rewrite(other, seed=5)
    with pytest.raises(CheckpointError, match="other.pt: (size|SHA-256)"):
        verify_manifest(manifest)
    other.unlink()
    with pytest.raises(CheckpointError, match="other.pt: listed but missing"):
        verify_manifest(manifest)


def test_manifest_fields(saved, tmp_path):
    path, _ = saved
    manifest = tmp_path / "manifest.json"
    entry = update_manifest(manifest, path, {"seed": 3})
    update_manifest_fields(manifest, compute={"train_cpu_seconds": 12.5})
    assert read_manifest(manifest)["compute"] == {"train_cpu_seconds": 12.5}
    assert verify_manifest(manifest) == {"net.pt": entry}  # entries untouched
    with pytest.raises(ValueError, match="fields must not include checkpoints"):
        update_manifest_fields(manifest, checkpoints={})


def test_manifest_errors(tmp_path, saved):
    path, _ = saved
    with pytest.raises(FileNotFoundError, match="manifest"):
        verify_manifest(tmp_path / "manifest.json")
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not a readable JSON manifest"):
        verify_manifest(tmp_path / "manifest.json")
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "x"}))
    with pytest.raises(CheckpointError, match="not a sebook checkpoint manifest"):
        read_manifest(tmp_path / "manifest.json")
    elsewhere = tmp_path / "sub"
    elsewhere.mkdir()
    with pytest.raises(ValueError, match="must be in the manifest's folder"):
        update_manifest(elsewhere / "manifest.json", path, {})


# --- the committed checkpoints -------------------------------------------------------------------------------------


def committed():
    return read_manifest(MANIFEST)["checkpoints"] if MANIFEST.exists() else {}


def test_committed_checkpoints_match_the_manifest():
    entries = verify_manifest(MANIFEST)
    names = set(entries)
    required = {  # the headline comparison: plain and SE, five seeds, both data sets
        f"{prefix}_{net}_s{s}.pt"
        for prefix, suffix in (
            ("fashion-mnist_plateau", ""),
            ("cast-fashion-mnist_plateau", "_c3"),
        )
        for net in (f"none{suffix}", f"se_r16_avg_sigmoid_standard_d4{suffix}")
        for s in range(5)
    }
    assert required <= names
    assert sum(e["size"] for e in entries.values()) <= 40 * 2**20
    for name, entry in entries.items():
        argv = shlex.split(entry["command"])
        assert argv[:3] == ["python", "-m", "sebook.train"]
        assert argv[argv.index("--out") + 1] == f"checkpoints/{name}"
        assert argv[argv.index("--seed") + 1] == str(entry["seed"])
        assert (
            entry["dataset"] in DATASETS
            and Recipe.from_dict(entry["recipe"]).name in RECIPES
        )


def test_every_net_the_book_trains_is_committed():
    jobs = subprocess.run(
        [
            sys.executable,
            str(MANIFEST.parents[1] / "tools" / "train_checkpoints.py"),
            "--list",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    listed = {shlex.split(line)[-1].removeprefix("checkpoints/") for line in jobs}
    # nets still in training (the budget curve's last budget, the evidence design) arrive as they finish
    from train_checkpoints import IN_TRAINING

    in_training = {n for n in listed if any(f"_{r}_" in n for r in IN_TRAINING)}
    assert listed - in_training <= set(committed())


@pytest.mark.parametrize(
    "name", sorted(n for n, e in committed().items() if e["recipe"]["name"] != "short")
)
def test_stored_accuracy_is_what_the_checkpoint_scores(name):
    entry = committed()[name]
    model, _ = load_checkpoint(MANIFEST.parent / name)
    images, labels = load_dataset(entry["dataset"], "test")
    with reproducible(entry["recipe"]["threads"]):
        assert (
            evaluate(model, images, labels)["accuracy"]
            == entry["metrics"]["test_accuracy"]
        )


@pytest.mark.parametrize("name", sorted(committed()))
def test_committed_checkpoint_loads_weights_only(name):
    entry = committed()[name]
    model, meta = load_checkpoint(MANIFEST.parent / name)
    assert meta["config"] == FashionNetConfig.from_dict(entry["config"])
    assert meta["seed"] == entry["seed"] and meta["data_sha256"] == FASHION_MNIST_SHA256
    assert meta["metrics"]["test_accuracy"] == entry["metrics"]["test_accuracy"]
    from sebook.data import CAST_VARIANTS

    # tint 0 removes the cast's cue by design (the dose-response's zero point): no lower bound there
    cue = CAST_VARIANTS.get(entry["dataset"], {"tint": 1.0})["tint"] > 0
    if not name.startswith("tiny") and entry["recipe"]["labels"] == "true" and cue:
        low = 0.85 if entry["dataset"] == "fashion-mnist" else 0.7
        assert low < meta["metrics"]["test_accuracy"] < 0.95


def test_a_net_another_recipe_name_would_reproduce_is_found_and_copies_keep_their_source():
    """The evidence recipe is budget-48 under another name: its plain and SE nets of seeds 0-2 are those bytes."""
    import train_checkpoints

    entries = read_manifest(MANIFEST)["checkpoints"]
    base = ["--dataset", "cast-fashion-mnist", "--attention", "none", "--rd-divisor", "4", "--widths", "8", "16", "32"]
    job = [*base, "--recipe", "evidence", "--seed", "1", "--out", "checkpoints/x.pt"]
    assert train_checkpoints.same_net(job, entries) == "cast-fashion-mnist_budget-48_none_w8-16-32_c3_s1.pt"
    assert train_checkpoints.same_net([*job[:-4], "--seed", "7", "--out", "checkpoints/x.pt"], entries) is None
    assert train_checkpoints.same_net([*base, "--recipe", "evidence", "--epochs", "47", "--seed", "1",
                                       "--out", "checkpoints/x.pt"], entries) is None
    for name, entry in entries.items():
        if "same_as" in entry:
            assert entry["sha256"] == entries[entry["same_as"]]["sha256"], name
            assert entry["train_cpu_seconds"] == 0.0
