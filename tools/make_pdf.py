"""Print the built website into one PDF: a cover with the table of contents, every chapter, the bibliography.

``python tools/make_pdf.py [--site _build/html] [--out _build/html/se-book.pdf]`` (``make pdf`` runs it after
building the site). It works offline: the built pages are served from this machine and Chromium (Debian's, through
Playwright) prints each one after MathJax has typeset its equations and the widget manager has drawn its widgets,
which print as a grid of every state (:data:`WIDGET_GRIDS`). pypdf joins the parts, numbers the pages and adds
bookmarks.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import html
import http.server
import io
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import yaml
from pypdf import PdfReader, PdfWriter

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("SEBOOK_CHROMIUM", "/usr/bin/chromium")
PDF_NAME = "se-book.pdf"
OVERFLOW_REPORT = "se-book-overflow.txt"
"""Beside the PDF: whatever ran past the printed column (empty in a good build; tests/test_pdf.py checks it)."""
MARGINS = {"top": "16mm", "bottom": "18mm", "left": "16mm", "right": "16mm"}
# Pages of the website that are not part of the book's text.
LEFT_OUT = {"api", "status"}
PRINT_CSS = """
@page { size: A4; }
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-header-article, .bd-footer, .bd-footer-article,
.prev-next-area, .headerlink, .copybtn, #pst-back-to-top, .bd-search, .search-button-field,
.header-article-items, .onlyprint, .sbt-scroll-pixel-helper { display: none !important; }
.bd-main .bd-content .bd-article-container { max-width: 100% !important; }
.bd-main .bd-content .bd-article h1:first-of-type { display: block !important; font-size: 2.2em; }
.bd-main .bd-content { margin-left: 0 !important; }
.bd-article { padding: 0 !important; }
html { font-size: 14px; }
pre, .highlight pre, .cell_output pre { white-space: pre-wrap !important; word-break: break-word; font-size: 11px; }
img { max-width: 100% !important; page-break-inside: avoid; break-inside: avoid; }
figure, .cell_output, div.math, div.cell_input, div.highlight { break-inside: avoid; }
h1, h2, h3 { break-after: avoid; }
details, .dropdown { display: block; }
.toggle-hidden, details > :not(summary) { display: block !important; visibility: visible !important; }
.bd-article a { color: inherit; text-decoration: none; }
"""


WIDGET_GRIDS = r"""
() => {
  // A reader of the PDF cannot move a slider: each slider over pre-rendered panels (sebook.widgets.slider_stack)
  // prints as a grid of all its panels, the control's value under each, drawn from the widget state the page
  // saved. A live widget (sebook.widgets.live) prints as a note naming its controls. Returns the panel counts.
  const state = JSON.parse(document.querySelector(
    'script[type="application/vnd.jupyter.widget-state+json"]').textContent).state;
  const model = (ref) => state[ref.replace('IPY_MODEL_', '')];
  const counts = [];
  document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').forEach((script) => {
    const box = state[JSON.parse(script.textContent).model_id];
    const drawn = script.parentElement.querySelector('.widget-subarea') || script.nextElementSibling;
    if (!box || !drawn || !box.state.children) return;
    const children = box.state.children.map(model);
    const slider = children.find((m) => m.model_name === 'SelectionSliderModel');
    const stack = children.find((m) => m.model_name === 'StackModel');
    const grid = document.createElement('div');
    if (slider && stack) {
      grid.className = 'print-widget-grid';
      const labels = slider.state._options_labels;
      stack.state.children.map(model).forEach((panel, i) => {
        const cell = document.createElement('figure');
        cell.innerHTML = (panel.state.value || '') +
          '<figcaption></figcaption>';
        cell.querySelector('figcaption').textContent = `${slider.state.description} = ${labels[i]}`;
        grid.appendChild(cell);
      });
      counts.push(labels.length);
    } else {
      grid.className = 'print-widget-note';
      const controls = children.filter((m) => /Slider|Dropdown|Toggle/.test(m.model_name))
        .map((m) => m.state.description).filter(Boolean);
      grid.textContent = `Live widget: in Jupyter, moving ${controls.join(', ')} recomputes this figure ` +
        '(it needs a running Python kernel).';
      counts.push(0);
    }
    drawn.style.display = 'none';
    drawn.parentElement.appendChild(grid);
  });
  return counts;
}
"""
"""JavaScript run on each page before printing; see its first comment."""

PRINT_GRID_CSS = """
.print-widget-grid { display: grid; grid-template-columns: 1fr 1fr; gap: 4mm; }
.print-widget-grid figure { margin: 0; break-inside: avoid; text-align: center; }
.print-widget-grid figcaption { font-size: 11px; color: #333; }
.print-widget-note { font-style: italic; color: #444; border-left: 3px solid #bbb; padding-left: 3mm; }
"""


PRINT_WIDTH_PX = 673
"""The printed column in CSS pixels: A4's 210 mm less the two 16 mm margins, at 96 px an inch."""

FIT_TO_COLUMN = r"""
() => {
  // MathJax cannot break an equation across lines: one wider than the printed column is set smaller
  // until it fits. Then report whatever still runs past the column's right edge (nothing, in a good book).
  const article = document.querySelector('.bd-article') || document.body;
  const column = article.getBoundingClientRect();
  document.querySelectorAll('mjx-container').forEach((m) => {  // display maths, and inline maths set as a block
    const width = m.scrollWidth;
    if (width > column.width) m.style.zoom = Math.floor(980 * column.width / width) / 1000;  // Chromium's zoom
  });
  const past = [];
  article.querySelectorAll('pre, table, img, mjx-container, figure, p, li, .print-widget-grid').forEach((e) => {
    const r = e.getBoundingClientRect();
    if (r.width > 0 && r.right > column.right + 1) {
      past.push(`${e.tagName.toLowerCase()} ${Math.round(r.right - column.right)} px past: ` +
                (e.textContent || e.getAttribute('alt') || '').trim().slice(0, 60));
    }
  });
  return past;
}
"""
"""JavaScript run in print layout at the printed column's width; see its first comment."""


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(site: Path) -> Iterator[str]:
    handler = functools.partial(QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


def book_pages(root: Path = ROOT) -> list[str]:
    """The documents of ``_toc.yml`` in reading order (the root first), less `LEFT_OUT`."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    pages = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries:
            if "file" in entry:
                pages.append(
                    str(entry["file"]).removesuffix(".md").removesuffix(".ipynb")
                )
            walk(entry.get("chapters", []) + entry.get("sections", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    walk(toc.get("chapters", []))
    return [p for p in pages if p not in LEFT_OUT]


def ready_for_print(page) -> str:
    """Wait for images, MathJax and widgets; open folded solutions; return the page's title."""
    page.evaluate(
        "() => document.querySelectorAll('img[loading=lazy]').forEach(img => { img.loading = 'eager'; })"
    )
    page.wait_for_function(
        "() => Array.from(document.images).every(img => img.complete)", timeout=30000
    )
    page.evaluate(
        "() => window.MathJax && window.MathJax.startup ? window.MathJax.startup.promise : null"
    )
    if page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count():
        page.wait_for_function(
            """() => document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')
            .length <= document.querySelectorAll('.jupyter-widgets, .widget-output').length""",
            timeout=30000,
        )
        page.wait_for_timeout(500)
        page.evaluate(
            "() => window.MathJax && window.MathJax.typesetPromise ? MathJax.typesetPromise() : null"
        )
        page.evaluate(WIDGET_GRIDS)
        page.add_style_tag(content=PRINT_GRID_CSS)
    page.evaluate(
        "() => document.querySelectorAll('details').forEach(d => { d.open = true; })"
    )
    page.add_style_tag(content=PRINT_CSS)
    return page.evaluate(
        "() => (document.querySelector('.bd-article h1') || document.querySelector('h1'))"
        ".textContent.replace('#', '').trim()"
    )


def cover_html(
    title: str, author: str, entries: list[tuple[str, int]], site_url: str
) -> str:
    rows = "\n".join(
        f'<li><span class="t">{html.escape(t)}</span><span class="n">{n}</span></li>'
        for t, n in entries
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>
      body {{ font-family: "DejaVu Sans", sans-serif; margin: 0; color: #222; }}
      .cover {{ height: 250mm; display: flex; flex-direction: column; justify-content: center; break-after: page; }}
      .cover h1 {{ font-size: 34px; margin: 0 0 12px; }} .cover p {{ font-size: 15px; color: #444; }}
      h2 {{ font-size: 22px; }} ol {{ list-style: none; padding: 0; font-size: 14px; }}
      li {{ display: flex; padding: 5px 0; border-bottom: 1px dotted #bbb; }}
      li .t {{ flex: 1; }} li .n {{ width: 3em; text-align: right; }}
    </style></head><body>
      <section class="cover"><h1>{html.escape(title)}</h1><p>{html.escape(author)}</p>
      <p>The PDF edition of the website, printed from {html.escape(site_url)}. Sliders appear as a grid of
      every state, side by side; the website and the notebooks have the interactive versions.</p></section>
      <h2>Contents</h2><ol>{rows}</ol></body></html>"""


def numbers_html(total: int, first: int) -> str:
    """A document of ``total`` empty pages, each with its page number at the foot (from page ``first`` on)."""
    pages = "".join(
        f'<div class="p"><span>{i + 1 if i + 1 >= first else ""}</span></div>'
        for i in range(total)
    )
    return f"""<!doctype html><html><head><style>@page {{ size: A4; margin: 0; }} body {{ margin: 0; }}
      .p {{ height: 297mm; position: relative; break-after: page; }}
      .p span {{ position: absolute; bottom: 8mm; width: 100%; text-align: center;
                 font: 10px "DejaVu Sans", sans-serif; color: #555; }}</style></head><body>{pages}</body></html>"""


def build_pdf(site: Path, out: Path, root: Path = ROOT) -> dict:
    """Print the book; return a summary (pages, chapters with their first page, seconds)."""
    from playwright.sync_api import sync_playwright

    start = time.monotonic()
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    docs = book_pages(root)
    parts: list[tuple[str, bytes]] = []
    overflow: list[str] = []
    with serve(site) as url, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context(viewport={"width": 1000, "height": 1400})
        for doc in docs:
            page = context.new_page()
            page.goto(f"{url}/{doc}.html", wait_until="load")
            page.wait_for_load_state("networkidle")
            title = ready_for_print(page)
            page.emulate_media(media="print")
            page.set_viewport_size({"width": PRINT_WIDTH_PX, "height": 1400})
            overflow += [f"{doc}: {line}" for line in page.evaluate(FIT_TO_COLUMN)]
            parts.append(
                (title, page.pdf(format="A4", margin=MARGINS, print_background=True))
            )
            page.close()
        counts = [len(PdfReader(io.BytesIO(pdf)).pages) for _, pdf in parts]
        cover = context.new_page()
        cover.set_content(
            cover_html(
                config["title"],
                config.get("author", ""),
                [(t, 0) for t, _ in parts],
                config.get("repository", {}).get("url", ""),
            )
        )
        front = len(PdfReader(io.BytesIO(cover.pdf(format="A4", margin=MARGINS))).pages)
        firsts, page_no = [], front + 1
        for count in counts:
            firsts.append(page_no)
            page_no += count
        cover.set_content(
            cover_html(
                config["title"],
                config.get("author", ""),
                [(t, n) for (t, _), n in zip(parts, firsts)],
                config.get("repository", {}).get("url", ""),
            )
        )
        front_pdf = cover.pdf(format="A4", margin=MARGINS)
        total = front + sum(counts)
        cover.set_content(numbers_html(total, front + 1))
        numbers = PdfReader(io.BytesIO(cover.pdf(format="A4", print_background=False)))
        browser.close()

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(front_pdf)))
    for (title, pdf), first in zip(parts, firsts):
        writer.append(PdfReader(io.BytesIO(pdf)))
        writer.add_outline_item(title=title, page_number=first - 1)
    for index, page in enumerate(writer.pages):
        if index >= front:
            page.merge_page(numbers.pages[index])
    writer.add_metadata(
        {"/Title": config["title"], "/Author": config.get("author", "")}
    )
    writer.compress_identical_objects()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as f:
        writer.write(f)
    out.with_name(OVERFLOW_REPORT).write_text("\n".join(overflow) + ("\n" if overflow else ""))
    return {
        "overflow": overflow,
        "pages": total,
        "chapters": [(t, n) for (t, _), n in zip(parts, firsts)],
        "seconds": time.monotonic() - start,
        "bytes": out.stat().st_size,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--site", type=Path, default=ROOT / "_build" / "html", help="the built website"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help=f"the PDF (default: SITE/{PDF_NAME})"
    )
    args = parser.parse_args(argv)
    if not (args.site / "index.html").is_file():
        raise SystemExit(f"no built site in {args.site}: run `make book` first")
    if not Path(CHROMIUM).is_file():
        raise SystemExit(
            f"Chromium not found at {CHROMIUM}: install Debian's `chromium` or set SEBOOK_CHROMIUM"
        )
    out = args.out or args.site / PDF_NAME
    summary = build_pdf(args.site, out)
    print(
        f"{out}: {summary['pages']} pages, {summary['bytes'] / 1e6:.1f} MB, {summary['seconds']:.0f} s"
    )
    for title, first in summary["chapters"]:
        print(f"  p. {first:4d}  {title}")
    for line in summary["overflow"]:
        print(f"runs past the printed column: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
