"""Timing on a shared machine: interleaved rounds, ratios, and where it was taken.

The ratios are round by round.

Used by ``benchmarks/*.py``; the method is explained in the appendix "Measuring a 1 % effect".
"""

from __future__ import annotations

import os
import platform
import random
import statistics
import time
from collections.abc import Callable, Mapping, Sequence

import torch

from . import checks


def machine_info() -> dict[str, object]:
    """Where a timing was taken: CPU model, logical CPUs, torch threads and version.

    Also the load averages (Linux).
    """
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            names = [
                line.split(":", 1)[1].strip()
                for line in f
                if line.startswith("model name")
            ]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average_1_5_15_min": [round(v, 2) for v in load],
    }


CLOCKS: dict[str, Callable[[], float]] = {
    "wall": time.perf_counter,
    "thread": time.thread_time,
}
"""Clocks for :func:`interleaved_timings`. ``"thread"`` is the CPU time of the calling
thread: with one intra-op thread torch does all its work there, and time spent waiting
for a busy CPU does not count, which makes it the steady clock on a shared machine.
``"wall"`` is elapsed time, the one to use with several threads."""


def interleaved_timings(
    candidates: dict[str, Callable[[], object]],
    repeats: int = 10,
    warmup: int = 1,
    clock: str = "wall",
) -> dict[str, list[float]]:
    """Seconds of each zero-argument callable on ``clock``, in interleaved rounds.

    The rounds are A B C, B C A, ...

    Every round calls each candidate once, starting at a rotating position, so that slow
    phases of a shared machine hit all candidates alike; compare them with
    :func:`median_ratios`. ``warmup`` rounds are run first and discarded. Used by
    ``benchmarks/se_overhead.py`` and "What SE costs".
    """
    if not isinstance(candidates, dict) or not candidates:
        raise ValueError(
            "candidates must be a non-empty dict from names to zero-argument callables"
        )
    for name, fn in candidates.items():
        if not callable(fn):
            raise TypeError(
                f"candidates[{name!r}] must be callable, got {type(fn).__name__}"
            )
    repeats = checks.positive_int("repeats", repeats)
    now = CLOCKS[checks.one_of("clock", clock, CLOCKS)]
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an integer >= 0, got {warmup!r}")
    names = list(candidates)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(warmup + repeats):
        for k in range(len(names)):
            name = names[(r + k) % len(names)]
            start = now()
            candidates[name]()
            elapsed = now() - start
            if r >= warmup:
                times[name].append(elapsed)
    return times


def median_ratios(
    timings: dict[str, list[float]], baseline: str
) -> dict[str, dict[str, float]]:
    """For each candidate, the round-by-round ratio of its time to ``baseline``'s.

    Median, quartiles and a 95 % interval for the median.

    Ratios are taken within a round (same machine state) before the median, which makes
    them robust to a noisy, shared machine. The interval is a percentile bootstrap over
    rounds (:func:`median_interval`). Returns
    ``{name: {"median", "q25", "q75", "low", "high", "median_seconds"}}``.
    """
    if baseline not in timings:
        raise ValueError(
            f"baseline must be one of {', '.join(map(repr, timings))}; got {baseline!r}"
        )
    base = timings[baseline]
    result = {}
    for name, values in timings.items():
        if len(values) != len(base) or not values:
            raise ValueError(
                f"timings[{name!r}] has {len(values)} values; expected {len(base)} "
                "like the baseline"
            )
        ratios = sorted(v / b for v, b in zip(values, base))
        q = (
            statistics.quantiles(ratios, n=4, method="inclusive")
            if len(ratios) > 1
            else [ratios[0]] * 3
        )
        low, high = median_interval(ratios)
        result[name] = {
            "median": statistics.median(ratios),
            "q25": q[0],
            "q75": q[2],
            "low": low,
            "high": high,
            "median_seconds": statistics.median(values),
        }
    return result


