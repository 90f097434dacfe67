"""Train every checkpoint the book ships that is missing, two at a time, each written as soon as it finishes.

    python tools/train_checkpoints.py            # train what is missing (about 26 CPU-hours from scratch, the evidence design included)
    python tools/train_checkpoints.py --list     # print the commands, train nothing
    python tools/train_checkpoints.py --jobs 1   # one at a time
    python tools/train_checkpoints.py --record-compute   # sum the training times into the manifest

The nets of the evidence design (``experiments/se_evidence/design.toml``) come last, seed by seed across its arms.
Each job is one ``python -m sebook.train`` command (one thread, deterministic), which writes its checkpoint
atomically and adds its entry to ``checkpoints/manifest.json`` under a lock, and saves its last finished epoch
beside it (``NAME.pt.partial``) as it goes, so a stopped run loses at most an epoch of each net in flight; run the
script again to finish (it resumes those nets). The job list below is the single source of what the book trains.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "checkpoints"
DESIGN = ROOT / "experiments" / "se_evidence" / "design.toml"

SHUFFLED_SEEDS = range(3)
"""SE trained on shuffled labels, on both data sets: the gates' baseline that learned no class (chapter 07)."""

HEADLINE_SEEDS = range(5)
"""Plain net and SE (r = 16) on both data sets: five seeds each, for intervals on their difference."""

FAMILY_SEEDS = range(3)
"""The other blocks on the cast testbed: three seeds each."""

STUDY_SEEDS = range(3)
"""Reduction ratios, ablations and CBAM on the cast testbed: three seeds each."""

RATIOS = (1, 2, 4, 8)
"""Reduction ratios of chapter 08 besides r = 16 (which the headline nets cover)."""

ABLATIONS = (
    ("se", "--squeeze", "max"),
    ("nosqueeze",),
    ("se", "--gate", "tanh"),
    ("se", "--gate", "softmax"),
    ("se", "--integration", "pre"),
    ("se", "--integration", "post"),
    ("se", "--integration", "identity"),
)
"""Chapter 09's variants of SE (r = 16): squeeze, excitation and integration."""


IN_TRAINING = ("evidence",)
"""Recipes whose nets are still being trained: listed here, not yet all committed (the tests allow them missing)."""

BUDGET_SEEDS = range(3)
"""The budget curve (recipes ``budget-6``, ``budget-12``, ``budget-24``): plain and SE, three seeds each."""

BUDGET_WIDTHS = ("8", "16", "32")
"""The budget curve's net: FashionNet at half the book's widths, about half the time per epoch."""


def jobs() -> list[tuple[str, list[str]]]:
    """``(checkpoint file name, sebook.train arguments)`` for every net the book ships, in training order."""
    out: list[tuple[str, list[str]]] = []

    def add(dataset: str, recipe: str, seed: int, attention: str, *extra: str) -> None:
        from sebook.checkpoints import checkpoint_path
        from sebook.fashion_models import FashionNetConfig

        options = {"--rd-divisor": "4", **dict(zip(extra[::2], extra[1::2]))}
        config = FashionNetConfig(
            attention=attention,
            rd_divisor=int(options["--rd-divisor"]),
            in_channels=3 if dataset.startswith("cast") else 1,
            reduction=float(options.get("--reduction", 16)),
            squeeze=options.get("--squeeze", "avg"),
            gate=options.get("--gate", "sigmoid"),
            integration=options.get("--integration", "standard"),
            widths=tuple(int(w) for w in options.get("--widths", "16 32 64").split()),
        )
        name = checkpoint_path(
            config, seed, FOLDER, recipe=recipe, dataset=dataset
        ).name
        if any(name == done for done, _ in out):
            return  # an arm that shares its nets with another (the same config and seed)
        arguments = [a for key, value in options.items() for a in (key, *value.split())]
        out.append(
            (
                name,
                [
                    "--dataset",
                    dataset,
                    "--recipe",
                    recipe,
                    "--attention",
                    attention,
                    *arguments,
                    "--seed",
                    str(seed),
                    "--out",
                    f"checkpoints/{name}",
                ],
            )
        )

    for seed in HEADLINE_SEEDS:
        for dataset in ("cast-fashion-mnist", "fashion-mnist"):
            for attention in ("none", "se"):
                add(dataset, "plateau", seed, attention)
    for seed in SHUFFLED_SEEDS:
        for dataset in ("fashion-mnist", "cast-fashion-mnist"):
            add(dataset, "plateau-shuffled", seed, "se")
    for seed in FAMILY_SEEDS:
        for attention in ("ge", "gc", "grn"):
            add("cast-fashion-mnist", "plateau", seed, attention)
    for seed in FAMILY_SEEDS:
        add("cast-fashion-mnist", "plateau", seed, "eca")
    for seed in STUDY_SEEDS:
        for r in RATIOS:
            add("cast-fashion-mnist", "plateau", seed, "se", "--reduction", str(r))
        for attention, *extra in ABLATIONS:
            add("cast-fashion-mnist", "plateau", seed, attention, *extra)
        add("cast-fashion-mnist", "plateau", seed, "cbam")
    from sebook.recipe import BUDGET_EPOCHS

    for epochs in BUDGET_EPOCHS:
        for seed in BUDGET_SEEDS:
            for attention in ("none", "se"):
                add(
                    "cast-fashion-mnist",
                    f"budget-{epochs}",
                    seed,
                    attention,
                    "--widths",
                    " ".join(BUDGET_WIDTHS),
                )
    from sebook.recipe import RECIPES

    arms = evidence_design()["arms"] if evidence_recipe_confirmed() else []
    for seed in range(max((arm["seeds"] for arm in arms), default=0)):
        # seed by seed across the arms, so that a run stopped early leaves every arm equally far
        for arm in arms:
            if seed < arm["seeds"]:
                add(
                    arm["dataset"],
                    "evidence",
                    seed,
                    arm["attention"],
                    *evidence_options(arm),
                )
    return out


