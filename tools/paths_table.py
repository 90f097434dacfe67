"""Try every block and network of sebook down every path PyTorch offers; write the API page's table.

    python tools/paths_table.py      # about 6 minutes on one CPU core; writes tests/data/paths.json

Each module of ``sebook.paths.library_modules()`` runs down each path of ``sebook.paths.PATHS`` (eager, autocast,
channels_last, compile, export, ONNX through ONNX Runtime, TorchScript, trace) and is compared with eager.
``tests/test_paths.py`` checks in every test run that the file still tells the truth: all of it except the
compilation of the ImageNet-scale networks (``SLOW``, about three minutes), which this script alone re-runs.
"""

from __future__ import annotations

import datetime
import json
import platform
import sys
import warnings
from importlib.metadata import version
from pathlib import Path

import torch

from sebook import paths

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "paths.json"


def main() -> None:
    warnings.simplefilter("ignore")  # exporters' notes on the way; the table records the outcome
    torch.set_num_threads(1)
    results = {}
    for name, (module, shape) in paths.library_modules().items():
        torch.manual_seed(0)
        results[name] = paths.try_paths(module, torch.randn(shape))
        print(name, results[name], file=sys.stderr, flush=True)
    record = {
        "date": datetime.date.today().isoformat(),
        "python": platform.python_version(),
        "versions": {p: version(p) for p in ("torch", "onnx", "onnxscript", "onnxruntime")},
        "slow": sorted(paths.SLOW),
        "results": results,
    }
    OUT.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
