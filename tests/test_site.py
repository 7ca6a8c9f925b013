"""Browser test of the course website (`make site`, configured in site/).

Builds the site from the committed notebooks into a temporary folder, serves it over http on
127.0.0.1 (a random free port; search needs http, not file://) and opens every page in
Debian's Chromium through Playwright. It fails on a console error, a failed request, a
request to anything outside the site, a broken image or a broken internal link; checks that
every notebook has a page showing its figures, with previous/next links in course order; and
that search finds a notebook by a word in it. Screenshots go to scratch/site/.
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlparse

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT_DIR = REPO_ROOT / "scratch" / "site"
BUILD_SECONDS_LIMIT = 60
SMART_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
LANDING_PAGE = "site/intro.html"  # site/intro.md; index.html redirects to it

# Pages Sphinx writes besides the course pages; they are opened too, but hold no notebook.
NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((REPO_ROOT / "notebooks" / "solutions").glob("*_solutions.ipynb"))


def search_probe() -> tuple[str, str]:
    """A word to search for and the notebook page it must find: "Grad-CAM" in notebook 05
    once it exists, else a word from notebook 04."""
    if list((REPO_ROOT / "notebooks").glob("05_*.ipynb")):
        return "Grad-CAM", "notebooks/05_"
    return "Misclassification", "notebooks/04_"


def png_outputs(notebook: Path) -> int:
    """Number of PNG images among a notebook's committed outputs."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return sum(
        "image/png" in output.get("data", {})
        for cell in cells
        for output in cell.get("outputs", [])
    )


def page_url(base: str, notebook: Path) -> str:
    """URL of a notebook's page on the site."""
    return f"{base}/{notebook.relative_to(REPO_ROOT).with_suffix('.html').as_posix()}"


