"""Test the book with another torch release: a temporary environment, the library tests, every chapter re-executed.

    python tools/torch_matrix.py 2.15.0            # about an hour of CPU and 5 GB of disk (a CUDA build runs on CPUs)
    python tools/torch_matrix.py 2.4.1 --keep      # keep /tmp/sebook-torch-2.4.1 afterwards

It builds a venv in /tmp (outside the repository; deleted afterwards unless --keep), installs that torch, then the
book's other pins from requirements.txt around it, then the library (editable), and runs:

- the library tests, ``pytest tests/`` (all but the website's and the PDF's, which need a built site);
- every chapter, re-executed by ``tools/notebooks.py --check --tolerance 1e-3``: an output passes if it is the
  stored one with its numbers moved by at most 0.1 % or one unit of their last printed digit (kernels differ from
  release to release in their last bits), and anything else is reported as a difference.

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


def tests(venv: Path, log: Path) -> dict:
    start = time.monotonic()
    done = run([str(venv / "bin" / "python"), "-m", "pytest", "tests/", "-q", *SITE_TESTS], log)
    text = log.read_text()
    summary = text[text.rfind("$ ") :]
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|errors?)", summary)}
    failed = sorted(set(re.findall(r"^FAILED (\S+)", summary, re.M)))
    return {"exit": done.returncode, **counts, "failed_tests": failed, "seconds": round(time.monotonic() - start)}


def chapters(venv: Path, log: Path) -> dict:
    start = time.monotonic()
    done = run(
        [str(venv / "bin" / "python"), "tools/notebooks.py", "--check", "--tolerance", str(TOLERANCE)], log
    )
    text = log.read_text()
    summary = text[text.rfind("$ ") :]
    differ = re.findall(r"^(chapters/\S+): code cell (\d+): text output changed", summary, re.M)
    executed = re.findall(r"^(chapters/\S+): executed in", summary, re.M)
    return {
        "exit": done.returncode,
        "executed": len(executed),
        "outputs_differing": [f"{nb} cell {cell}" for nb, cell in differ],
        "seconds": round(time.monotonic() - start),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/torch_matrix.py", description=__doc__.splitlines()[0])
    parser.add_argument("version", help="a torch release on the package registry, e.g. 2.15.0")
    parser.add_argument("--keep", action="store_true", help="keep the venv afterwards")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"\d+\.\d+\.\d+", args.version):
        parser.error(f"version must look like 2.15.0, got {args.version!r}")
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
            "tests": tests(venv, log),
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