def median_interval(
    values: list[float], level: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile-bootstrap interval for the median of ``values``.

    ``resamples`` resamples with replacement, drawn from a fixed ``seed`` so the same
    values give the same interval.
    """
    if not values:
        raise ValueError("values must be a non-empty list of numbers")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level!r}")
    resamples = checks.positive_int("resamples", resamples)
    rng = random.Random(seed)
    n = len(values)
    medians = sorted(
        statistics.median(rng.choices(values, k=n)) for _ in range(resamples)
    )
    tail = (1 - level) / 2
    return medians[int(tail * resamples)], medians[int((1 - tail) * resamples) - 1]


def elementwise_overhead(
    ops: dict[str, dict[str, dict[str, float]]], blocks_per_stage: dict[str, int]
) -> dict[str, float]:
    """Seconds that SE's squeeze and recalibration add to one forward pass.

    Estimated from the steps timed alone.

    ``ops[stage][step]["median_seconds"]`` for the steps ``"add"``, ``"squeeze"``,
    ``"scale_then_add"`` and ``"fused_scale_add"`` on each stage's feature map (one
    memory format of ``benchmarks/se_overhead.py``'s ``"ops"``), and
    ``blocks_per_stage[stage]`` SE blocks per stage. Naive: Σ n·(squeeze +
    scale_then_add − add); fused: Σ n·(squeeze + fused_scale_add − add). The
    excitation's FC layers are left out. Used in "What SE costs".
    """
    if (
        not isinstance(ops, dict)
        or not isinstance(blocks_per_stage, dict)
        or not blocks_per_stage
    ):
        raise TypeError(
            "ops must be a dict {stage: {step: timing}} and blocks_per_stage a "
            "non-empty dict {stage: n}"
        )
    steps = ("add", "squeeze", "scale_then_add", "fused_scale_add")
    total = {"naive": 0.0, "fused": 0.0}
    for stage, n in blocks_per_stage.items():
        n = checks.positive_int(f"blocks_per_stage[{stage!r}]", n)
        if stage not in ops:
            raise ValueError(
                f"ops has no stage {stage!r}; it has {', '.join(map(repr, ops))}"
            )
        missing = [s for s in steps if s not in ops[stage]]
        if missing:
            raise ValueError(
                f"ops[{stage!r}] must hold the steps {', '.join(steps)}; missing "
                f"{', '.join(missing)}"
            )
        t = {s: float(ops[stage][s]["median_seconds"]) for s in steps}
        total["naive"] += n * (t["squeeze"] + t["scale_then_add"] - t["add"])
        total["fused"] += n * (t["squeeze"] + t["fused_scale_add"] - t["add"])
    return total


def pooled_over_processes(
    runs: Sequence[Mapping], case: str, ratio: str
) -> dict[str, float]:
    """One ratio of one case, pooled over every process of several runs of a benchmark.

    ``runs`` are results files of ``benchmarks/folded_overhead.py``, whose cases record
    each process's median (``summary[ratio]["process_medians"]``). Returns the median of
    those medians and their range (``low``, ``high``), which holds the spread between runs
    as well as between processes.
    """
    medians = sorted(
        m
        for run in runs
        for m in run["cases"][case]["summary"][ratio]["process_medians"]
    )
    if not medians:
        raise ValueError(f"runs hold no process of case {case!r}")
    return {
        "median": statistics.median(medians),
        "low": medians[0],
        "high": medians[-1],
    }


def percent(ratio: float) -> str:
    """A time ratio as the signed percentage by which it exceeds 1: ``1.018`` -> ``"+1.8"``."""
    return f"{100 * (ratio - 1):+.1f}"


def percent_interval(summary: dict[str, float]) -> str:
    """A summary's 95 % interval (its ``low`` and ``high`` ratios) in percent: ``"-0.5 to +3.0"``."""
    return f"{percent(summary['low'])} to {percent(summary['high'])}"


def time_left(done: float, total: float, started: float, unit: str) -> str:
    """A progress note for long work, ``"[3/9 cases, 4 min so far, about 8 min left]"``.

    ``done`` and ``total`` count ``unit`` (the time left assumes each costs the same);
    ``started`` is a ``time.monotonic()`` reading.
    """
    elapsed = time.monotonic() - started
    left = elapsed / done * (total - done) if done else float("nan")
    return (
        f"[{done:g}/{total:g} {unit}, {elapsed / 60:.0f} min so far, "
        f"about {left / 60:.0f} min left]"
    )


def watched() -> bool:
    """Whether a person watches the output: stderr is a terminal and this is not CI."""
    import sys

    return sys.stderr.isatty() and not os.environ.get("CI")
