"""Browser tests of the built website (Playwright driving Debian's Chromium, no network, no kernel).

Run after `jupyter-book build .` (``make test`` builds first). Every page must load with no page errors and no
request leaving the site, every image must load, and every kernel-free slider must change what is shown.
Screenshots of each page at desktop and phone width go to ``test-artifacts/screenshots/``.
"""
from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

import pytest

SITE = Path(__file__).resolve().parents[1] / "_build" / "html"
SHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("SEBOOK_CHROMIUM", "/usr/bin/chromium")
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
SKIP_DIRS = {"_static", "_sources", "_images", "_modules"}


def site_pages() -> list[str]:
    if not (SITE / "index.html").is_file():
        return []
    return sorted(str(p.relative_to(SITE)) for p in SITE.rglob("*.html") if not SKIP_DIRS & set(p.relative_to(SITE).parts))


PAGES = site_pages()
playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server():
    if not PAGES:
        pytest.fail(f"no built site in {SITE}: run `make book` (or `jupyter-book build .`) first")
    handler = functools.partial(QuietHandler, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's `chromium` package or set SEBOOK_CHROMIUM")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        yield browser
        browser.close()


def open_page(browser, server: str, page_path: str, viewport: dict):
    """Open a page; return (page, page errors, console errors, requests that tried to leave the site)."""
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    errors, console, offsite = [], [], []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: console.append(msg.text) if msg.type == "error" else None)

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
        broken = page.evaluate("""() => Array.from(document.images)
            .filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.src.slice(0, 80))""")
        shot = SHOTS / name / (page_path.replace("/", "__").removesuffix(".html") + ".png")
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=False)
        if name == "phone":
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 2, f"{page_path} is {overflow}px wider than a phone screen"
        page.context.close()
        assert errors == [], f"{page_path} ({name}): page errors {errors}"
        assert console == [], f"{page_path} ({name}): console errors {console}"
        assert offsite == [], f"{page_path} ({name}): requests leaving the site {offsite}"
        assert broken == [], f"{page_path} ({name}): images that did not load {broken}"


def visible_panel(box) -> str:
    """A fingerprint of what the widget box shows apart from its sliders (the Stack's current child)."""
    return box.evaluate("""box => Array.from(box.children)
        .filter(el => !el.classList.contains('widget-slider') && !el.querySelector('.widget-slider'))
        .map(el => el.innerHTML.length + ':' + el.innerHTML.slice(0, 200) + el.innerHTML.slice(-400)).join('|')""")


SLIDER_PAGES = [p for p in PAGES if p.startswith("chapters/")]


@pytest.mark.parametrize("page_path", SLIDER_PAGES)
def test_kernel_free_sliders_change_the_display(browser, server, page_path):
    """Move every slider with the keyboard; the panel next to it must change (no kernel is running)."""
    page, errors, _console, _offsite = open_page(browser, server, page_path, VIEWPORTS["desktop"])
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
        assert moved >= 1, "the squeeze chapter must have a kernel-free slider that works"
    assert errors == []
    page.context.close()


@pytest.mark.parametrize("page_path", SLIDER_PAGES)
def test_launch_and_download_buttons(browser, server, page_path):
    """Binder and Colab open this chapter's notebook in the repository; the download links resolve on the site."""
    page, _errors, _console, _offsite = open_page(browser, server, page_path, VIEWPORTS["desktop"])
    links = page.eval_on_selector_all("a[href]", "els => els.map(a => a.getAttribute('href'))")
    stem = Path(page_path).stem
    repo_path = f"chapters/{stem}.ipynb"
    assert (SITE.parents[1] / repo_path).is_file()
    binder = [h for h in links if h.startswith("https://mybinder.org/v2/gh/")]
    colab = [h for h in links if h.startswith("https://colab.research.google.com/github/")]
    assert binder and binder[0].endswith(f"urlpath=lab/tree/{repo_path}"), binder
    assert colab and colab[0].endswith(f"/blob/main/{repo_path}"), colab
    downloads = [h for h in links if h.endswith(f"_sources/{repo_path}")]
    assert downloads, "no download link for the .ipynb"
    response = page.request.get(f"{server}/{Path(page_path).parent.as_posix()}/{downloads[0]}")
    assert response.ok and b'"nbformat"' in response.body()
    page.context.close()


def test_search_finds_a_chapter(browser, server):
    page, errors, _console, offsite = open_page(browser, server, "search.html?q=excitation", VIEWPORTS["desktop"])
    page.wait_for_selector("#search-results li", timeout=15000)
    assert page.locator("#search-results li").count() >= 1
    assert errors == [] and offsite == []
    page.context.close()


def test_no_page_is_over_the_weight_budget():
    import importlib.util

    spec = importlib.util.spec_from_file_location("book_site", SITE.parents[1] / "_ext" / "book_site.py")
    book_site = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(book_site)
    heavy = [(size, str(name)) for size, name in book_site.page_weights(SITE) if size > book_site.PAGE_BUDGET_BYTES]
    assert heavy == [], f"pages over 2 MiB: {heavy}"
