"""Sphinx extension with the website's engineering, so the chapters stay prose and code.

- serves the widget manager and MathJax from the site itself (copied from ``node_modules``; no CDN);
- fills the API page's table of paths from ``tests/data/paths.json``, and the front page's reader's path and the status page from the execution records that ``python -m sebook.notebooks`` stores in each notebook;
- loads on each page only the JavaScript it uses: the widget manager where there are widgets, MathJax where
  there is maths, the search index on the search page; the theme's 1.5 MB icon script is replaced by a small
  stylesheet of the few SVG icons the pages show (generated from the theme's own icon data);
- after the build, prints the heaviest pages (HTML with embedded widget state plus the images it loads).
"""
from __future__ import annotations

import json
import re
import shutil
import urllib.parse
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

WIDGETS_DIST = Path("node_modules/@jupyter-widgets/html-manager/dist")
MATHJAX_DIST = Path("node_modules/mathjax/es5")
MATHJAX_PARTS = ["tex-chtml.js", "output/chtml/fonts/woff-v2", "LICENSE"]
PAGE_BUDGET_BYTES = 2 * 1024 * 1024
VENDOR = Path("_static/vendor")
# The icons the theme and its buttons show, drawn as SVG masks from the theme's Font Awesome data.
ICONS = {"fas": ["angle-left", "angle-right", "arrow-up", "bars", "list", "magnifying-glass", "outdent", "download",
                 "expand", "file", "file-pdf", "lightbulb", "rocket", "circle-half-stroke", "moon", "sun", "book"],
         "fab": ["github"]}
ICON_CLASSES = {"fas": ("fa-solid", "fas"), "fab": ("fa-brands", "fab")}
# Admonition title icons (the theme draws them with the icon font): admonition class -> solid icon.
ADMONITION_ICONS = {"": "bell", "note": "circle-info", "tip": "lightbulb", "hint": "lightbulb",
                    "important": "circle-exclamation", "attention": "circle-exclamation",
                    "warning": "triangle-exclamation", "caution": "triangle-exclamation",
                    "danger": "triangle-exclamation", "error": "circle-xmark", "seealso": "share", "todo": "pencil",
                    "exercise": "pencil"}
ICON_SCRIPT = re.compile(r'\s*<script defer src="[^"]*_static/scripts/fontawesome\.js[^"]*"></script>')
# The theme loads the search index on every page for search-as-you-type, which this site leaves off.
# Accessibility fixes in the theme's markup: the search buttons' aria-label ("Search") does not contain their visible
# text ("Search Ctrl+K"); a citation list (role="list") whose entries are not list items; tables, which scroll
# sideways on a phone (_static/book.css), must be reachable with the keyboard.
MARKUP_FIXES = [(' title="Search" aria-label="Search" data-bs-placement', ' title="Search" data-bs-placement'),
                ('<table class="table">', '<table class="table" tabindex="0">'),
                ('<div class="citation" id="', '<div role="listitem" class="citation" id="'),
                (' role="doc-biblioentry">', '>')]
SEARCH_SCRIPTS = re.compile(r'\s*<script src="[^"]*(_static/searchtools|_static/language_data|searchindex)\.js"></script>')


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


def font_awesome_icons(script: str, prefix: str, names: list[str]) -> dict[str, tuple[int, int, str]]:
    """(width, height, SVG path) of each named icon in one style (``fas``, ``fab``) of Font Awesome's all.js."""
    end = script.index(f'd("{prefix}",p)')
    start = script.rindex("var p={", 0, end)
    section, found = script[start:end], {}
    for name in names:
        match = re.search(r'[{,]"?' + re.escape(name) + r'"?:\[(\d+),(\d+),\[[^\]]*\],"[0-9a-f]+","([^"]+)"\]',
                          section)
        if match is None:
            raise RuntimeError(f"icon {prefix} {name} not found in the theme's fontawesome.js")
        found[name] = (int(match.group(1)), int(match.group(2)), match.group(3))
    return found


