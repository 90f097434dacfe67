"""The small Fashion-MNIST networks (sebook.fashion_models)."""

import dataclasses

import pytest
import torch

from sebook.costs import attention_parameters, count_parameters
from sebook.gate_stats import capture_gates
from sebook.attention import ATTENTION, NoAttention
from sebook.blocks import INTEGRATIONS
from sebook.excitation import make_rd_channels
from sebook.fashion_models import (
    DEFAULT_WIDTHS,
    FashionNet,
    FashionNetConfig,
    residual_stage,
)
from sebook.se import ChannelAttention, SEBlock


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_config_defaults_and_round_trip():
    config = FashionNetConfig()
    assert (
        config.attention,
        config.reduction,
        config.squeeze,
        config.gate,
        config.integration,
        config.widths,
    ) == ("se", 16.0, "avg", "sigmoid", "standard", (16, 32, 64))
    custom = FashionNetConfig(
        attention="se",
        reduction=4,
        squeeze="max",
        gate="hard_sigmoid",
        integration="pre",
        widths=[8, 16],
    )
    assert custom.widths == (8, 16) and isinstance(custom.reduction, float)
    d = custom.to_dict()
    assert d == {
        "attention": "se",
        "reduction": 4.0,
        "squeeze": "max",
        "gate": "hard_sigmoid",
        "integration": "pre",
        "widths": [8, 16],
        "rd_divisor": 1,
        "in_channels": 1,
    }
    assert FashionNetConfig.from_dict(d) == custom
    assert FashionNetConfig.from_dict({}) == config  # missing keys take defaults
    assert hash(FashionNetConfig(reduction=4)) == hash(FashionNetConfig(reduction=4.0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.reduction = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            {"attention": "sk"},
            ValueError,
            "attention must be one of 'none', 'se', 'eca', 'cbam'",
        ),
        ({"reduction": 0}, ValueError, "reduction must be a number > 0, got 0"),
        ({"reduction": "4"}, TypeError, "reduction must be a number > 0"),
        (
            {"squeeze": "median"},
            ValueError,
            "squeeze must be one of 'avg', 'max', 'avgmax'",
        ),
        ({"gate": "step"}, ValueError, "gate must be one of 'sigmoid'"),
        (
            {"integration": "after"},
            ValueError,
            "integration must be one of 'standard', 'pre', 'post', 'identity'",
        ),
        ({"widths": ()}, ValueError, "widths must be a non-empty tuple"),
        ({"widths": "16"}, ValueError, "widths must be a non-empty tuple"),
        (
            {"widths": (16, 0)},
            ValueError,
            r"widths\[1\] must be an integer >= 1, got 0",
        ),
        ({"widths": (16.0,)}, TypeError, r"widths\[0\] must be an integer >= 1"),
        ({"rd_divisor": 0}, ValueError, "rd_divisor must be an integer >= 1, got 0"),
        ({"in_channels": 2.0}, TypeError, "in_channels must be an integer >= 1"),
    ],
)
def test_config_rejects_bad_values(kwargs, error, message):
    with pytest.raises(error, match=message):
        FashionNetConfig(**kwargs)


def test_from_dict_rejects_unknown_keys_and_non_mappings():
    with pytest.raises(
        ValueError,
        match="unknown FashionNetConfig key.*'ratio'.*known keys are 'attention'",
    ):
        FashionNetConfig.from_dict({"attention": "se", "ratio": 4})
    with pytest.raises(TypeError, match="config must be a mapping"):
        FashionNetConfig.from_dict([("attention", "se")])  # type: ignore[arg-type]


def test_every_attention_name_is_accepted():
    assert set(ATTENTION) >= {"none", "se", "eca", "cbam"}
    for name in ATTENTION:
        FashionNetConfig(attention=name)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"attention": "se", "reduction": 4}, "se_r4_avg_sigmoid_standard"),
        (
            {
                "attention": "se",
                "reduction": 2.5,
                "squeeze": "max",
                "integration": "post",
            },
            "se_r2.5_max_sigmoid_post",
        ),
        ({"attention": "none"}, "none"),
        ({"attention": "none", "widths": (8, 16, 32)}, "none_w8-16-32"),
        ({"attention": "eca", "integration": "pre"}, "eca_pre"),
        ({"attention": "cbam", "reduction": 8}, "cbam_r8_standard"),
        ({"attention": "nosqueeze", "gate": "tanh"}, "nosqueeze_r16_tanh_standard"),
        (
            {"attention": "se", "rd_divisor": 4, "in_channels": 3},
            "se_r16_avg_sigmoid_standard_d4_c3",
        ),
        ({"attention": "none", "rd_divisor": 4}, "none"),
        ({"attention": "gc", "rd_divisor": 4}, "gc_r16_standard_d4"),
        ({"attention": "grn"}, "grn_standard"),
    ],
)
def test_names(kwargs, name):
    assert FashionNetConfig(**kwargs).name == name


