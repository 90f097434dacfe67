"""Re-execute the book's notebooks deterministically and store them with normalised metadata.

``python tools/notebooks.py [NOTEBOOK ...]`` runs each notebook top to bottom in a fresh kernel (nbclient,
``store_widget_state=True``), then normalises what would otherwise change from run to run: cell ids, widget
model ids, kernel metadata, and stream outputs split at random flush points. It records the execution time and versions in ``metadata.sebook``, which the
status page reads. ``--check`` re-executes without writing and fails if any text output would change, judged as
nbval judges it: cells marked ``# NBVAL_IGNORE_OUTPUT`` are skipped and the patterns of ``.nbval-sanitize.cfg`` apply.
"""

from __future__ import annotations

import argparse
import configparser
import hashlib
import json
import os
import platform
import re
import sys
import tempfile
import time
from importlib import metadata as importlib_metadata
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

CHAPTERS = Path("chapters")
KERNEL = "python3"
TEXT_MIMES = ("text/plain", "text/html", "text/latex", "text/markdown")
INSTALL_TAG = "install-if-missing"
IGNORE_MARKER = "# NBVAL_IGNORE_OUTPUT"
SANITIZE_FILE = Path(".nbval-sanitize.cfg")
ROOT = Path(__file__).resolve().parents[1]


def repository() -> tuple[str, str]:
    """The book's repository address and branch, from ``_config.yml`` (the one place that names them)."""
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))[
        "repository"
    ]
    return config["url"], config.get("branch", "main")


def library_dependencies() -> list[str]:
    """What the chapters need from ``pyproject.toml``: the library's requirements (``torch>=2.13``,
    ``numpy``) and its ``book`` extra (``matplotlib``, ...)."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return project["dependencies"] + project["optional-dependencies"]["book"]


REPOSITORY, BRANCH = repository()
TORCH = next(d for d in library_dependencies() if re.match(r"torch\b", d))
OTHERS = [d for d in library_dependencies() if d != TORCH]
INSTALL_CELL = f"""\
# On Colab, or wherever the book's library is missing, this cell fetches the book and installs the library
# with only what is missing: the platform's own torch, and any package already there in a version the library
# accepts, stay as they are. Where the library is installed (locally, on Binder) it does nothing.
import importlib.util, os, subprocess, sys
repository, branch = "{REPOSITORY}", "{BRANCH}"  # from the book's _config.yml
if importlib.util.find_spec("sebook") is None:
    if not os.path.isdir("se-book"):
        subprocess.run(["git", "clone", "--depth", "1", "--branch", branch, repository, "se-book"], check=True)
    needed = {OTHERS!r}
    if importlib.util.find_spec("torch") is None:
        needed.append("{TORCH}")
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run(pip + needed, check=True)  # pip leaves a package that already satisfies these alone
    subprocess.run(pip + ["--no-deps", "./se-book"], check=True)  # into site-packages, already on the path
    importlib.invalidate_caches()  # so this running Python finds it without a restart
