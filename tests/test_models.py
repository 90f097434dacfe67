"""ImageNet-scale networks (sebook.models), the cost measurements of sebook.costs, and the benchmark script."""

import importlib.util
import json
import math
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

import sebook
from sebook import models
from sebook.costs import count_flops, count_parameters

ROOT = Path(__file__).resolve().parents[1]


def on_meta(build, *args, **kwargs):
    """Build a network on the meta device: shapes and parameter counts without memory or initialisation time."""
    with torch.device("meta"):
        return build(*args, **kwargs)


@pytest.mark.parametrize(
    "build, expected",
    [
        (models.resnet50, 25_557_032),  # torchvision resnet50
        (models.resnet101, 44_549_160),  # torchvision resnet101
        (models.se_resnet50, 28_088_024),  # timm seresnet50
        (models.se_resnet101, 49_326_872),  # timm seresnet101
        (models.efficientnet_b0, 5_288_548),  # torchvision efficientnet_b0
    ],
)
def test_parameter_counts_match_published(build, expected):
    assert count_parameters(on_meta(build)) == expected


# Hu et al., TPAMI version, Table 10: SE-ResNet-50 parameters at reduction ratio r (ResNet-50: 25.6M)
PAPER_REDUCTION_TABLE = {2: 45.7, 4: 35.7, 8: 30.7, 16: 28.1, 32: 26.9}


