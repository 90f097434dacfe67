"""The library alone (``pip install .``): torch and numpy, and the blocks, networks and training work without the
book's extras (matplotlib, Pillow, ipywidgets, tqdm), here hidden from a fresh Python."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

HIDE_EXTRAS = """
import importlib.abc, importlib.machinery, sys
class Missing(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {"matplotlib", "PIL", "ipywidgets", "tqdm", "IPython"}:
            return importlib.machinery.ModuleSpec(name, self)
    def create_module(self, spec):
        raise ModuleNotFoundError(f"No module named {spec.name!r}", name=spec.name)
sys.meta_path.insert(0, Missing())
"""


def run_without_extras(code: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", HIDE_EXTRAS + code], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_library_requires_torch_and_numpy_only():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["dependencies"] == ["torch>=2.13", "numpy"]
    assert set(project["optional-dependencies"]["book"]) == {"matplotlib", "ipywidgets>=8", "tqdm"}


def test_blocks_networks_and_training_run_without_the_extras(tmp_path):
    out = run_without_extras(
        """
import torch, sebook
x = torch.randn(2, 16, 8, 8)
assert sebook.SEBlock(16)(x).shape == x.shape
for build in (sebook.se_resnet50, sebook.efficientnet_b0, sebook.mobilenet_v3_large, sebook.regnet_y_400mf,
              sebook.efficientnet_v2_s, sebook.resnet50, sebook.resnet101, sebook.se_resnet101):
    with torch.device("meta"):
        build()
from sebook.train import main
assert main(["--widths", "4", "8", "--epochs", "1", "--batch-size", "50", "--train-subset", "500",
             "--out", "tiny.pt"]) == 0
print("hidden:", "matplotlib" in sys.modules, "tqdm" in sys.modules)
""",
        tmp_path,
    )
    assert "test accuracy" in out and "hidden: False False" in out
    assert (tmp_path / "tiny.pt").exists()


def test_glue_without_myst_nb_stores_nothing_and_shows_what_is_asked(monkeypatch, capsys):
    """On Colab there is no myst-nb: the chapters' glue calls must still run (sebook.runtime.glue)."""
    import sys

    from sebook.runtime import glue

    monkeypatch.setitem(sys.modules, "myst_nb", None)  # import myst_nb now raises ImportError
    glue("hidden", 1.5, display=False)
    assert capsys.readouterr().out == ""
    glue("shown", 42)
    assert capsys.readouterr().out.strip() == "42"
