"""The book's conventions, checked on every chapter notebook (see README, "Writing a chapter")."""

import re
from pathlib import Path

import nbformat
import pytest
import yaml

from notebooks import INSTALL_TAG  # tools/notebooks.py

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [c["file"] for part in toc["parts"] for c in part["chapters"]]


def test_toc_lists_every_chapter_and_nothing_missing():
    listed = {f for f in toc_files() if f.startswith("chapters/")}
    present = {f"chapters/{p.stem}" for p in CHAPTERS}
    assert listed == present
    for f in toc_files():
        assert (ROOT / f"{f}.md").exists() or (ROOT / f"{f}.ipynb").exists(), f


@pytest.fixture(params=CHAPTERS, ids=lambda p: p.stem)
def nb(request):
    return nbformat.read(request.param, as_version=4)


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_opens_with_install_cell_title_and_setup(nb):
    assert (
        INSTALL_TAG in nb.cells[0].metadata.get("tags", [])
        and "remove-cell" in nb.cells[0].metadata["tags"]
    )
    first_md = next(c for c in nb.cells if c.cell_type == "markdown")
    assert first_md.source.startswith(
        "# "
    ), "the first markdown cell must start with the page title"
    setup = code_cells(nb)[1].source
    assert "import sebook" in setup and "sebook.setup(" in setup


def test_executed_in_order_without_errors(nb):
    counts = [c.execution_count for c in code_cells(nb) if c.source.strip()]
    assert (
        None not in counts
    ), "every code cell must be executed (run python tools/notebooks.py)"
    assert counts == sorted(counts)
    errors = [o for c in code_cells(nb) for o in c.outputs if o.output_type == "error"]
    assert not errors


def test_no_sys_path_and_no_placeholders(nb):
    for cell in nb.cells:
        assert "sys.path" not in cell.source
        if cell.cell_type == "markdown":
            assert not re.search(
                r"\b(TODO|TBD|FIXME|XXX)\b|placeholder|lorem ipsum", cell.source, re.I
            ), cell.source[:80]


def test_every_figure_has_alt_text_or_caption(nb):
    for cell in code_cells(nb):
        if any("image/png" in o.get("data", {}) for o in cell.outputs):
            meta = cell.metadata.get("mystnb", {})
            assert meta.get("image", {}).get("alt") or meta.get("figure", {}).get(
                "caption"
            ), cell.source[:120]


def test_widgets_have_stored_state(nb):
    shown = [
        o["data"][WIDGET_VIEW]["model_id"]
        for c in code_cells(nb)
        for o in c.outputs
        if WIDGET_VIEW in o.get("data", {})
    ]
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for model_id in shown:
        assert model_id in state, "a widget is shown but its state was not stored"


def test_ends_with_exercises_with_hidden_solutions(nb):
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "## Exercises" in text
    assert text.count("{exercise}") >= 2
    assert text.count("{solution}") == text.count("{exercise}")
    assert text.count(":class: dropdown") >= text.count("{solution}")


def test_cites_its_sources(nb):
    assert "{cite}" in "\n".join(
        c.source for c in nb.cells if c.cell_type == "markdown"
    )


def test_code_fences_inside_directives_are_nested_correctly(nb):
    """A ```python fence inside a ```{solution} closes the directive early: the outer fence needs four backticks."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        open_fences: list[int] = []
        for line in cell.source.splitlines():
            m = re.match(r"^(`{3,})(\{[\w-]+\}|\w*)", line)
            if not m:
                continue
            ticks, kind = len(m.group(1)), m.group(2)
            if kind:
                assert not (
                    kind[0] != "{" and open_fences and open_fences[-1] <= ticks
                ), f"a {'`' * ticks}{kind} fence inside a directive fenced with {open_fences[-1]} backticks: {line!r}"
                open_fences.append(ticks)
            elif open_fences:
                open_fences.pop()


GLUE_RECORD = "application/papermill.record/text/plain"
BARE_FLOAT = re.compile(
    r"-?(\d+\.\d*|\.\d+|\d+)(e[-+]?\d+)?|-?(nan|inf)|(np\.float\d+|tensor)\(.*\)", re.I
)
GLUE_FORMAT = re.compile(r"\{glue(?::text)?\}`[\w-]+:([^`]+)`")


def test_glued_numbers_are_stored_as_the_prose_shows_them(nb):
    """A float glued at full precision changes in its last digits with the CPU's vector kernels, and nbval compares
    every digit. So a cell glues a number as the text the prose shows (``f"{x:.2f}"``), and the prose takes it
    as it is: a format spec in a glue role is allowed for whole numbers only (``:,d``), which every CPU computes
    exactly."""
    for cell in code_cells(nb):
        for o in cell.outputs:
            record = o.get("data", {}).get(GLUE_RECORD)
            if record is not None and not re.fullmatch(r"-?\d+", record):
                name = o["metadata"]["scrapbook"]["name"]
                assert not BARE_FLOAT.fullmatch(
                    record
                ), f"glue {name!r} stores the number {record}: glue f'{{value:<format>}}' instead"
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for spec in GLUE_FORMAT.findall(cell.source):
                assert spec in (",d", "d"), f"glue role formats with {spec!r}"


def test_intro_map_lists_every_chapter_in_order():
    """The introduction's table of chapters follows _toc.yml (chapter 01 builds its own map from it)."""
    intro = (ROOT / "intro.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| \{doc\}`(chapters/[\w]+)`", intro, re.M)
    assert listed == [f for f in toc_files() if f.startswith("chapters/")]


