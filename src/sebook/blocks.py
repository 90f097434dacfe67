"""The blocks SE lives in: residual units with four SE positions, bottleneck and MBConv.

The bottleneck is ResNet's.

A residual unit computes ``act(shortcut(x) + branch(x))``. :class:`ResidualUnit` places
an attention block (:class:`~sebook.se.SEBlock`, or ECA/CBAM from
:mod:`sebook.attention`) in one of four positions, the integration variants of the SENet
paper (Hu et al., TPAMI version, Fig. 5, Table 14):

- ``"standard"``: on the branch output, before the addition (fused with it:
  ``recalibrate_add``);
- ``"pre"``: on the branch input, before the branch;
- ``"post"``: after the addition and the activation;
- ``"identity"``: on the shortcut, in parallel with the branch.

:func:`bottleneck` builds ResNet's 1x1-3x3-1x1 unit (torchvision's layout) as a
:class:`ResidualUnit`; :class:`MBConv` is the mobile inverted bottleneck of
MobileNetV2/EfficientNet with SE where EfficientNet puts it (or after the projection,
where the source notebook put it), and :class:`StochasticDepth` its residual-branch
dropout.

Explained in the chapters "SE-ResNet" (residual units, bottleneck), "MBConv" and "What SE costs"
(the fused addition); the small Fashion-MNIST nets and the ResNets both build on
:class:`ResidualUnit`.
"""

from __future__ import annotations

from collections import OrderedDict
from numbers import Real

import torch
from torch import nn

from . import checks
from .attention import ATTENTION, make_attention
from .excitation import ACTIVATIONS, LayerSpec, create_layer
from .se import SEBlock

INTEGRATIONS = ("standard", "pre", "post", "identity")
"""Names of the SE positions in a residual unit (SENet paper, Fig. 5)."""


class ResidualUnit(nn.Module):
    """``act(shortcut(x) + branch(x))`` with ``attention`` placed by ``integration``.

    Args:
        branch: the residual branch (convolutions).
        shortcut: the identity or projection path (``nn.Identity()`` when shapes match).
        attention: a block with ``forward(x, residual=None)``, built for the channel
            count where it sits: the branch's input channels for ``"pre"``, its output
            channels otherwise.
        integration: one of :data:`INTEGRATIONS`.
        act: the activation after the addition (ReLU in ResNet).
        fused: for ``"standard"``, hand the shortcut to the attention block so that
            recalibration and addition happen in one pass (``torch.addcmul``); ``False``
            computes ``shortcut(x) + attention(branch(x))`` in two passes, the naive
            form measured in "What SE costs". Same parameters, same result up to rounding.
    """

    def __init__(
        self,
        branch: nn.Module,
        shortcut: nn.Module,
        attention: nn.Module,
        integration: str = "standard",
        act: nn.Module | None = None,
        *,
        fused: bool = True,
    ) -> None:
        super().__init__()
        self.integration = checks.one_of("integration", integration, INTEGRATIONS)
        if not isinstance(fused, bool):
            raise TypeError(f"fused must be True or False, got {fused!r}")
        self.fused = fused
        self.branch, self.shortcut, self.attention = branch, shortcut, attention
        self.act = nn.ReLU(inplace=True) if act is None else act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.integration == "standard":
            if not self.fused:
                return self.act(self.shortcut(x) + self.attention(self.branch(x)))
            return self.act(self.attention(self.branch(x), residual=self.shortcut(x)))
        if self.integration == "pre":
            return self.act(self.shortcut(x) + self.branch(self.attention(x)))
        if self.integration == "post":
            return self.attention(self.act(self.shortcut(x) + self.branch(x)))
        return self.act(self.attention(self.shortcut(x)) + self.branch(x))  # "identity"

    def extra_repr(self) -> str:
        return f"integration={self.integration!r}" + (
            "" if self.fused else ", fused=False"
        )


def conv_bn(
    in_channels: int,
    out_channels: int,
    kernel_size: int = 1,
    stride: int = 1,
    groups: int = 1,
    act: nn.Module | None = None,
) -> nn.Sequential:
    """``conv -> BatchNorm (-> act)``: a bias-free convolution with "same" padding.

    The padding is ``kernel_size // 2``.
    """
    layers: OrderedDict[str, nn.Module] = OrderedDict(
        conv=nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            kernel_size // 2,
            groups=groups,
            bias=False,
        ),
        bn=nn.BatchNorm2d(out_channels),
    )
    if act is not None:
        layers["act"] = act
    return nn.Sequential(layers)


