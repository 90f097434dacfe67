"""Test the book with another torch release: a temporary environment, the library tests, every chapter re-executed.

    python tools/torch_matrix.py 2.15.0            # about an hour of CPU and 5 GB of disk (a CUDA build runs on CPUs)
    python tools/torch_matrix.py 2.4.1 --keep      # keep /tmp/sebook-torch-2.4.1 afterwards

It builds a venv in /tmp (outside the repository; deleted afterwards unless --keep), installs that torch, then the
book's other pins from requirements.txt around it, then the library (editable), and runs:

- the library tests, ``pytest tests/`` (all but the website's and the PDF's, which need a built site);
- every chapter, re-executed by ``tools/notebooks.py --check --tolerance 1e-3``: an output passes if it is the
  stored one with its numbers moved by at most 0.1 % or one unit of their last printed digit (kernels differ from
  release to release in their last bits), and anything else is reported as a difference.

``--colab CHAPTER`` checks Colab's way instead: a venv holding only what Colab brings (that torch release, the
notebook stack, and older matplotlib/ipywidgets), a copy of the chapter outside the repository, run top to bottom.
Its first cell, the install cell, must fetch the book (from this repository's last commit, in place of GitHub),
install only what is missing and keep the torch release; the chapter's outputs must then be the stored ones
within the same tolerance. The result goes into the same file, under ``colab``.

The result joins ``tests/data/torch_versions.json`` (one entry per torch release, the newest run replacing an older
one), which the status page shows as "last verified with". pip runs without configuration files
(``PIP_CONFIG_FILE=/dev/null``), so that a machine-wide cap on torch releases does not apply.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "tests" / "data" / "torch_versions.json"
SITE_TESTS = ["--ignore=tests/test_site.py", "--ignore=tests/test_pdf.py"]
"""Left out: they test the built website and PDF, which no torch release changes (``make test`` runs them)."""

TOLERANCE = 1e-3
"""Relative change allowed in a stored number across torch releases (beside one unit of its last digit)."""


def run(command: list[str], log: Path) -> subprocess.CompletedProcess:
    print("$", " ".join(command), flush=True)
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}
    with log.open("a") as f:
        f.write("$ " + " ".join(command) + "\n")
        f.flush()
        return subprocess.run(command, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, text=True, env=env)


def build(version: str, venv: Path, log: Path) -> None:
    """A venv with torch ``version`` and the book's other pins around it."""
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    pins = [
        line for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "-e", "torch=="))
    ]  # fmt: skip
    requirements = venv / "requirements-without-torch.txt"
    requirements.write_text("\n".join(pins) + "\n")
    for step in (
        [*pip, f"torch=={version}"],
        [*pip, "-r", str(requirements)],
        [*pip, "--no-deps", "-e", str(ROOT)],
    ):
        if run(step, log).returncode:
            raise SystemExit(f"installing failed: {' '.join(step)} (see {log})")


def tests(venv: Path, log: Path, path: str = "tests/") -> dict:
    start = time.monotonic()
    done = run([str(venv / "bin" / "python"), "-m", "pytest", path, "-q", *SITE_TESTS], log)
    text = log.read_text()
    summary = text[text.rfind("$ ") :]
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|errors?)", summary)}
    failed = sorted(set(re.findall(r"^FAILED (\S+)", summary, re.M)))
    return {"exit": done.returncode, **counts, "failed_tests": failed, "seconds": round(time.monotonic() - start),
            **({"run": path} if path != "tests/" else {})}


def chapters(venv: Path, log: Path) -> dict:
    start = time.monotonic()
    done = run(
        [str(venv / "bin" / "python"), "tools/notebooks.py", "--check", "--tolerance", str(TOLERANCE)], log
    )
    text = log.read_text()
    summary = text[text.rfind("$ ") :]
    differ = re.findall(r"^(chapters/\S+): code cell (\d+): text output changed", summary, re.M)
    executed = re.findall(r"^(chapters/\S+): executed in", summary, re.M)
    failed = re.findall(r"^(chapters/\S+): a cell failed", summary, re.M)
    return {
        "exit": done.returncode,
        "executed": len(executed),
        "failed_notebooks": failed,
        "outputs_differing": [f"{nb} cell {cell}" for nb, cell in differ],
        "seconds": round(time.monotonic() - start),
    }


COLAB_STACK = [
    "ipykernel", "nbclient", "nbformat", "pyyaml", "pillow", "numpy", "tqdm", "matplotlib<3.11", "ipywidgets<8",
]  # fmt: skip
"""What a Colab runtime has before the install cell runs (an older ipywidgets and matplotlib among it), torch
aside: the install cell must upgrade ipywidgets to 8 and leave the rest alone. myst-nb is not among them."""