def test_attention_kwargs():
    assert FashionNetConfig(
        reduction=4, squeeze="max", gate="tanh"
    ).attention_kwargs() == {
        "reduction": 4.0,
        "rd_divisor": 1,
        "squeeze": "max",
        "gate_layer": "tanh",
    }
    assert FashionNetConfig(
        attention="cbam", reduction=8, rd_divisor=4
    ).attention_kwargs() == {"reduction": 8.0, "rd_divisor": 4}
    assert FashionNetConfig(attention="nosqueeze", gate="tanh").attention_kwargs() == {
        "reduction": 16.0,
        "rd_divisor": 1,
        "gate_layer": "tanh",
    }
    assert FashionNetConfig(attention="eca").attention_kwargs() == {}
    assert FashionNetConfig(attention="none").attention_kwargs() == {}


@pytest.mark.parametrize("attention", ["none", "se", "eca", "cbam", "nosqueeze"])
@pytest.mark.parametrize("integration", INTEGRATIONS)
def test_forward_shapes(attention, integration):
    model = FashionNet(
        FashionNetConfig(attention=attention, integration=integration, reduction=4)
    )
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 10)
    assert model.config.integration == integration


def test_plain_twin_and_se_net_share_every_other_layer():
    plain = FashionNet(FashionNetConfig(attention="none"))
    se = FashionNet(FashionNetConfig(attention="se", reduction=4))
    assert not any(isinstance(m, ChannelAttention) for m in plain.modules())
    assert sum(isinstance(m, NoAttention) for m in plain.modules()) == 3
    blocks = [m for m in se.modules() if isinstance(m, SEBlock)]
    assert [b.channels for b in blocks] == list(DEFAULT_WIDTHS)
    assert count_parameters(plain) == 77_754
    # SE adds 2 C s + s + C parameters per stage (two linear layers with biases), s = squeeze width
    extra = sum(
        2 * c * make_rd_channels(c, 4) + make_rd_channels(c, 4) + c
        for c in DEFAULT_WIDTHS
    )
    assert (
        count_parameters(se) - count_parameters(plain)
        == attention_parameters(se)
        == extra
        == 2_828
    )
    plain_names = {k for k in plain.state_dict()}
    assert plain_names <= set(se.state_dict())


def test_pre_integration_builds_attention_for_the_branch_input():
    model = FashionNet(FashionNetConfig(integration="pre"))
    assert [m.channels for m in model.modules() if isinstance(m, SEBlock)] == [
        16,
        16,
        32,
    ]


def test_parameters_fall_with_the_reduction_ratio():
    counts = [
        count_parameters(FashionNet(FashionNetConfig(reduction=r)))
        for r in (1, 2, 4, 8, 16)
    ]
    assert counts == sorted(counts, reverse=True) and counts[-1] > 77_754


def test_resolution_and_gates():
    model = FashionNet(FashionNetConfig(reduction=2)).eval()
    shapes = []
    handles = [
        s.register_forward_hook(lambda _m, _i, out: shapes.append(tuple(out.shape[1:])))
        for s in model.stages
    ]
    with capture_gates(model) as gates, torch.no_grad():
        model(torch.rand(5, 1, 28, 28))
    for h in handles:
        h.remove()
    assert shapes == [(16, 14, 14), (32, 7, 7), (64, 4, 4)]
    assert list(gates) == [
        "stages.0.attention",
        "stages.1.attention",
        "stages.2.attention",
    ]
    assert [tuple(g[0].shape) for g in gates.values()] == [(5, 16), (5, 32), (5, 64)]


def test_residual_stage_shortcuts():
    config = FashionNetConfig()
    assert isinstance(residual_stage(16, 16, 1, config).shortcut, torch.nn.Identity)
    projection = residual_stage(16, 32, 2, config).shortcut
    assert projection.conv.kernel_size == (1, 1) and projection.conv.stride == (2, 2)