if os.path.isdir("se-book/chapters"):
    os.environ["SEBOOK_CHECKPOINTS"] = os.path.abspath("se-book/checkpoints")  # the book's trained nets
    os.chdir("se-book/chapters")"""
PACKAGES = (
    "torch",
    "numpy",
    "matplotlib",
    "ipywidgets",
    "jupyter-book",
    "myst-nb",
    "nbval",
    "sebook",
)


def find_notebooks(paths: list[str] | None = None) -> list[Path]:
    """The notebooks named in ``paths`` (files or folders), or every chapter notebook, in reading order."""
    found: list[Path] = []
    for p in map(Path, paths or [str(CHAPTERS)]):
        if p.is_dir():
            found += sorted(q for q in p.glob("*.ipynb") if not q.name.startswith("."))
        elif p.suffix == ".ipynb" and p.is_file():
            found.append(p)
        else:
            raise SystemExit(
                f"error: {p} is neither a notebook (.ipynb) nor a folder of notebooks"
            )
    return found


def versions() -> dict[str, str]:
    """Python and package versions of this environment, for the status page."""
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def execute(nb: nbformat.NotebookNode, workdir: Path, timeout: int = 900) -> float:
    """Run ``nb`` in place in a fresh kernel started in ``workdir``; return the wall time in seconds."""
    env = {
        **os.environ,
        "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": "2",
        "MKL_NUM_THREADS": "2",
        "TQDM_DISABLE": "1",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=KERNEL,
        store_widget_state=True,
        record_timing=False,
        resources={"metadata": {"path": str(workdir)}},
    )
    start = time.perf_counter()
    client.execute(env=env)
    return time.perf_counter() - start


def ensure_install_cell(nb: nbformat.NotebookNode) -> None:
    """Make the first cell the (hidden) cell that installs the library on Colab; refresh it if present."""
    first = nb.cells[0] if nb.cells else None
    if first is None or INSTALL_TAG not in first.metadata.get("tags", []):
        first = nbformat.v4.new_code_cell()
        nb.cells.insert(0, first)
    first.source = INSTALL_CELL
    first.metadata["tags"] = [INSTALL_TAG, "remove-cell"]


def coalesce_streams(outputs: list) -> list:
    """Merge consecutive stream outputs of the same stream (where a kernel splits them depends on timing)."""
    merged: list = []
    for out in outputs:
        if (
            out.get("output_type") == "stream"
            and merged
            and merged[-1].get("output_type") == "stream"
            and merged[-1].get("name") == out.get("name")
        ):
            merged[-1]["text"] += out["text"]
        else:
            merged.append(out)
    return merged


def normalise(nb: nbformat.NotebookNode, stem: str) -> nbformat.NotebookNode:
    """Give cells and widget models ids derived from the notebook's name; merge split streams; drop run metadata."""
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{stem[:40]}-{i}"
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = coalesce_streams(cell.outputs)
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": KERNEL,
    }
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    state = (
        nb.metadata.get("widgets", {})
        .get("application/vnd.jupyter.widget-state+json", {})
        .get("state", {})
    )
    if not state:
        nb.metadata.pop("widgets", None)
        return nb
    text = json.dumps(nb)
    for i, model_id in enumerate(list(state)):
        text = text.replace(
            model_id, hashlib.sha256(f"{stem}:{i}".encode()).hexdigest()[:32]
        )
    return nbformat.from_dict(json.loads(text))


def sanitize_patterns(path: Path = SANITIZE_FILE) -> list[tuple[re.Pattern[str], str]]:
    """The (regex, replacement) pairs of nbval's sanitize file, if there is one."""
    if not path.is_file():
        return []
    parser = configparser.ConfigParser()
    parser.read(path)
    return [
        (re.compile(parser[s]["regex"]), parser[s]["replace"])
        for s in parser.sections()
    ]


def text_outputs(
    nb: nbformat.NotebookNode, patterns: list[tuple[re.Pattern[str], str]] | None = None
) -> list[list[str]]:
    """The text nbval compares, cell by cell: streams (merged), errors and text mime types, sanitized; cells that
    nbval skips (tag ``nbval-ignore-output`` or ``nbval-skip``, or the comment ``# NBVAL_IGNORE_OUTPUT``) give an
    empty list."""
    result = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        texts: list[str] = []
        result.append(texts)
        tags = set(cell.get("metadata", {}).get("tags", []))
        if cell.source.lstrip().startswith(IGNORE_MARKER) or tags & {
            "nbval-ignore-output",
            "nbval-skip",
        }:
            continue
        for out in coalesce_streams([dict(o) for o in cell.get("outputs", [])]):
            if out["output_type"] == "stream":
                texts.append(f"{out['name']}: {out['text']}")
            elif out["output_type"] == "error":
                texts.append(f"error: {out['ename']}: {out['evalue']}")
            else:
                texts += [
                    f"{m}: {out['data'][m]}"
                    for m in TEXT_MIMES
                    if m in out.get("data", {})
                ]
        for pattern, replacement in patterns or []:
            texts[:] = [pattern.sub(replacement, t) for t in texts]
    return result


NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?")


def within_rounding(old: str, new: str, tolerance: float) -> bool:
    """Whether ``new`` says what ``old`` says, its numbers allowed to move by ``tolerance`` (relative) or by one
    unit of the last digit printed: the same words, the same number of numbers, each close."""
    if NUMBER.sub("#", old) != NUMBER.sub("#", new):
        return False
    for a, b in zip(NUMBER.findall(old), NUMBER.findall(new)):
        x, y = float(a.replace(",", "")), float(b.replace(",", ""))
        digits = len(a.partition(".")[2].partition("e")[0].partition("E")[0])
        if abs(x - y) > max(tolerance * max(abs(x), abs(y)), 1.0001 * 10.0**-digits):
            return False
    return True


def write_atomic(nb: nbformat.NotebookNode, path: Path) -> None:
    """Write ``nb`` to a temporary file beside ``path`` and rename it into place."""
    fd, tmp = tempfile.mkstemp(suffix=".ipynb", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            nbformat.write(nb, f)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run(
    path: Path, check: bool = False, timeout: int = 900, tolerance: float | None = None
) -> tuple[float, list[str]]:
    """Execute one notebook; write it back unless ``check``. Returns (seconds, differences in text output); with
    ``tolerance``, outputs whose numbers moved within it (:func:`within_rounding`) are not differences."""
    original = nbformat.read(path, as_version=4)
    nb = nbformat.read(path, as_version=4)
    ensure_install_cell(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    seconds = execute(nb, path.parent.resolve(), timeout)
    nb = normalise(nb, path.stem)
    patterns = sanitize_patterns()
    old, new = text_outputs(original, patterns), text_outputs(nb, patterns)
    diffs = [
        f"{path}: code cell {i}: text output changed"
        for i, (a, b) in enumerate(zip(old, new))
        if a != b
        and not (
            tolerance is not None
            and len(a) == len(b)
            and all(within_rounding(x, y, tolerance) for x, y in zip(a, b))
        )
    ]
    if len(old) != len(new):
        diffs.append(f"{path}: number of code cells changed")
    if not check:
        nb.metadata["sebook"] = {
            "execution_seconds": round(seconds, 1),
            "versions": versions(),
        }
        write_atomic(nb, path)
    return seconds, diffs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tools/notebooks.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "notebooks",
        nargs="*",
        help="notebooks or folders (default: every notebook in chapters/)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="re-execute without writing; fail if text output changes",
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=900,
        help="seconds allowed per cell (default 900)",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=None,
        help="with --check: numbers may move by this much (relative) or by one unit of their last digit; for "
        "comparing across torch versions (tools/torch_matrix.py)",
    )
    args = parser.parse_args(argv)
    if args.tolerance is not None and not (args.check and 0 <= args.tolerance < 1):
        parser.error("--tolerance needs --check and a value in [0, 1)")
    if args.timeout < 1:
        parser.error(f"--timeout must be >= 1, got {args.timeout}")
    failures: list[str] = []
    for path in find_notebooks(args.notebooks):
        try:
            seconds, diffs = run(
                path, check=args.check, timeout=args.timeout, tolerance=args.tolerance
            )
        except CellExecutionError as error:  # report it and go on with the next notebook
            message = str(error).strip().splitlines()[-1][:300]
            print(f"{path}: a cell failed: {message}")
            failures.append(f"{path}: a cell failed: {message}")
            continue
        print(
            f"{path}: executed in {seconds:.1f} s"
            + (f", {len(diffs)} text output(s) differ" if diffs else "")
        )
        failures += diffs if args.check else []
    for line in failures:
        print(line, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
