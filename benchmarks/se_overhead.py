"""What SE costs in time: SE-ResNet-50 against ResNet-50, EfficientNet-B0 with and without SE.

The measurements behind the chapter "Costs", quoted also in "SE-ResNet" and "Successors".

Method (recorded in the results file):
- one process; each case builds both networks with the same seed and runs them in
  interleaved rounds (A B, B A, ...) after warm-up rounds that are discarded;
- with one intra-op thread the clock is the calling thread's CPU time
  (``time.thread_time``), which time spent waiting for a busy CPU does not inflate; with
  two threads it is wall time;
- the statistic is the median of the round-by-round ratios SE / plain, with a 95 %
  percentile-bootstrap interval over rounds, and the quartiles;
- the load average is recorded before every case; a case run above ``--max-load`` is
  flagged;
- glibc's allocator is told to keep freed memory in the process (``mallopt``: no
  ``mmap`` for large blocks, no trimming), so that a forward pass reuses the memory of
  the last one instead of faulting fresh pages in from the kernel; the page faults per
  pass are recorded with the default allocator and with this setting.

Cases: eager float32 (NCHW) at batch 1 and 8 with one and two threads, the naive (scale,
then add) SE beside the fused one; channels_last and bfloat16 autocast (one thread);
``torch.compile`` (inductor) at batch 1 and 8, with compile time, speed-up over eager and
the names of the kernels generated for SE-ResNet-50; EfficientNet-B0 with and without SE;
SE-ResNet-50 against ResNet-101. Also an operator profile (``torch.profiler``) of both
ResNets, the floor (SE's FLOPs and one extra read of every block's input), and SE's
elementwise steps timed alone on each stage's map.

    python benchmarks/se_overhead.py --out benchmarks/results/se_overhead.json
    python benchmarks/se_overhead.py --out benchmarks/results/se_overhead_repeat.json \
        --compare benchmarks/results/se_overhead.json

``--compare`` prints, case by case, how far the new medians lie from an earlier file's;
the method is trusted when two runs at different times agree within 0.5 percentage
points. No assertions: timings depend on the machine; the chapters state them as measured.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime
import json
import os
import re
import resource
import sys
import time
from pathlib import Path

import torch
from torch._inductor.utils import run_and_get_code

from sebook import SEBlock, costs, models, timing
from sebook.recalibration import recalibrate, recalibrate_add
from sebook.squeeze import global_avg_pool

PAIRS = {
    "resnet50": (models.resnet50, models.se_resnet50),
    "efficientnet_b0": (
        lambda: models.efficientnet_b0(se_placement="none"),
        models.efficientnet_b0,
    ),
    "resnet101": (models.resnet101, models.se_resnet50),
}
"""Plain and SE network of each comparison; "resnet101" sets SE-ResNet-50 against ResNet-101."""

CASES = [
    # name, pair, batch, threads, dtype, memory format, compiled
    ("eager_b1_t1", "resnet50", 1, 1, "float32", "contiguous", False),
    ("eager_b8_t1", "resnet50", 8, 1, "float32", "contiguous", False),
    ("eager_b1_t2", "resnet50", 1, 2, "float32", "contiguous", False),
    ("eager_b8_t2", "resnet50", 8, 2, "float32", "contiguous", False),
    ("channels_last_b1_t1", "resnet50", 1, 1, "float32", "channels_last", False),
    ("channels_last_b8_t1", "resnet50", 8, 1, "float32", "channels_last", False),
    ("bfloat16_b1_t1", "resnet50", 1, 1, "bfloat16", "contiguous", False),
    ("bfloat16_b8_t1", "resnet50", 8, 1, "bfloat16", "contiguous", False),
    ("compiled_b1_t1", "resnet50", 1, 1, "float32", "contiguous", True),
    ("compiled_b8_t1", "resnet50", 8, 1, "float32", "contiguous", True),
    ("efficientnet_b1_t1", "efficientnet_b0", 1, 1, "float32", "contiguous", False),
    ("efficientnet_b8_t1", "efficientnet_b0", 8, 1, "float32", "contiguous", False),
    ("vs_resnet101_b1_t1", "resnet101", 1, 1, "float32", "contiguous", False),
]
"""Every timed case; the naive SE form is added to the eager float32 NCHW ResNet cases."""

HEADLINE = ("eager_b1_t1", "eager_b8_t1")
"""The cases the chapters quote as SE's cost, run with ``--headline-factor`` times the
rounds so that their intervals are the narrowest."""

FORMATS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}
STAGES = {
    "layer1": (256, 56, 3),
    "layer2": (512, 28, 4),
    "layer3": (1024, 14, 6),
    "layer4": (2048, 7, 3),
}
"""Channels, spatial size (at 224x224 input) and number of SE blocks of each stage of SE-ResNet-50."""


def time_case(case: tuple, size: int, repeats: dict[int, int], warmup: int) -> dict:
    """Interleaved rounds of one case's networks; ratios to the plain network."""
    name, pair, batch, threads, dtype, fmt, compiled = case
    torch.set_num_threads(threads)
    clock = "thread" if threads == 1 else "wall"
    builders = {"plain": PAIRS[pair][0], "se": PAIRS[pair][1]}
    if (
        pair == "resnet50"
        and not compiled
        and dtype == "float32"
        and fmt == "contiguous"
    ):
        builders["se_naive"] = lambda: models.se_resnet50(fused=False)
    torch.manual_seed(0)
    x = torch.randn(batch, 3, size, size).contiguous(memory_format=FORMATS[fmt])
    nets, eager, compile_seconds, kernels = {}, {}, {}, []
    torch._inductor.config.freezing = compiled  # fold batch norms, prepack weights
    for label, build in builders.items():
        torch.manual_seed(0)
        net = build().eval().to(memory_format=FORMATS[fmt])
        eager[label] = net
        nets[label] = torch.compile(net) if compiled else net
    autocast = (
        torch.autocast("cpu", dtype=torch.bfloat16)
        if dtype == "bfloat16"
        else contextlib.nullcontext()
    )
    load = timing.machine_info()["load_average_1_5_15_min"]
    with torch.inference_mode(), autocast:
        if compiled:
            for label, net in nets.items():
                start = time.perf_counter()
                _, code = run_and_get_code(net, x)  # the first call compiles
                compile_seconds[label] = time.perf_counter() - start
                if label == "se":
                    kernels = sorted(
                        set(re.findall(r"\b(cpp_fused_\w+) = ", "".join(code)))
                    )
        candidates = {label: (lambda n=net: n(x)) for label, net in nets.items()}
        rounds = repeats[batch]
        timings = timing.interleaved_timings(candidates, rounds, warmup, clock=clock)
        result = {
            "pair": pair,
            "batch": batch,
            "threads": threads,
            "dtype": dtype,
            "memory_format": fmt,
            "mode": "compiled" if compiled else "eager",
            "clock": clock,
            "rounds": rounds,
            "load_average_before": load,
            "ratios": timing.median_ratios(timings, "plain"),
        }
        if compiled:
            both = {f"eager_{k}": (lambda n=n: n(x)) for k, n in eager.items()}
            both.update(candidates)
            speed = timing.interleaved_timings(both, max(3, rounds // 4), 1, clock)
            result["compile_seconds"] = compile_seconds
            result["eager_over_compiled"] = {
                k: timing.median_ratios(speed, f"eager_{k}")[k]["median"] ** -1
                for k in nets
            }
            result["se_kernels"] = kernels
            result["profile_ms"], result["profile_calls"] = op_profile(nets, x, 3)
    return result


def op_profile(nets: dict, x: torch.Tensor, passes: int = 5) -> tuple[dict, dict]:
    """Self CPU ms, and calls, per forward pass of every operator (``torch.profiler``).

    ``({net: {op: ms}}, {net: {op: calls}})`` for each network in ``nets``; run inside
    the caller's inference mode.
    """
    from torch.profiler import ProfilerActivity, profile

    ms, calls = {}, {}
    for label, net in nets.items():
        net(x)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(passes):
                net(x)
        events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
        ms[label] = {
            e.key: round(e.self_cpu_time_total / passes / 1e3, 3) for e in events
        }
        calls[label] = {e.key: e.count / passes for e in events}
    return ms, calls


def profile(size: int) -> tuple[dict, dict]:
    """The operator profile of eager ResNet-50 and SE-ResNet-50, batch 1, one thread."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x = torch.randn(1, 3, size, size)
    nets = {}
    for label, build in zip(("plain", "se"), PAIRS["resnet50"]):
        torch.manual_seed(0)
        nets[label] = build().eval()
    with torch.inference_mode():
        return op_profile(nets, x)


def floor(size: int) -> dict[str, float]:
    """What SE cannot avoid: its FLOPs, one extra read of every SE input, its weights.

    Bytes in float32; the weights are read once per forward pass, whatever the batch.
    """
    shape = (1, 3, size, size)
    plain, se = (build() for build in PAIRS["resnet50"])
    flops = {
        "plain": costs.count_flops(plain, shape),
        "se": costs.count_flops(se, shape),
    }
    traffic = costs.recalibration_traffic(models.se_resnet50(), shape)
    return {
        "flops_plain": flops["plain"],
        "flops_se": flops["se"],
        "flops_extra_percent": 100 * (flops["se"] / flops["plain"] - 1),
        "extra_read_bytes_per_image": traffic["one_pass"],
        "weight_bytes_plain": 4 * costs.count_parameters(plain),
        "weight_bytes_se": 4 * costs.count_parameters(se),
    }


class SqueezeOnly(SEBlock):
    """Attribution: the squeeze runs, its result is dropped; plain addition."""

    def forward(self, x, residual=None):
        self.squeeze(x)
        return residual + x


class GatesOnly(SEBlock):
    """Attribution: squeeze and excitation run, the gates are dropped; plain addition."""

    def forward(self, x, residual=None):
        self.gates(x)
        return residual + x


class ScaleOnly(SEBlock):
    """Attribution: fixed gates of 0.5, so only the fused scale-and-add runs."""

    def forward(self, x, residual=None):
        gates = torch.full((1, x.shape[1]), 0.5, dtype=x.dtype)
        return recalibrate_add(x, gates, residual)


def attribution(size: int, rounds: dict[int, int]) -> dict:
    """SE's time split into its steps: SE-ResNet-50 with only some steps of every block.

    One thread, eager, float32; ratios to ResNet-50 at batch 1 and 8.
    """
    torch.set_num_threads(1)
    variants = {"squeeze": SqueezeOnly, "gates": GatesOnly, "scale": ScaleOnly}
    out = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat("T", "minutes")
    }
    for batch, n in rounds.items():
        torch.manual_seed(0)
        x = torch.randn(batch, 3, size, size)
        nets = {}
        for label in ("plain", "se", *variants):
            torch.manual_seed(0)
            net = (models.resnet50 if label == "plain" else models.se_resnet50)().eval()
            for block in net.modules():
                if isinstance(block, SEBlock) and label in variants:
                    block.__class__ = variants[label]
            nets[label] = net
        with torch.inference_mode():
            candidates = {k: (lambda n=net: n(x)) for k, net in nets.items()}
            timings = timing.interleaved_timings(candidates, n, 2, clock="thread")
        out[f"b{batch}"] = timing.median_ratios(timings, "plain")
    return out


MALLOPT = {"M_TRIM_THRESHOLD": (-1, 2**31 - 1), "M_MMAP_MAX": (-4, 0)}
"""glibc ``mallopt`` parameters (number, value) that keep freed memory in the process."""


def keep_freed_memory() -> bool:
    """Set :data:`MALLOPT` in glibc's allocator; False where there is no glibc.

    By default glibc serves blocks above 32 MiB (and, until the first is freed, above
    128 KiB) with ``mmap`` and returns them to the kernel when freed, so every forward
    pass that allocates such tensors faults their pages in again, in the kernel's time.
    """
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return all(mallopt(number, value) == 1 for number, value in MALLOPT.values())


def page_faults(size: int, batch: int = 8) -> dict:
    """Minor page faults and system CPU ms of one forward pass of each ResNet and EfficientNet.

    The networks run at ``batch`` in this thread, after one pass of warm-up.
    """
    torch.set_num_threads(1)
    x = torch.randn(batch, 3, size, size)
    result: dict = {}
    for pair in ("resnet50", "efficientnet_b0"):
        for label, build in zip(("plain", "se"), PAIRS[pair]):
            torch.manual_seed(0)
            net = build().eval()
            with torch.inference_mode():
                net(x)
                before = resource.getrusage(resource.RUSAGE_THREAD)
                net(x)
                after = resource.getrusage(resource.RUSAGE_THREAD)
            result[f"{pair}_{label}"] = {
                "minor_faults": after.ru_minflt - before.ru_minflt,
                "system_ms": round(1e3 * (after.ru_stime - before.ru_stime), 1),
                "user_ms": round(1e3 * (after.ru_utime - before.ru_utime), 1),
            }
    return result


def time_ops(batch: int, repeats: int) -> dict:
    """SE's elementwise steps on each stage's map, next to the plain addition (ratios to it)."""
    torch.set_num_threads(1)
    result: dict = {}
    for fmt, memory_format in FORMATS.items():
        result[fmt] = {}
        for stage, (channels, side, _) in STAGES.items():
            torch.manual_seed(0)
            x = torch.randn(batch, channels, side, side)
            x = x.contiguous(memory_format=memory_format)
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
                timings = timing.interleaved_timings(
                    candidates, repeats=repeats, warmup=2, clock="thread"
                )
            result[fmt][stage] = timing.median_ratios(timings, "add")
    return result


def write_results(out: Path, results: dict) -> None:
    """Write ``results`` as JSON to ``out`` atomically (a temporary file, then a rename)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, out)
    print(f"wrote {out}")


def compare(new: dict, old: dict) -> list[str]:
    """Lines comparing the SE medians (in percent over plain) of two results files."""
    lines = []
    for name, case in new["cases"].items():
        if name in old.get("cases", {}):
            a = 100 * (case["ratios"]["se"]["median"] - 1)
            b = 100 * (old["cases"][name]["ratios"]["se"]["median"] - 1)
            mark = "" if abs(a - b) <= 0.5 else "  (differs by more than 0.5 points)"
            lines.append(f"{name:22s} {a:+6.2f} % now, {b:+6.2f} % before{mark}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size", type=int, default=224, help="image side (default 224)"
    )
    parser.add_argument("--rounds-b1", type=int, default=40, help="rounds at batch 1")
    parser.add_argument("--rounds-b8", type=int, default=30, help="rounds at batch 8")
    parser.add_argument(
        "--headline-factor",
        type=int,
        default=3,
        help=f"rounds multiplier for the headline cases {', '.join(HEADLINE)}",
    )
    parser.add_argument("--warmup", type=int, default=2, help="discarded rounds first")
    parser.add_argument("--op-repeats", type=int, default=60, help="rounds per step")
    parser.add_argument(
        "--max-load",
        type=float,
        default=1.5,
        help="flag cases run above this 1-minute load average",
    )
    parser.add_argument(
        "--attribution-only",
        action="store_true",
        help="time only the attribution (SE's steps one by one) and print it",
    )
    parser.add_argument(
        "--allocator",
        choices=("keep", "default"),
        default="keep",
        help="keep freed memory in the process (glibc mallopt; the default) or not",
    )
    parser.add_argument("--cases", nargs="*", default=None, help="run only these cases")
    parser.add_argument("--out", type=Path, default=None, help="write results here")
    parser.add_argument(
        "--compare",
        type=Path,
        default=None,
        help="an earlier results file to compare with",
    )
    args = parser.parse_args(argv)
    for name in ("size", "rounds_b1", "rounds_b8", "headline_factor", "op_repeats"):
        if getattr(args, name) < 1:
            parser.error(
                f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}"
            )
    known = [c[0] for c in CASES]
    unknown = sorted(set(args.cases or ()) - set(known))
    if unknown:
        parser.error(f"--cases: unknown {unknown}; choose from {', '.join(known)}")

    if args.attribution_only:
        print(json.dumps(attribution(args.size, {1: args.rounds_b1, 8: 12}), indent=1))
        return 0
    faults = {"default": page_faults(args.size)}
    kept = args.allocator == "keep" and keep_freed_memory()
    if kept:
        faults["kept"] = page_faults(args.size)
    before = timing.machine_info()
    cases = {}
    chosen = [c for c in CASES if args.cases is None or c[0] in args.cases]
    started = time.monotonic()
    for case in CASES:
        if case in chosen:
            factor = args.headline_factor if case[0] in HEADLINE else 1
            rounds = {1: args.rounds_b1 * factor, 8: args.rounds_b8 * factor}
            result = time_case(case, args.size, rounds, args.warmup)
            result["flagged"] = result["load_average_before"][0] > args.max_load
            cases[case[0]] = result
            se = result["ratios"]["se"]
            print(
                f"{case[0]:22s} SE / plain {se['median']:.4f} "
                f"[{se['low']:.4f}, {se['high']:.4f}]  load {result['load_average_before'][0]}",
                flush=True,
            )
            if timing.watched():
                print(timing.time_left(len(cases), len(chosen), started, "cases"), file=sys.stderr)
    after = timing.machine_info()
    results = {
        "method": {
            "clock": "thread CPU time with 1 intra-op thread; wall time with 2",
            "statistic": "median of round-by-round time ratios SE / plain; 95 % percentile "
            "bootstrap interval over rounds (2000 resamples); quartiles",
            "rounds": {"batch 1": args.rounds_b1, "batch 8": args.rounds_b8},
            "headline_cases": list(HEADLINE),
            "headline_rounds_factor": args.headline_factor,
            "warmup_rounds": args.warmup,
            "max_load": args.max_load,
            "mode": "eval(), torch.inference_mode",
            "allocator": (
                "glibc malloc keeps freed memory: "
                + ", ".join(f"{k}={v}" for k, (_, v) in MALLOPT.items())
                if kept
                else "default"
            ),
            "compiled": "torch.compile, inductor defaults, with "
            "torch._inductor.config.freezing = True",
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
        "stages": {
            k: {"channels": c, "side": s, "se_blocks": n}
            for k, (c, s, n) in STAGES.items()
        },
        "page_faults_b8": faults,
        "cases": cases,
    }
    if args.cases is None:
        results["floor"] = floor(args.size)
        results["profile_b1_t1_ms"], results["profile_b1_t1_calls"] = profile(args.size)
        results["ops"] = time_ops(8, args.op_repeats)
        results["attribution"] = attribution(args.size, {1: args.rounds_b1, 8: 12})
    if args.compare is not None:
        print("\n".join(compare(results, json.loads(args.compare.read_text()))))
    if args.out is not None:
        write_results(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
