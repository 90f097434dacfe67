"""The torch versions the book was verified with (tests/data/torch_versions.json, written by tools/torch_matrix.py).

CI does not build the other environments (an hour each); it checks that the committed record is complete and that
pyproject.toml declares what was verified: its lowest torch is the oldest release that passed, the pinned release is
among those that passed, and every release recorded at or above the declared minimum passed.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORD = json.loads((ROOT / "tests" / "data" / "torch_versions.json").read_text())


def release(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3])


def declared_minimum() -> tuple[int, ...]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    torch = next(d for d in project["dependencies"] if re.match(r"torch\b", d))
    return release(re.fullmatch(r"torch>=([\d.]+)", torch.replace(" ", "")).group(1))


def pinned() -> tuple[int, ...]:
    line = next(l for l in (ROOT / "requirements.txt").read_text().splitlines() if l.startswith("torch=="))
    return release(line.split("==")[1])


def test_every_entry_is_complete():
    assert len(RECORD["versions"]) >= 3
    for entry in RECORD["versions"]:
        assert {"torch", "date", "python", "tolerance", "tests", "chapters", "passed"} <= set(entry), entry["torch"]
        assert entry["tests"]["passed"] > 1000 and entry["chapters"]["executed"] >= 14, entry["torch"]
        exits_clean = entry["tests"]["exit"] == 0 and entry["chapters"]["exit"] == 0
        assert entry["passed"] == exits_clean or "note" in entry, entry["torch"]


def test_pyproject_declares_what_was_verified():
    passed = sorted(release(e["torch"]) for e in RECORD["versions"] if e["passed"])
    assert passed[0][:2] == declared_minimum()[:2], "pyproject's torch>= must be the oldest verified release"
    assert pinned() in passed, "the pinned torch (requirements.txt) must be verified"
    for entry in RECORD["versions"]:
        if release(entry["torch"]) >= declared_minimum():
            assert entry["passed"], f"torch {entry['torch']} is in the declared range but failed"


def test_colab_s_way_was_checked():
    colab = RECORD["colab"]
    assert colab["passed"] and colab["torch_kept"] and colab["outputs_differing"] == []
    assert release(colab["torch"]) != pinned(), "Colab's check must use a torch other than the pinned one"