def write_icon_stylesheet(app: Sphinx) -> None:
    """Write ``_static/vendor/icons.css``: each icon the pages use as an SVG mask (a few KB instead of the
    theme's 1.5 MB script that swaps ``<i class="fa-...">`` for SVG)."""
    import pydata_sphinx_theme

    script = (Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme" / "static" / "scripts"
              / "fontawesome.js").read_text(encoding="utf-8")
    rules = ["/* Font Awesome Free icons (CC BY 4.0, https://fontawesome.com/license/free), as SVG masks;",
             "   generated by _ext/book_site.py from the theme's fontawesome.js, so no icon font or script loads. */",
             ".fa-solid, .fas, .fa-brands, .fab, .far, .fa-regular { font-family: inherit !important; }"]

    def mask(width: int, height: int, path: str) -> str:
        svg = f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}'><path d='{path}'/></svg>"
        url = "url(\"data:image/svg+xml," + urllib.parse.quote(svg, safe=" =/:',") + "\")"
        return (f"content: \"\" !important; font: inherit !important; width: {width / height:.4f}em; height: 1em; "
                f"background-color: currentColor; -webkit-mask: {url} center / contain no-repeat; "
                f"mask: {url} center / contain no-repeat;")

    for prefix, names in ICONS.items():
        for name, (width, height, path) in font_awesome_icons(script, prefix, names).items():
            selector = ", ".join(f".{cls}.fa-{name}::before" for cls in ICON_CLASSES[prefix])
            rules.append(f"{selector} {{ {mask(width, height, path)} display: inline-block; "
                         f"vertical-align: -0.125em; }}")
    admonition = font_awesome_icons(script, "fas", sorted(set(ADMONITION_ICONS.values())))
    for cls, name in ADMONITION_ICONS.items():
        selector = f"div.admonition{'.' + cls if cls else ''} > .admonition-title::after"
        rules.append(f"{selector} {{ {mask(*admonition[name])} font-size: 1rem !important; }}")
    target = Path(app.srcdir) / VENDOR / "icons.css"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(rules) + "\n", encoding="utf-8")


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


def torch_versions_table(root: Path) -> str:
    """A markdown table from ``tests/data/torch_versions.json`` (written by ``tools/torch_matrix.py``): each torch
    release the book was tested with, when, and what passed."""
    path = root / "tests" / "data" / "torch_versions.json"
    if not path.exists():
        return "No torch release other than the pinned one has been tried yet.\n"
    rows = ["| torch | Last verified | Library tests | Chapters re-executed | Outputs that differ |",
            "|---|---|---|---|---|"]
    for v in json.loads(path.read_text(encoding="utf-8"))["versions"]:
        t, c = v["tests"], v["chapters"]
        tests = f"{t.get('passed', 0)} passed, {t.get('failed', 0)} failed"
        if "rerun_after_fix" in t:
            r = t["rerun_after_fix"]
            tests += f"; after the fix in {r['commit']}, {r['run']}: {r['passed']} passed, {r['failed']} failed"
        differ = ", ".join(c["outputs_differing"]) or "none"
        rows.append(f"| {v['torch']} | {v['date']} | {tests} | {c['executed']} | {differ} |")
    colab = json.loads(path.read_text(encoding="utf-8")).get("colab")
    note = ""
    if colab:
        differ = ", ".join(f"cell {i}" for i in colab["outputs_differing"]) or "none"
        note = (
            f"\nColab's way, last checked {colab['date']}: a fresh environment with torch {colab['torch']} and "
            f"Colab's other packages; `{colab['chapter']}` ran from its own install cell, which "
            f"{'kept' if colab['torch_kept'] else 'replaced'} that torch; outputs that differ: {differ}.\n"
        )
    return "\n".join(rows) + "\n" + note


WORDS_PER_MINUTE = 200


def kernel_only_cells(nb: dict) -> int:
    """Cells whose output needs a running kernel: the site shows their code only (tag ``remove-output``)."""
    return sum("remove-output" in cell.get("metadata", {}).get("tags", []) for cell in nb["cells"]
               if cell["cell_type"] == "code")


def reader_path_table(root: Path) -> str:
    """A markdown table, in the order of ``_toc.yml``: each notebook's reading time (its markdown at 200 words a
    minute, exercises included), its execution time from its record, and what of it needs a running kernel."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    rows = ["| Part | Chapter | Read (min) | Run (s) | On the website |", "|---|---|---:|---:|---|"]
    for part in toc["parts"]:
        caption = part["caption"]  # shown on the part's first row only
        for entry in part["chapters"]:
            path = root / f"{entry['file']}.ipynb"
            if not path.exists():
                continue
            nb = json.loads(path.read_text(encoding="utf-8"))
            words = sum(len("".join(c["source"]).split()) for c in nb["cells"] if c["cell_type"] == "markdown")
            minutes = -(-words // WORDS_PER_MINUTE)
            seconds = nb.get("metadata", {}).get("sebook", {}).get("execution_seconds")
            live = kernel_only_cells(nb)
            website = "everything" if not live else f"all but {live} live control{'s' * (live > 1)} (Binder, Colab)"
            rows.append(f"| {caption} | {{doc}}`{entry['file']}` | {minutes} | "
                        f"{'%.0f' % seconds if seconds is not None else 'not recorded'} | {website} |")
            caption = ""
    return "\n".join(rows) + "\n"


PATH_NAMES = {"eager": "eager", "autocast": "bf16", "channels_last": "NHWC",
              "compile": "compile", "export": "export", "onnx": "ONNX", "script": "script", "trace": "trace"}


def paths_table(root: Path) -> str:
    """A markdown table from ``tests/data/paths.json`` (written by ``tools/paths_table.py``): for each block and
    network, whether each path gives eager's output, and the versions it was tried with."""
    record = json.loads((root / "tests" / "data" / "paths.json").read_text(encoding="utf-8"))
    names = list(next(iter(record["results"].values())))
    rows = ["| Module | " + " | ".join(PATH_NAMES.get(n, n) for n in names) + " |",
            "|---|" + "---|" * len(names)]
    for module, row in record["results"].items():
        cells = ["✓" if row[n] == "ok" else "–" if row[n].startswith("n/a") else "✗ " + row[n].removeprefix("fails: ")
                 for n in names]
        rows.append(f"| `{module}` | " + " | ".join(cells) + " |")
    versions = ", ".join(f"{name} {v}" for name, v in record["versions"].items())
    return ("\n".join(rows) + f"\n\nTried on {record['date']} with Python {record['python']}, {versions}, on a "
            "CPU. bf16: bfloat16 autocast; NHWC: the channels_last memory format. ✓: the output equals eager's within "
            "1e-4 of its largest value (5e-2 in bfloat16); –: does not apply (channels_last to a (B, C) input).\n")


