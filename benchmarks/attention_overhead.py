"""CPU time of SE, ECA, CBAM and NoSqueeze on ResNet-50's stage shapes: the measurements behind "Successors".

Three levels, each timed in interleaved rounds in one process (:func:`sebook.timing.interleaved_timings`) and
reported as the median of the round-by-round time ratios with a 95 % bootstrap interval
(:func:`sebook.timing.median_ratios`), by the method of ``se_overhead.py``: one intra-op thread, whose CPU time is
the clock (a busy machine does not inflate it), and glibc told to keep freed memory in the process:

1. ``blocks``: each attention block alone on the output feature map of each stage (ratios to SE);
2. ``units``: a whole bottleneck unit of each stage (stride 1) with each block, ratios to the plain unit;
3. ``networks``: ResNet-50 with each block in every unit, ratios to the plain ResNet-50 (``--no-networks`` skips).

Writes the results, with the machine and its load, to a JSON file that the chapter reads:

    python benchmarks/attention_overhead.py --out benchmarks/results/attention_overhead.json
    python benchmarks/attention_overhead.py --out benchmarks/results/attention_overhead_repeat.json \
        --compare benchmarks/results/attention_overhead.json

With ``--threads 2`` the clock is the wall clock instead.

No assertions: timings depend on the machine; the chapter states them as measured, with the machine.
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import torch

from se_overhead import (  # benchmarks/, beside this script
    MALLOPT,
    keep_freed_memory,
    write_results,
)
from sebook import models, timing
from sebook.attention import make_attention
from sebook.blocks import bottleneck

BLOCKS = ("se", "eca", "cbam", "nosqueeze")
"""The attention blocks compared (each with the library's defaults: r = 16 for SE, CBAM and NoSqueeze)."""

STAGES = {"layer1": (64, 56), "layer2": (128, 28), "layer3": (256, 14), "layer4": (512, 7)}
"""Inner width and spatial side (at 224 x 224 input) of ResNet-50's four stages; a unit's output is 4 x width."""


def time_blocks(batch: int, repeats: int, warmup: int, clock: str) -> dict[str, dict[str, dict[str, float]]]:
    """Each block alone on each stage's output map (B, 4 * width, side, side); median ratios to SE."""
    result = {}
    for stage, (width, side) in STAGES.items():
        channels = 4 * width
        torch.manual_seed(0)
        x = torch.randn(batch, channels, side, side)
        candidates = {}
        for name in BLOCKS:
            torch.manual_seed(0)
            block = make_attention(name, channels).eval()
            candidates[name] = lambda block=block: block(x)
        with torch.inference_mode():
            timings = timing.interleaved_timings(candidates, repeats=repeats, warmup=warmup, clock=clock)
        result[stage] = timing.median_ratios(timings, "se")
    return result


def time_units(batch: int, repeats: int, warmup: int, clock: str) -> dict[str, dict[str, dict[str, float]]]:
    """A stride-1 bottleneck unit of each stage with each block; median ratios to the plain unit."""
    result = {}
    for stage, (width, side) in STAGES.items():
        torch.manual_seed(0)
        x = torch.randn(batch, 4 * width, side, side)
        candidates = {}
        for name in ("none", *BLOCKS):
            torch.manual_seed(0)
            unit = bottleneck(4 * width, width, attention=name).eval()
            candidates[name] = lambda unit=unit: unit(x)
        with torch.inference_mode():
            timings = timing.interleaved_timings(candidates, repeats=repeats, warmup=warmup, clock=clock)
        result[stage] = timing.median_ratios(timings, "none")
    return result


def time_networks(batch: int, size: int, repeats: int, warmup: int, clock: str) -> dict[str, dict[str, float]]:
    """ResNet-50 with each block in every unit; median ratios to the plain ResNet-50."""
    torch.manual_seed(0)
    x = torch.randn(batch, 3, size, size)
    candidates = {}
    for name in ("none", *BLOCKS):
        torch.manual_seed(0)
        model = models.ResNet(models.RESNET_LAYERS[50], attention=name).eval()
        candidates[name] = lambda model=model: model(x)
    with torch.inference_mode():
        timings = timing.interleaved_timings(candidates, repeats=repeats, warmup=warmup, clock=clock)
    return timing.median_ratios(timings, "none")


def compare(new: dict, old: dict) -> list[str]:
    """Lines comparing the whole-network medians (in percent over plain) of two results files."""
    lines = []
    for name in BLOCKS:
        a = 100 * (new["networks"][name]["median"] - 1)
        b = 100 * (old["networks"][name]["median"] - 1)
        mark = "" if abs(a - b) <= 0.5 else "  (differs by more than 0.5 points)"
        lines.append(f"ResNet-50 with {name:10s} {a:+6.2f} % now, {b:+6.2f} % before{mark}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1, timed on the thread's CPU clock; more: the wall clock)")
    parser.add_argument("--batch", type=int, default=8, help="images (feature maps) per forward pass (default 8)")
    parser.add_argument("--size", type=int, default=224, help="image side of the network runs (default 224)")
    parser.add_argument("--repeats", type=int, default=40, help="interleaved rounds for blocks and units (default 40)")
    parser.add_argument("--net-repeats", type=int, default=30, help="interleaved rounds for networks (default 30)")
    parser.add_argument("--warmup", type=int, default=2, help="discarded rounds first (default 2)")
    parser.add_argument("--no-networks", action="store_true", help="skip the whole-network timings")
    parser.add_argument("--allocator", choices=("keep", "default"), default="keep",
                        help="keep freed memory in the process (glibc mallopt; the default) or not")
    parser.add_argument("--out", type=Path, default=None, help="write the results to this JSON file")
    parser.add_argument("--compare", type=Path, default=None, help="an earlier results file to compare with")
    args = parser.parse_args(argv)
    for name in ("threads", "batch", "size", "repeats", "net_repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.warmup < 0:
        parser.error(f"--warmup must be >= 0, got {args.warmup}")

    torch.set_num_threads(args.threads)
    clock = "thread" if args.threads == 1 else "wall"
    kept = args.allocator == "keep" and keep_freed_memory()
    before = timing.machine_info()
    started, phases = time.monotonic(), 2 if args.no_networks else 3
    blocks = time_blocks(args.batch, args.repeats, args.warmup, clock)
    if timing.watched():
        print("blocks timed", timing.time_left(1, phases, started, "phases"), file=sys.stderr)
    units = time_units(args.batch, args.repeats, args.warmup, clock)
    if timing.watched():
        print("units timed", timing.time_left(2, phases, started, "phases"), file=sys.stderr)
    networks = (None if args.no_networks
                else time_networks(args.batch, args.size, args.net_repeats, args.warmup, clock))
    after = timing.machine_info()
    results = {
        "settings": {"threads": args.threads, "batch": args.batch, "size": args.size, "repeats": args.repeats,
                     "net_repeats": args.net_repeats, "warmup": args.warmup,
                     "mode": "torch.inference_mode, eval()", "blocks": list(BLOCKS),
                     "clock": "thread CPU time" if clock == "thread" else "wall time",
                     "statistic": "median of round-by-round time ratios; 95 % percentile bootstrap interval "
                                  "over rounds (2000 resamples); quartiles",
                     "allocator": ("glibc malloc keeps freed memory: "
                                   + ", ".join(f"{k}={v}" for k, (_, v) in MALLOPT.items()) if kept else "default")},
        "machine": {k: v for k, v in before.items() if k != "load_average_1_5_15_min"},
        "load_average_1_5_15_min": {"before": before["load_average_1_5_15_min"],
                                    "after": after["load_average_1_5_15_min"]},
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="minutes"),
        "stages": {k: {"width": w, "channels": 4 * w, "side": s} for k, (w, s) in STAGES.items()},
        "blocks": blocks,
        "units": units,
        "networks": networks,
    }
    for stage in STAGES:
        print(stage, "block / SE:", {n: round(blocks[stage][n]["median"], 2) for n in BLOCKS},
              "| unit / plain:", {n: round(units[stage][n]["median"], 3) for n in BLOCKS})
    if networks is not None:
        print("ResNet-50 / plain:", {n: round(networks[n]["median"], 3) for n in BLOCKS},
              f"(plain: {networks['none']['median_seconds'] * 1e3:.0f} ms per batch of {args.batch})")
    print(f"load average before {before['load_average_1_5_15_min']}, after {after['load_average_1_5_15_min']}")
    if args.compare is not None and networks is not None:
        print("\n".join(compare(results, json.loads(args.compare.read_text(encoding="utf-8")))))
    if args.out is not None:
        write_results(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
