"""The chapters' install cell (cell 0, written by tools/notebooks.py): on Colab it installs the library with only
what is missing and keeps the platform's torch; the repository address comes from _config.yml alone.
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest
import yaml

import notebooks

ROOT = Path(__file__).resolve().parents[1]


def run_cell(tmp_path, monkeypatch, installed: set[str]) -> list[list[str]]:
    """Run the install cell as on a machine where only ``installed`` packages exist; return the commands."""
    commands: list[list[str]] = []
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args):
        if name in ("sebook", "torch"):
            return object() if name in installed else None
        return real_find_spec(name, *args)

    def run(command, **kwargs):
        commands.append(list(command))
        if command[:2] == ["git", "clone"]:
            (tmp_path / "se-book" / "chapters").mkdir(parents=True)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.setattr(subprocess, "run", run)
    monkeypatch.setattr("sys.path", list(__import__("sys").path))
    monkeypatch.setenv(
        "SEBOOK_CHECKPOINTS", ""
    )  # the cell may point it at the clone; restored afterwards
    exec(compile(notebooks.INSTALL_CELL, "install-cell", "exec"), {})
    return commands


def test_on_colab_the_platforms_torch_is_kept(tmp_path, monkeypatch):
    commands = run_cell(tmp_path, monkeypatch, installed={"torch"})
    url, branch = notebooks.repository()
    assert commands[0] == [
        "git",
        "clone",
        "--depth",
        "1",
        "--branch",
        branch,
        url,
        "se-book",
    ]
    installs = [c for c in commands if "pip" in c]
    assert all(
        not any(arg.startswith("torch") for arg in c) for c in installs
    ), installs
    assert any(
        "--no-deps" in c and c[-1].rstrip("/").endswith("se-book") for c in installs
    ), installs
    assert not any(
        "-r" in c for c in installs
    ), "the pinned requirements would replace the platform's packages"
    assert Path.cwd() == tmp_path / "se-book" / "chapters"


def test_where_torch_is_missing_it_is_installed(tmp_path, monkeypatch):
    commands = run_cell(tmp_path, monkeypatch, installed=set())
    assert any(notebooks.TORCH in c for c in commands if "pip" in c)


def test_where_the_library_is_installed_nothing_runs(tmp_path, monkeypatch):
    assert run_cell(tmp_path, monkeypatch, installed={"sebook", "torch"}) == []


def test_the_repository_address_is_written_once():
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))[
        "repository"
    ]
    assert notebooks.REPOSITORY == config["url"] and notebooks.BRANCH == config.get(
        "branch", "main"
    )
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    naming = [
        path
        for path in tracked.split()
        if not path.endswith((".ipynb", ".png", ".pt", ".gz"))
        and (ROOT / path).is_file()
        and config["url"] in (ROOT / path).read_text(encoding="utf-8", errors="ignore")
    ]
    assert naming == [
        "_config.yml"
    ], f"files that spell out the repository address: {naming}"


@pytest.mark.parametrize(
    "chapter", sorted((ROOT / "chapters").glob("*.ipynb")), ids=lambda p: p.stem
)
def test_each_chapter_has_the_current_install_cell(chapter):
    import nbformat

    first = nbformat.read(chapter, as_version=4).cells[0]
    assert (
        first.source == notebooks.INSTALL_CELL
    ), f"{chapter.name}: cell 0 is not the current install cell; re-execute it with tools/notebooks.py"
