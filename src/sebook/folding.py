"""SE at inference speed: BatchNorm folded, and SE's gate moved into a neighbouring 1x1 convolution.

In eval mode SE's gate is a per-sample, per-channel scale next to a linear layer, so it can
move into that layer's weights. :func:`fold_for_inference` returns an eval-only copy of a
model with every ``conv -> BatchNorm`` pair folded into one convolution and two rewrites:

- SE before a 1x1 convolution (EfficientNet's and MobileNetV3's MBConv, RegNetY's unit):
  ``conv(h * s) = conv with weights W * s``, per sample (:class:`GatedConv1x1`).
- SE after a bottleneck's last 1x1 convolution (SE-ResNet): where the map is larger than
  the convolution's input width, the squeeze moves before that convolution,
  ``mean(conv3 h) = conv3 mean(h)``, and the gate scales conv3's output weights
  (:class:`SqueezeFirstUnit`).

Each rewrite scales whichever is smaller per sample, the weights or the activations, so
a rewritten block never does more work than the original. The same function applied to
a plain twin folds its BatchNorm, so comparisons stay like for like. Explained in
"What SE costs".
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn import functional as F

from .blocks import ResidualUnit
from .models import ResNet
from .excitation import Excitation
from .se import SEBlock


def conv_like(conv: nn.Conv2d, bias: bool) -> nn.Conv2d:
    """A new convolution of ``conv``'s shape, device and dtype (weights uninitialised)."""
    return nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        conv.dilation,
        conv.groups,
        bias=bias,
        padding_mode=conv.padding_mode,
    ).to(conv.weight.device, conv.weight.dtype)


def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """One convolution computing ``bn(conv(x))`` with ``bn``'s running statistics."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    folded = conv_like(conv, bias=True)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        folded.weight.copy_(conv.weight * scale[:, None, None, None])
        folded.bias.copy_((bias - bn.running_mean) * scale + bn.bias)
    return folded


def _is_pointwise(conv: nn.Module) -> bool:
    return (
        isinstance(conv, nn.Conv2d)
        and conv.kernel_size == (1, 1)
        and conv.stride == (1, 1)
        and conv.groups == 1
        and conv.padding in ((0, 0), "valid")
    )


def _avg_se(block: nn.Module) -> bool:
    return (
        isinstance(block, SEBlock)
        and block.squeeze.mode == "avg"
        and isinstance(block.excitation, Excitation)
    )


class LeanExcitation(nn.Module):
    """SE's excitation with its weights stored transposed: the same arithmetic, fewer calls.

    ``gate(fc2(act(fc1(z))))`` as two ``addmm`` calls; at batch 1 the per-call overhead
    of ``nn.Linear`` is a visible part of a small network's time.
    """

    def __init__(self, excitation: Excitation) -> None:
        super().__init__()
        fc1, fc2 = excitation.fc1, excitation.fc2
        self.register_buffer("w1", fc1.weight.detach().t().contiguous())
        self.register_buffer("w2", fc2.weight.detach().t().contiguous())
        self.register_buffer("b1", _bias(fc1))
        self.register_buffer("b2", _bias(fc2))
        self.act, self.gate = excitation.act, excitation.gate

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.gate(
            torch.addmm(self.b2, self.act(torch.addmm(self.b1, z, self.w1)), self.w2)
        )


def _bias(linear: nn.Linear) -> torch.Tensor:
    if linear.bias is None:
        w = linear.weight
        return torch.zeros(linear.out_features, dtype=w.dtype, device=w.device)
    return linear.bias.detach().clone()


class GatedConv1x1(nn.Module):
    """``conv(h * se.gates(h))`` with the gates moved into the convolution's weights.

    ``conv`` is a 1x1 convolution with a bias (BatchNorm folded). Per sample, scaling the
    ``O x C`` weights costs less than scaling the ``C x H x W`` activations when
    ``O < H * W``; otherwise the activations are scaled, as SE does.
    """

    def __init__(self, se: SEBlock, conv: nn.Conv2d) -> None:
        super().__init__()
        self.excitation, self.conv = LeanExcitation(se.excitation), conv

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        s = self.excitation(h.mean((2, 3)))  # the gates, (B, C): SE's average squeeze
        b, c, height, width = h.shape
        w, bias = self.conv.weight, self.conv.bias
        if w.shape[0] >= height * width:
            return self.conv(h * s[:, :, None, None])
        if b == 1:
            return F.conv2d(h, w * s.view(1, c, 1, 1), bias)
        scaled = w.view(1, w.shape[0], c) * s[:, None, :]  # (B, O, C)
        out = torch.baddbmm(bias[None, :, None], scaled, h.reshape(b, c, -1))
        return out.view(b, -1, height, width)


class SqueezeFirstUnit(nn.Module):
    """An SE-ResNet bottleneck (standard position) with the squeeze before conv3 where that is cheaper.

    ``mean_hw(conv3 h) = conv3(mean_hw h)`` for a 1x1 convolution with a bias, so the
    gate can come from ``h``, a quarter of the output's width, and then scale conv3's
    ``O x C`` weights instead of its ``O x H x W`` output. Both pay when ``C < H * W``
    (the early stages at 224 x 224); otherwise the block keeps SE's order, with the scale
    and the addition in one op. The addition and ReLU follow as in the original.
    """

    def __init__(self, unit: ResidualUnit) -> None:
        super().__init__()
        layers = list(
            unit.branch._modules.values()
        )  # children() would drop a reused ReLU
        self.head = nn.Sequential(*layers[:-1])  # conv1, relu1, conv2, relu2 (folded)
        self.conv3 = layers[-1]
        self.excitation = LeanExcitation(unit.attention.excitation)
        self.shortcut, self.act = unit.shortcut, unit.act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x)
        residual = self.shortcut(x)
        b, c, height, width = h.shape
        if c >= height * width:  # SE's order: squeeze conv3's output, scale it
            y = self.conv3(h)
            s = self.excitation(y.mean((2, 3)))
            return self.act(torch.addcmul(residual, y, s[:, :, None, None]))
        w, bias = self.conv3.weight, self.conv3.bias  # (O, C, 1, 1), (O,)
        z = torch.addmm(bias, h.mean((2, 3)), w.flatten(1).t())  # conv3(mean h): (B, O)
        s = self.excitation(z)
        if b == 1:
            y = F.conv2d(h, w * s.view(-1, 1, 1, 1), bias * s.view(-1))
            return self.act(y.add_(residual))
        scaled = w.view(1, -1, c) * s[:, :, None]  # (B, O, C)
        y = torch.baddbmm((bias * s)[:, :, None], scaled, h.reshape(b, c, -1))
        return self.act(y.view_as(residual).add_(residual))


class EvalOnly(nn.Module):
    """A folded model: inference only (its BatchNorm statistics are in the weights)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        super().train(False)

    def train(self, mode: bool = True) -> EvalOnly:
        if mode:
            raise RuntimeError(
                "a model from fold_for_inference is for inference only: its BatchNorm "
                "layers are folded into the convolutions; train the original model and "
                "fold it again"
            )
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _fold_batchnorm(module: nn.Module) -> None:
    for child in module.children():
        _fold_batchnorm(child)
    if isinstance(module, ResNet):  # the stem: torchvision's layout, bn1(conv1(x))
        module.conv1, module.bn1 = fold_conv_bn(module.conv1, module.bn1), nn.Identity()
    if isinstance(module, nn.Sequential):
        names = list(module._modules)
        for first, second in zip(names, names[1:]):
            conv, bn = module._modules[first], module._modules[second]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                module._modules[first] = fold_conv_bn(conv, bn)
                module._modules[second] = nn.Identity()


