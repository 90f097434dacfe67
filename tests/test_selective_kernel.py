"""Selective Kernel (Li et al., CVPR 2019): split, fuse, select, against the paper's Eqs. 1-5 by hand."""

import pytest
import torch
import torch.fx
from torch.nn import functional as F

import sebook
from sebook.attention import ATTENTION
from sebook.selective_kernel import SelectiveKernel


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _eval_with_statistics(block):
    with torch.no_grad():
        for m in block.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return block.eval()


def _bn(t, m):
    return F.batch_norm(
        t, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps
    )


def test_exported_and_not_an_attention_block():
    assert sebook.SelectiveKernel is SelectiveKernel
    assert SelectiveKernel not in ATTENTION.values()  # it replaces a convolution


@pytest.mark.parametrize(
    "cin, cout, stride, size, out", [(8, 8, 1, 9, 9), (8, 16, 2, 9, 5), (4, 6, 2, 8, 4)]
)
def test_shapes(cin, cout, stride, size, out):
    block = SelectiveKernel(cin, cout, stride)
    assert block(torch.randn(2, cin, size, size)).shape == (2, cout, out, out)
    assert block.weights(torch.randn(2, cin, size, size)).shape == (2, 2, cout)


def test_matches_the_papers_equations_by_hand():
    c, d = 4, 3
    x = torch.randn(2, c, 6, 6)
    block = _eval_with_statistics(SelectiveKernel(c, c, rd_channels=d))
    u1 = _bn(
        F.conv2d(x, block.branch3[0].weight, padding=1), block.branch3[1]
    ).relu()  # 3x3
    u2 = _bn(
        F.conv2d(x, block.branch5[0].weight, padding=2, dilation=2), block.branch5[1]
    ).relu()  # 5x5 field
    s = (u1 + u2).mean(dim=(2, 3))  # Eqs. 1-2
    z = _bn(s @ block.select.fc.weight.T, block.select.bn).relu()  # Eq. 3
    ab = block.select.fc_select.weight  # rows: A (channels 0..C-1), then B
    ea, eb = torch.exp(z @ ab[:c].T), torch.exp(z @ ab[c:].T)
    a, b = ea / (ea + eb), eb / (ea + eb)  # Eq. 4
    expected = a[:, :, None, None] * u1 + b[:, :, None, None] * u2  # Eq. 5
    torch.testing.assert_close(block(x), expected)
    torch.testing.assert_close(block.weights(x).sum(dim=1), torch.ones(2, c))


def test_dilated_branch_sees_a_five_by_five_field():
    block = SelectiveKernel(1, 1).eval()
    x = torch.zeros(1, 1, 11, 11, requires_grad=True)
    block.branch5[0](x)[0, 0, 5, 5].backward()
    rows, cols = x.grad[0, 0].nonzero().unbind(1)
    assert (
        rows.min().item(),
        rows.max().item(),
        cols.min().item(),
        cols.max().item(),
    ) == (3, 7, 3, 7)


@pytest.mark.parametrize(
    "cin, cout, groups, reduction, d",
    [(64, 64, 1, 16, 32), (256, 256, 32, 16, 32), (1024, 1024, 32, 16, 64)],
)
def test_parameters(cin, cout, groups, reduction, d):
    block = SelectiveKernel(cin, cout, groups=groups, reduction=reduction)
    assert block.rd_channels == d  # d = max(C / r, L) with L = 32
    convs = 2 * (
        9 * cin * cout // groups + 2 * cout
    )  # two branches, each conv + BatchNorm
    select = (
        cout * d + 2 * d + d * 2 * cout
    )  # W (no bias), BatchNorm, A and B (no bias)
    assert sum(p.numel() for p in block.parameters()) == convs + select


def test_bottleneck_vocabulary():
    assert SelectiveKernel(64, 64, min_rd_channels=1).rd_channels == 4
    assert SelectiveKernel(64, 64, rd_channels=7).rd_channels == 7
    assert SelectiveKernel(64, 64, reduction=2, rd_divisor=8).rd_channels == 32


def test_autocast_and_fx():
    block = _eval_with_statistics(SelectiveKernel(8, 8))
    x = torch.randn(2, 8, 6, 6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = block(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    torch.testing.assert_close(torch.fx.symbolic_trace(block)(x), block(x))


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (
            lambda: SelectiveKernel(0, 8),
            ValueError,
            r"in_channels must be an integer >= 1, got 0",
        ),
        (
            lambda: SelectiveKernel(8, 0),
            ValueError,
            r"out_channels must be an integer >= 1, got 0",
        ),
        (
            lambda: SelectiveKernel(8, 8, 3),
            ValueError,
            r"stride must be one of 1, 2; got 3",
        ),
        (
            lambda: SelectiveKernel(8, 12, groups=8),
            ValueError,
            r"groups must divide in_channels \(8\) and out_channels \(12\), got 8",
        ),
        (
            lambda: SelectiveKernel(8, 8, reduction=0),
            ValueError,
            r"reduction must be a number > 0, got 0",
        ),
        (
            lambda: SelectiveKernel(8, 8, min_rd_channels=0),
            ValueError,
            r"min_rd_channels must be an integer >= 1",
        ),
        (
            lambda: SelectiveKernel(8, 8, rd_channels=0),
            ValueError,
            r"rd_channels must be an integer >= 1, got 0",
        ),
    ],
)
def test_bad_inputs(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
