"""ImageNet-scale networks with SE: ResNet-50/101, SE versions, EfficientNet-B0.

Layouts follow torchvision's, so that parameter counts can be compared with published
ones (torchvision's ``resnet50``: 25,557,032 parameters; ``resnet101``: 44,549,160;
``efficientnet_b0``: 5,288,548; timm's ``seresnet50``: 28,088,024). Every bottleneck is
a :class:`sebook.blocks.ResidualUnit`, every EfficientNet block a
:class:`sebook.blocks.MBConv`. Explained in the chapters "SE-ResNet", "MBConv" and
"What SE costs"; the small Fashion-MNIST nets are in :mod:`sebook.fashion_models`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from . import checks
from .attention import ATTENTION
from .blocks import INTEGRATIONS, SE_PLACEMENTS, MBConv, bottleneck, conv_bn
from .efficientnet_v2 import init_efficientnet
from .excitation import LayerSpec
from .weight_maps import convert_state_dict

RESNET_LAYERS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}
"""Bottleneck units per stage (conv2_x to conv5_x) of ResNet-50 and ResNet-101.

From He et al. 2016, Table 1.
"""

RESNET_WIDTHS = (64, 128, 256, 512)
"""Inner width of the bottlenecks in each stage; the output is four times as wide."""


class ResNet(nn.Module):
    """ResNet with bottleneck units in torchvision's layout, attention in every unit.

    ``conv1 (7x7, stride 2) -> bn1 -> relu -> maxpool -> layer1..layer4 -> avgpool``
    ``-> fc``; module names match torchvision's at the top level. Explained in
    "SE-ResNet".

    Args:
        layers: units per stage, e.g. :data:`RESNET_LAYERS` ``[50]``.
        num_classes: outputs of the classifier.
        attention: ``"none"`` (plain ResNet), ``"se"``, ``"eca"`` or ``"cbam"``.
        reduction: SE's reduction ratio r.
        integration: where SE sits in each unit, one of
            :data:`sebook.blocks.INTEGRATIONS`.
        fused: fuse SE's recalibration with the residual addition (``torch.addcmul``);
            ``False`` gives the naive two-pass form measured in "What SE costs".
        stride_in_1x1: put each stage's stride on the first 1x1 convolution (the
            original Caffe layout).
    """

    def __init__(
        self,
        layers: Sequence[int],
        *,
        num_classes: int = 1000,
        attention: str = "none",
        reduction: float = 16,
        integration: str = "standard",
        fused: bool = True,
        stride_in_1x1: bool = False,
    ) -> None:
        super().__init__()
        if (
            isinstance(layers, (str, bytes))
            or not isinstance(layers, Sequence)
            or len(layers) != 4
        ):
            raise ValueError(
                "layers must be a sequence of 4 unit counts (one per stage), got "
                f"{layers!r}"
            )
        layers = [checks.positive_int(f"layers[{i}]", n) for i, n in enumerate(layers)]
        num_classes = checks.positive_int("num_classes", num_classes)
        checks.one_of("attention", attention, ATTENTION)
        checks.one_of("integration", integration, INTEGRATIONS)
        checks.positive_number("reduction", reduction)
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        in_channels = 64
        for i, (count, width) in enumerate(zip(layers, RESNET_WIDTHS)):
            units = []
            for j in range(count):
                units.append(
                    bottleneck(
                        in_channels,
                        width,
                        2 if (i > 0 and j == 0) else 1,
                        attention=attention,
                        reduction=reduction,
                        integration=integration,
                        fused=fused,
                        stride_in_1x1=stride_in_1x1,
                    )
                )
                in_channels = width * 4
            self.add_module(f"layer{i + 1}", nn.Sequential(*units))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_channels, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet50(*, num_classes: int = 1000, stride_in_1x1: bool = False) -> ResNet:
    """ResNet-50 without attention: 25,557,032 parameters.

    As torchvision's ``resnet50``.
    """
    return ResNet(
        RESNET_LAYERS[50], num_classes=num_classes, stride_in_1x1=stride_in_1x1
    )


def resnet101(*, num_classes: int = 1000, stride_in_1x1: bool = False) -> ResNet:
    """ResNet-101 without attention: 44,549,160 parameters.

    As torchvision's ``resnet101``.
    """
    return ResNet(
        RESNET_LAYERS[101], num_classes=num_classes, stride_in_1x1=stride_in_1x1
    )


def se_resnet50(
    reduction: float = 16,
    integration: str = "standard",
    *,
    fused: bool = True,
    num_classes: int = 1000,
    stride_in_1x1: bool = False,
) -> ResNet:
    """SE-ResNet-50 (Hu et al., Table 1): SE with FC biases in every bottleneck.

    With ``reduction=16``: 28,088,024 parameters, as timm's ``seresnet50``.
    ``integration`` picks one of the paper's four positions; ``fused=False`` builds the
    naive recalibrate-then-add form (see "What SE costs").
    """
    return ResNet(
        RESNET_LAYERS[50],
        num_classes=num_classes,
        attention="se",
        reduction=reduction,
        integration=integration,
        fused=fused,
        stride_in_1x1=stride_in_1x1,
    )


def se_resnet101(
    reduction: float = 16,
    integration: str = "standard",
    *,
    fused: bool = True,
    num_classes: int = 1000,
    stride_in_1x1: bool = False,
) -> ResNet:
    """SE-ResNet-101: ResNet-101 with an SE block in every bottleneck.

    Arguments as :func:`se_resnet50`.
    """
    return ResNet(
        RESNET_LAYERS[101],
        num_classes=num_classes,
        attention="se",
        reduction=reduction,
        integration=integration,
        fused=fused,
        stride_in_1x1=stride_in_1x1,
    )


EFFICIENTNET_B0_STAGES = (
    # expand_ratio, kernel_size, stride, in_channels, out_channels, repeats
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
)
"""EfficientNet-B0's seven MBConv stages (Tan & Le 2019, Table 1).

