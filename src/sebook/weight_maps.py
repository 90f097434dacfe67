"""Weights from elsewhere: torchvision's and timm's state-dict keys for the book's nets.

Key maps from their layouts to the book's networks.

The book's networks have the same layers as torchvision's ``resnet50``, ``resnet101``
and ``efficientnet_b0`` and timm's ``seresnet50``; only the names differ (the book
groups a residual unit into ``branch``, ``shortcut`` and ``attention``, and an MBConv
block into named parts), and the SE layers are ``nn.Linear`` where those libraries use
1x1 convolutions. The maps:

===============================================  =======================================
book                                             torchvision / timm
===============================================  =======================================
``layerN.M.branch.convK`` / ``.bnK``             ``layerN.M.convK`` / ``.bnK``
``layerN.M.shortcut.conv`` / ``.bn``             ``layerN.M.downsample.0`` / ``.1``
``layerN.M.attention.excitation.fcK``            ``layerN.M.se.fcK`` (timm;
                                                 weight ``(out, in, 1, 1)``)
``features.stem.conv`` / ``.bn``                 ``features.0.0`` / ``features.0.1``
``features.stageS.J.block.PART.conv`` / ``.bn``  ``features.S.J.block.I.0`` / ``.1``
                                                 (I: PART's position)
``features.stageS.J.block.se.excitation.fcK``    ``features.S.J.block.I.fcK``
                                                 (weight ``(out, in, 1, 1)``)
``features.head.conv`` / ``.bn``                 ``features.8.0`` / ``features.8.1``
                                                 (after the last stage)
===============================================  =======================================

Every other name (``conv1``, ``bn1``, ``fc``, ``classifier.1``) is the same. Used by
:func:`sebook.models.from_torchvision` and :func:`sebook.models.from_timm`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
from torch import nn

_RESNET_RULES = (
    (r"^(layer\d+\.\d+)\.branch\.", r"\1."),
    (r"^(layer\d+\.\d+)\.shortcut\.conv\.", r"\1.downsample.0."),
    (r"^(layer\d+\.\d+)\.shortcut\.bn\.", r"\1.downsample.1."),
    (r"^(layer\d+\.\d+)\.attention\.excitation\.", r"\1.se."),
)


def resnet_key(key: str) -> str:
    """The torchvision/timm name of the book's ResNet state-dict ``key``."""
    for pattern, replacement in _RESNET_RULES:
        key = re.sub(pattern, replacement, key)
    return key


def efficientnet_keys(model: nn.Module) -> dict[str, str]:
    """``{book key: torchvision key}`` for every entry of an EfficientNet state dict."""
    features = model.features  # type: ignore[union-attr]
    names = list(features._modules)
    stage_index = {
        name: i for i, name in enumerate(names)
    }  # stem 0, stage1..stageN 1..N, head N+1
    keys = {}
    for key in model.state_dict():
        parts = key.split(".")
        if parts[0] != "features":
            keys[key] = key
            continue
        index = stage_index[parts[1]]
        if parts[1] in ("stem", "head"):
            keys[key] = ".".join(
                ["features", str(index), {"conv": "0", "bn": "1"}[parts[2]], *parts[3:]]
            )
            continue
        block, part = features[index][int(parts[2])].block, parts[4]
        position = str(list(block._modules).index(part))
        if (
            part == "se"
        ):  # features.stageS.J.block.se.excitation.fcK.* -> features.S.J.block.I.fcK.*
            rest = parts[6:]
        else:  # features.stageS.J.block.PART.conv|bn.* -> features.S.J.block.I.0|1.*
            rest = [{"conv": "0", "bn": "1"}[parts[5]], *parts[6:]]
        keys[key] = ".".join(
            ["features", str(index), parts[2], "block", position, *rest]
        )
    return keys


def foreign_keys(model: nn.Module, layout: str) -> dict[str, str]:
    """``{book key: foreign key}`` for ``model`` in ``layout``.

    ``layout`` is ``"resnet"`` or ``"efficientnet"``.
    """
    if layout == "efficientnet":
        return efficientnet_keys(model)
    return {key: resnet_key(key) for key in model.state_dict()}


def convert_state_dict(
    model: nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    layout: str,
    name: str = "state_dict",
) -> dict[str, torch.Tensor]:
    """``state_dict`` in a foreign ``layout``, renamed and reshaped for ``model``.

    BN batch counters are optional.

    Raises ``ValueError`` naming the missing keys, the unexpected ones, or the first
    tensor of the wrong shape.
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            f"{name} must be a mapping from names to tensors (a state dict), "
            f"got {type(state_dict).__name__}"
        )
    keys = foreign_keys(model, layout)
    own = model.state_dict()
    missing = [
        f
        for b, f in keys.items()
        if f not in state_dict and not b.endswith("num_batches_tracked")
    ]
    unexpected = sorted(set(state_dict) - set(keys.values()))
    if missing or unexpected:
        raise ValueError(
            f"{name} does not have the {layout} layout: {len(missing)} missing keys "
            f"{missing[:3]}, {len(unexpected)} unexpected keys {unexpected[:3]}"
        )
    converted = {}
    for book, foreign in keys.items():
        if (
            foreign not in state_dict
        ):  # a BN batch counter, absent from older checkpoints
            continue
        tensor = state_dict[foreign]
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(
                f"{name}[{foreign!r}] must be a tensor, got {type(tensor).__name__}"
            )
        if tensor.dim() == 4 and own[book].dim() == 2 and tensor.shape[2:] == (1, 1):
            tensor = tensor.flatten(
                1
            )  # a 1x1 convolution's weight as the linear layer's
        if tensor.shape != own[book].shape:
            raise ValueError(
                f"{name}[{foreign!r}] has shape {tuple(state_dict[foreign].shape)}; "
                f"the book's {book!r} needs {tuple(own[book].shape)}"
            )
        converted[book] = tensor
    return converted
