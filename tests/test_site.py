"""Browser tests of the built website (Playwright driving Debian's Chromium, no network, no kernel).

Run after `jupyter-book build .` (``make test`` builds first). Every page must load with no page errors and no
request leaving the site, every image must load, and every kernel-free slider must change what is shown. The
sidebar toggles must work at phone, tablet and laptop widths; no page may have a critical or serious axe-core
violation; each page's weight (what a reader downloads from a server that compresses text, as static hosts do)
is printed and kept under budget. Screenshots of each page at desktop and phone width go to
``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import functools
import gzip
import http.server
import json
import os
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
ARTIFACTS = ROOT / "test-artifacts"
SHOTS = ARTIFACTS / "screenshots"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("SEBOOK_CHROMIUM", "/usr/bin/chromium")
VIEWPORTS = {
    "desktop": {"width": 1280, "height": 900},
    "phone": {"width": 390, "height": 844},
}
SKIP_DIRS = {"_static", "_sources", "_images", "_modules"}


def site_pages() -> list[str]:
    if not (SITE / "index.html").is_file():
        return []
    return sorted(
        str(p.relative_to(SITE))
        for p in SITE.rglob("*.html")
        if not SKIP_DIRS & set(p.relative_to(SITE).parts)
    )


PAGES = site_pages()
playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server():
    if not PAGES:
        pytest.fail(
            f"no built site in {SITE}: run `make book` (or `jupyter-book build .`) first"
        )
    handler = functools.partial(QuietHandler, directory=str(SITE))
    httpd = QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


COMPRESSED = {".html", ".js", ".css", ".svg", ".json", ".txt", ".map", ".ttf", ".eot"}


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        pass  # a browser closing a connection early is not a failure of the site


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site as a static host does: text compressed with gzip when the browser accepts it."""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        if (
            path.suffix not in COMPRESSED
            or not path.is_file()
            or "gzip" not in self.headers.get("Accept-Encoding", "")
        ):
            return super().do_GET()
        body = gzip.compress(path.read_bytes(), compresslevel=6, mtime=0)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's `chromium` package or set SEBOOK_CHROMIUM"
        )
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield browser
        browser.close()


def open_page(browser, server: str, page_path: str, viewport: dict):
    """Open a page; return (page, page errors, console errors, requests that tried to leave the site)."""
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    errors, console, offsite = [], [], []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console", lambda msg: console.append(msg.text) if msg.type == "error" else None
    )

    def route(request_route):
        url = request_route.request.url
        if url.startswith(server) or url.startswith(("data:", "blob:", "about:")):
            request_route.continue_()
        else:
            offsite.append(url)
            request_route.abort()

    page.route("**/*", route)
    page.goto(f"{server}/{page_path}", wait_until="load")
    page.wait_for_load_state("networkidle")
    return page, errors, console, offsite


@pytest.mark.parametrize("page_path", PAGES)
def test_page_loads_cleanly(browser, server, page_path):
    for name, viewport in VIEWPORTS.items():
        page, errors, console, offsite = open_page(browser, server, page_path, viewport)
        page.wait_for_timeout(300)
        broken = page.evaluate(
            """() => Array.from(document.images)
            .filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.src.slice(0, 80))"""
        )
        shot = (
            SHOTS / name / (page_path.replace("/", "__").removesuffix(".html") + ".png")
        )
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=False)
        if name == "phone":
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - window.innerWidth"
            )
            assert (
                overflow <= 2
            ), f"{page_path} is {overflow}px wider than a phone screen"
        page.context.close()
        assert errors == [], f"{page_path} ({name}): page errors {errors}"
        assert console == [], f"{page_path} ({name}): console errors {console}"
        assert (
            offsite == []
        ), f"{page_path} ({name}): requests leaving the site {offsite}"
        assert broken == [], f"{page_path} ({name}): images that did not load {broken}"


def visible_panel(box) -> str:
    """A fingerprint of what the widget box shows apart from its sliders (the Stack's current child)."""
    return box.evaluate(
        """box => Array.from(box.children)
        .filter(el => !el.classList.contains('widget-slider') && !el.querySelector('.widget-slider'))
        .map(el => el.innerHTML.length + ':' + el.innerHTML.slice(0, 200) + el.innerHTML.slice(-400)).join('|')"""
    )


