"""Helpers behind "Overview" and "Recalibration": colour casts, fitted gates, folding a scale, SE shapes,
hand-derived excitation gradients, crops, and the figures those chapters draw."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from torch import nn  # noqa: E402

import sebook  # noqa: E402
from sebook import analysis, plots  # noqa: E402
from sebook.excitation import Excitation  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_and_close():
    torch.manual_seed(0)
    yield
    plt.close("all")


# --- colour_casts ---------------------------------------------------------------------------------------------

def test_colour_casts_follow_the_warm_light_rule():
    casts = analysis.colour_casts(torch.tensor([0.0, 0.5, 1.0]))
    torch.testing.assert_close(casts, torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.85, 0.7], [1.0, 0.7, 0.4]]))


def test_colour_casts_jitter_stays_in_range_and_is_reproducible():
    warmth = torch.linspace(0, 1, 50)
    plain = analysis.colour_casts(warmth)
    a = analysis.colour_casts(warmth, jitter=0.1, generator=torch.Generator().manual_seed(3))
    b = analysis.colour_casts(warmth, jitter=0.1, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert (a <= plain).all() and (a >= 0.9 * plain - 1e-7).all() and not torch.equal(a, plain)


@pytest.mark.parametrize("warmth, error", [([0.5], TypeError), (torch.tensor([[0.5]]), TypeError),
                                           (torch.tensor([1, 0]), TypeError), (torch.tensor([1.5]), ValueError),
                                           (torch.tensor([-0.1]), ValueError)])
def test_colour_casts_rejects_bad_warmth(warmth, error):
    with pytest.raises(error, match="warmth"):
        analysis.colour_casts(warmth)


@pytest.mark.parametrize("jitter", [-0.1, 1.0, True, "0.1"])
def test_colour_casts_rejects_bad_jitter(jitter):
    with pytest.raises(ValueError, match="jitter"):
        analysis.colour_casts(torch.tensor([0.5]), jitter=jitter)


# --- fit_gates ------------------------------------------------------------------------------------------------

def test_fit_gates_se_beats_a_fixed_scale_on_input_dependent_targets():
    z = torch.randn(64, 3)
    targets = torch.sigmoid(2 * z[:, [1, 2, 0]])          # each gate depends on another channel's descriptor
    threads = torch.get_num_threads()
    fit = analysis.fit_gates(z, targets, rd_channels=4, steps=300)
    assert torch.get_num_threads() == threads              # restored
    assert isinstance(fit.block, sebook.SEBlock) and fit.block.excitation.rd_channels == 4
    assert fit.fixed.shape == (3,) and ((fit.fixed > 0) & (fit.fixed < 1)).all()
    torch.testing.assert_close(fit.fixed, targets.mean(0), atol=0.02, rtol=0)  # the best constant is the mean
    assert fit.se_loss < fit.fixed_loss / 5
    assert not fit.block.training


def test_fit_gates_is_reproducible():
    z, targets = torch.rand(16, 4), torch.rand(16, 4)
    a = analysis.fit_gates(z, targets, 2, steps=20, seed=5)
    b = analysis.fit_gates(z, targets, 2, steps=20, seed=5)
    assert torch.equal(a.fixed, b.fixed) and a.se_loss == b.se_loss


@pytest.mark.parametrize("kwargs, error, word", [
    ({"targets": torch.rand(8, 4)}, ValueError, "targets"),
    ({"targets": torch.full((8, 3), 2.0)}, ValueError, "targets"),
    ({"steps": 0}, ValueError, "steps"),
    ({"lr": -1.0}, ValueError, "lr"),
    ({"seed": -1}, ValueError, "seed"),
])
def test_fit_gates_rejects_bad_arguments(kwargs, error, word):
    args = {"z": torch.rand(8, 3), "targets": torch.rand(8, 3), "rd_channels": 2, **kwargs}
    with pytest.raises(error, match=word):
        analysis.fit_gates(**args)


# --- fold_scale -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bias", [True, False])
def test_fold_scale_equals_scaling_the_input(bias):
    conv = nn.Conv2d(3, 5, 3, padding=1, bias=bias)
    scale = torch.tensor([0.5, 2.0, -1.0])
    x = torch.randn(2, 3, 8, 8)
    folded = analysis.fold_scale(conv, scale)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), conv(x * scale[None, :, None, None]))
    assert folded is not conv and folded.weight.data_ptr() != conv.weight.data_ptr()


def test_fold_scale_rejects_bad_arguments():
    conv = nn.Conv2d(3, 5, 3)
    with pytest.raises(TypeError, match="conv"):
        analysis.fold_scale(nn.Linear(3, 5), torch.ones(3))
    with pytest.raises(ValueError, match="scale"):
        analysis.fold_scale(conv, torch.ones(4))
    with pytest.raises(ValueError, match="groups"):
        analysis.fold_scale(nn.Conv2d(4, 4, 3, groups=2), torch.ones(4))


# --- se_shapes and the diagram --------------------------------------------------------------------------------

def test_se_shapes_records_every_step():
    shapes = analysis.se_shapes(sebook.SEBlock(64, reduction=16), (2, 64, 5, 7))
    assert tuple(shapes) == analysis.SE_STEPS
    assert shapes == {"input": (2, 64, 5, 7), "squeeze": (2, 64), "fc1": (2, 4), "act": (2, 4), "fc2": (2, 64),
                      "gate": (2, 64), "output": (2, 64, 5, 7)}


def test_se_shapes_rejects_other_modules():
    with pytest.raises(TypeError, match="block"):
        analysis.se_shapes(nn.Conv2d(3, 3, 1), (1, 3, 4, 4))
    with pytest.raises(ValueError, match="fc1"):
        analysis.se_shapes(sebook.ECABlock(16), (1, 16, 4, 4))


def test_se_block_diagram_writes_the_measured_shapes():
    shapes = analysis.se_shapes(sebook.SEBlock(32, reduction=8), (3, 32, 6, 6))
    fig = plots.se_block_diagram(shapes, "title")
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    for shape in ("(3, 32, 6, 6)", "(3, 32)", "(3, 4)"):
        assert shape in texts
    assert isinstance(plots.se_block_diagram(), Figure)
    with pytest.raises(ValueError, match="shapes"):
        plots.se_block_diagram({"input": (1, 2, 3, 4)})


# --- excitation_weight_gradients ------------------------------------------------------------------------------

@pytest.mark.parametrize("bias", [True, False])
def test_hand_derived_gradients_match_autograd(bias):
    excitation = Excitation(12, rd_channels=3, bias=bias)
    z = torch.randn(5, 12)
    grad_gates = torch.randn(5, 12)
    (excitation(z) * grad_gates).sum().backward()  # a loss whose dL/ds is grad_gates
    by_hand = analysis.excitation_weight_gradients(excitation, z, grad_gates)
    assert list(by_hand) == [name for name, _ in excitation.named_parameters()]
    for name, p in excitation.named_parameters():
        torch.testing.assert_close(by_hand[name], p.grad)


def test_hand_derived_gradients_reject_other_excitations_and_shapes():
    with pytest.raises(ValueError, match="sigmoid"):
        analysis.excitation_weight_gradients(Excitation(8, 2, gate_layer="hard_sigmoid"), torch.rand(2, 8),
                                             torch.rand(2, 8))
    with pytest.raises(TypeError, match="excitation"):
        analysis.excitation_weight_gradients(nn.Linear(8, 8), torch.rand(2, 8), torch.rand(2, 8))
    with pytest.raises(ValueError, match="grad_gates"):
        analysis.excitation_weight_gradients(Excitation(8, 2), torch.rand(2, 8), torch.rand(3, 8))


# --- crop_grid ------------------------------------------------------------------------------------------------

def test_crop_grid_cuts_the_expected_crops():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    crops = analysis.crop_grid(x, size=4, stride=2)
    assert crops.shape == (2 * 3 * 3, 3, 4, 4)
    assert torch.equal(crops[0], x[0, :, :4, :4]) and torch.equal(crops[5], x[0, :, 2:6, 4:8])
    assert torch.equal(crops[9], x[1, :, :4, :4])
    with pytest.raises(ValueError, match="size"):
        analysis.crop_grid(x, size=9, stride=1)


# --- the photo figures ----------------------------------------------------------------------------------------

def test_image_grid_draws_rows_and_captions():
    rows = {"a": torch.rand(3, 3, 8, 8), "b": torch.rand(3, 3, 8, 8) * 0.2}
    fig = plots.image_grid(rows, "t", ["x", "y", "z"], {"b": ["1", "2", "3"]}, normalise=True)
    assert len(fig.axes) == 6 and fig.axes[3].get_xlabel() == "1"
    with pytest.raises(ValueError, match="rows"):
        plots.image_grid({"a": torch.rand(3, 3, 8, 8), "b": torch.rand(2, 3, 8, 8)}, "t")
    with pytest.raises(ValueError, match="rows"):
        plots.image_grid({}, "t")


def test_recalibration_grid_titles_each_panel_with_its_gate():
    maps, gates = torch.rand(4, 6, 6), torch.tensor([0.1, 0.25, 0.5, 1.0])
    fig = plots.recalibration_grid(maps * gates[:, None, None], gates, list("abcd"), "t", before=maps, summed=True)
    titles = [ax.get_title() for ax in fig.axes]
    for g in ("gate 0.10", "gate 0.25", "gate 0.50", "gate 1.00"):
        assert g in titles
    assert "sum of channels" in titles
    with pytest.raises(ValueError, match="one entry per channel"):
        plots.recalibration_grid(maps, gates[:3], list("abcd"), "t")
