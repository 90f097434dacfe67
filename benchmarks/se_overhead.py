"""How much CPU time SE adds to ResNet-50, and where it goes: the measurements behind the chapter "Costs".

Times ResNet-50, SE-ResNet-50 with the recalibration fused into the residual addition (``torch.addcmul``, the
library's default) and SE-ResNet-50 in the naive form (scale, then add), in contiguous (NCHW) and channels_last
memory formats, plus ResNet-101 (contiguous; for the "half the cost" claim of "SE-ResNet"), in interleaved rounds
in one process, and reports the median of the round-by-round time ratios.
Then times SE's elementwise steps alone (squeeze, scale, add, fused scale-and-add) on the feature-map shapes of
the four stages. Writes everything, with the machine and its load, to a JSON file that the chapter reads.

    python benchmarks/se_overhead.py --threads 2 --batch 8 --repeats 40 --out benchmarks/results/se_overhead.json

No assertions: timings depend on the machine; the chapter states them as measured.
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import torch

from sebook import models, timing
from sebook.recalibration import recalibrate, recalibrate_add
from sebook.squeeze import global_avg_pool

FORMATS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}
NETWORKS = {"resnet50": lambda: models.resnet50(),
            "se_resnet50_fused": lambda: models.se_resnet50(),
            "se_resnet50_naive": lambda: models.se_resnet50(fused=False)}
STAGES = {"layer1": (256, 56, 3), "layer2": (512, 28, 4), "layer3": (1024, 14, 6), "layer4": (2048, 7, 3)}
"""Channels, spatial size (at 224x224 input) and number of SE blocks of each stage of SE-ResNet-50."""


def time_networks(batch: int, size: int, repeats: int, warmup: int) -> dict[str, dict[str, dict[str, float]]]:
    """Median ratios (to ResNet-50 in the same memory format) of every network in every format, interleaved."""
    torch.manual_seed(0)
    x = torch.randn(batch, 3, size, size)
    candidates = {}
    for fmt, memory_format in FORMATS.items():
        xf = x.contiguous(memory_format=memory_format)
        for name, build in NETWORKS.items():
            torch.manual_seed(0)
            model = build().eval().to(memory_format=memory_format)
            candidates[f"{name}/{fmt}"] = lambda model=model, xf=xf: model(xf)
    torch.manual_seed(0)
    resnet101 = models.resnet101().eval()
    candidates["resnet101/contiguous"] = lambda: resnet101(x)
    with torch.inference_mode():
        timings = timing.interleaved_timings(candidates, repeats=repeats, warmup=warmup)
    result: dict[str, dict[str, dict[str, float]]] = {}
    for fmt in FORMATS:
        subset = {name: timings[f"{name}/{fmt}"] for name in NETWORKS}
        result[fmt] = timing.median_ratios(subset, "resnet50")
    across = {"contiguous": timings["resnet50/contiguous"], "channels_last": timings["resnet50/channels_last"]}
    result["resnet50_channels_last_vs_contiguous"] = timing.median_ratios(across, "contiguous")["channels_last"]
    versus = {"resnet101": timings["resnet101/contiguous"], "se_resnet50": timings["se_resnet50_fused/contiguous"]}
    result["se_resnet50_fused_vs_resnet101"] = timing.median_ratios(versus, "resnet101")["se_resnet50"]
    return result


def time_ops(batch: int, repeats: int) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """SE's elementwise steps on each stage's feature map, next to the plain residual addition (ratios to it)."""
    result: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for fmt, memory_format in FORMATS.items():
        result[fmt] = {}
        for stage, (channels, side, _) in STAGES.items():
            torch.manual_seed(0)
            x = torch.randn(batch, channels, side, side).contiguous(memory_format=memory_format)
            residual = torch.randn_like(x)
            gates = torch.rand(batch, channels)
            candidates = {
                "add": lambda: residual + x,
                "squeeze": lambda: global_avg_pool(x),
                "scale": lambda: recalibrate(x, gates),
                "scale_then_add": lambda: residual + recalibrate(x, gates),
                "fused_scale_add": lambda: recalibrate_add(x, gates, residual),
            }
            with torch.inference_mode():
                timings = timing.interleaved_timings(candidates, repeats=repeats, warmup=2)
            result[fmt][stage] = timing.median_ratios(timings, "add")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--batch", type=int, default=8, help="images per forward pass (default 8)")
    parser.add_argument("--size", type=int, default=224, help="image side in pixels (default 224)")
    parser.add_argument("--repeats", type=int, default=40, help="interleaved rounds of the networks (default 40)")
    parser.add_argument("--warmup", type=int, default=2, help="discarded rounds first (default 2)")
    parser.add_argument("--op-repeats", type=int, default=60, help="rounds for the elementwise steps (default 60)")
    parser.add_argument("--out", type=Path, default=None, help="write the results to this JSON file")
    args = parser.parse_args(argv)
    for name in ("threads", "batch", "size", "repeats", "op_repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.warmup < 0:
        parser.error(f"--warmup must be >= 0, got {args.warmup}")

    torch.set_num_threads(args.threads)
    before = timing.machine_info()
    networks = time_networks(args.batch, args.size, args.repeats, args.warmup)
    ops = time_ops(args.batch, args.op_repeats)
    after = timing.machine_info()
    results = {
        "settings": {"threads": args.threads, "batch": args.batch, "size": args.size, "repeats": args.repeats,
                     "warmup": args.warmup, "op_repeats": args.op_repeats, "mode": "torch.inference_mode, eval()"},
        "machine": {k: v for k, v in before.items() if k != "load_average_1_5_15_min"},
        "load_average_1_5_15_min": {"before": before["load_average_1_5_15_min"],
                                    "after": after["load_average_1_5_15_min"]},
        "date": datetime.date.today().isoformat(),
        "stages": {k: {"channels": c, "side": s, "se_blocks": n} for k, (c, s, n) in STAGES.items()},
        "networks": networks,
        "ops": ops,
    }
    for fmt in FORMATS:
        base = networks[fmt]["resnet50"]["median_seconds"]
        print(f"{fmt}: ResNet-50 {base * 1e3:.0f} ms per batch of {args.batch}")
        for name in NETWORKS:
            r = networks[fmt][name]
            print(f"  {name:20s} time ratio to ResNet-50: median {r['median']:.3f} "
                  f"(quartiles {r['q25']:.3f}-{r['q75']:.3f})")
    print(f"SE-ResNet-50 (fused) / ResNet-101: median {networks['se_resnet50_fused_vs_resnet101']['median']:.3f}")
    print(f"load average before {before['load_average_1_5_15_min']}, after {after['load_average_1_5_15_min']}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