PROSE_LIMIT = 3000
OWN_ISSUE = {
    "09_ablations"
}  # rebuilt around its controlled experiment in an issue of its own


def prose_words(nb) -> int:
    """Words of prose before the Exercises: markdown, without code blocks and directive options.

    Exercises and solutions end a chapter and are not counted; a glue role counts as one word.
    """
    words = 0
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        fences: list[bool] = []  # for each open fence: is it code (not a directive)?
        for line in cell.source.split("## Exercises")[0].splitlines():
            m = re.match(r"^\s*(`{3,}|:{3,})(\S*)", line)
            if m and (m.group(2) or fences):
                if m.group(2):
                    fences.append(not m.group(2).startswith("{"))
                else:
                    fences.pop()
            elif not any(fences) and not re.match(r"^\s*:[\w-]+:", line):
                words += len(line.split())
        if "## Exercises" in cell.source:
            break
    return words


def test_prose_fits_a_chapter(nb, request):
    """One question a chapter: at most 3,000 words of prose before the Exercises."""
    name = request.node.callspec.id
    if name not in OWN_ISSUE:
        assert prose_words(nb) <= PROSE_LIMIT, f"{name}: {prose_words(nb)} words"


def test_summary_then_exercises_end_the_chapter(nb):
    """The last two sections are the Summary and the Exercises, in that order."""
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings[-2:] == ["Summary", "Exercises"], headings[-3:]


def test_front_page_gives_each_notebook_its_reading_and_running_time():
    """The front page's reader's path is generated at build time (_ext/book_site.py) from every notebook."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "book_site", ROOT / "_ext" / "book_site.py"
    )
    book_site = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(book_site)
    table = book_site.reader_path_table(ROOT)
    assert "<!-- reader-path -->" in (ROOT / "intro.md").read_text(encoding="utf-8")
    rows = [
        line for line in table.splitlines() if line.startswith("| ") and "{doc}" in line
    ]
    assert [re.search(r"\{doc\}`([^`]+)`", row).group(1) for row in rows] == [
        f for f in toc_files() if f.startswith("chapters/")
    ]
    for row in rows:
        minutes, seconds = row.split(" | ")[2:4]
        assert int(minutes) > 0 and seconds.isdigit(), row


def test_every_visible_code_cell_is_introduced_by_a_sentence(nb):
    """No visible code cell follows another: a sentence of prose introduces each (hidden cells do not count)."""
    hidden = {"remove-cell", "remove-input", INSTALL_TAG}
    previous = None
    for cell in nb.cells:
        if cell.cell_type == "code" and hidden & set(cell.metadata.get("tags", [])):
            continue
        assert not (
            cell.cell_type == "code" and previous == "code"
        ), f"a code cell without a sentence before it: {cell.source[:80]!r}"
        previous = cell.cell_type


def test_asks_its_question_in_its_first_paragraph(nb, request):
    """One question a chapter, stated where the reader starts."""
    if request.node.callspec.id in OWN_ISSUE:
        return
    title_cell = next(c for c in nb.cells if c.cell_type == "markdown")
    first_paragraph = title_cell.source.split("\n\n")[1]
    assert "?" in first_paragraph, first_paragraph[:120]
