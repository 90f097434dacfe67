"""The core SE pieces: squeeze, excitation (with its width helper), recalibration, and the block."""

import pytest
import torch
from torch import nn

import sebook
from sebook.excitation import Excitation, make_divisible, make_rd_channels
from sebook.recalibration import recalibrate, recalibrate_add
from sebook.squeeze import SQUEEZE_MODES, Squeeze


class SourceSEBlock(nn.Module):
    """The source notebook's formulation: 1x1 convolutions instead of linear layers (kept here as a reference)."""

    def __init__(self, in_channels, reduction_ratio=16):
        super().__init__()
        self.global_avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(in_channels, in_channels // reduction_ratio, kernel_size=1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(in_channels // reduction_ratio, in_channels, kernel_size=1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        s = self.sigmoid(self.fc2(self.relu(self.fc1(self.global_avg_pool(x)))))
        return x * s


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize("shape", [(1, 64, 32, 32), (3, 8, 5, 7), (2, 256, 1, 1)])
def test_shape_is_preserved(shape):
    assert sebook.SEBlock(shape[1])(torch.randn(shape)).shape == shape


def test_gates_lie_strictly_between_0_and_1():
    block = sebook.SEBlock(32, 4)
    gates = block.gates(torch.randn(4, 32, 6, 6) * 10)
    assert gates.shape == (4, 32)
    assert ((gates > 0) & (gates < 1)).all()


def test_forward_identity():
    block = sebook.SEBlock(48, 8)
    x = torch.randn(2, 48, 9, 9)
    expected = x * block.excitation(block.squeeze(x)).view(2, 48, 1, 1)
    torch.testing.assert_close(block(x), expected, rtol=0, atol=0)


def test_matches_the_source_conv1x1_formulation():
    ours, source = sebook.SEBlock(64, 16), SourceSEBlock(64, 16)
    with torch.no_grad():
        source.fc1.weight.copy_(ours.excitation.fc1.weight[:, :, None, None])
        source.fc1.bias.copy_(ours.excitation.fc1.bias)
        source.fc2.weight.copy_(ours.excitation.fc2.weight[:, :, None, None])
        source.fc2.bias.copy_(ours.excitation.fc2.bias)
    x = torch.randn(2, 64, 16, 16)
    torch.testing.assert_close(ours(x), source(x))


def test_gradients_reach_both_fc_layers():
    block = sebook.SEBlock(16, 4)
    block(torch.randn(2, 16, 4, 4)).square().sum().backward()
    for layer in (block.excitation.fc1, block.excitation.fc2):
        assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
        assert layer.bias.grad is not None and layer.bias.grad.abs().sum() > 0


def test_fewer_channels_than_reduction_keeps_a_bottleneck():
    block = sebook.SEBlock(8, reduction=16)
    assert block.excitation.rd_channels == 1
    assert block(torch.randn(1, 8, 4, 4)).shape == (1, 8, 4, 4)


def test_source_block_breaks_when_channels_below_ratio():
    """The source notebook's ``in_channels // reduction_ratio`` is 0 for 8 channels and r = 16."""
    assert 8 // 16 == 0
    with pytest.warns(UserWarning, match="zero-element"):
        source = SourceSEBlock(8, 16)
    with pytest.raises(RuntimeError):
        source(torch.randn(1, 8, 4, 4))


@pytest.mark.parametrize(
    "channels, reduction, rd_divisor, expected",
    [
        (64, 16, 1, 4),
        (8, 16, 1, 1),
        (1, 64, 1, 1),
        (100, 16, 1, 6),
        (2048, 16, 1, 128),
        (64, 16, 8, 8),
        (96, 4, 8, 24),
        (3, 1, 1, 3),
        (24, 0.25, 1, 96),
    ],
)
def test_squeeze_width(channels, reduction, rd_divisor, expected):
    assert make_rd_channels(channels, reduction, rd_divisor) == expected


@pytest.mark.parametrize(
    "value, divisor, expected",
    [(32, 8, 32), (35, 8, 32), (36, 8, 40), (3, 8, 8), (90, 16, 96)],
)
def test_make_divisible(value, divisor, expected):
    assert make_divisible(value, divisor) == expected


@pytest.mark.parametrize("mode", SQUEEZE_MODES)
def test_squeeze_modes(mode):
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).view(2, 3, 4, 4)
    z = Squeeze(mode)(x)
    avg, mx = x.mean((2, 3)), x.amax((2, 3))
    torch.testing.assert_close(
        z, {"avg": avg, "max": mx, "avgmax": (avg + mx) / 2}[mode]
    )


def test_recalibration_broadcasts_and_fuses():
    x, residual, gates = (
        torch.randn(2, 5, 3, 3),
        torch.randn(2, 5, 3, 3),
        torch.rand(2, 5),
    )
    scaled = recalibrate(x, gates)
    torch.testing.assert_close(scaled[1, 2], x[1, 2] * gates[1, 2])
    torch.testing.assert_close(recalibrate_add(x, gates, residual), residual + scaled)
    block = sebook.SEBlock(5, 2)
    torch.testing.assert_close(block(x, residual=residual), residual + block(x))


