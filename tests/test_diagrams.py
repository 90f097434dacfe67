"""Schematic diagrams (sebook.diagrams)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import sebook  # noqa: E402
from sebook import demos, diagrams  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_and_close():
    torch.manual_seed(0)
    yield
    plt.close("all")


def test_se_block_diagram_writes_the_measured_shapes():
    shapes = demos.se_shapes(sebook.SEBlock(32, reduction=8), (3, 32, 6, 6))
    fig = diagrams.se_block_diagram(shapes, "title")
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    for shape in ("(3, 32, 6, 6)", "(3, 32)", "(3, 4)", "(3, 32, 1, 1)"):
        assert shape in texts
    assert isinstance(diagrams.se_block_diagram(), Figure)
    with pytest.raises(ValueError, match="shapes"):
        diagrams.se_block_diagram({"input": (1, 2, 3, 4)})
