"""The PDF edition (`make pdf`, tools/make_pdf.py): every chapter with its title, figures and typeset maths, a
table of contents, the bibliography, and a link to it on the website's front page."""

from __future__ import annotations

import html
import re
import unicodedata
from pathlib import Path

import pytest

import make_pdf

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
PDF = SITE / make_pdf.PDF_NAME
pypdf = pytest.importorskip("pypdf")


@pytest.fixture(scope="module")
def book():
    if not PDF.is_file():
        pytest.fail(f"{PDF} is missing: run `make pdf` (it builds the site first)")
    reader = pypdf.PdfReader(PDF)
    outline = [
        (item.title, reader.get_destination_page_number(item))
        for item in reader.outline
    ]
    return reader, outline


def text(page) -> str:
    """A page's text with ligatures undone and whitespace collapsed."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", page.extract_text()))


def page_range(outline, index: int, total: int) -> range:
    start = outline[index][1]
    end = outline[index + 1][1] if index + 1 < len(outline) else total
    return range(start, end)


def test_every_book_page_is_a_bookmarked_part_in_reading_order(book):
    reader, outline = book
    docs = make_pdf.book_pages(ROOT)
    assert len(outline) == len(docs) and "chapters/01_overview" in docs
    titles = []
    for doc in docs:
        head = re.search(
            r"<title>(.*?)</title>",
            (SITE / f"{doc}.html").read_text(encoding="utf-8"),
            re.S,
        )
        titles.append(html.unescape(head.group(1)).split(" \u2014 ")[0].strip())
    assert [
        t for t, _ in outline
    ] == titles, "bookmarks must be the pages' titles, in order"
    starts = [page for _, page in outline]
    assert (
        starts == sorted(starts) and starts[0] >= 1
    ), "the cover and contents come first"
    assert 5 * (len(docs) - 2) <= len(reader.pages) <= 800


def test_contents_page_lists_every_chapter_with_its_page(book):
    reader, outline = book
    front = " ".join(text(reader.pages[i]) for i in range(outline[0][1]))
    assert "Contents" in front
    for title, page in outline:
        line = re.sub(r"\s+", " ", title) + f" {page + 1}"
        assert line in front, f"no contents line for {title!r} (p. {page + 1})"


def test_each_chapter_starts_with_its_title_and_has_its_figures(book):
    reader, outline = book
    total = len(reader.pages)
    for index, (title, first) in enumerate(outline):
        opening = text(reader.pages[first])
        # the title heads its first page (a list's labels may come first in the extracted text)
        assert (
            re.sub(r"\s+", " ", title)[:30] in opening[:300]
        ), f"{title!r} does not open page {first + 1}"
        doc = make_pdf.book_pages(ROOT)[index]
        page_html = re.sub(
            r"<script.*?</script>",
            "",
            (SITE / f"{doc}.html").read_text(encoding="utf-8"),
            flags=re.S,
        )
        # figures in the page itself (not the launch buttons' logos; widget frames live in scripts)
        figures = len(
            re.findall(r'<img [^>]*src="(?:\.\./)?(?:_images/|data:image)', page_html)
        )
        images = sum(
            len(reader.pages[i].images) for i in page_range(outline, index, total)
        )
        if doc.startswith("chapters/") and figures:
            assert (
                images >= 1
            ), f"{title}: no embedded image in its pages, though the web page has {figures}"


def test_maths_is_typeset_and_the_bibliography_is_there(book):
    reader, outline = book
    everything = " ".join(text(page) for page in reader.pages)
    assert (
        "\\(" not in everything
        and "\\mathbf" not in everything
        and "$$" not in everything
    ), "raw TeX"
    last_title, last_first = outline[-1]
    assert last_title == "References"
    references = " ".join(
        text(reader.pages[i]) for i in range(last_first, len(reader.pages))
    )
    assert (
        "Squeeze-and-excitation networks" in references
        or "Squeeze-and-Excitation" in references
    )


def test_the_front_page_links_the_pdf():
    intro = (SITE / "intro.html").read_text(encoding="utf-8")
    assert f'href="{make_pdf.PDF_NAME}"' in intro


def slider_stacks(notebook: Path) -> list[list[str]]:
    """The captions each kernel-free slider of a notebook must print under its panels, in display order."""
    import json

    nb = json.loads(notebook.read_text(encoding="utf-8"))
    state = nb["metadata"].get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    model = lambda ref: state[ref.removeprefix("IPY_MODEL_")]  # noqa: E731
    stacks = []
    for cell in nb["cells"]:
        if "remove-output" in cell.get("metadata", {}).get("tags", []):
            continue
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get("application/vnd.jupyter.widget-view+json")
            children = [model(c) for c in state[view["model_id"]]["state"].get("children", [])] if view else []
            slider = next((m for m in children if m["model_name"] == "SelectionSliderModel"), None)
            stack = next((m for m in children if m["model_name"] == "StackModel"), None)
            if slider and stack:
                assert len(stack["state"]["children"]) == len(slider["state"]["_options_labels"])
                stacks.append([f"{slider['state']['description']} = {label}" for label in slider["state"]["_options_labels"]])
    return stacks


def test_every_slider_prints_as_a_grid_of_all_its_panels(book):
    """A PDF reader cannot move a slider: each prints every panel, its setting written under it (make_pdf.WIDGET_GRIDS)."""
    reader, outline = book
    docs = make_pdf.book_pages(ROOT)
    checked = 0
    for index, doc in enumerate(docs):
        notebook = ROOT / f"{doc}.ipynb"
        if not notebook.exists():
            continue
        printed = " ".join(text(reader.pages[i]) for i in page_range(outline, index, len(reader.pages)))
        for captions in slider_stacks(notebook):
            for caption in captions:
                assert re.sub(r"\s+", " ", unicodedata.normalize("NFKC", caption)) in printed, f"{doc}: no panel captioned {caption!r}"
            checked += 1
    assert checked >= 6


def test_nothing_runs_past_the_printed_column(book):
    """Code and printed output wrap (PRINT_CSS), wide equations are set smaller (FIT_TO_COLUMN); what still runs past
    the right margin is listed beside the PDF by tools/make_pdf.py, and must be nothing."""
    report = SITE / make_pdf.OVERFLOW_REPORT
    assert report.is_file(), f"{report} is missing: run `make pdf`"
    assert report.read_text() == "", report.read_text()