@pytest.mark.parametrize(
    "r, exact",
    [
        (2, 45_699_240),
        (4, 35_635_688),
        (8, 30_603_912),
        (16, 28_088_024),
        (32, 26_830_080),
    ],
)
def test_reduction_ratio_parameter_column(r, exact):
    params = count_parameters(on_meta(models.se_resnet50, r))
    assert params == exact
    # the SENet formula (Eq. 5) for the weights, plus the FC biases
    stages = [(3, 256), (4, 512), (6, 1024), (3, 2048)]
    weights = sum(2 * n * c * c // r for n, c in stages)
    biases = sum(n * (c + c // r) for n, c in stages)
    assert params == 25_557_032 + weights + biases
    # within one unit of the paper's last digit; rounding up to 0.1M gives the paper's column exactly
    assert abs(params / 1e6 - PAPER_REDUCTION_TABLE[r]) < 0.1
    assert math.ceil(params / 1e5) / 10 == PAPER_REDUCTION_TABLE[r]


def test_integration_variants_parameter_counts():
    counts = {
        i: count_parameters(on_meta(models.se_resnet50, 16, i))
        for i in sebook.blocks.INTEGRATIONS
    }
    assert counts["standard"] == counts["post"] == counts["identity"] == 28_088_024
    # SE-PRE sits on each unit's input: 64 channels in the first unit, 256/512/1024 at the other stage starts
    assert counts["pre"] < counts["standard"]


def test_flops_at_224():
    shape = (1, 3, 224, 224)
    assert count_flops(on_meta(models.resnet50), shape) == 2 * 4_089_184_256
    caffe = count_flops(on_meta(models.resnet50, stride_in_1x1=True), shape) / 2e9
    assert (
        round(caffe, 2) == 3.86
    )  # the SENet paper's 3.86 GFLOPs (multiply-adds), Table 2
    assert (
        round(
            count_flops(on_meta(models.resnet101, stride_in_1x1=True), shape) / 2e9, 2
        )
        == 7.57
    )
    assert (
        round(count_flops(on_meta(models.efficientnet_b0), shape) / 2e9, 2) == 0.39
    )  # Tan & Le, Table 2
    se = count_flops(on_meta(models.se_resnet50), shape) - count_flops(
        on_meta(models.resnet50), shape
    )
    assert (
        se == 2 * 2_514_944
    )  # only the FC weights are multiply-adds (biases are counted as free)


def test_meta_and_real_models_count_the_same():
    real = models.efficientnet_b0()
    assert count_parameters(real) == count_parameters(on_meta(models.efficientnet_b0))
    assert count_flops(real, (1, 3, 64, 64)) == count_flops(
        on_meta(models.efficientnet_b0), (1, 3, 64, 64)
    )


@pytest.mark.parametrize(
    "build", [models.resnet50, models.se_resnet50, models.efficientnet_b0]
)
def test_forward_shapes(build):
    torch.manual_seed(0)
    model = build(num_classes=7).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 7) and torch.isfinite(out).all()


def test_resnet_module_names_follow_torchvision():
    names = [n for n, _ in on_meta(models.resnet50).named_children()]
    assert names == [
        "conv1",
        "bn1",
        "relu",
        "maxpool",
        "layer1",
        "layer2",
        "layer3",
        "layer4",
        "avgpool",
        "fc",
    ]
    model = on_meta(models.se_resnet50)
    assert [len(getattr(model, f"layer{i}")) for i in range(1, 5)] == [3, 4, 6, 3]
    assert all(isinstance(u, sebook.blocks.ResidualUnit) for u in model.layer3)


def test_fused_and_naive_se_resnet50_agree():
    torch.manual_seed(0)
    fused = models.se_resnet50(num_classes=10).eval()
    naive = models.se_resnet50(num_classes=10, fused=False).eval()
    naive.load_state_dict(fused.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(naive(x), fused(x))


def test_efficientnet_b0_layout():
    model = on_meta(models.efficientnet_b0)
    blocks = [b for stage in list(model.features)[1:-1] for b in stage]
    assert len(blocks) == 16
    assert [b.block.depthwise.conv.kernel_size[0] for b in blocks] == [
        3,
        3,
        3,
        5,
        5,
        3,
        3,
        3,
        5,
        5,
        5,
        5,
        5,
        5,
        5,
        3,
    ]
    assert [b.stride for b in blocks] == [
        1,
        2,
        1,
        2,
        1,
        2,
        1,
        1,
        1,
        1,
        1,
        2,
        1,
        1,
        1,
        1,
    ]
    assert (
        blocks[0].block.se.excitation.rd_channels == 8
        and blocks[-1].block.se.excitation.rd_channels == 48
    )
    probs = [b.stochastic_depth.p for b in blocks]
    assert (
        probs[0] == 0
        and math.isclose(probs[-1], 0.2 * 15 / 16)
        and probs == sorted(probs)
    )
    assert model.classifier[0].p == 0.2 and model.classifier[1].in_features == 1280


def test_efficientnet_variants():
    hard = on_meta(models.efficientnet_b0, gate_layer="hard_sigmoid")
    assert count_parameters(hard) == 5_288_548
    assert any(isinstance(m, nn.Hardsigmoid) for m in hard.modules())
    after_project = on_meta(models.efficientnet_b0, se_placement="after_project")
    plain = on_meta(models.efficientnet_b0, se_placement="none")
    assert count_parameters(plain) < count_parameters(after_project) < 5_288_548


@pytest.mark.parametrize(
    "build, kwargs, exc, words",
    [
        (
            models.se_resnet50,
            {"integration": "middle"},
            ValueError,
            ["integration", "'middle'", "'pre'"],
        ),
        (models.se_resnet50, {"reduction": 0}, ValueError, ["reduction", "0"]),
        (models.resnet50, {"num_classes": 0}, ValueError, ["num_classes", "0"]),
        (
            models.efficientnet_b0,
            {"se_placement": "late"},
            ValueError,
            ["se_placement", "'late'", "'after_project'"],
        ),
        (models.efficientnet_b0, {"dropout": 1.5}, ValueError, ["dropout", "1.5"]),
        (
            models.efficientnet_b0,
            {"stochastic_depth_prob": -0.1},
            ValueError,
            ["stochastic_depth_prob"],
        ),
    ],
)
def test_bad_arguments(build, kwargs, exc, words):
    with pytest.raises(exc) as info:
        build(**kwargs)
    for word in words:
        assert word in str(info.value)


def test_bad_layouts():
    with pytest.raises(ValueError, match="layers must be a sequence of 4"):
        models.ResNet((3, 4, 6))
    with pytest.raises(ValueError, match=r"layers\[1\]"):
        models.ResNet((3, 0, 6, 3))
    with pytest.raises(ValueError, match="stages"):
        models.EfficientNet([])
    with pytest.raises(ValueError, match="in_channels=24"):
        models.EfficientNet([(1, 3, 1, 24, 16, 1)])


# --- cost and timing helpers used by the cost chapters ---------------------------------------------------------------


def test_benchmark_script_runs_and_writes_json(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location(
        "se_overhead", ROOT / "benchmarks" / "se_overhead.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setattr(bench, "STAGES", {"layer4": (64, 7, 3)})  # keep it small
    threads = torch.get_num_threads()
    out = tmp_path / "r.json"
    small = ["--size", "32", "--rounds-b1", "1", "--rounds-b8", "1", "--warmup", "0"]
    small += ["--headline-factor", "1", "--allocator", "default"]  # leave malloc as is
    try:
        assert bench.main([*small, "--cases", "eager_b1_t1", "--out", str(out)]) == 0
        ops = bench.time_ops(1, 1)
        shares = bench.attribution(32, {1: 1})
        floor = bench.floor(32)
    finally:
        torch.set_num_threads(threads)
    results = json.loads(out.read_text())
    case = results["cases"]["eager_b1_t1"]
    assert set(case["ratios"]) == {"plain", "se", "se_naive"}
    assert case["clock"] == "thread" and case["batch"] == 1
    se = case["ratios"]["se"]
    assert math.isfinite(se["median"]) and se["low"] <= se["median"] <= se["high"]
    assert results["method"]["allocator"] == "default"
    assert set(results["page_faults_b8"]) == {"default"}
    assert {"minor_faults", "system_ms", "user_ms"} == set(
        results["page_faults_b8"]["default"]["efficientnet_b0_se"]
    )
    assert set(ops["contiguous"]["layer4"]) == {
        "add",
        "squeeze",
        "scale",
        "scale_then_add",
        "fused_scale_add",
    }
    assert set(shares["b1"]) == {"plain", "se", "squeeze", "gates", "scale"}
    assert floor["flops_se"] > floor["flops_plain"]
    assert floor["weight_bytes_se"] > floor["weight_bytes_plain"]
    with pytest.raises(SystemExit):
        bench.main(["--rounds-b1", "0"])
    with pytest.raises(SystemExit):
        bench.main(["--cases", "no_such_case"])


def test_attention_benchmark_runs_and_writes_json(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # it imports se_overhead
    spec = importlib.util.spec_from_file_location(
        "attention_overhead", ROOT / "benchmarks" / "attention_overhead.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setattr(bench, "STAGES", {"layer4": (64, 7)})  # keep it small
    threads = torch.get_num_threads()
    out = tmp_path / "a.json"
    small = ["--batch", "1", "--size", "32", "--repeats", "2", "--net-repeats", "1"]
    small += ["--warmup", "0", "--allocator", "default", "--out", str(out)]
    try:
        assert bench.main(small) == 0
    finally:
        torch.set_num_threads(threads)
    results = json.loads(out.read_text())
    assert results["settings"]["clock"] == "thread CPU time"
    assert results["settings"]["allocator"] == "default"
    for r in (*results["blocks"]["layer4"].values(), *results["networks"].values()):
        assert 0 < r["low"] <= r["median"] <= r["high"]
    assert len(bench.compare(results, results)) == len(bench.BLOCKS)
    with pytest.raises(SystemExit):
        bench.main(["--repeats", "0"])


@pytest.mark.parametrize(
    "name", ["attention_overhead.json", "attention_overhead_repeat.json"]
)
def test_committed_attention_results_are_complete(name):
    results = json.loads((ROOT / "benchmarks" / "results" / name).read_text())
    settings = results["settings"]
    assert settings["clock"] == "thread CPU time" and settings["threads"] == 1
    assert settings["allocator"].startswith("glibc malloc keeps freed memory")
    timings = [
        t
        for level in ("blocks", "units")
        for s in results[level].values()
        for t in s.values()
    ]
    for t in (*timings, *results["networks"].values()):
        assert (
            0 < t["low"] <= t["median"] <= t["high"]
            and t["q25"] <= t["median"] <= t["q75"]
        )


@pytest.mark.parametrize("name", ["se_overhead.json", "se_overhead_repeat.json"])
def test_committed_benchmark_results_are_complete(name):
    spec = importlib.util.spec_from_file_location(
        "se_overhead", ROOT / "benchmarks" / "se_overhead.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    results = json.loads((ROOT / "benchmarks" / "results" / name).read_text())
    assert set(results["cases"]) == {case[0] for case in bench.CASES}
    for case in results["cases"].values():
        for r in case["ratios"].values():
            assert 0 < r["low"] <= r["median"] <= r["high"]
            assert r["q25"] <= r["median"] <= r["q75"]
    assert {"clock", "statistic", "max_load"} <= set(results["method"])
    assert {"floor", "profile_b1_t1_ms", "ops", "attribution"} <= set(results)
    method = results["method"]
    assert method["allocator"].startswith("glibc malloc keeps freed memory")
    assert set(results["page_faults_b8"]) == {"default", "kept"}
    for name, case in results["cases"].items():
        factor = method["headline_rounds_factor"] if name in bench.HEADLINE else 1
        assert case["rounds"] == factor * method["rounds"][f"batch {case['batch']}"]


# Where PyTorch users take the networks: autocast, torch.fx, channels_last --------------------------------------


def test_the_networks_are_at_the_top_level():
    from sebook import efficientnet_v2, mobilenet_v3, regnet

    assert sebook.se_resnet50 is models.se_resnet50
    assert sebook.efficientnet_b0 is models.efficientnet_b0
    assert sebook.mobilenet_v3_large is mobilenet_v3.mobilenet_v3_large
    assert sebook.regnet_y_400mf is regnet.regnet_y_400mf
    assert sebook.efficientnet_v2_s is efficientnet_v2.efficientnet_v2_s
    assert {"resnet50", "resnet101", "se_resnet101"} <= set(sebook.__all__)


@pytest.mark.parametrize("build", [models.se_resnet50, models.efficientnet_b0])
def test_networks_run_under_autocast_trace_with_fx_and_keep_channels_last(build):
    torch.manual_seed(0)
    model, x = build(num_classes=10).eval(), torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert model(x).dtype == torch.bfloat16
        expected = model(x)
        torch.testing.assert_close(torch.fx.symbolic_trace(model)(x), expected)
        last = model.to(memory_format=torch.channels_last)(
            x.to(memory_format=torch.channels_last)
        )
        torch.testing.assert_close(last, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("build", [models.se_resnet50, models.efficientnet_b0])
def test_jit_trace_records_no_input_checks_and_eager_still_checks(build):
    """The input checks are Python; under torch.jit.trace each would warn (256 times for SE-ResNet-50)."""
    torch.manual_seed(0)
    model, x = build(num_classes=10).eval(), torch.randn(1, 3, 32, 32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", torch.jit.TracerWarning)
        traced = torch.jit.trace(model, x)
    with torch.no_grad():
        torch.testing.assert_close(traced(x), model(x))
    with pytest.raises(ValueError, match="x must be 4-D"):
        sebook.SEBlock(16)(torch.randn(16, 8, 8))


def _folded_overhead():
    spec = importlib.util.spec_from_file_location(
        "folded_overhead", ROOT / "benchmarks" / "folded_overhead.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_folded_benchmark_runs_in_fresh_processes_and_writes_json(tmp_path):
    bench = _folded_overhead()
    out = tmp_path / "f.json"
    small = ["--size", "32", "--rounds-b1", "1", "--rounds-b8", "1", "--warmup", "0"]
    small += [
        "--processes",
        "2",
        "--cases",
        "efficientnet_b0_eager_b1",
        "--out",
        str(out),
    ]
    assert bench.main(small) == 0
    case = json.loads(out.read_text())["cases"]["efficientnet_b0_eager_b1"]
    assert len(case["processes"]) == 2 and case["target"] == 1.06
    for r in case["summary"].values():
        assert r["low"] <= r["median"] <= r["high"] and len(r["process_medians"]) == 2
    with pytest.raises(SystemExit):
        bench.main(["--cases", "resnet50_eager_b3"])


@pytest.mark.parametrize(
    "name", ["folded_overhead.json", "folded_overhead_repeat.json"]
)
def test_committed_folded_results_are_complete(name):
    bench = _folded_overhead()
    results = json.loads((ROOT / "benchmarks" / "results" / name).read_text())
    assert set(results["cases"]) == set(bench.CASES)
    assert results["method"]["processes"] >= 3 and set(results["floor"]) == set(
        bench.PAIRS
    )
    for case in results["cases"].values():
        assert len(case["processes"]) >= 3
        for r in case["summary"].values():
            assert 0 < r["low"] <= r["median"] <= r["high"]
    assert len(bench.compare(results, results)) == len(bench.CASES)