SLIDER_PAGES = [p for p in PAGES if p.startswith("chapters/")]


@pytest.mark.parametrize("page_path", SLIDER_PAGES)
def test_kernel_free_sliders_change_the_display(browser, server, page_path):
    """Move every slider with the keyboard; the panel next to it must change (no kernel is running)."""
    page, errors, _console, _offsite = open_page(
        browser, server, page_path, VIEWPORTS["desktop"]
    )
    handles = page.locator(".widget-slider [role=slider]")
    count = handles.count()
    moved = 0
    for i in range(count):
        handle = handles.nth(i)
        box = handle.locator("xpath=ancestor::div[contains(@class,'widget-vbox')][1]")
        if box.count() == 0 or box.first.locator(".widget-output").count() > 0:
            continue  # a live widget: it needs a kernel, and the site hides such outputs
        handle.scroll_into_view_if_needed()
        before = visible_panel(box.first)
        handle.focus()
        for _ in range(2):
            page.keyboard.press("ArrowRight")
        page.wait_for_timeout(300)
        after = visible_panel(box.first)
        assert before != after, f"{page_path}: slider {i} did not change the display"
        moved += 1
        shot = SHOTS / "sliders" / f"{Path(page_path).stem}-{i}.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        box.first.screenshot(path=str(shot))
    if "squeeze" in page_path:
        assert (
            moved >= 1
        ), "the squeeze chapter must have a kernel-free slider that works"
    assert errors == []
    page.context.close()


@pytest.mark.parametrize("page_path", SLIDER_PAGES)
def test_launch_and_download_buttons(browser, server, page_path):
    """Binder and Colab open this chapter's notebook in the repository; the download links resolve on the site."""
    page, _errors, _console, _offsite = open_page(
        browser, server, page_path, VIEWPORTS["desktop"]
    )
    links = page.eval_on_selector_all(
        "a[href]", "els => els.map(a => a.getAttribute('href'))"
    )
    stem = Path(page_path).stem
    repo_path = f"chapters/{stem}.ipynb"
    assert (SITE.parents[1] / repo_path).is_file()
    binder = [h for h in links if h.startswith("https://mybinder.org/v2/gh/")]
    colab = [
        h for h in links if h.startswith("https://colab.research.google.com/github/")
    ]
    assert binder and binder[0].endswith(f"urlpath=lab/tree/{repo_path}"), binder
    assert colab and colab[0].endswith(f"/blob/main/{repo_path}"), colab
    downloads = [h for h in links if h.endswith(f"_sources/{repo_path}")]
    assert downloads, "no download link for the .ipynb"
    response = page.request.get(
        f"{server}/{Path(page_path).parent.as_posix()}/{downloads[0]}"
    )
    assert response.ok and b'"nbformat"' in response.body()
    page.context.close()


def test_search_finds_a_chapter(browser, server):
    page, errors, _console, offsite = open_page(
        browser, server, "search.html?q=excitation", VIEWPORTS["desktop"]
    )
    page.wait_for_selector("#search-results li", timeout=15000)
    assert page.locator("#search-results li").count() >= 1
    page.wait_for_selector("#search-results li p.context", timeout=15000)
    snippets = page.eval_on_selector_all(
        "#search-results li p.context", "els => els.map(e => e.textContent)"
    )
    for (
        text
    ) in (
        snippets
    ):  # the article's words, not the toolbar's buttons or the contents list
        assert (
            "  " not in text and "\n" not in text
        ), f"search snippet with markup whitespace: {text!r}"
        assert not any(
            label in text
            for label in ("Launch", "Color mode", "Copy to clipboard", "Contents ")
        ), text
    assert errors == [] and offsite == []
    page.context.close()


def test_no_page_is_over_the_weight_budget():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "book_site", SITE.parents[1] / "_ext" / "book_site.py"
    )
    book_site = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(book_site)
    heavy = [
        (size, str(name))
        for size, name in book_site.page_weights(SITE)
        if size > book_site.PAGE_BUDGET_BYTES
    ]
    assert heavy == [], f"pages over 2 MiB: {heavy}"
    plain = [
        (size, str(name))
        for size, name in book_site.page_weights(SITE)
        if size > 2**20
        and "application/vnd.jupyter.widget-state+json" not in (SITE / name).read_text(encoding="utf-8")
    ]
    assert plain == [], f"pages without widgets over 1 MiB on the wire: {plain}"