class _Anchors(HTMLParser):
    """Collects element ids and link targets of one HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("id", "name") and value:
                self.ids.add(value)


def element_ids(html_file: Path) -> set[str]:
    """The ids a link fragment may point to in a built page."""
    parser = _Anchors()
    parser.feed(html_file.read_text(encoding="utf-8"))
    return parser.ids


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[str, Path, float, str]]:
    """Build the site with site/build.py and serve it; yields (base URL, html dir, seconds,
    build log)."""
    output_dir = REPO_ROOT / "scratch" / "site" / "build"
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "site" / "build.py"), str(output_dir)],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=300,
    )
    seconds = time.perf_counter() - start
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    html_dir = output_dir / "_build" / "html"
    handler = functools.partial(_QuietHandler, directory=str(html_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        yield base, html_dir, seconds, result.stdout + result.stderr
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (Playwright's own browser download is not used)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def test_site_builds_quickly(site) -> None:
    _, html_dir, seconds, _ = site
    assert (html_dir / "index.html").exists()
    assert seconds < BUILD_SECONDS_LIMIT, f"site build took {seconds:.0f} s"


def test_every_notebook_has_a_page(site) -> None:
    _, html_dir, _, _ = site
    assert NOTEBOOKS, "no notebooks found"
    for notebook in NOTEBOOKS + SOLUTIONS:
        page = html_dir / notebook.relative_to(REPO_ROOT).with_suffix(".html")
        assert page.exists(), f"no page for {notebook.name}"


def test_no_link_to_a_missing_page(site) -> None:
    """A markdown link to a notebook that does not exist (say, a solutions notebook not yet
    written) renders as plain text on the site; Sphinx reports it while building."""
    _, _, _, log = site
    missing = sorted(set(re.findall(r"cross-reference target not found: '([^']+)'", log)))
    assert not missing, f"links to pages that do not exist: {missing}"


def test_every_page_in_chromium(site, browser) -> None:
    """Open every page: no console error, no failed or outside request, no broken image, no
    broken internal link; notebook pages show their figures and link to the next notebook."""
    base, html_dir, build_seconds, _ = site
    pages = sorted(
        path for path in html_dir.rglob("*.html")
        if not path.relative_to(html_dir).parts[0].startswith("_")
        and path != html_dir / "index.html"  # a redirect to the landing page, checked below
    )
    problems: list[str] = []
    links: dict[str, str] = {}  # internal link -> a page it appears on
    images = 0
    context = browser.new_context(viewport={"width": 1280, "height": 900})

    def outside(route) -> None:
        problems.append(f"request outside the site: {route.request.url}")
        route.abort()

    context.route(re.compile(r"^(?!" + re.escape(base) + r"/).*"), outside)
    page = context.new_page()
    current = {"url": ""}
    page.on("console", lambda message: message.type == "error" and problems.append(
        f"{current['url']}: console error: {message.text}"))
    page.on("pageerror", lambda error: problems.append(f"{current['url']}: script error: {error}"))
    page.on("requestfailed", lambda request: problems.append(
        f"{current['url']}: request failed: {request.url} ({request.failure})"))
    page.on("response", lambda response: response.status >= 400 and problems.append(
        f"{current['url']}: HTTP {response.status}: {response.url}"))

    current["url"] = f"{base}/index.html"
    page.goto(current["url"])
    page.wait_for_url(f"{base}/{LANDING_PAGE}", timeout=10_000)
    for path in pages:
        url = f"{base}/{path.relative_to(html_dir).as_posix()}"
        current["url"] = url
        page.goto(url, wait_until="load")
        broken = page.evaluate(
            "Array.from(document.images)"
            ".filter(image => !image.complete || image.naturalWidth === 0)"
            ".map(image => image.src)"
        )
        problems += [f"{url}: broken image {src}" for src in broken]
        images += page.evaluate("document.images.length")
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)"):
            if href.startswith(base + "/"):
                links.setdefault(href, url)

    course = NOTEBOOKS + SOLUTIONS
    for position, notebook in enumerate(course):
        url = page_url(base, notebook)
        current["url"] = url
        page.goto(url, wait_until="load")
        shown = page.eval_on_selector_all(
            ".cell_output img", "images => images.filter(i => i.naturalWidth > 0).length")
        expected = png_outputs(notebook)
        if shown < expected:
            problems.append(f"{url}: shows {shown} of the notebook's {expected} figures")
        if position + 1 < len(course):
            following = page.eval_on_selector_all("a.right-next", "a => a.map(x => x.href)")
            if page_url(base, course[position + 1]) not in following:
                problems.append(f"{url}: next link {following} is not {course[position + 1].name}")

    targets = {}
    for link, source in links.items():
        address, fragment = urldefrag(link)
        relative = unquote(urlparse(address).path).lstrip("/") or "index.html"
        target = html_dir / relative
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            problems.append(f"{source}: broken link {link}")
        elif fragment and target.suffix == ".html":
            ids = targets.setdefault(target, element_ids(target))
            if unquote(fragment) not in ids:
                problems.append(f"{source}: link to a missing anchor {link}")

    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.goto(f"{base}/{LANDING_PAGE}", wait_until="load")
    page.screenshot(path=str(SCREENSHOT_DIR / "site_landing.png"))
    with_figures = [nb for nb in NOTEBOOKS if png_outputs(nb)] or NOTEBOOKS
    page.goto(page_url(base, with_figures[0]), wait_until="load")
    figure = page.locator(".cell_output img").first
    if figure.count():  # the first figure, with the text above it
        figure.evaluate("image => { image.scrollIntoView(); window.scrollBy(0, -320); }")
    page.screenshot(path=str(SCREENSHOT_DIR / "site_notebook.png"))
    context.close()

    summary = {
        "build_seconds": round(build_seconds, 1),
        "pages": len(pages),
        "notebook_pages": len(course),
        "images": images,
        "internal_links": len(links),
    }
    (SCREENSHOT_DIR / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"site check: {summary}")
    assert not problems, "\n".join(problems[:40])
    assert images > 0 and len(links) > len(pages)


def test_search_finds_a_notebook(site, browser) -> None:
    base, _, _, _ = site
    word, expected = search_probe()
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base}/search.html?q={word}", wait_until="load")
    page.wait_for_selector("#search-results ul.search li", timeout=15_000)
    found = page.eval_on_selector_all("#search-results ul.search li a", "a => a.map(x => x.href)")
    context.close()
    assert any(urljoin(base + "/", expected) in href for href in found), (word, found)


def test_landing_page_carries_the_readme(site) -> None:
    _, html_dir, _, _ = site
    landing = html.unescape(re.sub(r"<[^>]+>", "", (html_dir / LANDING_PAGE).read_text()))
    landing = landing.translate(SMART_QUOTES)
    readme = REPO_ROOT / "README.md"
    if readme.exists():
        headings = re.findall(r"^##? (.+)$", readme.read_text(encoding="utf-8"), re.MULTILINE)
        plain = [re.sub(r"\[([^\]]*)\]\([^)]*\)|[`*_]", r"\1", text) for text in headings]
        missing = [heading for heading in plain if heading.strip() not in landing]
        assert not missing, f"README headings missing on the landing page: {missing}"
    assert "About this website" in landing