As in torchvision's ``efficientnet_b0``.
"""


class EfficientNet(nn.Module):
    """EfficientNet in torchvision's layout, stem, MBConv stages and head.

    ``features`` (stem, MBConv stages, head) -> ``avgpool`` -> ``classifier``.

    ``features[0]`` is the 3x3 stride-2 stem (``stem_channels``, BN, SiLU),
    ``features[1..n]`` the stages of ``stages`` (rows as in
    :data:`EFFICIENTNET_B0_STAGES`), the last the 1x1 head convolution to
    ``head_channels``. The stochastic-depth probability grows linearly from 0 to
    ``stochastic_depth_prob`` over the blocks, as in torchvision. Explained in "MBConv".

    Args:
        stages: the stage table.
        num_classes: outputs of the classifier.
        stem_channels, head_channels: widths of the stem and of the head convolution.
        dropout: dropout before the classifier.
        stochastic_depth_prob: drop probability of the last block's residual branch.
        se_placement, gate_layer: passed to every :class:`sebook.blocks.MBConv`.
    """

    def __init__(
        self,
        stages: Sequence[Sequence[int]] = EFFICIENTNET_B0_STAGES,
        *,
        num_classes: int = 1000,
        stem_channels: int = 32,
        head_channels: int = 1280,
        dropout: float = 0.2,
        stochastic_depth_prob: float = 0.2,
        se_placement: str = "efficientnet",
        gate_layer: LayerSpec = "sigmoid",
    ) -> None:
        super().__init__()
        num_classes = checks.positive_int("num_classes", num_classes)
        stem_channels = checks.positive_int("stem_channels", stem_channels)
        head_channels = checks.positive_int("head_channels", head_channels)
        checks.one_of("se_placement", se_placement, SE_PLACEMENTS)
        for name, p in (
            ("dropout", dropout),
            ("stochastic_depth_prob", stochastic_depth_prob),
        ):
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
                raise ValueError(f"{name} must be a probability in [0, 1), got {p!r}")
        stages = [tuple(row) for row in stages]
        if not stages or any(len(row) != 6 for row in stages):
            raise ValueError(
                "stages must be a non-empty sequence of rows "
                "(expand_ratio, kernel_size, stride, in_channels, out_channels, "
                "repeats)"
            )
        total = sum(checks.positive_int("repeats", row[5]) for row in stages)
        features: OrderedDict[str, nn.Module] = OrderedDict(
            stem=conv_bn(3, stem_channels, 3, 2, act=nn.SiLU(inplace=True))
        )
        in_channels, index = stem_channels, 0
        for s, (expand, kernel, stride, stage_in, out_channels, repeats) in enumerate(
            stages
        ):
            if stage_in != in_channels:
                raise ValueError(
                    f"stages[{s}] starts with in_channels={stage_in!r}, but the "
                    f"previous layer gives {in_channels} channels"
                )
            blocks = []
            for j in range(repeats):
                blocks.append(
                    MBConv(
                        in_channels,
                        out_channels,
                        expand,
                        kernel,
                        stride if j == 0 else 1,
                        se_placement=se_placement,
                        gate_layer=gate_layer,
                        stochastic_depth_prob=stochastic_depth_prob * index / total,
                    )
                )
                in_channels, index = out_channels, index + 1
            features[f"stage{s + 1}"] = nn.Sequential(*blocks)
        features["head"] = conv_bn(
            in_channels, head_channels, 1, act=nn.SiLU(inplace=True)
        )
        self.features = nn.Sequential(features)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout, inplace=True), nn.Linear(head_channels, num_classes)
        )
        init_efficientnet(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def efficientnet_b0(
    *,
    num_classes: int = 1000,
    dropout: float = 0.2,
    stochastic_depth_prob: float = 0.2,
    se_placement: str = "efficientnet",
    gate_layer: LayerSpec = "sigmoid",
) -> EfficientNet:
    """EfficientNet-B0 (Tan & Le 2019): 5,288,548 parameters.

    As torchvision's ``efficientnet_b0``.

    ``se_placement="after_project"`` moves SE after the projection, where the source
    notebook put it; ``gate_layer="hard_sigmoid"`` gives the MobileNetV3-style gate
    (Howard et al. 2019).
    """
    return EfficientNet(
        EFFICIENTNET_B0_STAGES,
        num_classes=num_classes,
        dropout=dropout,
        stochastic_depth_prob=stochastic_depth_prob,
        se_placement=se_placement,
        gate_layer=gate_layer,
    )


TORCHVISION_ARCHS = {
    "resnet50": (resnet50, "resnet"),
    "resnet101": (resnet101, "resnet"),
    "efficientnet_b0": (efficientnet_b0, "efficientnet"),
}
"""Architectures that :func:`from_torchvision` accepts.

