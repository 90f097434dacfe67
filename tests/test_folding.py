"""fold_for_inference (sebook.folding): BatchNorm folded and SE moved into 1x1 convolutions, same outputs.

Random weights and random BatchNorm statistics, so that folding has something to fold; the outputs must agree with
the original model's to 1e-5 of their largest magnitude (float32 rounding over some fifty layers).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sebook import models
from sebook.blocks import MBConv, bottleneck
from sebook.folding import EvalOnly, GatedConv1x1, SqueezeFirstUnit, fold_for_inference
from sebook.mobilenet_v3 import mobilenet_v3_large
from sebook.regnet import regnet_y_400mf


def randomised(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BatchNorm statistics and affine parameters; then eval mode."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.num_features, generator=generator))
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=generator))
                m.weight.copy_(0.5 + torch.rand(m.num_features, generator=generator))
                m.bias.copy_(0.1 * torch.randn(m.num_features, generator=generator))
    return model.eval()


def close(a: torch.Tensor, b: torch.Tensor, tolerance: float = 1e-5) -> bool:
    return a.shape == b.shape and float((a - b).abs().max()) <= tolerance * float(b.abs().max())


def assert_same(model: nn.Module, shape: tuple[int, ...]) -> nn.Module:
    folded = fold_for_inference(model)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert close(folded(x), model(x))
    return folded


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("size", [8, 40])  # weights scaled (width < H * W) or activations (width >= H * W)
def test_an_se_bottleneck_squeezes_first(batch, size):
    unit = randomised(bottleneck(64, 16))
    folded = assert_same(unit, (batch, 64, size, size))
    assert isinstance(folded.model, SqueezeFirstUnit)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("size", [4, 12])  # activations scaled (O >= H * W) or weights
def test_an_mbconv_gate_moves_into_the_projection(batch, size):
    block = randomised(MBConv(16, 24, expand_ratio=4))
    folded = assert_same(block, (batch, 16, size, size))
    assert isinstance(folded.model.block.project, GatedConv1x1)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())


@pytest.mark.parametrize(
    "build, shape",
    [
        (models.se_resnet50, (2, 3, 64, 64)),
        (models.resnet50, (1, 3, 64, 64)),
        (models.efficientnet_b0, (2, 3, 64, 64)),
        (mobilenet_v3_large, (1, 3, 64, 64)),
        (regnet_y_400mf, (2, 3, 64, 64)),
    ],
)
def test_whole_networks_give_the_same_outputs(build, shape):
    folded = assert_same(randomised(build()), shape)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())


def test_real_images_give_the_same_outputs():
    from sebook.data import load_photo

    photo = load_photo()
    model = randomised(models.se_resnet50())
    folded = fold_for_inference(model)
    x = photo[None] if photo.dim() == 3 else photo
    with torch.no_grad():
        assert close(folded(x), model(x))


def test_training_use_is_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="must be in eval mode"):
        fold_for_inference(models.se_resnet50().train())
    folded = fold_for_inference(models.se_resnet50().eval())
    with pytest.raises(RuntimeError, match="for inference only"):
        folded.train()
    assert isinstance(folded.eval(), EvalOnly)
    with pytest.raises(TypeError, match="must be a torch.nn.Module"):
        fold_for_inference("se_resnet50")


def test_channels_last_and_export_work_on_a_network():
    model = randomised(models.se_resnet50())
    folded = fold_for_inference(model)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        want = model(x)
        last = folded.to(memory_format=torch.channels_last)
        assert close(last(x.to(memory_format=torch.channels_last)), want)
        assert close(torch.export.export(folded, (x,)).module()(x), want)


def test_compile_works_on_the_rewritten_blocks():
    """Compiled on two blocks at batch 2, not a whole network: compiling ResNet-50 takes minutes on a CPU."""
    for block, shape in ((bottleneck(64, 16), (2, 64, 12, 12)), (MBConv(16, 24), (2, 16, 12, 12))):
        block = randomised(block)
        x = torch.randn(shape, generator=torch.Generator().manual_seed(3))
        with torch.no_grad():
            assert close(torch.compile(fold_for_inference(block))(x), block(x))


def test_gate_work_counts_the_map_or_the_weights_whichever_is_smaller():
    from sebook.folding import gate_work

    unit = nn.Sequential(bottleneck(64, 16)).eval()  # O = 64 outputs from C = 16 channels
    assert gate_work(unit, (1, 64, 8, 8)) == [{"activations": 64 * 64, "weights": 64 * 16, "chosen": 64 * 16}]
    assert gate_work(unit, (1, 64, 2, 2))[0]["chosen"] == 64 * 4  # a 2 x 2 map: scaling it is cheaper
    block = MBConv(16, 24, expand_ratio=4).eval()  # the gate scales the 64 expanded channels before the projection
    assert gate_work(block, (1, 16, 3, 3)) == [{"activations": 64 * 9, "weights": 24 * 64, "chosen": 64 * 9}]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("act_layer", ["relu", "silu"])
def test_the_lean_excitation_is_the_excitation(bias, act_layer):
    from sebook.excitation import Excitation
    from sebook.folding import LeanExcitation

    torch.manual_seed(0)
    excitation = Excitation(32, 4, act_layer=act_layer, bias=bias)
    z = torch.randn(5, 32)
    with torch.no_grad():
        assert close(LeanExcitation(excitation)(z), excitation(z), 1e-6)