def test_model_rejects_bad_inputs():
    model = FashionNet()
    with pytest.raises(
        RuntimeError, match="to have 1 channels, but got 3"
    ):  # PyTorch's own message
        model(torch.rand(2, 3, 28, 28))
    with pytest.raises(TypeError, match="config must be a FashionNetConfig"):
        FashionNet({"attention": "se"})  # type: ignore[arg-type]
    assert "se_r16_avg_sigmoid_standard" in repr(model)


# --- per-image gates and their per-class statistics (sebook.analysis) -------------------------------------------

from sebook.gate_stats import class_gate_statistics, gates_per_image  # noqa: E402


def test_gates_per_image_keeps_order_and_mode():
    model = FashionNet(FashionNetConfig(reduction=4))
    images = torch.rand(7, 1, 28, 28)
    gates = gates_per_image(model, images, batch_size=3)
    assert model.training
    assert {k: tuple(v.shape) for k, v in gates.items()} == {
        "stages.0.attention": (7, 16),
        "stages.1.attention": (7, 32),
        "stages.2.attention": (7, 64),
    }
    single = gates_per_image(model, images[4:5])
    for name in gates:
        torch.testing.assert_close(single[name][0], gates[name][4])
    with pytest.raises(ValueError, match="no SE, ECA or CBAM block"):
        gates_per_image(FashionNet(FashionNetConfig(attention="none")), images)
    with pytest.raises(ValueError, match="per-image gates need one gate per channel"):
        gates_per_image(FashionNet(FashionNetConfig(attention="nosqueeze")), images)
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        gates_per_image("model", images)  # type: ignore[arg-type]


def test_class_gate_statistics_against_a_direct_computation():
    torch.manual_seed(1)
    labels = torch.tensor([0, 0, 1, 1, 1, 2])
    gates = torch.rand(6, 4)
    stats = class_gate_statistics(gates, labels, 3)
    g = gates.double()
    means = torch.stack([g[labels == k].mean(0) for k in range(3)])
    torch.testing.assert_close(stats["class_means"], means)
    torch.testing.assert_close(stats["overall_mean"], g.mean(0))
    assert stats["class_spread"] == pytest.approx(
        float(means.std(0, unbiased=False).mean())
    )
    shares = []
    for c in range(4):
        total = float(((g[:, c] - g[:, c].mean()) ** 2).sum())
        within = sum(
            float(((g[labels == k, c] - means[k, c]) ** 2).sum()) for k in range(3)
        )
        shares.append(1 - within / total)
    assert stats["class_share"] == pytest.approx(sum(shares) / 4)
    assert stats["mean_gate"] == pytest.approx(float(g.mean()))


def test_class_gate_statistics_extremes():
    labels = torch.tensor([0, 0, 1, 1])
    same = class_gate_statistics(torch.full((4, 3), 0.5), labels, 2)
    assert (
        same["class_spread"] == 0
        and same["class_share"] == 0
        and same["within_class_std"] == 0
    )
    by_class = class_gate_statistics(
        torch.tensor([[0.2, 0.9]] * 2 + [[0.8, 0.1]] * 2), labels, 2
    )
    assert by_class["class_share"] == pytest.approx(1.0) and by_class[
        "within_class_std"
    ] == pytest.approx(0.0)
    assert by_class["class_spread"] == pytest.approx((0.3 + 0.4) / 2)
    noise = class_gate_statistics(torch.tensor([[0.2], [0.8], [0.2], [0.8]]), labels, 2)
    assert noise["class_share"] == pytest.approx(0.0) and noise[
        "within_class_std"
    ] == pytest.approx(0.3)


@pytest.mark.parametrize(
    "gates, labels, k, error, message",
    [
        (torch.rand(4), torch.zeros(4), 2, ValueError, "gates must be 2-D"),
        (
            torch.rand(4, 3),
            torch.zeros(3),
            2,
            ValueError,
            "labels must be a 1-D tensor with one label per row",
        ),
        (
            torch.rand(4, 3),
            torch.tensor([0, 0, 0, 0]),
            2,
            ValueError,
            "at least one image per class",
        ),
        (
            torch.rand(4, 3),
            torch.tensor([0, 1, 2, 0]),
            2,
            ValueError,
            r"labels must lie in \[0, 1\]",
        ),
        (
            torch.rand(4, 3),
            torch.tensor([0, 1, 1, 0]),
            0,
            ValueError,
            "num_classes must be an integer >= 1",
        ),
    ],
)
def test_class_gate_statistics_rejects_bad_inputs(gates, labels, k, error, message):
    with pytest.raises(error, match=message):
        class_gate_statistics(gates, labels, k)