def bottleneck(
    in_channels: int,
    width: int,
    stride: int = 1,
    *,
    expansion: int = 4,
    attention: str = "se",
    reduction: float = 16,
    integration: str = "standard",
    fused: bool = True,
    stride_in_1x1: bool = False,
) -> ResidualUnit:
    """ResNet's bottleneck unit, with SE placed by ``integration``.

    The branch is ``1x1 (width) -> 3x3 (width) -> 1x1 (width * expansion)``.

    The layout is torchvision's: BatchNorm after every convolution, ReLU after the first
    two, the stride on the 3x3 convolution ("ResNet v1.5"), and a projection shortcut
    (1x1 convolution + BatchNorm) wherever the shape changes. ``stride_in_1x1=True``
    puts the stride on the first 1x1 convolution instead, as the original Caffe ResNet
    and SENet models do (fewer FLOPs, same parameters). Explained in "SE-ResNet".

    Args:
        in_channels: channels of the unit's input.
        width: channels of the two inner convolutions (64, 128, 256, 512 in ResNet-50's
            four stages).
        stride: 1, or 2 for the first unit of a stage that halves the resolution.
        expansion: output channels = ``width * expansion`` (4 in ResNet-50 and -101).
        attention: ``"se"``, ``"eca"``, ``"cbam"`` or ``"none"`` (a plain ResNet unit).
        reduction: SE's (and CBAM's) reduction ratio r.
        integration: where the attention block sits, one of :data:`INTEGRATIONS`.
        fused: fuse recalibration with the residual addition (see
            :class:`ResidualUnit`).
        stride_in_1x1: put the stride on the first 1x1 convolution (Caffe layout)
            instead of the 3x3.
    """
    in_channels = checks.positive_int("in_channels", in_channels)
    width = checks.positive_int("width", width)
    stride = int(checks.one_of("stride", stride, (1, 2)))  # type: ignore[arg-type]
    expansion = checks.positive_int("expansion", expansion)
    checks.one_of("attention", attention, ATTENTION)
    checks.one_of("integration", integration, INTEGRATIONS)
    out_channels = width * expansion
    relu = nn.ReLU(inplace=True)
    branch = nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(
                in_channels, width, 1, stride if stride_in_1x1 else 1, bias=False
            ),
            bn1=nn.BatchNorm2d(width),
            relu1=relu,
            conv2=nn.Conv2d(
                width, width, 3, 1 if stride_in_1x1 else stride, 1, bias=False
            ),
            bn2=nn.BatchNorm2d(width),
            relu2=relu,
            conv3=nn.Conv2d(width, out_channels, 1, bias=False),
            bn3=nn.BatchNorm2d(out_channels),
        )
    )
    shortcut: nn.Module = nn.Identity()
    if stride != 1 or in_channels != out_channels:
        shortcut = nn.Sequential(
            OrderedDict(
                conv=nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                bn=nn.BatchNorm2d(out_channels),
            )
        )
    channels = in_channels if integration == "pre" else out_channels
    kwargs = {"reduction": reduction} if attention in ("se", "cbam") else {}
    block = make_attention(attention, channels, **kwargs)
    return ResidualUnit(
        branch, shortcut, block, integration, nn.ReLU(inplace=True), fused=fused
    )


def stochastic_depth(
    x: torch.Tensor, p: float, mode: str = "row", training: bool = True
) -> torch.Tensor:
    """Drop the residual branch ``x`` with probability ``p`` during training.

    Survivors are scaled by ``1 / (1 - p)``.

    ``mode="row"`` draws one coin per sample (EfficientNet's use), ``"batch"`` one for
    the whole batch. Identity when ``training`` is False or ``p`` is 0. The same rule as
    torchvision's ``stochastic_depth`` (Huang et al., *Deep Networks with Stochastic
    Depth*, ECCV 2016). Explained in "MBConv".
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(
            "x must be a floating-point torch.Tensor, got "
            f"{getattr(x, 'dtype', type(x).__name__)}"
        )
    return _drop_branch(
        x,
        _probability("p", p),
        checks.one_of("mode", mode, STOCHASTIC_DEPTH_MODES),
        training,
    )


@torch.fx.wrap  # a leaf for torch.fx: the coin flips depend on the batch size
def _drop_branch(x: torch.Tensor, p: float, mode: str, training: bool) -> torch.Tensor:
    if not training or p == 0.0:
        return x
    survival = 1.0 - p
    size = [x.shape[0]] + [1] * (x.dim() - 1) if mode == "row" else [1] * x.dim()
    noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
    if survival > 0.0:
        noise.div_(survival)
    return x * noise


STOCHASTIC_DEPTH_MODES = ("row", "batch")
"""``"row"``: drop the branch per sample; ``"batch"``: for the whole batch at once."""


def _probability(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, Real)
        or not 0.0 <= float(value) <= 1.0
    ):
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return float(value)


class StochasticDepth(nn.Module):
    """:func:`stochastic_depth` as a layer, active in ``train()`` mode only.

    In ``eval()`` mode it is the identity.
    """

    def __init__(self, p: float, mode: str = "row") -> None:
        super().__init__()
        self.p = _probability("p", p)
        self.mode = checks.one_of("mode", mode, STOCHASTIC_DEPTH_MODES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _drop_branch(x, self.p, self.mode, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode!r}"


SE_PLACEMENTS = ("efficientnet", "after_project", "none")
"""Where :class:`MBConv` puts SE, one of three places.

