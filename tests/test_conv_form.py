"""SE in torchvision's and timm's form: 1 x 1 convolutions, (B, C, 1, 1) gates, the same numbers."""

import pytest
import torch

import sebook
from sebook.conv_form import ConvSqueezeExcitation, conv_state_dict, linear_state_dict


def test_weights_copied_across_give_the_same_outputs_both_ways():
    torch.manual_seed(0)
    block = sebook.SEBlock(64, 16)
    conv = ConvSqueezeExcitation(64, block.excitation.rd_channels)
    conv.load_state_dict(conv_state_dict(block))
    x = torch.randn(2, 64, 7, 7)
    assert conv.scale(x).shape == (2, 64, 1, 1)
    torch.testing.assert_close(conv(x), block(x), rtol=0, atol=1e-6)
    torch.testing.assert_close(
        conv.scale(x)[:, :, 0, 0], block.gates(x), rtol=0, atol=1e-6
    )
    back = sebook.SEBlock(64, 16)
    back.load_state_dict(linear_state_dict(conv.state_dict()))
    assert all(
        torch.equal(a, b)
        for a, b in zip(back.state_dict().values(), block.state_dict().values())
    )


def test_state_dict_keys_are_torchvisions():
    conv = ConvSqueezeExcitation(32, 8)
    assert list(conv.state_dict()) == [
        "fc1.weight",
        "fc1.bias",
        "fc2.weight",
        "fc2.bias",
    ]
    assert conv.fc1.weight.shape == (8, 32, 1, 1)


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="squeeze_channels"):
        ConvSqueezeExcitation(32, 0)
    with pytest.raises(TypeError, match="SEBlock"):
        conv_state_dict(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="fc2.bias"):
        linear_state_dict(
            {
                "fc1.weight": torch.zeros(2, 4, 1, 1),
                "fc1.bias": torch.zeros(2),
                "fc2.weight": torch.zeros(4, 2, 1, 1),
            }
        )
    with pytest.raises(ValueError, match="1 x 1 kernel"):
        linear_state_dict(
            {
                k: torch.zeros(2, 4, 3, 3) if k.endswith("weight") else torch.zeros(2)
                for k in ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")
            }
        )
