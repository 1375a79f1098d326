"""The website, built afresh and opened page by page in headless Chromium (playwright).

The site is served over HTTP under a path prefix, as GitHub Pages serves a project's site, and
every request to another host is refused, so a page that needs the network fails here. The
screenshots land in build/site-test/, beside the site that was tested.
"""

import contextlib
import functools
import http.server
import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

import pytest

from course import site
from course.paths import PROJECT_ROOT

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = site.chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium: `apt install chromium`, or set CHROMIUM to one"
)
OUT = PROJECT_ROOT / "build" / "site-test"
PREFIX = "course"  # GitHub Pages serves a project's site under /<repository>/
SEARCH_TERM = "collation"  # said in lesson 06 alone
READY = site.published()
NOTEBOOK_PAGES = [f"{kind}/{m.stem}" for m in READY for kind in ("notebooks", "exercises")]


class Served(NamedTuple):
    root: Path
    base: str


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def built():
    """The site, built into build/site-test/<PREFIX>/ and served from build/site-test/."""
    root = OUT / PREFIX
    seconds = site.build(root)
    print(f"built in {seconds:.1f} s")
    handler = functools.partial(QuietHandler, directory=str(OUT))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Served(root, f"http://127.0.0.1:{server.server_port}/{PREFIX}/")
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


# What `visit` reads from a page, in the browser.
WHAT_A_PAGE_SHOWS = """() => {
  const shown = (e) =>
    e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden";
  return {
    links: Array.from(document.querySelectorAll("a[href]"), (a) => a.href),
    cells: Array.from(document.querySelectorAll("div.cell"), (cell) => {
      const output = cell.querySelector(".cell_output");
      return {
        input: cell.querySelector(".cell_input")?.innerText ?? "",
        output: output && shown(output) ? output.innerText : null,
        images: output ? Array.from(output.querySelectorAll("img"),
          (img) => img.complete && shown(img) ? img.naturalWidth : 0) : [],
      };
    }),
    text: document.querySelector("article")?.innerText ?? "",
    headings: Array.from(document.querySelectorAll("article section > :is(h1, h2, h3)"),
      (h) => ({
        id: h.parentElement.id,
        link: h.querySelector("a.headerlink")?.getAttribute("href"),
      })),
    rows: Array.from(document.querySelectorAll("article table tr"),
      (tr) => Array.from(tr.cells, (cell) => cell.innerText.trim())),
    prev: document.querySelector("a.left-prev")?.href ?? null,
    next: document.querySelector("a.right-next")?.href ?? null,
  };
}"""


@contextlib.contextmanager
def opened(browser, url: str, **options) -> Iterator[tuple[playwright.Page, list[str]]]:
    """A page loaded from `url`, and the list of its problems: every console error, page
    error, failed request and request to another host."""
    page = browser.new_page(**options)
    problems = []
    page.route(
        re.compile(r"^(?!http://127\.0\.0\.1:).*"),
        lambda route: (problems.append(f"asks another host: {route.request.url}"), route.abort()),
    )
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status}: {r.url}"))
    page.goto(url, wait_until="networkidle")
    # The browser asks for the page's icon on its own, once the page has loaded and outside
    # what playwright reports (or lets a page fetch while routes are set): ask as it does.
    icon = page.evaluate(
        """() => document.querySelector('link[rel~="icon"]')?.href
                 ?? new URL("/favicon.ico", location).href"""
    )
    try:
        urllib.request.urlopen(icon).close()
    except urllib.error.HTTPError as error:
        problems.append(f"the page's icon: {error.code}: {icon}")
    try:
        yield page, problems
    finally:
        page.close()


def visit(browser, url: str) -> tuple[dict, list[str]]:
    """What the page at `url` shows (links, cells, outputs, images, headings, tables, previous
    and next), and its problems."""
    with opened(browser, url) as (page, problems):
        return page.evaluate(WHAT_A_PAGE_SHOWS), problems


