"""Every bad input a reader is likely to type, and the error it must get (issue "Reliability").

One table, so that the list is easy to extend and to read: each row is a call, the exception type and a pattern
that the message must match (the argument's name, the value received and what is allowed). Checkpoints, data
files and the training command line have their own tests (test_checkpoints.py, test_data.py, test_train.py).
Run ``python tests/test_bad_inputs.py`` to print the table with the messages as a reader sees them.
"""

from __future__ import annotations

import pytest
import torch

import sebook
from sebook import (
    SEBlock,
    make_divisible,
    make_rd_channels,
    recalibrate,
    recalibrate_add,
    widgets,
)
from sebook.costs import count_flops
from sebook.attention import CBAMBlock, ECABlock, make_attention
from sebook.blocks import MBConv
from sebook.data import load_fashion_mnist
from sebook.excitation import Excitation
from sebook.fashion_models import FashionNet, FashionNetConfig
from sebook.models import efficientnet_b0, from_timm, from_torchvision, se_resnet50
from sebook.gather_excite import GatherExciteBlock
from sebook.global_context import GlobalContextBlock
from sebook.grn import GRN
from sebook.squeeze import Squeeze

X = torch.randn(2, 16, 8, 8)

CASES = [
    # (call as a reader would write it, the call, exception type, pattern the message must match)
    (
        "SEBlock(0)",
        lambda: SEBlock(0),
        ValueError,
        r"channels must be an integer >= 1, got 0",
    ),
    (
        "SEBlock(16, reduction=0)",
        lambda: SEBlock(16, reduction=0),
        ValueError,
        r"reduction must be a number > 0, got 0",
    ),
    (
        "SEBlock(16, reduction=-2)",
        lambda: SEBlock(16, reduction=-2),
        ValueError,
        r"reduction .* got -2",
    ),
    (
        "SEBlock(16.5)",
        lambda: SEBlock(16.5),
        TypeError,
        r"channels must be an integer .* got 16.5 \(float\)",
    ),
    (
        "SEBlock(True)",
        lambda: SEBlock(True),
        TypeError,
        r"channels .* got True \(bool\)",
    ),
    (
        "SEBlock('16')",
        lambda: SEBlock("16"),
        TypeError,
        r"channels .* got '16' \(str\)",
    ),
    (
        "SEBlock(16, squeeze='median')",
        lambda: SEBlock(16, squeeze="median"),
        ValueError,
        r"squeeze must be one of 'avg', 'max', 'avgmax'; got 'median'",
    ),
    (
        "SEBlock(16, gate_layer='step')",
        lambda: SEBlock(16, gate_layer="step"),
        ValueError,
        r"gate_layer must be one of 'sigmoid', .*; got 'step'",
    ),
    (
        "SEBlock(16, act_layer='swish')",
        lambda: SEBlock(16, act_layer="swish"),
        ValueError,
        r"act_layer must be one of 'relu', .*; got 'swish'",
    ),
    (
        "SEBlock(16, act_layer=torch.nn.ReLU(inplace=True)) (an instance)",
        lambda: SEBlock(16, act_layer=torch.nn.ReLU(inplace=True)),
        TypeError,
        r"act_layer must be a name, a module class or a factory .* pass ReLU instead",
    ),
    (
        "SEBlock(64, reduction=float('inf'))",
        lambda: SEBlock(64, reduction=float("inf")),
        ValueError,
        r"reduction must be a finite number > 0, got inf",
    ),
    (
        "GatherExciteBlock(16)(torch.randn(2, 8, 4, 4))",
        lambda: GatherExciteBlock(16)(torch.randn(2, 8, 4, 4)),
        ValueError,
        r"x has the wrong number of channels: expected 16, got 8",
    ),
    (
        "GlobalContextBlock(16)(torch.randn(2, 8, 4, 4))",
        lambda: GlobalContextBlock(16)(torch.randn(2, 8, 4, 4)),
        ValueError,
        r"x has the wrong number of channels: expected 16, got 8",
    ),
    (
        "GRN(16)(x[0]) (a 3-D tensor)",
        lambda: GRN(16)(X[0]),
        ValueError,
        r"x must be 4-D \(B, C, H, W\); expected 4 dimensions, got 3",
    ),
    (
        "GRN(16, data_format='channels_last')(x) (channels first)",
        lambda: GRN(16, data_format="channels_last")(X),
        ValueError,
        r"expected 16 in its last dimension \(channels_last\), got 8",
    ),
    (
        "SEBlock(16)(x[0]) (a 3-D tensor)",
        lambda: SEBlock(16)(X[0]),
        ValueError,
        r"x must be 4-D \(B, C, H, W\); expected 4 dimensions, got 3",
    ),
    (
        "SEBlock(32)(x) (x has 16 channels)",
        lambda: SEBlock(32)(X),
        ValueError,
        r"x has the wrong number of channels: expected 32, got 16",
    ),
    (
        "SEBlock(16)(x.long())",
        lambda: SEBlock(16)(X.long()),
        TypeError,
        r"x must have a floating-point dtype, got torch.int64",
    ),
    (
        "SEBlock(16)(x.double()) (PyTorch's error)",
        lambda: SEBlock(16)(X.double()),
        RuntimeError,
        r"mat1 and mat2 must have the same dtype",
    ),
    (
        "SEBlock(16)([1, 2])",
        lambda: SEBlock(16)([1, 2]),
        TypeError,
        r"x must be a torch.Tensor .* got list",
    ),
    (
        "SEBlock(16)(x, residual=x[:, :8])",
        lambda: SEBlock(16)(X, residual=X[:, :8]),
        ValueError,
        r"residual has the wrong number of channels: expected 16, got 8",
    ),
    (
        "Squeeze('sum')",
        lambda: Squeeze("sum"),
        ValueError,
        r"mode must be one of 'avg', 'max', 'avgmax'; got 'sum'",
    ),
    (
        "Squeeze()(x[0, 0])",
        lambda: Squeeze()(X[0, 0]),
        ValueError,
        r"x must be 4-D .* got 2",
    ),
    (
        "Excitation(16, 0)",
        lambda: Excitation(16, 0),
        ValueError,
        r"reduction must be a number > 0, got 0",
    ),
    (
        "make_rd_channels(0)",
        lambda: make_rd_channels(0),
        ValueError,
        r"channels must be an integer >= 1, got 0",
    ),
    (
        "make_rd_channels(8, reduction=0)",
        lambda: make_rd_channels(8, 0),
        ValueError,
        r"reduction .* got 0",
    ),
    (
        "make_rd_channels(8, rd_divisor=0)",
        lambda: make_rd_channels(8, 16, 0),
        ValueError,
        r"rd_divisor must be an integer >= 1, got 0",
    ),
    (
        "make_divisible(-3)",
        lambda: make_divisible(-3),
        ValueError,
        r"value must be a number > 0, got -3",
    ),
    (
        "make_divisible(8, divisor=0)",
        lambda: make_divisible(8, 0),
        ValueError,
        r"divisor .* got 0",
    ),
    (
        "recalibrate(x, gates of shape (2, 8))",
        lambda: recalibrate(X, torch.rand(2, 8)),
        ValueError,
        r"gates of shape \(2, 8\) do not fit x of shape \(2, 16, 8, 8\); expected \(2, 16\)",
    ),
    (
        "recalibrate(x, gates of shape (2, 16, 1))",
        lambda: recalibrate(X, torch.rand(2, 16, 1)),
        ValueError,
        r"gates must be 2-D \(B, C\)",
    ),
    (
        "recalibrate_add(x, gates, residual of shape (2, 16, 4, 4))",
        lambda: recalibrate_add(X, torch.rand(2, 16), torch.rand(2, 16, 4, 4)),
        ValueError,
        r"residual must have the shape of x: expected \(2, 16, 8, 8\), got \(2, 16, 4, 4\)",
    ),
    (
        "ECABlock(0)",
        lambda: ECABlock(0),
        ValueError,
        r"channels must be an integer >= 1, got 0",
    ),
    (
        "ECABlock(16, gamma=0)",
        lambda: ECABlock(16, gamma=0),
        ValueError,
        r"gamma must be a number > 0, got 0",
    ),
    (
        "ECABlock(16, kernel_size=4)",
        lambda: ECABlock(16, kernel_size=4),
        ValueError,
        r"kernel_size must be odd .* got 4",
    ),
    ("ECABlock(16)(x[0])", lambda: ECABlock(16)(X[0]), ValueError, r"x must be 4-D"),
    (
        "CBAMBlock(16, reduction=0)",
        lambda: CBAMBlock(16, reduction=0),
        ValueError,
        r"reduction .* got 0",
    ),
    (
        "CBAMBlock(16, spatial_kernel=4)",
        lambda: CBAMBlock(16, spatial_kernel=4),
        ValueError,
        r"spatial_kernel must be odd .* got 4",
    ),
    ("CBAMBlock(32)(x)", lambda: CBAMBlock(32)(X), ValueError, r"expected 32, got 16"),
    (
        "make_attention('bam', 16)",
        lambda: make_attention("bam", 16),
        ValueError,
        r"attention must be one of 'none', 'se', 'eca', 'cbam', 'nosqueeze', 'se_add', 'ge', 'ge_theta', 'gc', 'grn'; got 'bam'",
    ),
    (
        "se_resnet50(integration='inside')",
        lambda: se_resnet50(integration="inside"),
        ValueError,
        r"integration must be one of 'standard', 'pre', 'post', 'identity'; got 'inside'",
    ),
    (
        "se_resnet50(reduction=0)",
        lambda: se_resnet50(reduction=0),
        ValueError,
        r"reduction .* got 0",
    ),
    (
        "MBConv(16, 24, kernel_size=4)",
        lambda: MBConv(16, 24, kernel_size=4),
        ValueError,
        r"kernel_size must be odd .* got 4",
    ),
    (
        "MBConv(0, 24)",
        lambda: MBConv(0, 24),
        ValueError,
        r"in_channels must be an integer >= 1, got 0",
    ),
    (
        "MBConv(16, 24, se_placement='end')",
        lambda: MBConv(16, 24, se_placement="end"),
        ValueError,
        r"se_placement must be one of 'efficientnet', 'after_project', 'none'; got 'end'",
    ),
    (
        "efficientnet_b0(dropout=1.5)",
        lambda: efficientnet_b0(dropout=1.5),
        ValueError,
        r"dropout must be a probability in \[0, 1\), got 1.5",
    ),
    (
        "FashionNetConfig(attention='sk')",
        lambda: FashionNetConfig(attention="sk"),
        ValueError,
        r"attention must be one of .*; got 'sk'",
    ),
    (
        "FashionNetConfig(widths=())",
        lambda: FashionNetConfig(widths=()),
        ValueError,
        r"widths must be a non-empty tuple",
    ),
    (
        "FashionNetConfig(widths=(16, 0))",
        lambda: FashionNetConfig(widths=(16, 0)),
        ValueError,
        r"widths\[1\] must be an integer >= 1, got 0",
    ),
    (
        "FashionNet()(RGB images) (PyTorch's error)",
        lambda: FashionNet()(torch.rand(2, 3, 28, 28)),
        RuntimeError,
        r"to have 1 channels, but got 3 channels",
    ),
    (
        "count_flops(SEBlock(16), (16, 8, 8))",
        lambda: count_flops(SEBlock(16), (16, 8, 8)),
        ValueError,
        r"must be 4-D",
    ),
    (
        "sebook.setup(threads=0)",
        lambda: sebook.setup(threads=0),
        ValueError,
        r"threads must be an integer >= 1, got 0",
    ),
    (
        "sebook.setup(seed=-1)",
        lambda: sebook.setup(seed=-1),
        ValueError,
        r"seed must be an integer >= 0, got -1",
    ),
    (
        "widgets.figure_slider([], [], 'x', [])",
        lambda: widgets.figure_slider([], [], "x", []),
        ValueError,
        r"must be non-empty and of equal length",
    ),
    (
        "from_torchvision('vgg16', {})",
        lambda: from_torchvision("vgg16", {}),
        ValueError,
        r"arch must be one of 'resnet50', 'resnet101', 'efficientnet_b0'; got 'vgg16'",
    ),
    (
        "from_timm('seresnet50', {}) (no weights)",
        lambda: from_timm("seresnet50", {}),
        ValueError,
        r"state_dict does not have the resnet layout: \d+ missing keys \['conv1.weight'",
    ),
    (
        "load_fashion_mnist('validation')",
        lambda: load_fashion_mnist("validation"),
        ValueError,
        r"split must be one of 'train', 'test'; got 'validation'",
    ),
]


@pytest.mark.parametrize(
    "call, error, pattern",
    [(c[1], c[2], c[3]) for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_bad_input_gets_a_clear_error(call, error, pattern):
    threads = torch.get_num_threads()
    try:
        with pytest.raises(error, match=pattern):
            call()
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    print("| Bad input | Error |\n|---|---|")
    for text, call, _, _ in CASES:
        try:
            call()
            print(f"| `{text}` | (no error) |")
        except Exception as e:  # noqa: BLE001 - printing whatever the reader would see
            print(f"| `{text}` | {type(e).__name__}: {e} |")