def test_gates_of_one_are_the_identity():
    x = torch.randn(2, 6, 3, 3)
    torch.testing.assert_close(recalibrate(x, torch.ones(2, 6)), x, rtol=0, atol=0)


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        ({"channels": 0}, ValueError, ["channels", ">= 1", "0"]),
        ({"channels": -3}, ValueError, ["channels", "-3"]),
        ({"channels": 2.5}, TypeError, ["channels", "integer"]),
        ({"channels": 16, "reduction": 0}, ValueError, ["reduction", "> 0"]),
        ({"channels": 16, "reduction": -4}, ValueError, ["reduction", "-4"]),
        ({"channels": 16, "reduction": float("nan")}, ValueError, ["reduction"]),
        (
            {"channels": 16, "squeeze": "mean"},
            ValueError,
            ["squeeze", "'avg'", "'mean'"],
        ),
        (
            {"channels": 16, "gate_layer": "sigmoud"},
            ValueError,
            ["gate_layer", "'sigmoid'"],
        ),
        ({"channels": 16, "act_layer": "relu7"}, ValueError, ["act_layer", "'relu'"]),
        ({"channels": 16, "rd_channels": 0}, ValueError, ["rd_channels"]),
        ({"channels": 16, "rd_divisor": 0}, ValueError, ["divisor"]),
    ],
)
def test_bad_constructor_arguments(kwargs, exc, words):
    with pytest.raises(exc) as info:
        sebook.SEBlock(**kwargs)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    "x, exc, words",
    [
        (torch.randn(2, 16), ValueError, ["4-D", "expected 4", "got 2"]),
        (torch.randn(2, 16, 4, 4, 1), ValueError, ["got 5"]),
        (torch.randn(2, 8, 4, 4), ValueError, ["expected 16", "got 8"]),
        (
            torch.ones(2, 16, 4, 4, dtype=torch.int64),
            TypeError,
            ["floating-point", "int64"],
        ),
        ([[1.0]], TypeError, ["torch.Tensor", "list"]),
    ],
)
def test_bad_forward_input(x, exc, words):
    with pytest.raises(exc) as info:
        sebook.SEBlock(16)(x)
    for word in words:
        assert word in str(info.value)


def test_bad_recalibration_inputs():
    x = torch.randn(2, 4, 3, 3)
    with pytest.raises(ValueError, match="do not fit"):
        recalibrate(x, torch.rand(2, 5))
    with pytest.raises(ValueError, match="shape of x"):
        recalibrate_add(x, torch.rand(2, 4), torch.randn(2, 4, 2, 2))
    with pytest.raises(
        RuntimeError, match="cannot be multiplied"
    ):  # inside a block, PyTorch's own error
        Excitation(4)(torch.randn(2, 5))


def test_inference_restores_the_mode_and_batches_match_one_pass():
    from sebook.runtime import forward_in_batches, inference

    block = sebook.SEBlock(16, 4).train()
    x = torch.randn(7, 16, 5, 5)
    with inference(block):
        assert not block.training and not torch.is_grad_enabled()
        whole = block(x)
    assert block.training and torch.is_grad_enabled()
    torch.testing.assert_close(forward_in_batches(block, x, 3), whole)
    assert forward_in_batches(block, x[:0], 3).numel() == 0
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        forward_in_batches(block, x, 0)
    with pytest.raises(TypeError, match="module must be an nn.Module"):
        with inference("block"):
            pass


# Where PyTorch users take the block: autocast, torch.fx, torch.compile, channels_last -------------------------


def test_se_block_runs_under_cpu_bfloat16_autocast():
    block, x = sebook.SEBlock(16, 4), torch.randn(2, 16, 5, 5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        for y in (block(x), block(x, residual=x), block(x.bfloat16())):
            assert y.shape == x.shape and torch.isfinite(y).all()
        assert (
            block.gates(x).dtype == torch.bfloat16
        )  # the linear layers ran in bfloat16


def test_se_block_traces_with_torch_fx():
    block, x = sebook.SEBlock(16, 4), torch.randn(2, 16, 5, 5)
    traced = torch.fx.symbolic_trace(block, concrete_args={"residual": None})
    torch.testing.assert_close(traced(x), block(x))
    with pytest.raises(
        ValueError, match="expected 16, got 8"
    ):  # the check is a leaf of the graph: it still runs
        traced(torch.randn(2, 8, 5, 5))


def test_se_block_compiles_in_one_graph():
    block, x = sebook.SEBlock(16, 4), torch.randn(2, 16, 5, 5)
    for args in ((x,), (x, x)):
        explanation = torch._dynamo.explain(block)(*args)
        assert explanation.graph_break_count == 0 and explanation.graph_count == 1
    compiled = torch.compile(block, backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(compiled(x), block(x))


def test_se_block_keeps_channels_last():
    block, x = sebook.SEBlock(16, 4), torch.randn(2, 16, 5, 5)
    y = block(x.to(memory_format=torch.channels_last))
    assert y.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(y, block(x))


def test_the_blocks_import_neither_matplotlib_nor_ipywidgets():
    import subprocess
    import sys

    code = (
        "import sys, sebook.se, sebook.squeeze, sebook.excitation, sebook.recalibration, sebook.attention, "
        "sebook.blocks, sebook.models; print(sorted(m for m in ('matplotlib', 'ipywidgets') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