@pytest.fixture(scope="module")
def pages(built, browser):
    """Every page of the site, opened once: its path in the site, what it shows, its problems."""
    root, base = built.root, built.base
    names = sorted(
        str(path.relative_to(root))
        for path in root.rglob("*.html")
        if not path.relative_to(root).parts[0].startswith("_")
    )
    return {name: visit(browser, base + name) for name in names}


def test_every_page_of_the_course_is_built(pages):
    expected = {"index.html", "search.html"}
    assert set(pages) == expected | {f"{page}.html" for page in NOTEBOOK_PAGES}
    assert len(READY) == 10 and not [name for name in pages if "solution" in name]


def test_every_page_loads_with_no_console_error(pages):
    assert {name: problems for name, (_, problems) in pages.items() if problems} == {}


def test_every_internal_link_resolves(built, pages):
    root, base = built.root, built.base
    broken = []
    for name, (found, _) in pages.items():
        for link in found["links"]:
            if not link.startswith(base):
                continue
            parts = urlsplit(link)
            path = unquote(parts.path).removeprefix(f"/{PREFIX}/")
            target = root / (path + "index.html" if path.endswith("/") or not path else path)
            if not target.is_file():
                broken.append(f"{name}: {link}")
            elif parts.fragment and f'id="{unquote(parts.fragment)}"' not in target.read_text():
                broken.append(f"{name}: {link} (no such anchor)")
    assert broken == []
    assert sum(len(found["links"]) for found, _ in pages.values()) > 500


def stored_outputs(page: str) -> list[list[dict]]:
    """Each code cell's stored outputs, in the notebook's order."""
    notebook = json.loads((PROJECT_ROOT / f"{page}.ipynb").read_text())
    return [cell["outputs"] for cell in notebook["cells"] if cell["cell_type"] == "code"]


def expected_snippet(output: dict) -> str:
    """A line the rendered output must show: a stream's or a value's first line, an error's
    last (where the exception is named: the report printed above it names it too)."""
    if output["output_type"] == "error":
        text, pick = "\n".join(output["traceback"]), -1
    else:
        text, pick = "".join(output.get("text") or output["data"].get("text/plain", "")), 0
    lines = [line.strip() for line in re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines()]
    lines = [line for line in lines if line]
    return lines[pick] if lines else ""


@pytest.mark.parametrize("page", NOTEBOOK_PAGES)
def test_every_stored_output_is_shown(pages, page):
    found, _ = pages[f"{page}.html"]
    cells = stored_outputs(page)
    assert len(found["cells"]) == len(cells)
    for number, (outputs, shown) in enumerate(zip(cells, found["cells"], strict=True)):
        if not outputs:
            assert shown["output"] is None, f"code cell {number} has no stored output"
            continue
        assert shown["output"] is not None, f"code cell {number}: its output is not shown"
        text = " ".join(shown["output"].split())
        for output in outputs:
            if "image/png" in output.get("data", {}):
                assert shown["images"] and all(width > 0 for width in shown["images"]), number
            elif snippet := expected_snippet(output):
                assert " ".join(snippet.split()) in text, f"code cell {number}: {snippet!r}"


def test_the_benchmark_plot_renders(pages):
    """Lesson 02's benchmark (cell `benchmark`) is a PNG: it loads at its full width."""
    notebook = json.loads((PROJECT_ROOT / "notebooks" / f"{READY[2].stem}.ipynb").read_text())
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    number = next(i for i, cell in enumerate(code) if cell["id"] == "benchmark")
    found, _ = pages[f"notebooks/{READY[2].stem}.html"]
    (width,) = found["cells"][number]["images"]
    assert width >= 600


@pytest.mark.parametrize("page", NOTEBOOK_PAGES)
def test_the_launch_button_opens_this_notebook_and_the_download_is_it(built, pages, page):
    found, _ = pages[f"{page}.html"]
    assert [link for link in found["links"] if link.startswith(site.BINDER)] == [
        site.binder_url(f"{page}.ipynb")
    ]
    (download,) = {
        link for link in found["links"] if link.startswith(built.base) and link.endswith(".ipynb")
    }
    downloaded = built.root / unquote(urlsplit(download).path).removeprefix(f"/{PREFIX}/")
    assert downloaded.read_bytes() == (PROJECT_ROOT / f"{page}.ipynb").read_bytes()


