"""Helpers of the chapter "Excitation": SE costs, gates of fresh blocks, and the reduction-ratio figures."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from sebook import analysis, plots  # noqa: E402
from sebook.excitation import squeeze_width  # noqa: E402


@pytest.mark.parametrize("channels, reduction", [(64, 16), (8, 16), (2048, 1), (100, 3)])
def test_se_costs_match_the_formulas(channels, reduction):
    costs = analysis.se_costs(channels, reduction)
    w = squeeze_width(channels, reduction)
    assert costs["width"] == w
    assert costs["params"] == 2 * channels * w + w + channels  # two weight matrices and two bias vectors
    assert costs["flops"] == 4 * channels * w  # two matrix-vector products, 1 MAC = 2 FLOPs
    assert costs["elementwise"] == 2 * channels * 7 * 7


def test_se_costs_rejects_bad_arguments():
    with pytest.raises(ValueError, match="spatial"):
        analysis.se_costs(64, 16, spatial=(7,))
    with pytest.raises(ValueError, match="channels"):
        analysis.se_costs(0, 16)


def test_fresh_gates_are_reproducible_and_leave_the_global_rng_alone():
    x = torch.rand(3, 16, 4, 4)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    gates = analysis.fresh_gates(16, (1, 4, 16), x, seed=5)
    assert torch.rand(1) == before
    again = analysis.fresh_gates(16, (4,), x, seed=5)
    assert list(gates) == [1, 4, 16]
    for g in gates.values():
        assert g.shape == (3, 16) and ((g > 0) & (g < 1)).all()
    torch.testing.assert_close(gates[4], again[4], rtol=0, atol=0)
    assert not torch.equal(gates[4], analysis.fresh_gates(16, (4,), x, seed=6)[4])


@pytest.mark.parametrize("kwargs, match", [
    ({"channels": 8}, "channels"), ({"reductions": ()}, "reductions"), ({"reductions": (4, 0)}, "reductions"),
    ({"seed": -1}, "seed"),
])
def test_fresh_gates_rejects_bad_arguments(kwargs, match):
    args = {"channels": 16, "reductions": (4,), "x": torch.rand(2, 16, 3, 3), "seed": 0} | kwargs
    with pytest.raises(ValueError, match=match):
        analysis.fresh_gates(**args)


def test_reduction_ratio_panel_and_gate_histogram():
    costs = {r: {c: analysis.se_costs(c, r) for c in (16, 64)} for r in (1, 4)}
    fig = plots.reduction_ratio_panel(costs, 4, torch.full((16,), 0.5))
    assert len(fig.axes) == 3 and "r = 4" in fig.axes[0].get_title()
    plt.close(fig)
    with pytest.raises(ValueError, match="r must be one of"):
        plots.reduction_ratio_panel(costs, 8, torch.full((16,), 0.5))
    fig = plots.gate_histogram({"a": torch.rand(10, 4), "b": torch.rand(5)}, "gates")
    assert fig.axes[0].get_xlim() == (0, 1)
    plt.close(fig)
    with pytest.raises(ValueError, match="gates"):
        plots.gate_histogram({}, "nothing")
