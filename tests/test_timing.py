"""Timing (sebook.timing): interleaved rounds, median ratios, machine info, the elementwise overhead estimate."""

import math

import pytest
import torch

from sebook import timing


def _ops(add=1.0, squeeze=0.5, scale_then_add=2.0, fused=1.2):
    steps = {
        "add": add,
        "squeeze": squeeze,
        "scale_then_add": scale_then_add,
        "fused_scale_add": fused,
    }
    return {name: {"median_seconds": v} for name, v in steps.items()}


def test_elementwise_overhead_sums_blocks_times_extra_steps():
    ops = {
        "layer1": _ops(),
        "layer2": _ops(add=2.0, squeeze=1.0, scale_then_add=4.0, fused=2.0),
    }
    result = timing.elementwise_overhead(ops, {"layer1": 3, "layer2": 2})
    assert result["naive"] == pytest.approx(
        3 * (0.5 + 2.0 - 1.0) + 2 * (1.0 + 4.0 - 2.0)
    )
    assert result["fused"] == pytest.approx(
        3 * (0.5 + 1.2 - 1.0) + 2 * (1.0 + 2.0 - 2.0)
    )


def test_elementwise_overhead_names_what_is_missing():
    with pytest.raises(ValueError, match="no stage 'layer9'"):
        timing.elementwise_overhead({"layer1": _ops()}, {"layer9": 1})
    incomplete = {"layer1": {k: v for k, v in _ops().items() if k != "squeeze"}}
    with pytest.raises(ValueError, match="missing squeeze"):
        timing.elementwise_overhead(incomplete, {"layer1": 1})
    with pytest.raises(ValueError, match="blocks_per_stage"):
        timing.elementwise_overhead({"layer1": _ops()}, {"layer1": 0})


def test_interleaved_timings_and_median_ratios():
    order = []
    timings = timing.interleaved_timings(
        {"a": lambda: order.append("a"), "b": lambda: order.append("b")},
        repeats=3,
        warmup=1,
    )
    assert order == ["a", "b", "b", "a", "a", "b", "b", "a"]  # rotating start
    assert all(len(v) == 3 and min(v) >= 0 for v in timings.values())
    ratios = timing.median_ratios(
        {"base": [1.0, 2.0, 4.0], "x": [1.1, 2.2, 4.0]}, "base"
    )
    assert ratios["base"]["median"] == 1.0
    assert (
        math.isclose(ratios["x"]["median"], 1.1)
        and ratios["x"]["median_seconds"] == 2.2
    )
    with pytest.raises(ValueError, match="baseline"):
        timing.median_ratios({"a": [1.0]}, "b")
    with pytest.raises(ValueError, match="repeats"):
        timing.interleaved_timings({"a": lambda: None}, repeats=0)
    with pytest.raises(TypeError, match="callable"):
        timing.interleaved_timings({"a": 3})
    with pytest.raises(ValueError, match="non-empty"):
        timing.interleaved_timings({})


def test_machine_info():
    info = timing.machine_info()
    assert (
        info["torch"] == torch.__version__
        and info["torch_threads"] == torch.get_num_threads()
    )
    assert len(info["load_average_1_5_15_min"]) == 3


def test_thread_clock_and_median_interval():
    timings = timing.interleaved_timings(
        {"a": lambda: sum(range(1000)), "b": lambda: None},
        repeats=5,
        warmup=0,
        clock="thread",
    )
    assert all(len(v) == 5 and min(v) >= 0 for v in timings.values())
    with pytest.raises(ValueError, match="clock must be one of 'wall', 'thread'"):
        timing.interleaved_timings({"a": lambda: None}, clock="cpu")
    values = [1.0, 1.01, 1.02, 1.03, 1.5]
    low, high = timing.median_interval(values)
    assert low <= 1.02 <= high and timing.median_interval(values) == (low, high)
    assert timing.median_interval([2.0]) == (2.0, 2.0)
    ratios = timing.median_ratios(
        {"base": [1.0, 1.0, 1.0], "x": [1.1, 1.2, 1.3]}, "base"
    )
    assert ratios["x"]["low"] <= ratios["x"]["median"] <= ratios["x"]["high"]
    with pytest.raises(ValueError, match="values"):
        timing.median_interval([])
    with pytest.raises(ValueError, match="level"):
        timing.median_interval([1.0], level=1.5)


def test_percent_and_its_interval():
    assert timing.percent(1.0183) == "+1.8" and timing.percent(0.95) == "-5.0"
    assert timing.percent_interval({"low": 0.995, "high": 1.03}) == "-0.5 to +3.0"


def test_pooled_over_processes_spans_every_run():
    def run(*medians):
        return {
            "cases": {"c": {"summary": {"folded": {"process_medians": list(medians)}}}}
        }

    pooled = timing.pooled_over_processes(
        [run(1.02, 1.01, 1.03), run(1.05, 1.04, 1.00)], "c", "folded"
    )
    assert pooled == {"median": 1.025, "low": 1.00, "high": 1.05}
    with pytest.raises(ValueError, match="no process"):
        timing.pooled_over_processes([run()], "c", "folded")