# ---- navigation -------------------------------------------------------------------------------------------------

NAV_WIDTHS = [390, 800, 1280]


def visible(page, selector: str) -> bool:
    return page.evaluate(
        """sel => Array.from(document.querySelectorAll(sel)).some(el => {
        const r = el.getBoundingClientRect(), s = getComputedStyle(el);
        return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && r.right > 0 && r.left < innerWidth; })""",
        selector,
    )


@pytest.mark.parametrize("width", NAV_WIDTHS)
def test_sidebar_toggle_opens_the_chapter_list(browser, server, width):
    """Click the visible sidebar toggle: the chapter list must appear (a drawer on narrow screens; on wide ones
    the toggle hides the sidebar and a second click brings it back)."""
    page, errors, _console, _offsite = open_page(
        browser, server, "chapters/02_squeeze.html", {"width": width, "height": 800}
    )
    chapter_link = ".bd-sidebar-primary a.reference[href*='03_excitation'], dialog[open] a[href*='03_excitation']"
    toggle = page.locator("button.primary-toggle:visible")
    assert toggle.count() == 1, f"{width}px: {toggle.count()} visible sidebar toggles"
    if visible(
        page, chapter_link
    ):  # a wide screen shows the sidebar at first: hide it, then open it again
        toggle.click()
        page.wait_for_timeout(400)
        assert not visible(
            page, chapter_link
        ), f"{width}px: the sidebar toggle did not hide the sidebar"
    toggle.click()
    page.wait_for_timeout(400)
    assert visible(
        page, chapter_link
    ), f"{width}px: the sidebar toggle did not open the chapter list"
    shot = SHOTS / "navigation" / f"sidebar-{width}.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot))
    page.locator(chapter_link).first.click()
    page.wait_for_url("**/03_excitation.html")
    assert errors == []
    page.context.close()


@pytest.mark.parametrize("width", NAV_WIDTHS)
def test_page_contents_toggle_opens_the_contents(browser, server, width):
    """The page-contents toggle opens the list of sections where the contents column is not shown already."""
    page, errors, _console, _offsite = open_page(
        browser, server, "chapters/02_squeeze.html", {"width": width, "height": 800}
    )
    contents = "#pst-page-navigation-heading-2, dialog[open] .page-toc a, .bd-sidebar-secondary .page-toc a"
    toggle = page.locator("button.secondary-toggle:visible")
    if visible(page, ".bd-sidebar-secondary .page-toc a"):
        assert (
            width >= 1200
        ), f"{width}px: the contents column is shown on a narrow screen"
    else:
        assert (
            toggle.count() == 1
        ), f"{width}px: {toggle.count()} visible page-contents toggles"
        toggle.click()
        page.wait_for_timeout(400)
        assert visible(
            page, "dialog[open] .page-toc a"
        ), f"{width}px: the contents toggle did not open the contents"
        shot = SHOTS / "navigation" / f"contents-{width}.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot))
    assert visible(page, contents)
    assert errors == []
    page.context.close()


# ---- weight -------------------------------------------------------------------------------------------------------

WIDGET_PAGE_BUDGET = 2 * 1000 * 1000
PLAIN_PAGE_BUDGET = 1000 * 1000

MEASURE = """() => {
    const kind = e => e.initiatorType === 'img' || /\\.(png|jpe?g|gif|svg|webp)(\\?|$)/.test(e.name) ? 'images'
        : /\\.js(\\?|$)/.test(e.name) ? 'scripts' : /\\.css(\\?|$)/.test(e.name) ? 'styles'
        : /\\.(woff2?|ttf|otf|eot)(\\?|$)/.test(e.name) ? 'fonts' : 'other';
    const nav = performance.getEntriesByType('navigation')[0];
    const sizes = {html: nav.encodedBodySize, scripts: 0, styles: 0, fonts: 0, images: 0, other: 0};
    let decoded = nav.decodedBodySize;
    for (const e of performance.getEntriesByType('resource')) {
        sizes[kind(e)] += e.encodedBodySize; decoded += e.decodedBodySize;
    }
    return {sizes, decoded, widgets: !!document.querySelector('script[type="application/vnd.jupyter.widget-state+json"]')};
}"""