def evidence_recipe_confirmed() -> bool:
    """Whether the budget curve's committed nets pick the evidence recipe's budget by the plateau rule.

    The design promises that no arm is trained before they do; until then the arms are not listed.
    """
    from sebook.experiments import budget_curve, plateau_budget
    from sebook.fashion_models import FashionNetConfig
    from sebook.manifest import read_manifest
    from sebook.recipe import BUDGET_EPOCHS, RECIPES

    if "evidence" not in RECIPES:
        return False
    widths = tuple(int(w) for w in BUDGET_WIDTHS)
    nets = [
        FashionNetConfig(attention=a, rd_divisor=4, in_channels=3, widths=widths)
        for a in ("none", "se")
    ]
    entries = read_manifest(FOLDER / "manifest.json")["checkpoints"]
    try:
        curve = budget_curve(entries, *nets, {e: f"budget-{e}" for e in BUDGET_EPOCHS})
    except ValueError:  # a budget's nets are not all in yet
        return False
    if any(
        len(row["baseline"]["final"]) < len(BUDGET_SEEDS)
        or len(row["config"]["final"]) < len(BUDGET_SEEDS)
        for row in curve.values()
    ):
        return False
    return plateau_budget(curve) == RECIPES["evidence"].epochs


def evidence_design() -> dict:
    """The design of the evidence for SE (``experiments/se_evidence/design.toml``), committed before its nets."""
    from sebook.evidence import read_design

    return read_design(DESIGN)


def evidence_options(arm: dict) -> list[str]:
    """``sebook.train`` options of one arm of the design: its net's widths, bottleneck and reduction."""
    net = {**evidence_design()["net"], **arm}
    return [
        "--widths",
        " ".join(map(str, net["widths"])),
        "--rd-divisor",
        str(net["rd_divisor"]),
        "--reduction",
        f"{net['reduction']:g}",
    ]


def record_compute() -> dict:
    """Sum the committed nets' training times into the manifest's ``compute`` field.

    CPU time (``train_cpu_seconds``) where it was recorded; for older nets, which have
    only wall time measured on a busy machine, the median CPU time of the nets of the same
    data set stands in (their wall times are kept beside, as an upper bound).
    """
    import statistics

    from sebook.manifest import read_manifest, update_manifest_fields

    manifest = FOLDER / "manifest.json"
    entries = read_manifest(manifest)["checkpoints"]
    by_dataset: dict[str, list[float]] = {}
    for e in entries.values():
        if "train_cpu_seconds" in e:
            by_dataset.setdefault(e["dataset"], []).append(e["train_cpu_seconds"])
    fallback = statistics.median(v for values in by_dataset.values() for v in values)
    measured = sum(e.get("train_cpu_seconds", 0.0) for e in entries.values())
    estimated = sum(
        statistics.median(by_dataset.get(e["dataset"], [fallback]))
        for e in entries.values()
        if "train_cpu_seconds" not in e
    )
    compute = {
        "nets": len(entries),
        "train_cpu_seconds_measured": round(measured, 1),
        "nets_measured": sum("train_cpu_seconds" in e for e in entries.values()),
        "train_cpu_seconds_estimated": round(estimated, 1),
        "train_cpu_hours_total": round((measured + estimated) / 3600, 2),
        "train_wall_seconds_total": round(
            sum(e["train_seconds"] for e in entries.values()), 1
        ),
        "note": (
            "CPU time of one training thread per net: measured (train_cpu_seconds) "
            "where recorded; for nets trained before that field existed, the median "
            "measured CPU time of nets on the same data set. train_wall_seconds_total "
            "sums the wall times, measured two at a time on a busy 2-core machine: an "
            "upper bound. Written by tools/train_checkpoints.py --record-compute."
        ),
    }
    update_manifest_fields(manifest, compute=compute)
    return compute