def _unwrap(layer: nn.Module) -> nn.Module:
    """A folded ``conv_bn`` (conv, Identity) as its convolution; anything else as it is."""
    if isinstance(layer, nn.Sequential):
        kept = [m for m in layer._modules.values() if not isinstance(m, nn.Identity)]
        if len(kept) == 1:
            return kept[0]
    return layer


def _rewrite_se(module: nn.Module) -> None:
    for name, child in list(module.named_children()):
        if (
            isinstance(child, ResidualUnit)
            and child.integration == "standard"
            and _avg_se(child.attention)
            and isinstance(child.branch, nn.Sequential)
        ):
            layers = [
                m
                for m in child.branch._modules.values()  # a ReLU may appear twice
                if not isinstance(m, nn.Identity)
            ]
            if layers and _is_pointwise(layers[-1]):
                child.branch = nn.Sequential(*layers)
                setattr(module, name, SqueezeFirstUnit(child))
                _rewrite_se(getattr(module, name).head)
                continue
        _rewrite_se(child)
    if isinstance(module, nn.Sequential):
        names = list(module._modules)
        for first, second in zip(names, names[1:]):
            se, conv = module._modules[first], _unwrap(module._modules[second])
            if _avg_se(se) and _is_pointwise(conv):
                module._modules[first] = nn.Identity()
                module._modules[second] = GatedConv1x1(se, conv)


def fold_for_inference(model: nn.Module) -> EvalOnly:
    """An eval-only copy of ``model``: BatchNorm folded, SE gates moved into 1x1 convolutions.

    ``model`` must be in eval mode (folding uses BatchNorm's running statistics). The
    result computes the same outputs up to float rounding, works with torch.compile,
    channels_last and torch.export, and refuses ``train()``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if model.training:
        raise ValueError(
            "model must be in eval mode (call model.eval() first): folding uses "
            "BatchNorm's running statistics, which training mode does not"
        )
    folded = EvalOnly(copy.deepcopy(model))
    with torch.no_grad():
        _fold_batchnorm(folded)
        _rewrite_se(
            folded
        )  # from the wrapper, so that the model itself can be rewritten
    return folded


def gate_work(model: nn.Module, input_shape: tuple[int, ...]) -> list[dict[str, int]]:
    """For each block :func:`fold_for_inference` rewrites: the multiplies that apply its gate to one sample.

    ``activations`` scales the map the gate multiplies (as SE does), ``weights`` the 1x1
    convolution's ``O x C`` weights instead; the rewrite does the smaller (``chosen``).
    Counted on zeros of ``input_shape`` (batch 1), in eval mode.
    """
    folded = fold_for_inference(model)
    rows: list[dict[str, int]] = []

    def count(module: nn.Module, args: tuple, out: torch.Tensor) -> None:
        height, width = out.shape[-2:]
        if isinstance(module, GatedConv1x1):
            o, c = module.conv.weight.shape[:2]
            activations = c * height * width  # the gate scales the conv's input
        else:
            o, c = module.conv3.weight.shape[:2]
            activations = o * height * width  # the gate scales conv3's output
        rows.append(
            {
                "activations": activations,
                "weights": o * c,
                "chosen": min(activations, o * c),
            }
        )

    handles = [
        m.register_forward_hook(count)
        for m in folded.modules()
        if isinstance(m, (GatedConv1x1, SqueezeFirstUnit))
    ]
    try:
        with torch.no_grad():
            folded(torch.zeros(input_shape))
    finally:
        for h in handles:
            h.remove()
    return rows