def measure_weight(page) -> dict:
    """Everything the page downloads, images below the fold included: bytes on the wire (gzip for text)."""
    page.evaluate(
        "() => document.querySelectorAll('img[loading=lazy]').forEach(img => { img.loading = 'eager'; })"
    )
    page.wait_for_function(
        "() => Array.from(document.images).every(img => img.complete)", timeout=20000
    )
    page.wait_for_load_state("networkidle")
    return page.evaluate(MEASURE)


def test_page_weights(browser, server, capsys):
    """Print each page's weight; a page with widgets must stay under 2 MB, a page without under 1 MB."""
    rows, over = [], []
    for page_path in PAGES:
        if 'http-equiv="Refresh"' in (SITE / page_path).read_text()[:2000]:
            continue  # index.html only redirects to the front page
        context = browser.new_context(viewport=VIEWPORTS["desktop"])
        context.add_init_script("performance.setResourceTimingBufferSize(2000)")
        page = context.new_page()
        page.goto(f"{server}/{page_path}", wait_until="load")
        weight = measure_weight(page)
        context.close()
        total = sum(weight["sizes"].values())
        budget = WIDGET_PAGE_BUDGET if weight["widgets"] else PLAIN_PAGE_BUDGET
        rows.append((total, page_path, weight))
        if total > budget:
            over.append(
                f"{page_path}: {total / 1e6:.2f} MB (budget {budget / 1e6:.0f} MB)"
            )
    kinds = ["html", "scripts", "styles", "fonts", "images"]
    lines = [
        f"{'page':34} {'total kB':>9} "
        + " ".join(f"{k:>8}" for k in kinds)
        + f" {'unzipped':>9}  widgets"
    ]
    for total, page_path, weight in sorted(rows, reverse=True):
        lines.append(
            f"{page_path:34} {total / 1000:9.0f} "
            + " ".join(f"{weight['sizes'][k] / 1000:8.0f}" for k in kinds)
            + f" {weight['decoded'] / 1000:9.0f}  {'yes' if weight['widgets'] else ''}"
        )
    table = "\n".join(lines)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "page-weights.txt").write_text(table + "\n")
    with capsys.disabled():
        print(
            "\nPage weights (kB on the wire, text gzipped; 'unzipped' is what the browser holds):\n"
            + table
        )
    assert over == [], f"pages over budget: {over}"


# ---- accessibility ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("page_path", PAGES)
def test_no_serious_accessibility_violations(browser, server, page_path):
    """axe-core (from npm) finds no critical or serious violation, at desktop and at phone width."""
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `npm ci` (`make setup` does)")
    found = []
    for name, viewport in VIEWPORTS.items():
        page, _errors, _console, _offsite = open_page(
            browser, server, page_path, viewport
        )
        page.wait_for_timeout(300)
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        page.context.close()
        for violation in result["violations"]:
            if violation["impact"] in ("critical", "serious"):
                targets = [
                    " ".join(map(str, node["target"]))
                    for node in violation["nodes"][:3]
                ]
                found.append(
                    f"{name}: {violation['impact']} {violation['id']} x{len(violation['nodes'])} {targets}"
                )
    assert found == [], f"{page_path}:\n" + "\n".join(found)


# ---- layout: blocks that fit the column ------------------------------------------------------------------------------

BLOCKS = (
    ".bd-article div.highlight pre, .bd-article div.cell_output pre, .bd-article div.math, "
    ".bd-article mjx-container[display='true']"
)
OVERFLOWING = """sel => Array.from(document.querySelectorAll(sel)).filter(el => el.scrollWidth > el.clientWidth + 1)
    .map(el => { const cell = el.closest('.cell'); const kind = el.closest('.cell_output') ? 'output'
                 : el.closest('.cell_input') ? 'code' : 'maths';
                 const style = getComputedStyle(el);
                 return {kind, width: el.scrollWidth, column: el.clientWidth, scrolls: ['auto', 'scroll']
                         .includes(style.overflowX), text: (el.textContent || '').trim().slice(0, 70)}; })"""
