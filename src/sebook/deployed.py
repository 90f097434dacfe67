"""How a deployed network spends on SE: where its blocks sit, their widths and cost.

The cost is given as a share of the network's.

Used in the chapter "SE's family" for MobileNetV3-Large, RegNetY-400MF and
EfficientNetV2-S (:mod:`sebook.mobilenet_v3`, :mod:`sebook.regnet`,
:mod:`sebook.efficientnet_v2`). FLOPs are counted by ``torch.utils.flop_counter``
(matrix products and convolutions, 1 MAC = 2 FLOPs) on the ``meta`` device, so no memory
is allocated and nothing is computed; SE's pooling and scaling, elementwise work, count
0 there.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from . import checks
from .se import SEBlock


class SEPlacement(NamedTuple):
    """One SE block of a network: its name, channels C, bottleneck width d, input side.

    The name is the qualified name.
    """

    name: str
    channels: int
    rd_channels: int
    side: int


def se_blocks(model: nn.Module) -> dict[str, SEBlock]:
    """The :class:`~sebook.se.SEBlock` modules of ``model`` by qualified name.

    They come in order.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    return {name: m for name, m in model.named_modules() if isinstance(m, SEBlock)}


def se_census(model: nn.Module, image_size: int = 224) -> dict[str, object]:
    """SE's placements and costs in ``model`` for one image.

    The image is ``3 x image_size x image_size``.

    Returns ``placements`` (a list of :class:`SEPlacement`), ``parameters`` and
    ``se_parameters``, ``flops`` and ``se_flops``, and the two shares. The model is
    rebuilt on nothing: pass a model built under ``torch.device("meta")`` to count
    without memory (a model on the CPU works too, more slowly).
    """
    blocks = se_blocks(model)
    image_size = checks.positive_int("image_size", image_size)
    param = next(model.parameters())
    x = torch.zeros(
        1, 3, image_size, image_size, device=param.device, dtype=param.dtype
    )
    sides: dict[str, int] = {}
    hooks = [
        m.register_forward_pre_hook(
            lambda _m, args, key=n: sides.__setitem__(key, args[0].shape[-1])
        )
        for n, m in blocks.items()
    ]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    counts = counter.get_flop_counts()
    prefix = type(model).__name__
    se_flops = sum(sum(counts.get(f"{prefix}.{n}", {}).values()) for n in blocks)
    parameters = sum(p.numel() for p in model.parameters())
    se_parameters = sum(p.numel() for m in blocks.values() for p in m.parameters())
    flops = int(counter.get_total_flops())
    return {
        "placements": [
            SEPlacement(n, m.channels, m.excitation.rd_channels, sides[n])
            for n, m in blocks.items()
        ],
        "parameters": parameters,
        "se_parameters": se_parameters,
        "parameter_share": se_parameters / parameters,
        "flops": flops,
        "se_flops": int(se_flops),
        "flop_share": se_flops / flops,
    }
