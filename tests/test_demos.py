"""Chapter demonstrations (sebook.demos): colour casts, fitted gates, a folded scale, SE shapes,
hand-derived gradients, crops."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import sebook  # noqa: E402
from sebook import demos  # noqa: E402
from sebook.excitation import Excitation  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_and_close():
    torch.manual_seed(0)
    yield
    plt.close("all")


def test_colour_casts_follow_the_warm_light_rule():
    casts = demos.colour_casts(torch.tensor([0.0, 0.5, 1.0]))
    torch.testing.assert_close(
        casts, torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.85, 0.7], [1.0, 0.7, 0.4]])
    )


def test_colour_casts_jitter_stays_in_range_and_is_reproducible():
    warmth = torch.linspace(0, 1, 50)
    plain = demos.colour_casts(warmth)
    a = demos.colour_casts(
        warmth, jitter=0.1, generator=torch.Generator().manual_seed(3)
    )
    b = demos.colour_casts(
        warmth, jitter=0.1, generator=torch.Generator().manual_seed(3)
    )
    assert torch.equal(a, b)
    assert (
        (a <= plain).all()
        and (a >= 0.9 * plain - 1e-7).all()
        and not torch.equal(a, plain)
    )


@pytest.mark.parametrize(
    "warmth, error",
    [
        ([0.5], TypeError),
        (torch.tensor([[0.5]]), TypeError),
        (torch.tensor([1, 0]), TypeError),
        (torch.tensor([1.5]), ValueError),
        (torch.tensor([-0.1]), ValueError),
    ],
)
def test_colour_casts_rejects_bad_warmth(warmth, error):
    with pytest.raises(error, match="warmth"):
        demos.colour_casts(warmth)


@pytest.mark.parametrize("jitter", [-0.1, 1.0, True, "0.1"])
def test_colour_casts_rejects_bad_jitter(jitter):
    with pytest.raises(ValueError, match="jitter"):
        demos.colour_casts(torch.tensor([0.5]), jitter=jitter)


def test_fit_gates_se_beats_a_fixed_scale_on_input_dependent_targets():
    z = torch.randn(64, 3)
    targets = torch.sigmoid(
        2 * z[:, [1, 2, 0]]
    )  # each gate depends on another channel's descriptor
    threads = torch.get_num_threads()
    fit = demos.fit_gates(z, targets, rd_channels=4, steps=300)
    assert torch.get_num_threads() == threads  # restored
    assert (
        isinstance(fit.block, sebook.SEBlock) and fit.block.excitation.rd_channels == 4
    )
    assert fit.fixed.shape == (3,) and ((fit.fixed > 0) & (fit.fixed < 1)).all()
    torch.testing.assert_close(
        fit.fixed, targets.mean(0), atol=0.02, rtol=0
    )  # the best constant is the mean
    assert fit.se_loss < fit.fixed_loss / 5
    assert not fit.block.training


def test_fit_gates_is_reproducible():
    z, targets = torch.rand(16, 4), torch.rand(16, 4)
    a = demos.fit_gates(z, targets, 2, steps=20, seed=5)
    b = demos.fit_gates(z, targets, 2, steps=20, seed=5)
    assert torch.equal(a.fixed, b.fixed) and a.se_loss == b.se_loss


@pytest.mark.parametrize(
    "kwargs, error, word",
    [
        ({"targets": torch.rand(8, 4)}, ValueError, "targets"),
        ({"targets": torch.full((8, 3), 2.0)}, ValueError, "targets"),
        ({"steps": 0}, ValueError, "steps"),
        ({"lr": -1.0}, ValueError, "lr"),
        ({"seed": -1}, ValueError, "seed"),
    ],
)
def test_fit_gates_rejects_bad_arguments(kwargs, error, word):
    args = {
        "z": torch.rand(8, 3),
        "targets": torch.rand(8, 3),
        "rd_channels": 2,
        **kwargs,
    }
    with pytest.raises(error, match=word):
        demos.fit_gates(**args)


@pytest.mark.parametrize("bias", [True, False])
def test_fold_scale_equals_scaling_the_input(bias):
    conv = nn.Conv2d(3, 5, 3, padding=1, bias=bias)
    scale = torch.tensor([0.5, 2.0, -1.0])
    x = torch.randn(2, 3, 8, 8)
    folded = demos.fold_scale(conv, scale)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), conv(x * scale[None, :, None, None]))
    assert folded is not conv and folded.weight.data_ptr() != conv.weight.data_ptr()


def test_fold_scale_rejects_bad_arguments():
    conv = nn.Conv2d(3, 5, 3)
    with pytest.raises(TypeError, match="conv"):
        demos.fold_scale(nn.Linear(3, 5), torch.ones(3))
    with pytest.raises(ValueError, match="scale"):
        demos.fold_scale(conv, torch.ones(4))
    with pytest.raises(ValueError, match="groups"):
        demos.fold_scale(nn.Conv2d(4, 4, 3, groups=2), torch.ones(4))


def test_se_shapes_records_every_step():
    shapes = demos.se_shapes(sebook.SEBlock(64, reduction=16), (2, 64, 5, 7))
    assert tuple(shapes) == demos.SE_STEPS
    assert shapes == {
        "input": (2, 64, 5, 7),
        "squeeze": (2, 64),
        "fc1": (2, 4),
        "act": (2, 4),
        "fc2": (2, 64),
        "gate": (2, 64),
        "output": (2, 64, 5, 7),
    }


def test_se_shapes_rejects_other_modules():
    with pytest.raises(TypeError, match="block"):
        demos.se_shapes(nn.Conv2d(3, 3, 1), (1, 3, 4, 4))
    with pytest.raises(ValueError, match="fc1"):
        demos.se_shapes(sebook.ECABlock(16), (1, 16, 4, 4))


@pytest.mark.parametrize("bias", [True, False])
def test_hand_derived_gradients_match_autograd(bias):
    excitation = Excitation(12, rd_channels=3, bias=bias)
    z = torch.randn(5, 12)
    grad_gates = torch.randn(5, 12)
    (excitation(z) * grad_gates).sum().backward()  # a loss whose dL/ds is grad_gates
    by_hand = demos.excitation_weight_gradients(excitation, z, grad_gates)
    assert list(by_hand) == [name for name, _ in excitation.named_parameters()]
    for name, p in excitation.named_parameters():
        torch.testing.assert_close(by_hand[name], p.grad)


def test_hand_derived_gradients_reject_other_excitations_and_shapes():
    with pytest.raises(ValueError, match="sigmoid"):
        demos.excitation_weight_gradients(
            Excitation(8, 2, gate_layer="hard_sigmoid"),
            torch.rand(2, 8),
            torch.rand(2, 8),
        )
    with pytest.raises(TypeError, match="excitation"):
        demos.excitation_weight_gradients(
            nn.Linear(8, 8), torch.rand(2, 8), torch.rand(2, 8)
        )
    with pytest.raises(ValueError, match="grad_gates"):
        demos.excitation_weight_gradients(
            Excitation(8, 2), torch.rand(2, 8), torch.rand(3, 8)
        )


def test_crop_grid_cuts_the_expected_crops():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    crops = demos.crop_grid(x, size=4, stride=2)
    assert crops.shape == (2 * 3 * 3, 3, 4, 4)
    assert torch.equal(crops[0], x[0, :, :4, :4]) and torch.equal(
        crops[5], x[0, :, 2:6, 4:8]
    )
    assert torch.equal(crops[9], x[1, :, :4, :4])
    with pytest.raises(ValueError, match="size"):
        demos.crop_grid(x, size=9, stride=1)