CHAPTER_PAGES = [p for p in PAGES if p.startswith("chapters/")]


def wait_for_maths(page) -> None:
    page.wait_for_function(
        "() => !window.MathJax || !window.MathJax.startup || "
        "window.MathJax.startup.promise.then(() => true)",
        timeout=20000,
    )
    page.evaluate(
        "() => window.MathJax && window.MathJax.startup ? window.MathJax.startup.promise : null"
    )


@pytest.mark.parametrize("page_path", CHAPTER_PAGES)
def test_code_output_and_maths_fit_the_column(browser, server, page_path):
    """At 1280 px no code cell, printed output or display equation is wider than the column (code is formatted
    to 88 characters by tools/format_notebooks.py); at 390 px a wider block scrolls inside itself.
    """
    page, _errors, _console, _offsite = open_page(
        browser, server, page_path, VIEWPORTS["desktop"]
    )
    wait_for_maths(page)
    wide = page.evaluate(OVERFLOWING, BLOCKS)
    page.context.close()
    page, _errors, _console, _offsite = open_page(
        browser, server, page_path, VIEWPORTS["phone"]
    )
    wait_for_maths(page)
    clipped = [b for b in page.evaluate(OVERFLOWING, BLOCKS) if not b["scrolls"]]
    page.context.close()
    listing = "\n".join(
        f"  {b['kind']}: {b['width']} px in a {b['column']} px column: {b['text']}"
        for b in wide
    )
    assert wide == [] and clipped == [], (
        f"{page_path}: {len(wide)} blocks wider than the column at 1280 px:\n{listing}\n"
        f"blocks cut off at 390 px instead of scrolling: {clipped}"
    )


# ---- figures drawn for the column ------------------------------------------------------------------------------

SCALED_IMAGES = """() => Array.from(document.querySelectorAll('.bd-article img'))
    .filter(img => img.naturalWidth > 0 && img.getBoundingClientRect().width > 0)
    .map(img => ({shown: img.getBoundingClientRect().width, natural: img.naturalWidth,
                  alt: (img.alt || img.src).slice(0, 70)}))
    .filter(img => img.shown < 0.9 * img.natural)"""


@pytest.mark.parametrize("page_path", CHAPTER_PAGES)
def test_figures_are_not_shrunk_to_fit(browser, server, page_path):
    """At 1280 px every figure (widget frames included) shows at 90 % of its natural width or more: a figure
    drawn wider than the column would be scaled down and its text would drop below 9 px.
    """
    page, _errors, _console, _offsite = open_page(
        browser, server, page_path, VIEWPORTS["desktop"]
    )
    page.evaluate(
        "() => document.querySelectorAll('img[loading=lazy]').forEach(img => { img.loading = 'eager'; })"
    )
    page.wait_for_function(
        "() => Array.from(document.images).every(img => img.complete)", timeout=20000
    )
    shrunk = page.evaluate(SCALED_IMAGES)
    page.context.close()
    listing = "\n".join(
        f"  {i['natural']} px shown at {i['shown']:.0f} px: {i['alt']}" for i in shrunk
    )
    assert (
        shrunk == []
    ), f"{page_path}: figures scaled below 90 % of their width:\n{listing}"


def test_the_api_page_fits_the_column(browser, server):
    """The API page's table of paths fits at 1280 px (and scrolls inside itself on a phone); no signature or value
    (a dict of archives with long hashes) runs past the column at either width."""
    blocks = ".bd-article table.table, .bd-article dl.py > dt"
    for viewport, tables_may_scroll in ((VIEWPORTS["desktop"], False), (VIEWPORTS["phone"], True)):
        page, _errors, _console, _offsite = open_page(browser, server, "api.html", viewport)
        wide = page.evaluate(OVERFLOWING, blocks)
        found = page.evaluate("sel => document.querySelectorAll(sel).length", blocks)
        page.context.close()
        assert found > 100, "the API page has its table and its signatures"
        allowed = [b for b in wide if tables_may_scroll and b["scrolls"]]  # only tables scroll
        assert [b for b in wide if b not in allowed] == [], f"{viewport}: {wide}"