def test_the_search_finds_the_one_lesson_that_uses_a_term(built, browser):
    sources = [PROJECT_ROOT / f"{page}.ipynb" for page in NOTEBOOK_PAGES]
    using = [path for path in sources if SEARCH_TERM in path.read_text().lower()]
    assert [path.stem for path in using] == [READY[6].stem]  # the term is lesson 06's alone
    with opened(browser, f"{built.base}search.html?q={SEARCH_TERM}") as (page, problems):
        page.wait_for_selector("#search-results .search-summary", timeout=10_000)
        results = page.eval_on_selector_all(
            "#search-results ul.search li a", "as => as.map(a => a.href)"
        )
    assert problems == []
    assert {link.split("#")[0] for link in results} == {
        f"{built.base}notebooks/{READY[6].stem}.html"
    }


@pytest.mark.parametrize("module", READY, ids=lambda m: m.number)
def test_exercise_pages_show_the_tasks_and_no_solution(pages, module):
    """Every line a solution adds to its exercise notebook is missing from the exercise page
    (lines the lesson also shows aside)."""
    found, _ = pages[f"exercises/{module.stem}.html"]
    shown = found["text"] + "\n".join(cell["input"] for cell in found["cells"])
    assert "NotImplementedError" in shown

    def lines(kind):
        notebook = json.loads((PROJECT_ROOT / kind / f"{module.stem}.ipynb").read_text())
        return {line.strip() for cell in notebook["cells"] for line in cell["source"]}

    added = lines("solutions") - lines("exercises") - lines("notebooks")
    revealing = {line for line in added if len(line) >= 20}
    assert len(revealing) >= 3
    assert revealing & {line.strip() for line in shown.splitlines()} == set()


@pytest.mark.parametrize("index", range(len(READY)))
def test_each_page_gives_its_place_in_the_course_and_its_time(built, pages, index):
    base = built.base
    module = READY[index]
    sequence = [f"{base}{page}.html" for page in NOTEBOOK_PAGES]
    for kind, minutes in (
        ("notebooks", module.lesson_minutes),
        ("exercises", module.exercise_minutes),
    ):
        found, _ = pages[f"{kind}/{module.stem}.html"]
        position = sequence.index(f"{base}{kind}/{module.stem}.html")
        assert found["prev"] == (sequence[position - 1] if position else f"{base}index.html")
        assert found["next"] == (sequence[position + 1] if position + 1 < len(sequence) else None)
        assert f"{module.number} ({index + 1} of {len(READY)})" in found["text"]
        assert f"{minutes} min" in found["text"]


def test_headings_can_be_linked_to(pages):
    found, _ = pages[f"notebooks/{READY[1].stem}.html"]
    assert len(found["headings"]) >= 5
    assert all(h["link"] == f"#{h['id']}" for h in found["headings"])


def test_the_home_page_shows_the_readmes_modules_and_the_set_up_commands(pages):
    found, _ = pages["index.html"]
    assert found["rows"][1:] == [
        [
            m.number,
            m.topic.replace("`", ""),
            f"{m.lesson_minutes} + {m.exercise_minutes} min",
            m.status,
        ]
        for m in site.modules()
    ]
    assert "python3 bootstrap.py lab" in found["text"]
    assert f"git clone {site.repository_url()}" in found["text"]
    assert re.search(r"About \d+ hours", found["text"])


def test_screenshots_of_the_home_page_and_a_lesson(built, browser):
    for name, page_name in (("home", "index.html"), ("lesson", f"notebooks/{READY[2].stem}.html")):
        path = OUT / f"{name}.png"
        viewport = {"width": 1280, "height": 900}
        with opened(browser, built.base + page_name, viewport=viewport) as (page, problems):
            page.screenshot(path=path)
        assert problems == []
        assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 20_000
