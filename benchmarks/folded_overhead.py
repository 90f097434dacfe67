"""SE at inference speed: networks rewritten by ``sebook.folding`` against the same rewrite of their plain twins.

The measurements behind "Moving the gate into the weights" in the chapter "What SE costs".

Method (recorded in the results file):
- each case runs in ``--processes`` fresh processes, one after another, so that the
  spread between processes shows run-to-run variation (memory layout, caches, the
  machine's other load), which rounds within one process do not;
- a process builds the four networks of its pair with the same seed: plain and SE, each
  also through ``fold_for_inference`` (BatchNorm folded; SE's gate moved into a 1x1
  convolution), and times them in interleaved rounds after discarded warm-up rounds;
- one intra-op thread, the calling thread's CPU clock (``time.thread_time``), float32,
  NCHW, eval mode under ``torch.inference_mode``; glibc keeps freed memory in the
  process (``se_overhead.keep_freed_memory``);
- per process, the median of the round-by-round time ratios; reported: the median over
  processes and the range over processes (the interval), beside each process's own
  95 % bootstrap interval over rounds;
- the load average before each process; a process started above ``--max-load`` is
  flagged.

Ratios: ``folded`` (rewritten SE / rewritten plain: what SE costs once both are
rewritten), ``original`` (SE / plain, as built), ``plain_speedup`` (rewritten plain /
plain) and ``se_speedup`` (rewritten SE / SE). Compiled cases (``torch.compile``,
inductor with freezing, which folds BatchNorm itself) time only the two rewritten nets.

    python benchmarks/folded_overhead.py --out benchmarks/results/folded_overhead.json
    python benchmarks/folded_overhead.py --out benchmarks/results/folded_overhead_repeat.json \
        --compare benchmarks/results/folded_overhead.json

No assertions: timings depend on the machine; the chapter states them as measured.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from sebook import costs, models, timing
from sebook.folding import fold_for_inference

sys.path.insert(0, str(Path(__file__).resolve().parent))
from se_overhead import keep_freed_memory, write_results  # noqa: E402

PAIRS = {
    "resnet50": (models.resnet50, models.se_resnet50),
    "efficientnet_b0": (
        lambda: models.efficientnet_b0(se_placement="none"),
        models.efficientnet_b0,
    ),
}
"""Plain and SE network of each comparison."""

CASES = {
    # name: (pair, batch, compiled)
    "resnet50_eager_b1": ("resnet50", 1, False),
    "resnet50_eager_b8": ("resnet50", 8, False),
    "efficientnet_b0_eager_b1": ("efficientnet_b0", 1, False),
    "efficientnet_b0_eager_b8": ("efficientnet_b0", 8, False),
    "resnet50_compiled_b1": ("resnet50", 1, True),
    "resnet50_compiled_b8": ("resnet50", 8, True),
    "efficientnet_b0_compiled_b1": ("efficientnet_b0", 1, True),
    "efficientnet_b0_compiled_b8": ("efficientnet_b0", 8, True),
}
"""Every timed case."""

TARGETS = {
    "resnet50_eager_b1": 1.03,
    "resnet50_eager_b8": 1.02,
    "efficientnet_b0_eager_b1": 1.06,
    "efficientnet_b0_eager_b8": 1.04,
    "resnet50_compiled_b1": 1.03,
    "resnet50_compiled_b8": 1.03,
}
"""Issue 39's targets for the ``folded`` ratio (rewritten SE / rewritten plain); the
compiled EfficientNet-B0 has none (it shows what compilation sheds of the floor)."""

RATIOS = {
    "folded": ("se_folded", "plain_folded"),
    "original": ("se", "plain"),
    "plain_speedup": ("plain_folded", "plain"),
    "se_speedup": ("se_folded", "se"),
}
"""Each reported ratio as (numerator, denominator)."""


def time_case(name: str, size: int, rounds: int, warmup: int) -> dict:
    """One process's interleaved rounds of one case; each ratio's median and interval."""
    pair, batch, compiled = CASES[name]
    torch.set_num_threads(1)
    torch._inductor.config.freezing = compiled
    torch.manual_seed(0)
    x = torch.randn(batch, 3, size, size)
    nets = {}
    for label, build in zip(("plain", "se"), PAIRS[pair]):
        torch.manual_seed(0)
        net = build().eval()
        if not compiled:
            nets[label] = net
        nets[f"{label}_folded"] = fold_for_inference(net)
    compile_seconds = {}
    with torch.inference_mode():
        if compiled:
            for label in list(nets):
                start = time.perf_counter()
                nets[label] = torch.compile(nets[label])
                nets[label](x)  # the first call compiles
                compile_seconds[label] = time.perf_counter() - start
        candidates = {label: (lambda n=net: n(x)) for label, net in nets.items()}
        timings = timing.interleaved_timings(candidates, rounds, warmup, "thread")
    ratios = {}
    for key, (top, bottom) in RATIOS.items():
        if top in timings and bottom in timings:
            ratios[key] = timing.median_ratios(
                {"top": timings[top], "bottom": timings[bottom]}, "bottom"
            )["top"]
    return {
        "ratios": ratios,
        "median_ms": {
            k: round(1e3 * statistics.median(v), 2) for k, v in timings.items()
        },
        "compile_seconds": compile_seconds,
    }


def floor(pair: str, rounds: int) -> dict[str, float]:
    """What the rewritten SE cannot shed in eager mode: its FLOPs and its calls.

    ``flops_extra_percent``: the rewritten SE net's FLOPs over the rewritten plain net's
    at 224 x 224 (matrix products and convolutions only). ``fixed_ms``: the time the gate's
    extra calls take whatever the image size, measured as the median round-by-round
    difference between the two rewritten nets on a 32 x 32 image at batch 1, where the
    arithmetic is negligible.
    """
    torch.set_num_threads(1)
    nets = {}
    for label, build in zip(("plain", "se"), PAIRS[pair]):
        torch.manual_seed(0)
        nets[label] = fold_for_inference(build().eval())
    flops = {k: costs.count_flops(n, (1, 3, 224, 224)) for k, n in nets.items()}
    x = torch.randn(1, 3, 32, 32)
    with torch.inference_mode():
        candidates = {k: (lambda n=n: n(x)) for k, n in nets.items()}
        t = timing.interleaved_timings(candidates, rounds, 3, "thread")
    return {
        "flops_extra_percent": 100 * (flops["se"] / flops["plain"] - 1),
        "fixed_ms": 1e3 * statistics.median(a - b for a, b in zip(t["se"], t["plain"])),
        "rounds": rounds,
    }


def run_processes(
    name: str, args: argparse.Namespace, processes: int
) -> dict[str, object]:
    """``processes`` fresh processes of one case, one after another; their spread."""
    runs = []
    for _ in range(processes):
        load = timing.machine_info()["load_average_1_5_15_min"]
        command = [
            sys.executable,
            __file__,
            "--worker",
            name,
            "--size",
            str(args.size),
            "--rounds",
            str(args.rounds[CASES[name][1]]),
            "--warmup",
            str(args.warmup),
        ]
        out = subprocess.run(command, check=True, capture_output=True, text=True)
        run = json.loads(out.stdout.splitlines()[-1])
        run["load_average_before"] = load
        run["flagged"] = load[0] > args.max_load
        runs.append(run)
    summary = {}
    for key in runs[0]["ratios"]:
        medians = [r["ratios"][key]["median"] for r in runs]
        summary[key] = {
            "median": statistics.median(medians),
            "low": min(medians),
            "high": max(medians),
            "process_medians": medians,
        }
    pair, batch, compiled = CASES[name]
    return {
        "pair": pair,
        "batch": batch,
        "mode": "compiled" if compiled else "eager",
        "rounds": args.rounds[batch],
        "target": TARGETS.get(name),
        "summary": summary,
        "processes": runs,
    }


def compare(new: dict, old: dict) -> list[str]:
    """Case by case, whether the ``folded`` figures of two results files agree.

    Two runs reproduce a figure when each one's median lies inside the other's range
    over processes."""
    lines = []
    for name, case in new["cases"].items():
        if name not in old.get("cases", {}):
            continue
        a, b = case["summary"]["folded"], old["cases"][name]["summary"]["folded"]
        agree = (
            a["low"] <= b["median"] <= a["high"]
            and b["low"] <= a["median"] <= b["high"]
        )
        lines.append(
            f"{name:26s} {timing.percent(a['median'])} % now, "
            f"{timing.percent(b['median'])} % before"
            + (
                ""
                if agree
                else "  (not reproduced: medians outside each other's range)"
            )
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size", type=int, default=224, help="image side (default 224)"
    )
    parser.add_argument("--rounds-b1", type=int, default=60, help="rounds at batch 1")
    parser.add_argument("--rounds-b8", type=int, default=20, help="rounds at batch 8")
    parser.add_argument("--warmup", type=int, default=3, help="discarded rounds first")
    parser.add_argument(
        "--processes", type=int, default=3, help="fresh processes per case (>= 3)"
    )
    parser.add_argument(
        "--max-load",
        type=float,
        default=1.5,
        help="flag processes started above this load",
    )
    parser.add_argument("--cases", nargs="*", default=None, help="run only these cases")
    parser.add_argument("--out", type=Path, default=None, help="write results here")
    parser.add_argument(
        "--compare", type=Path, default=None, help="an earlier results file"
    )
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:  # one process of one case: its result as a JSON line
        keep_freed_memory()
        print(json.dumps(time_case(args.worker, args.size, args.rounds, args.warmup)))
        return 0
    for name in ("size", "rounds_b1", "rounds_b8", "processes"):
        if getattr(args, name) < 1:
            parser.error(
                f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}"
            )
    unknown = sorted(set(args.cases or ()) - set(CASES))
    if unknown:
        parser.error(f"--cases: unknown {unknown}; choose from {', '.join(CASES)}")
    args.rounds = {1: args.rounds_b1, 8: args.rounds_b8}
    chosen = [c for c in CASES if args.cases is None or c in args.cases]
    before = timing.machine_info()
    cases, started = {}, time.monotonic()
    for name in chosen:
        cases[name] = run_processes(name, args, args.processes)
        folded = cases[name]["summary"]["folded"]
        print(
            f"{name:26s} rewritten SE / rewritten plain {folded['median']:.4f} "
            f"[{folded['low']:.4f}, {folded['high']:.4f}] over {args.processes} processes"
            f" (target <= {TARGETS.get(name, '-')})",
            flush=True,
        )
        if timing.watched():
            print(
                timing.time_left(len(cases), len(chosen), started, "cases"),
                file=sys.stderr,
            )
    floors = {}
    if args.cases is None:
        for pair in PAIRS:
            floors[pair] = floor(pair, 4 * args.rounds_b1)
            b1 = cases[f"{pair}_eager_b1"]["processes"][0]["median_ms"]["plain_folded"]
            floors[pair]["fixed_percent_of_plain_b1"] = (
                100 * floors[pair]["fixed_ms"] / b1
            )
            print(f"{pair}: floor {floors[pair]}", flush=True)
    after = timing.machine_info()
    results = {
        "method": {
            "clock": "thread CPU time, 1 intra-op thread",
            "statistic": "per process: median of round-by-round time ratios; reported: "
            "median over processes, interval = range over processes",
            "processes": args.processes,
            "rounds": {"batch 1": args.rounds_b1, "batch 8": args.rounds_b8},
            "warmup_rounds": args.warmup,
            "max_load": args.max_load,
            "mode": "eval(), torch.inference_mode, float32, NCHW",
            "rewrite": "sebook.folding.fold_for_inference on both networks",
            "compiled": "torch.compile, inductor defaults, freezing = True; the two "
            "rewritten networks only",
            "allocator": "glibc malloc keeps freed memory (se_overhead.keep_freed_memory)",
        },
        "machine": {k: v for k, v in before.items() if k != "load_average_1_5_15_min"},
        "load_average_1_5_15_min": {
            "before": before["load_average_1_5_15_min"],
            "after": after["load_average_1_5_15_min"],
        },
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="minutes"
        ),
        "size": args.size,
        "cases": cases,
        "floor": floors,
    }
    if args.compare is not None:
        print("\n".join(compare(results, json.loads(args.compare.read_text()))))
    if args.out is not None:
        write_results(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
