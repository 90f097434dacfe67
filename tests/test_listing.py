"""The helpers that show the library's code and modules on a page."""

import pytest
import torch

from sebook import blocks, listing
from sebook.recalibration import recalibrate, recalibrate_add


def test_source_from_a_line_on_with_and_without_its_header():
    core = listing.source(recalibrate, "return")
    assert core.startswith("return x * gates") and "def " not in core
    full = listing.source(recalibrate_add, "return", header=True)
    assert full.startswith("def recalibrate_add(") and '"""' in full
    assert full.rstrip().splitlines()[-1].lstrip().startswith("return")
    assert "checks." not in listing.source(recalibrate, "def", drop=("checks.",))


def test_source_names_a_missing_start_line():
    with pytest.raises(ValueError, match="start='nowhere'"):
        listing.source(recalibrate, "nowhere")


def test_module_repr_fits_the_width_and_keeps_every_argument():
    unit = blocks.bottleneck(256, 128, stride=2)
    fitted = listing.module_repr(unit, width=80)
    assert max(map(len, fitted.splitlines())) <= 80
    assert fitted.split() == repr(unit).split()
    with pytest.raises(ValueError, match="width"):
        listing.module_repr(unit, width=0)


def test_module_repr_of_a_short_module_is_its_repr():
    layer = torch.nn.ReLU()
    assert listing.module_repr(layer) == repr(layer)
