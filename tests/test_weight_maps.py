"""Weights from elsewhere (sebook.weight_maps, sebook.models.from_torchvision / from_timm), offline: state dicts in
torchvision's and timm's layouts are built from committed key/shape tables (tests/data) with random tensors.
"""

import json
from pathlib import Path

import pytest
import torch

from sebook import models, weight_maps

DATA = Path(__file__).resolve().parent / "data"
CASES = [  # library, arch, the book's own builder, published parameter count
    ("torchvision", "resnet50", models.resnet50, 25_557_032),
    ("torchvision", "resnet101", models.resnet101, 44_549_160),
    ("torchvision", "efficientnet_b0", models.efficientnet_b0, 5_288_548),
    ("timm", "seresnet50", models.se_resnet50, 28_088_024),
]
KNOWN = {  # a few entries read off the libraries' sources, independent of the tables
    "resnet50": {
        "layer1.0.downsample.0.weight": [256, 64, 1, 1],
        "layer4.2.bn3.running_var": [2048],
    },
    "efficientnet_b0": {
        "features.1.0.block.1.fc1.weight": [8, 32, 1, 1],
        "features.1.0.block.2.0.weight": [16, 32, 1, 1],
        "features.2.0.block.2.fc2.weight": [96, 4, 1, 1],
        "features.8.0.weight": [1280, 320, 1, 1],
    },
    "seresnet50": {
        "layer1.0.se.fc1.weight": [16, 256, 1, 1],
        "layer1.0.se.fc1.bias": [16],
        "layer4.0.se.fc2.weight": [2048, 128, 1, 1],
    },
}


def table(library, arch):
    return json.loads((DATA / f"{library}_{arch}.json").read_text())["keys"]


def foreign_state_dict(library, arch, seed=0):
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for key, shape in table(library, arch).items():
        if key.endswith("num_batches_tracked"):
            sd[key] = torch.tensor(7)
        elif key.endswith("running_var"):
            sd[key] = torch.rand(shape, generator=g) + 0.5
        else:
            sd[key] = torch.randn(shape, generator=g) * 0.05
    return sd


@pytest.mark.parametrize("library, arch, build, count", CASES)
def test_tables_match_the_published_parameter_counts(library, arch, build, count):
    shapes = table(library, arch)
    params = sum(
        torch.Size(s).numel()
        for k, s in shapes.items()
        if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))
    )
    assert params == count
    for key, shape in KNOWN.get(arch, {}).items():
        assert shapes[key] == shape


@pytest.mark.parametrize("library, arch, build, count", CASES)
def test_conversion_loads_every_key_and_computes_the_same(library, arch, build, count):
    sd = foreign_state_dict(library, arch)
    load = models.from_torchvision if library == "torchvision" else models.from_timm
    model = load(arch, sd)
    direct = build().eval()
    keys = weight_maps.foreign_keys(
        direct, "efficientnet" if arch.startswith("efficientnet") else "resnet"
    )
    assert sorted(keys.values()) == sorted(sd)  # no missing, no unexpected keys
    with torch.no_grad():
        for book, foreign in keys.items():
            direct.state_dict()[book].copy_(
                sd[foreign].reshape(direct.state_dict()[book].shape)
            )
        x = torch.randn(1, 3, 64, 64)
        torch.testing.assert_close(model(x), direct(x))


def test_older_checkpoints_without_batch_counters_and_other_heads_load():
    sd = {
        k: v
        for k, v in foreign_state_dict("timm", "seresnet50").items()
        if not k.endswith("num_batches_tracked")
    }
    sd["fc.weight"], sd["fc.bias"] = torch.randn(10, 2048), torch.zeros(10)
    assert models.from_timm("seresnet50", sd).fc.out_features == 10


def test_bad_input_gets_a_clear_error():
    sd = foreign_state_dict("torchvision", "resnet50")
    with pytest.raises(
        ValueError,
        match="arch must be one of 'resnet50', 'resnet101', 'efficientnet_b0'; got 'vgg16'",
    ):
        models.from_torchvision("vgg16", sd)
    with pytest.raises(
        ValueError, match="arch must be one of 'seresnet50'; got 'resnet50'"
    ):
        models.from_timm("resnet50", sd)
    with pytest.raises(
        ValueError, match=r"1 missing keys \['layer1.0.conv1.weight'\], 0 unexpected"
    ):
        models.from_torchvision(
            "resnet50", {k: v for k, v in sd.items() if k != "layer1.0.conv1.weight"}
        )
    with pytest.raises(
        ValueError, match=r"0 missing keys \[\], 1 unexpected keys \['extra'\]"
    ):
        models.from_torchvision("resnet50", {**sd, "extra": torch.zeros(1)})
    with pytest.raises(
        ValueError,
        match=r"state_dict\['layer1.0.conv1.weight'\] has shape \(64, 64\); the book's "
        r"'layer1.0.branch.conv1.weight' needs \(64, 64, 1, 1\)",
    ):
        models.from_torchvision(
            "resnet50", {**sd, "layer1.0.conv1.weight": torch.zeros(64, 64)}
        )
    with pytest.raises(TypeError, match="state_dict must be a mapping"):
        models.from_torchvision("resnet50", [1, 2])
    with pytest.raises(
        ValueError, match="does not have the resnet layout"
    ):  # timm's SE keys are not torchvision's
        models.from_torchvision("resnet50", foreign_state_dict("timm", "seresnet50"))