Each with the book's builder and its key layout.
"""

TIMM_ARCHS = {"seresnet50": (se_resnet50, "resnet")}
"""Architectures :func:`from_timm` accepts."""


def _from_layout(
    archs: dict,
    arch: str,
    state_dict: Mapping[str, torch.Tensor],
    num_classes: int | None,
) -> nn.Module:
    build, layout = archs[checks.one_of("arch", arch, archs)]
    if num_classes is None:  # read it from the classifier, so fine-tuned heads load too
        head = None
        if isinstance(state_dict, Mapping):
            head = state_dict.get("fc.weight", state_dict.get("classifier.1.weight"))
        num_classes = head.shape[0] if isinstance(head, torch.Tensor) else 1000
    model = build(num_classes=num_classes)
    model.load_state_dict(convert_state_dict(model, state_dict, layout), strict=False)
    return model.eval()


def from_torchvision(
    arch: str, state_dict: Mapping[str, torch.Tensor], *, num_classes: int | None = None
) -> nn.Module:
    """The book's ``arch`` with torchvision's weights.

    ``arch`` is ``"resnet50"``, ``"resnet101"`` or ``"efficientnet_b0"``.

    ``state_dict`` is a torchvision model's (e.g.
    ``torchvision.models.resnet50(weights="DEFAULT").state_dict()``); names are mapped
    by :mod:`sebook.weight_maps`. Returns the model in eval mode, computing what
    torchvision's does.
    """
    return _from_layout(TORCHVISION_ARCHS, arch, state_dict, num_classes)


def from_timm(
    arch: str, state_dict: Mapping[str, torch.Tensor], *, num_classes: int | None = None
) -> nn.Module:
    """The book's SE-ResNet-50 with the weights of timm's ``seresnet50``.

    ``arch="seresnet50"``.

    timm's SE layers ``se.fc1``/``se.fc2`` are 1x1 convolutions with biases; they become
    the book's linear layers (:mod:`sebook.weight_maps`). Returns the model in eval
    mode.
    """
    return _from_layout(TIMM_ARCHS, arch, state_dict, num_classes)


# SE in today's networks (chapter "SE's family"), each in its own module, re-exported
# here
from .efficientnet_v2 import EfficientNetV2, efficientnet_v2_s  # noqa: E402
from .mobilenet_v3 import MobileNetV3, mobilenet_v3_large  # noqa: E402
from .regnet import RegNet, regnet_y_400mf  # noqa: E402