DRIVER = """
import copy, json, sys
import nbformat
sys.path.insert(0, {tools!r})
import notebooks
path, tolerance = {path!r}, {tolerance!r}
original = nbformat.read(path, as_version=4)
nb = copy.deepcopy(original)
assert notebooks.REPOSITORY in nb.cells[0].source, "cell 0 is not the install cell"
nb.cells[0].source = nb.cells[0].source.replace(notebooks.REPOSITORY, {clone!r})
for cell in nb.cells:
    if cell.cell_type == "code":
        cell.outputs, cell.execution_count = [], None
seconds = notebooks.execute(nb, {workdir!r})
nb = notebooks.normalise(nb, {stem!r})
patterns = notebooks.sanitize_patterns(notebooks.ROOT / ".nbval-sanitize.cfg")
old, new = notebooks.text_outputs(original, patterns), notebooks.text_outputs(nb, patterns)
differ = [
    i for i, (a, b) in enumerate(zip(old, new))
    if i > 0  # the install cell: its log is what pip and git print where it runs, hidden from the page
    and a != b and not (len(a) == len(b) and all(notebooks.within_rounding(x, y, tolerance) for x, y in zip(a, b)))
]
install_log = " ".join(new[0])[-500:]
print(json.dumps({{"seconds": round(seconds), "cells": len(new), "outputs_differing": differ,
                  "install_cell_printed": install_log}}))
"""


def colab(version: str, chapter: str, log: Path) -> dict:
    """Colab's way: only the platform's packages, then the chapter's own install cell (see the module's doc)."""
    venv = Path(f"/tmp/sebook-colab-{version}")
    work = Path(f"/tmp/sebook-colab-{version}-content")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    try:
        for step in ([python, "-m", "pip", "install", "-q", f"torch=={version}"],
                     [python, "-m", "pip", "install", "-q", *COLAB_STACK]):  # fmt: skip
            if run(step, log).returncode:
                raise SystemExit(f"installing failed: {' '.join(step)} (see {log})")
        source = ROOT / "chapters" / f"{chapter}.ipynb"
        shutil.copy(source, work / source.name)
        driver = DRIVER.format(
            tools=str(ROOT / "tools"), path=str(work / source.name), tolerance=TOLERANCE,
            clone=f"file://{ROOT}", workdir=str(work), stem=chapter,
        )  # fmt: skip
        done = run([python, "-c", driver], log)
        text = log.read_text()
        result = json.loads(text.strip().splitlines()[-1]) if done.returncode == 0 else {}
        after = subprocess.run([python, "-c", "import torch; print(torch.__version__)"],
                               capture_output=True, text=True).stdout.strip()  # fmt: skip
        return {
            "chapter": chapter,
            "exit": done.returncode,
            **result,
            "torch_kept": after.split("+")[0] == version,
            "date": datetime.date.today().isoformat(),
        }
    finally:
        shutil.rmtree(venv, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/torch_matrix.py", description=__doc__.splitlines()[0])
    parser.add_argument("version", help="a torch release on the package registry, e.g. 2.15.0")
    parser.add_argument("--keep", action="store_true", help="keep the venv afterwards")
    parser.add_argument("--colab", metavar="CHAPTER", help="check Colab's way with this chapter instead")
    parser.add_argument("--tests", default="tests/", help="the library tests to run (default: all, tests/)")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"\d+\.\d+\.\d+", args.version):
        parser.error(f"version must look like 2.15.0, got {args.version!r}")
    if args.colab:
        if not (ROOT / "chapters" / f"{args.colab}.ipynb").exists():
            parser.error(f"--colab: no chapters/{args.colab}.ipynb")
        log = Path(f"/tmp/sebook-colab-{args.version}.log")
        log.write_text("")
        entry = colab(args.version, args.colab, log)
        entry["passed"] = entry["exit"] == 0 and entry["torch_kept"] and not entry.get("outputs_differing", [0])
        record = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"versions": []}
        record["colab"] = {"torch": args.version, **entry}
        RESULTS.write_text(json.dumps(record, indent=1) + "\n")
        print(json.dumps(entry, indent=1))
        return 0 if entry["passed"] else 1
    venv = Path(f"/tmp/sebook-torch-{args.version}")
    log = Path(f"/tmp/sebook-torch-{args.version}.log")
    log.write_text("")
    build(args.version, venv, log)  # pip leaves what is already installed alone
    try:
        torch_version = subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import torch; print(torch.__version__)"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        entry = {
            "torch": torch_version,
            "date": datetime.date.today().isoformat(),
            "python": ".".join(map(str, sys.version_info[:3])),
            "tolerance": TOLERANCE,
            "tests": tests(venv, log, args.tests),
            "chapters": chapters(venv, log),
        }
    finally:
        if not args.keep:
            shutil.rmtree(venv, ignore_errors=True)
    entry["passed"] = entry["tests"]["exit"] == 0 and entry["chapters"]["exit"] == 0
    record = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"versions": []}
    record["versions"] = [v for v in record["versions"] if v["torch"] != entry["torch"]] + [entry]
    record["versions"].sort(key=lambda v: [int(p) for p in re.findall(r"\d+", v["torch"])[:3]])
    RESULTS.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(entry, indent=1))
    return 0 if entry["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
