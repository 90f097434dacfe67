"""Helpers written for the chapter "Costs": memory traffic of SE's squeeze and recalibration."""
import pytest
import torch
from torch import nn

from sebook import analysis, models
from sebook.se import SEBlock


def test_recalibration_traffic_counts_one_read_of_every_se_input():
    block = SEBlock(32, 4)
    traffic = analysis.recalibration_traffic(block, (2, 32, 5, 5))
    one_pass = 2 * 32 * 5 * 5 * 4  # float32
    assert traffic == {"one_pass": one_pass, "naive": 3 * one_pass, "fused": one_pass}


def test_recalibration_traffic_follows_dtype_and_agrees_with_elementwise_ops():
    block = SEBlock(16, 4).double()
    assert analysis.recalibration_traffic(block, (1, 16, 3, 3))["one_pass"] == 16 * 9 * 8
    with torch.device("meta"):
        model = models.se_resnet50()
    shape = (1, 3, 224, 224)
    traffic = analysis.recalibration_traffic(model, shape)
    assert traffic["one_pass"] == 4 * analysis.attention_elementwise_ops(model, shape) // 2


def test_recalibration_traffic_rejects_models_without_attention():
    with pytest.raises(ValueError, match="no SE"):
        analysis.recalibration_traffic(nn.Conv2d(3, 3, 1), (1, 3, 4, 4))
    with pytest.raises(TypeError, match="nn.Module"):
        analysis.recalibration_traffic("resnet", (1, 3, 4, 4))
    with pytest.raises(ValueError, match="input_shape"):
        analysis.recalibration_traffic(SEBlock(8, 2), (1, 8, 0, 4))


def _ops(add=1.0, squeeze=0.5, scale_then_add=2.0, fused=1.2):
    steps = {"add": add, "squeeze": squeeze, "scale_then_add": scale_then_add, "fused_scale_add": fused}
    return {name: {"median_seconds": v} for name, v in steps.items()}


def test_elementwise_overhead_sums_blocks_times_extra_steps():
    ops = {"layer1": _ops(), "layer2": _ops(add=2.0, squeeze=1.0, scale_then_add=4.0, fused=2.0)}
    result = analysis.elementwise_overhead(ops, {"layer1": 3, "layer2": 2})
    assert result["naive"] == pytest.approx(3 * (0.5 + 2.0 - 1.0) + 2 * (1.0 + 4.0 - 2.0))
    assert result["fused"] == pytest.approx(3 * (0.5 + 1.2 - 1.0) + 2 * (1.0 + 2.0 - 2.0))


def test_elementwise_overhead_names_what_is_missing():
    with pytest.raises(ValueError, match="no stage 'layer9'"):
        analysis.elementwise_overhead({"layer1": _ops()}, {"layer9": 1})
    incomplete = {"layer1": {k: v for k, v in _ops().items() if k != "squeeze"}}
    with pytest.raises(ValueError, match="missing squeeze"):
        analysis.elementwise_overhead(incomplete, {"layer1": 1})
    with pytest.raises(ValueError, match="blocks_per_stage"):
        analysis.elementwise_overhead({"layer1": _ops()}, {"layer1": 0})