def same_net(command: list[str], entries: dict) -> str | None:
    """A committed net that ``command`` would reproduce byte for byte, if there is one.

    Training is deterministic and the checkpoint does not record the recipe's name, so a job whose data set, config,
    seed and recipe (apart from its name) equal a committed net's writes that net's bytes: the evidence recipe is
    budget-48 under another name, and its plain and SE nets of seeds 0-2 are the budget curve's.
    """
    from sebook import train_cli
    from sebook.recipe import RECIPES

    args = train_cli.build_parser().parse_args(command)
    recipe = RECIPES[args.recipe].replace(
        **{k: getattr(args, k) for k in train_cli.OVERRIDES if getattr(args, k) is not None}
    ).to_dict()
    wanted = {k: v for k, v in recipe.items() if k != "name"}
    out = Path(args.out).name
    for name, entry in entries.items():
        if (
            name != out
            and "same_as" not in entry
            and entry.get("dataset") == args.dataset
            and entry.get("seed") == args.seed
            and entry.get("micro_batches", 1) == args.micro_batches
            and entry.get("world_size", 1) == 1
            and " --micro-batches " not in entry["command"]
            and {k: v for k, v in entry.get("recipe", {}).items() if k != "name"} == wanted
            and entry["config"] == train_cli.config_from_args(args).to_dict()
        ):
            return name
    return None


def copy_same_net(name: str, command: list[str], source: str, entries: dict) -> None:
    """Write ``name`` as a copy of the committed net ``source`` that ``command`` reproduces, with its own entry."""
    import os
    import shutil
    import tempfile

    from sebook.manifest import update_manifest
    from sebook.recipe import RECIPES

    tmp = tempfile.NamedTemporaryFile(dir=FOLDER, prefix=f".{name}.", suffix=".tmp", delete=False)
    tmp.close()
    shutil.copyfile(FOLDER / source, tmp.name)
    os.chmod(tmp.name, 0o644)
    os.replace(tmp.name, FOLDER / name)
    from sebook import train_cli

    args = train_cli.build_parser().parse_args(command)
    entry = {
        **entries[source],
        "command": train_cli.command_line(args),
        "recipe": {**entries[source]["recipe"], "name": RECIPES[args.recipe].name},
        "train_seconds": 0.0,
        "train_cpu_seconds": 0.0,
        "same_as": source,
    }
    for key in ("sha256", "size"):
        entry.pop(key, None)
    update_manifest(FOLDER / "manifest.json", FOLDER / name, entry)
    print(f"{name}: the same bytes as {source} (same data, config, seed and recipe), copied", flush=True)


def resume(name: str) -> list[str]:
    """``--resume`` for a net whose stopped training left its last finished epoch."""
    partial = FOLDER / f"{name}.partial"
    return ["--resume", f"checkpoints/{partial.name}"] if partial.exists() else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tools/train_checkpoints.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--jobs", type=int, default=2, help="trainings side by side (default: 2)"
    )
    parser.add_argument(
        "--list", action="store_true", help="print the commands and exit"
    )
    parser.add_argument(
        "--record-compute",
        action="store_true",
        help="sum the training times into the manifest's compute field and exit",
    )
    args = parser.parse_args(argv)
    if args.record_compute:
        print(json.dumps(record_compute(), indent=1))
        return 0
    todo = [
        (name, cmd) for name, cmd in jobs() if args.list or not (FOLDER / name).exists()
    ]
    if not args.list:
        from sebook.manifest import read_manifest

        entries = read_manifest(FOLDER / "manifest.json")["checkpoints"]
        for name, cmd in list(todo):
            source = same_net(cmd, entries)
            if source is not None:
                copy_same_net(name, cmd, source, entries)
                todo.remove((name, cmd))
    commands = [
        [sys.executable, "-m", "sebook.train", *cmd, "--no-progress", *resume(name)]
        for name, cmd in todo
    ]
    if args.list:
        for command in commands:
            print(shlex.join(["python", *command[1 : command.index("--no-progress")]]))
        return 0

    from sebook.recipe import RECIPES

    def epochs(command: list[str]) -> int:
        options = dict(zip(command, command[1:]))
        return int(options.get("--epochs", RECIPES[options["--recipe"]].epochs))

    started, done, total = time.monotonic(), [], sum(map(epochs, commands))

    def run(command: list[str]) -> int:
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        done.append(command)
        elapsed = time.monotonic() - started
        finished = sum(map(epochs, done))
        left = elapsed / finished * (total - finished)  # by epochs, not by nets
        print(result.stdout.strip() or result.stderr.strip()[-2000:], flush=True)
        print(
            f"[{len(done)}/{len(commands)} nets, {elapsed / 60:.0f} min so far,"
            f" about {left / 60:.0f} min left]",
            flush=True,
        )
        return result.returncode

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        codes = list(pool.map(run, commands))
    return max(codes, default=0)


if __name__ == "__main__":
    sys.exit(main())
