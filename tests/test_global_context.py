"""Global Context block (Cao et al., 2019): attention pooling, LayerNorm bottleneck, addition at every position."""

import pytest
import torch
import torch.fx

import sebook
from sebook.attention import ATTENTION, make_attention
from sebook.fashion_models import FashionNet, FashionNetConfig
from sebook.global_context import AttentionPool, GlobalContextBlock


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _trained_looking(block):
    """Random values for the zero-initialised last layer, so that the transform is not trivially 0."""
    with torch.no_grad():
        block.excitation.fc2.weight.normal_()
        block.excitation.fc2.bias.normal_()
        block.excitation.norm.weight.uniform_(0.5, 1.5)
        block.excitation.norm.bias.uniform_(-0.5, 0.5)
    return block


def test_exported_and_registered():
    assert (
        sebook.GlobalContextBlock is GlobalContextBlock
        and ATTENTION["gc"] is GlobalContextBlock
    )
    assert isinstance(make_attention("gc", 32), GlobalContextBlock)


@pytest.mark.parametrize("shape", [(2, 16, 7, 7), (1, 3, 1, 1), (3, 32, 5, 9)])
def test_shape(shape):
    assert GlobalContextBlock(shape[1])(torch.randn(shape)).shape == shape


def test_a_new_block_is_the_identity():
    x = torch.randn(2, 32, 6, 6)
    torch.testing.assert_close(GlobalContextBlock(32)(x), x)


def test_matches_the_papers_equation_by_hand():
    """z_i = x_i + W_v2 ReLU(LN(W_v1 sum_j softmax_j(W_k x_j) x_j)), written with plain tensor operations."""
    c, d = 6, 3
    x = torch.randn(2, c, 4, 5)
    block = _trained_looking(GlobalContextBlock(c, rd_channels=d))
    wk, bk = block.squeeze.conv.weight.view(c), block.squeeze.conv.bias
    expected = torch.empty_like(x)
    for b in range(2):
        positions = x[b].reshape(c, -1)  # (C, N_p)
        scores = wk @ positions + bk  # one score per position
        alpha = torch.exp(scores) / torch.exp(scores).sum()
        context = positions @ alpha  # (C,)
        h = block.excitation.fc1.weight @ context + block.excitation.fc1.bias
        h = (h - h.mean()) / torch.sqrt(
            h.var(unbiased=False) + block.excitation.norm.eps
        )
        h = torch.relu(h * block.excitation.norm.weight + block.excitation.norm.bias)
        term = block.excitation.fc2.weight @ h + block.excitation.fc2.bias
        expected[b] = x[b] + term[:, None, None]
    torch.testing.assert_close(block(x), expected)


def test_attention_weights_sum_to_one_and_uniform_scores_give_the_mean():
    x = torch.randn(2, 8, 5, 5)
    pool = AttentionPool(8)
    torch.testing.assert_close(pool.weights(x).sum(dim=1), torch.ones(2))
    with torch.no_grad():
        pool.conv.weight.zero_()  # equal scores everywhere: attention pooling becomes SE's average pooling
    torch.testing.assert_close(pool(x), x.mean(dim=(2, 3)))


@pytest.mark.parametrize(
    "channels, reduction, d", [(16, 16, 1), (64, 16, 4), (256, 4, 64), (8, 16, 1)]
)
def test_parameters(channels, reduction, d):
    block = GlobalContextBlock(channels, reduction)
    assert block.rd_channels == d
    # W_k (C + 1), W_v1 (C d + d), LayerNorm (2 d), W_v2 (d C + C)
    assert (
        sum(p.numel() for p in block.parameters())
        == 2 * channels * d + 3 * d + 2 * channels + 1
    )


def test_rd_channels_and_divisor():
    assert GlobalContextBlock(64, rd_channels=5).rd_channels == 5
    assert GlobalContextBlock(100, 16, rd_divisor=8).rd_channels == 8


def test_residual_and_fashion_net():
    x, r = torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 3)
    block = _trained_looking(GlobalContextBlock(4))
    torch.testing.assert_close(block(x, residual=r), r + block(x))
    assert FashionNet(FashionNetConfig(attention="gc")).eval()(
        torch.randn(2, 1, 28, 28)
    ).shape == (2, 10)


def test_autocast_and_fx():
    block = _trained_looking(GlobalContextBlock(16, 4)).eval()
    x = torch.randn(2, 16, 6, 6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = block(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    traced = torch.fx.symbolic_trace(block, concrete_args={"residual": None})
    torch.testing.assert_close(traced(x), block(x))


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (
            lambda: GlobalContextBlock(0),
            ValueError,
            r"channels must be an integer >= 1, got 0",
        ),
        (
            lambda: GlobalContextBlock(16, reduction=0),
            ValueError,
            r"reduction must be a number > 0, got 0",
        ),
        (
            lambda: GlobalContextBlock(16, rd_channels=0),
            ValueError,
            r"rd_channels must be an integer >= 1, got 0",
        ),
        (
            lambda: GlobalContextBlock(16, rd_divisor=0),
            ValueError,
            r"rd_divisor must be an integer >= 1, got 0",
        ),
        (
            lambda: GlobalContextBlock(16.0),
            TypeError,
            r"channels must be an integer >= 1, got 16.0 \(float\)",
        ),
    ],
)
def test_bad_inputs(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
