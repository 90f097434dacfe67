"""Sphinx extension with the website's engineering, so the chapters stay prose and code.

- serves the widget manager and MathJax from the site itself (copied from ``node_modules``; no CDN);
- fills the status page from the execution records that ``python -m sebook.notebooks`` stores in each notebook;
- after the build, prints the heaviest pages (HTML with embedded widget state plus the images it loads).
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

WIDGETS_DIST = Path("node_modules/@jupyter-widgets/html-manager/dist")
MATHJAX_DIST = Path("node_modules/mathjax/es5")
MATHJAX_PARTS = ["tex-chtml.js", "output/chtml/fonts/woff-v2", "LICENSE"]
PAGE_BUDGET_BYTES = 2 * 1024 * 1024
VENDOR = Path("_static/vendor")


def copy_vendored_assets(app: Sphinx) -> None:
    """Copy the widget manager (``embed.js`` and its fonts) and MathJax into ``_static/vendor``."""
    root = Path(app.srcdir)
    if not (root / WIDGETS_DIST / "embed.js").is_file() or not (root / MATHJAX_DIST / "tex-chtml.js").is_file():
        raise RuntimeError("node_modules is missing the widget manager or MathJax: run `npm ci` in the book's folder "
                           "(`make book` does it for you)")
    widgets = root / VENDOR / "widgets"
    widgets.mkdir(parents=True, exist_ok=True)
    for f in (root / WIDGETS_DIST).iterdir():
        if f.is_file() and not f.name.endswith(".map") and "amd" not in f.name:
            shutil.copy2(f, widgets / f.name)
    if (root / WIDGETS_DIST.parent / "LICENSE").is_file():
        shutil.copy2(root / WIDGETS_DIST.parent / "LICENSE", widgets / "LICENSE")
    mathjax = root / VENDOR / "mathjax"
    for part in MATHJAX_PARTS:
        source, target = root / MATHJAX_DIST / part, mathjax / part
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        elif source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    license_file = root / MATHJAX_DIST.parent / "LICENSE"
    if license_file.is_file():
        shutil.copy2(license_file, mathjax / "LICENSE")


def status_table(root: Path) -> str:
    """Markdown tables of each chapter notebook's last execution time and the versions it ran with."""
    rows, versions = [], {}
    for nb_path in sorted((root / "chapters").glob("*.ipynb")):
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        record = nb.get("metadata", {}).get("sebook", {})
        title = next((line.lstrip("# ").strip() for cell in nb["cells"] if cell["cell_type"] == "markdown"
                      for line in "".join(cell["source"]).splitlines() if line.startswith("# ")), nb_path.stem)
        seconds = record.get("execution_seconds")
        rows.append(f"| {{doc}}`{title} <chapters/{nb_path.stem}>` | `{nb_path.name}` | "
                    f"{'%.1f' % seconds if seconds is not None else 'not recorded'} |")
        versions = record.get("versions", versions)
    table = ["| Chapter | Notebook | Execution time (s) |", "|---|---|---:|", *rows, ""]
    table += ["Versions the notebooks last ran with:", "", "| Package | Version |", "|---|---|"]
    table += [f"| {name} | {version} |" for name, version in versions.items()]
    return "\n".join(table) + "\n"


def fill_status_page(app: Sphinx, docname: str, source: list[str]) -> None:
    if docname == "status":
        source[0] = source[0].replace("<!-- status-table -->", status_table(Path(app.srcdir)))


def page_weights(out: Path) -> list[tuple[int, Path]]:
    """(bytes, page) for every HTML page of the built site, heaviest first: the HTML with its embedded widget
    state plus the local images it loads."""
    weights = []
    for page in out.rglob("*.html"):
        if "_static" in page.parts:
            continue
        html = page.read_text(encoding="utf-8", errors="replace")
        size = page.stat().st_size
        for src in set(re.findall(r'<img[^>]+src="([^"]+)"', html)):
            target = (page.parent / src).resolve()
            if not src.startswith("data:") and target.is_file():
                size += target.stat().st_size
        weights.append((size, page.relative_to(out)))
    return sorted(weights, reverse=True)


def report_page_weights(app: Sphinx, exception: Exception | None) -> None:
    """Print the five heaviest pages; warn (an error under -W) about any page over the 2 MB budget."""
    if exception is not None or app.builder.format != "html":
        return
    weights = page_weights(Path(app.outdir))
    logger.info("Heaviest pages (HTML with embedded widget state + images):")
    for size, name in weights[:5]:
        logger.info(f"  {size / 1024:8.0f} KiB  {name}")
    for size, name in weights:
        if size > PAGE_BUDGET_BYTES:
            logger.warning(f"{name} weighs {size / 1024 / 1024:.2f} MiB, over the 2 MiB page budget")


def drop_duplicate_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: object) -> None:
    """Keep one copy of each script (by file name, or by body for inline scripts).

    jupyter-book registers some scripts twice: sphinx-thebe's ``THEBE_JS_URL`` (declared twice: a page error),
    myst-nb's widget manager, and MathJax (loaded twice: "Cannot set property Package").
    """
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = getattr(script, "filename", None) or getattr(script, "attributes", {}).get("body", str(script))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    app.connect("builder-inited", copy_vendored_assets)
    app.connect("source-read", fill_status_page)
    app.connect("build-finished", report_page_weights)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