def fill_generated_tables(app: Sphinx, docname: str, source: list[str]) -> None:
    if docname == "api":
        source[0] = source[0].replace("<!-- paths-table -->", paths_table(Path(app.srcdir)))
    if docname == "status":
        source[0] = source[0].replace("<!-- status-table -->", status_table(Path(app.srcdir)))
        source[0] = source[0].replace("<!-- torch-versions -->", torch_versions_table(Path(app.srcdir)))
    if docname == "intro":
        source[0] = source[0].replace("<!-- reader-path -->", reader_path_table(Path(app.srcdir)))


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


def script_key(script: object) -> str:
    return getattr(script, "filename", None) or getattr(script, "attributes", {}).get("body", "") or str(script)


def load_only_used_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: object) -> None:
    """Drop the scripts a page does not use.

    - the widget manager and its MathJax shim, unless the page embeds widget state;
    - MathJax and its configuration, unless the page (or a widget label) has maths;
    - the search-snippet fix, except on the search page;
    (The theme's template adds two more: its icon script and the search index; `trim_theme_scripts` removes
    them from the written pages.)
    """
    scripts = context.get("script_files", [])
    texts = [script_key(s) for s in scripts]
    body = context.get("body", "")
    widget_state = next((t for t in texts if '"model_module"' in t), "")
    has_widgets = bool(widget_state)
    has_maths = ('class="math' in body or "\\(" in body or "$$" in body
                 or bool(re.search(r'"(description|value)": "[^"]*(\$|\\\\\()', widget_state)))

    def used(key: str) -> bool:
        name = key.split("?")[0]
        if not has_widgets and name.endswith(("widgets/embed.js", "widgets-mathjax3.js", "widgets-a11y.js")):
            return False
        if not has_maths and ("vendor/mathjax/" in name or key.startswith("window.MathJax")):
            return False
        if pagename != "search" and name.endswith("search-snippets.js"):
            return False
        return True

    context["script_files"] = [s for s, key in zip(scripts, texts) if used(key)]


def trim_theme_scripts(app: Sphinx, exception: Exception | None) -> None:
    """Remove two scripts that the theme's template writes into every page: Font Awesome's 1.5 MB icon script
    (``_static/vendor/icons.css`` draws the icons), and, except on the search page, the search index and search
    code (the theme loads them for search-as-you-type, which is off here: the search box opens ``search.html``).
    Also apply `MARKUP_FIXES`, two accessibility fixes in markup that the theme and Sphinx write."""
    if exception is not None or app.builder.format != "html":
        return
    search_as_you_type = app.config.html_theme_options.get("search_as_you_type", False)
    for page in Path(app.outdir).rglob("*.html"):
        if "_static" in page.relative_to(app.outdir).parts:
            continue
        html = page.read_text(encoding="utf-8")
        trimmed = ICON_SCRIPT.sub("", html)
        for old, new in MARKUP_FIXES:
            trimmed = trimmed.replace(old, new)
        if not search_as_you_type and page.name != "search.html":
            trimmed = SEARCH_SCRIPTS.sub("", trimmed)
        if trimmed != html:
            page.write_text(trimmed, encoding="utf-8")


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    app.connect("html-page-context", load_only_used_scripts, priority=910)
    app.connect("builder-inited", copy_vendored_assets)
    app.connect("builder-inited", write_icon_stylesheet)
    app.connect("build-finished", trim_theme_scripts, priority=400)
    app.connect("source-read", fill_generated_tables)
    app.connect("build-finished", report_page_weights)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
