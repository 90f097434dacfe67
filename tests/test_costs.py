"""Costs (sebook.costs): parameters and FLOPs per part, elementwise operations, memory traffic, one SE
block's cost."""

import pytest
import torch
from torch import nn

import sebook
from sebook import costs, models
from sebook.costs import count_flops
from sebook.excitation import make_rd_channels
from sebook.se import SEBlock


def on_meta(build, *args, **kwargs):
    """Build a network on the meta device: shapes and parameter counts without memory or initialisation time."""
    with torch.device("meta"):
        return build(*args, **kwargs)


def test_recalibration_traffic_counts_one_read_of_every_se_input():
    block = SEBlock(32, 4)
    traffic = costs.recalibration_traffic(block, (2, 32, 5, 5))
    one_pass = 2 * 32 * 5 * 5 * 4  # float32
    assert traffic == {"one_pass": one_pass, "naive": 3 * one_pass, "fused": one_pass}


def test_recalibration_traffic_follows_dtype_and_agrees_with_elementwise_ops():
    block = SEBlock(16, 4).double()
    assert costs.recalibration_traffic(block, (1, 16, 3, 3))["one_pass"] == 16 * 9 * 8
    with torch.device("meta"):
        model = models.se_resnet50()
    shape = (1, 3, 224, 224)
    traffic = costs.recalibration_traffic(model, shape)
    assert traffic["one_pass"] == 4 * costs.attention_elementwise_ops(model, shape) // 2


def test_recalibration_traffic_rejects_models_without_attention():
    with pytest.raises(ValueError, match="no SE"):
        costs.recalibration_traffic(nn.Conv2d(3, 3, 1), (1, 3, 4, 4))
    with pytest.raises(TypeError, match="nn.Module"):
        costs.recalibration_traffic("resnet", (1, 3, 4, 4))
    with pytest.raises(ValueError, match="input_shape"):
        costs.recalibration_traffic(SEBlock(8, 2), (1, 8, 0, 4))


@pytest.mark.parametrize(
    "channels, reduction", [(64, 16), (8, 16), (2048, 1), (100, 3)]
)
def test_se_costs_match_the_formulas(channels, reduction):
    cost = costs.se_costs(channels, reduction)
    w = make_rd_channels(channels, reduction)
    assert cost["width"] == w
    assert (
        cost["params"] == 2 * channels * w + w + channels
    )  # two weight matrices and two bias vectors
    assert (
        cost["flops"] == 4 * channels * w
    )  # two matrix-vector products, 1 MAC = 2 FLOPs
    assert cost["elementwise"] == 2 * channels * 7 * 7


def test_se_costs_rejects_bad_arguments():
    with pytest.raises(ValueError, match="spatial"):
        costs.se_costs(64, 16, spatial=(7,))
    with pytest.raises(ValueError, match="channels"):
        costs.se_costs(0, 16)


def test_parameters_by_child_and_attention_parameters():
    se, plain = on_meta(models.se_resnet50), on_meta(models.resnet50)
    by_se, by_plain = costs.parameters_by_child(se), costs.parameters_by_child(plain)
    added = {k: by_se[k] - by_plain[k] for k in by_plain}
    assert added == {
        "conv1": 0,
        "bn1": 0,
        "relu": 0,
        "maxpool": 0,
        "layer1": 25_392,
        "layer2": 133_248,
        "layer3": 792_960,
        "layer4": 1_579_392,
        "avgpool": 0,
        "fc": 0,
    }
    assert costs.attention_parameters(se) == sum(added.values()) == 2_530_992
    assert costs.attention_parameters(plain) == 0
    with pytest.raises(TypeError, match="nn.Module"):
        costs.parameters_by_child("resnet")


def test_flops_and_shapes_by_child():
    block = sebook.blocks.MBConv(16, 24, 6, 3, 2)
    shapes = costs.output_shapes(block.block, (1, 16, 32, 32))
    assert shapes == {
        "expand": (1, 96, 32, 32),
        "depthwise": (1, 96, 16, 16),
        "se": (1, 96, 16, 16),
        "project": (1, 24, 16, 16),
    }
    flops = costs.count_flops_by_child(block.block, (1, 16, 32, 32))
    assert flops == {
        "expand": 2 * 16 * 96 * 32 * 32,
        "depthwise": 2 * 9 * 96 * 16 * 16,
        "se": 2 * 2 * 96 * 4,
        "project": 2 * 96 * 24 * 16 * 16,
    }
    assert sum(flops.values()) == count_flops(block, (1, 16, 32, 32))
    with pytest.raises(ValueError, match="input_shape"):
        costs.output_shapes(block, (1, 0, 4, 4))


def test_attention_elementwise_ops():
    model = on_meta(models.se_resnet50)
    ops = costs.attention_elementwise_ops(model, (1, 3, 224, 224))
    assert ops == 2 * (
        3 * 256 * 56 * 56 + 4 * 512 * 28 * 28 + 6 * 1024 * 14 * 14 + 3 * 2048 * 7 * 7
    )
    with pytest.raises(ValueError, match="no SE"):
        costs.attention_elementwise_ops(on_meta(models.resnet50), (1, 3, 224, 224))


def test_saved_activation_bytes_counts_each_saved_tensor_once_and_leaves_the_model_alone():
    from sebook.costs import saved_activation_bytes

    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU()
    ).eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    # the convolution keeps its input (2*3*5*5 floats), BatchNorm its input (2*4*5*5), ReLU its output (2*4*5*5);
    # BatchNorm also keeps its batch mean and inverse std (4 floats each); weights are not activations
    assert saved_activation_bytes(net, (2, 3, 5, 5)) == 4 * (150 + 200 + 200 + 4 + 4)
    assert not net.training
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
