"""Every block and network down every path PyTorch offers (sebook.paths), against the API page's table.

tests/data/paths.json is written by tools/paths_table.py; these tests re-run all of it but the compilation of the
ImageNet-scale networks (sebook.paths.SLOW) and fail where the table no longer tells the truth.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

import sebook
from sebook import paths

TABLE = json.loads((Path(__file__).parent / "data" / "paths.json").read_text())
SUBJECTS = paths.library_modules()


def test_the_table_covers_every_module_and_path():
    assert list(TABLE["results"]) == list(SUBJECTS)
    for name, row in TABLE["results"].items():
        assert list(row) == list(paths.PATHS), name
    assert sorted(paths.SLOW) == TABLE["slow"]


def test_every_module_takes_every_path():
    """The library promises all of them: a failing path is a bug to fix, not a row to record."""
    failing = {
        f"{name}/{path}": result
        for name, row in TABLE["results"].items()
        for path, result in row.items()
        if result not in ("ok", paths.NOT_APPLICABLE)
    }
    assert not failing


@pytest.mark.parametrize("name", list(SUBJECTS))
def test_the_table_tells_the_truth(name):
    module, shape = SUBJECTS[name]
    tried = tuple(p for p in paths.PATHS if f"{name}/{p}" not in paths.SLOW)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporters' notes; the result is what counts
        results = paths.try_paths(module, torch.randn(shape), tried)
    assert results == {p: TABLE["results"][name][p] for p in tried}


def test_a_scripted_module_runs_without_the_checks_and_eager_keeps_them():
    scripted = torch.jit.script(sebook.SEBlock(16))
    with pytest.raises(RuntimeError):  # torch's own error: TorchScript compiles none of the checks
        scripted(torch.randn(2, 8, 4, 4))
    with pytest.raises(ValueError, match="wrong number of channels: expected 16, got 8"):
        sebook.SEBlock(16)(torch.randn(2, 8, 4, 4))


def test_try_paths_reports_a_failing_path_with_its_reason():
    class Untraceable(nn.Module):
        def forward(self, x):
            return x * 2 if x.sum() > 0 else x  # data-dependent control flow

    results = paths.try_paths(Untraceable(), torch.ones(2, 3), ("eager", "export"))
    assert results["eager"] == "ok"
    assert results["export"].startswith("fails: ")


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: paths.try_paths("SEBlock", torch.ones(1)), "module must be a torch.nn.Module"),
        (lambda: paths.try_paths(nn.Identity(), torch.ones(1), ("jit",)), "paths must be one of"),
        (lambda: paths.run_path("onnxx", nn.Identity(), torch.ones(1)), "path must be one of"),
    ],
)
def test_bad_arguments_are_named(call, message):
    with pytest.raises((TypeError, ValueError), match=message):
        call()
