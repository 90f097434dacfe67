"""Property-based tests (hypothesis) of the SE invariants over random shapes and reduction ratios."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import sebook
from sebook.excitation import make_rd_channels
from sebook.recalibration import recalibrate

shapes = st.tuples(
    st.integers(1, 4), st.integers(1, 48), st.integers(1, 9), st.integers(1, 9)
)
ratios = st.one_of(st.integers(1, 64), st.floats(0.25, 64.0, allow_nan=False))
squeezes = st.sampled_from(["avg", "max", "avgmax"])
PROFILE = settings(max_examples=60, deadline=None, derandomize=True)


def block_and_input(shape, reduction, squeeze="avg", seed=0):
    torch.manual_seed(seed)
    return sebook.SEBlock(shape[1], reduction, squeeze=squeeze), torch.randn(shape) * 3


@PROFILE
@given(shapes, ratios, squeezes)
def test_output_shape_equals_input_shape(shape, reduction, squeeze):
    block, x = block_and_input(shape, reduction, squeeze)
    assert block(x).shape == x.shape


@PROFILE
@given(shapes, ratios)
def test_sigmoid_gates_lie_strictly_in_0_1(shape, reduction):
    block, x = block_and_input(shape, reduction)
    gates = block.gates(x)
    assert gates.shape == shape[:2]
    assert bool(((gates > 0) & (gates < 1)).all())


@PROFILE
@given(shapes, ratios, squeezes)
def test_forward_identity(shape, reduction, squeeze):
    block, x = block_and_input(shape, reduction, squeeze)
    expected = x * block.excitation(block.squeeze(x)).view(shape[0], shape[1], 1, 1)
    assert torch.equal(block(x), expected)


@PROFILE
@given(shapes)
def test_gates_of_one_give_the_identity(shape):
    x = torch.randn(shape)
    assert torch.equal(recalibrate(x, torch.ones(shape[:2])), x)


@PROFILE
@given(shapes, ratios)
def test_batch_elements_do_not_influence_each_other(shape, reduction):
    block, x = block_and_input((max(shape[0], 2), *shape[1:]), reduction)
    alone = block(x[:1])
    other = x.clone()
    other[1:] = torch.randn_like(other[1:]) * 10
    torch.testing.assert_close(block(other)[:1], alone)
    torch.testing.assert_close(block(x)[:1], alone)


@PROFILE
@given(st.integers(1, 4096), ratios, st.sampled_from([1, 4, 8, 16]))
def test_make_rd_channels_is_never_zero_and_respects_the_divisor(
    channels, reduction, divisor
):
    width = make_rd_channels(channels, reduction, divisor)
    assert width >= 1 and width % divisor == 0
    assert width <= max(divisor, round(channels / reduction) + divisor)