After the depthwise convolution on the expanded width (EfficientNet), after the
projection on the output width (the source notebook), or nowhere (MobileNetV2's block).
"""


class MBConv(nn.Module):
    """Mobile inverted bottleneck, plus the input.

    The layers are ``expand (1x1) -> depthwise (k x k) -> SE -> project (1x1)``.

    With ``se_placement="efficientnet"`` (the default) the block is torchvision's and
    timm's EfficientNet MBConv: SE sits after the depthwise convolution, on the expanded
    width, with a bottleneck width of ``max(1, int(in_channels * rd_ratio))`` (a quarter
    of the block's *input* channels) and SiLU everywhere. ``"after_project"`` rebuilds
    the source notebook's block for comparison: SE after the projection, on the output
    width, bottleneck width ``out_channels // reduction`` (r = 16) but at least 1, ReLU6
    in the convolutions (MobileNetV2's choice) and ReLU inside SE. ``"none"`` omits SE.
    The residual (when ``stride == 1`` and ``in_channels == out_channels``) passes
    through :class:`StochasticDepth` in training. Explained in "MBConv".

    Args:
        in_channels, out_channels: channels in and out.
        expand_ratio: expanded width = ``round(in_channels * expand_ratio)``; 1 skips
            the expansion conv.
        kernel_size: the depthwise kernel, odd (3 or 5 in EfficientNet-B0); padding is
            ``kernel_size // 2``.
        stride: 1 or 2 (on the depthwise convolution).
        se_placement: one of :data:`SE_PLACEMENTS`.
        rd_ratio: EfficientNet's bottleneck width as a fraction of ``in_channels``
            (0.25).
        reduction: the ``"after_project"`` placement's reduction ratio r (16).
        act_layer: activation of the convolutions; default ``"silu"`` (``"relu6"`` for
            ``"after_project"``).
        gate_layer: SE's gate; ``"hard_sigmoid"`` gives MobileNetV3's variant.
        stochastic_depth_prob: probability of dropping the residual branch of a sample
            in training.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        expand_ratio: float = 6,
        kernel_size: int = 3,
        stride: int = 1,
        *,
        se_placement: str = "efficientnet",
        rd_ratio: float = 0.25,
        reduction: float = 16,
        act_layer: LayerSpec | None = None,
        gate_layer: LayerSpec = "sigmoid",
        stochastic_depth_prob: float = 0.0,
    ) -> None:
        super().__init__()
        self.in_channels = checks.positive_int("in_channels", in_channels)
        self.out_channels = checks.positive_int("out_channels", out_channels)
        expand_ratio = checks.positive_number("expand_ratio", expand_ratio)
        kernel_size = checks.positive_int("kernel_size", kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(
                "kernel_size must be odd (3, 5, ...) so that padding kernel_size // 2 "
                f"keeps the size; got {kernel_size}"
            )
        self.stride = int(
            checks.one_of("stride", stride, (1, 2))  # type: ignore[arg-type]
        )
        self.se_placement = checks.one_of("se_placement", se_placement, SE_PLACEMENTS)
        rd_ratio = checks.positive_number("rd_ratio", rd_ratio)
        if rd_ratio > 1:
            raise ValueError(
                "rd_ratio must be in (0, 1] (a fraction of in_channels), got "
                f"{rd_ratio!r}"
            )
        checks.positive_number("reduction", reduction)
        if act_layer is None:
            act_layer = "relu6" if se_placement == "after_project" else "silu"
        create_layer(
            act_layer, ACTIVATIONS, "act_layer"
        )  # validate once, with a clear message
        self.expanded = max(1, round(in_channels * expand_ratio))
        self.kernel_size = kernel_size
        self.use_residual = self.stride == 1 and in_channels == out_channels

        layers: OrderedDict[str, nn.Module] = OrderedDict()
        if self.expanded != in_channels:
            layers["expand"] = conv_bn(
                in_channels,
                self.expanded,
                1,
                act=create_layer(act_layer, ACTIVATIONS, "act_layer"),
            )
        layers["depthwise"] = conv_bn(
            self.expanded,
            self.expanded,
            kernel_size,
            self.stride,
            groups=self.expanded,
            act=create_layer(act_layer, ACTIVATIONS, "act_layer"),
        )
        if se_placement == "efficientnet":
            layers["se"] = SEBlock(
                self.expanded,
                rd_channels=max(1, int(in_channels * rd_ratio)),
                act_layer="silu",
                gate_layer=gate_layer,
            )
        layers["project"] = conv_bn(self.expanded, out_channels, 1)
        if se_placement == "after_project":
            # the source notebook's width, out_channels // r, never 0 (its mistake #1)
            layers["se"] = SEBlock(
                out_channels,
                rd_channels=max(1, int(out_channels / reduction)),
                act_layer="relu",
                gate_layer=gate_layer,
            )
        self.block = nn.Sequential(layers)
        self.stochastic_depth = StochasticDepth(
            _probability("stochastic_depth_prob", stochastic_depth_prob)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + self.stochastic_depth(y) if self.use_residual else y

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels} -> {self.expanded} -> {self.out_channels}, "
            f"kernel_size={self.kernel_size}, stride={self.stride}, "
            f"se_placement={self.se_placement!r}, residual={self.use_residual}"
        )
