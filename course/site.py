"""The course as a static website, built from the notebooks as they are stored.

`course site` (and `python3 bootstrap.py site`) copies `notebooks/` and `exercises/` beside a
home page made from the README, and builds `_site/` with Sphinx, MyST-NB and
sphinx-book-theme (`site/conf.py`). Nothing is executed: the stored outputs are the ones nbval
verifies. `solutions/` is never copied, so no solution reaches the site.
"""

import os
import re
import shutil
import string
import tempfile
import time
import tomllib
import warnings
from dataclasses import dataclass
from pathlib import Path

from course.build import EXERCISES, LESSONS
from course.build import modules as notebook_modules
from course.paths import PROJECT_ROOT

SITE_CONFIG = PROJECT_ROOT / "site"
OUTPUT = PROJECT_ROOT / "_site"
BINDER = "https://mybinder.org"
BRANCH = "main"  # what Binder launches and GitHub Pages publishes
TABLE_ROW = re.compile(r"^\| (\d\d) \| (.+?) \| (\d+) \+ (\d+) min \| (\w+) \|$", re.M)


def repository_url() -> str:
    """The course's GitHub repository: the one setting every launch button, the README's
    badge and the take-home hints' links are made from (`[project.urls]` in pyproject.toml)."""
    with open(PROJECT_ROOT / "pyproject.toml", "rb") as file:
        return tomllib.load(file)["project"]["urls"]["Repository"]


def binder_url(notebook: str) -> str:
    """Binder's link that opens `notebook` (a path in the repository) in JupyterLab."""
    path = repository_url().removeprefix("https://github.com/")
    return f"{BINDER}/v2/gh/{path}/{BRANCH}?urlpath=lab/tree/{notebook}"


class SiteError(Exception):
    pass


@dataclass(frozen=True)
class Module:
    number: str
    topic: str
    lesson_minutes: int
    exercise_minutes: int
    status: str

    @property
    def stem(self) -> str:
        """Its notebooks' name, e.g. 01_event_loops."""
        return next(m.name for m in notebook_modules(PROJECT_ROOT) if m.number == self.number)


def modules(readme: str | None = None) -> list[Module]:
    """The README's module table, row by row: the site shows the state the README gives."""
    text = readme if readme is not None else (PROJECT_ROOT / "README.md").read_text()
    return [
        Module(number, topic, int(lesson), int(exercises), status)
        for number, topic, lesson, exercises, status in TABLE_ROW.findall(text)
    ]


def published(readme: str | None = None) -> list[Module]:
    """The modules the README marks ready: the ones with pages on the site."""
    return [module for module in modules(readme) if module.status == "ready"]


def home_page(readme: str | None = None) -> str:
    """The home page's Markdown: `site/index.md` with the README's module table, the total
    time and the set-up commands filled in."""
    text = readme if readme is not None else (PROJECT_ROOT / "README.md").read_text()
    rows = modules(text)
    table = "\n".join(line for line in text.splitlines() if TABLE_ROW.match(line))
    header = "| # | module | time (lesson + exercises) | status |\n|---|---|---|---|"
    minutes = sum(m.lesson_minutes + m.exercise_minutes for m in rows)
    ready = published(text)
    if not ready:
        raise SiteError("The README's module table has no row marked ready: nothing to publish.")
    pages = [f"{kind}/{m.stem}" for m in ready for kind in (LESSONS, EXERCISES)]
    template = string.Template((SITE_CONFIG / "index.md").read_text())
    return template.substitute(
        modules=f"{header}\n{table}",
        hours=f"{minutes / 60:.0f}",
        repository=repository_url(),
        folder=repository_url().rstrip("/").rsplit("/", 1)[-1],
        binder=binder_url(f"{LESSONS}/{ready[0].stem}.ipynb"),
        toctree="\n".join(pages),
    )


def stage(into: Path) -> None:
    """Sphinx's source folder: the home page, and the lessons and exercises of ready modules."""
    for kind in (LESSONS, EXERCISES):
        (into / kind).mkdir(parents=True)
        for module in published():
            shutil.copy2(PROJECT_ROOT / kind / f"{module.stem}.ipynb", into / kind)
    (into / "index.md").write_text(home_page())


def build(out: Path = OUTPUT) -> float:
    """Build the site into `out` (replaced only once the build succeeded); the seconds taken.
    Any Sphinx warning fails the build."""
    from sphinx.cmd.build import build_main

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="course-site-") as work:
        source, html = Path(work) / "source", Path(work) / "html"
        stage(source)
        arguments = ["-b", "html", "-c", str(SITE_CONFIG), "-W", "--keep-going", "-q"]
        arguments += ["-d", str(Path(work) / "doctrees"), str(source), str(html)]
        with warnings.catch_warnings():  # the theme's and MyST's use of APIs Sphinx 11 drops
            warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
            failed = build_main(arguments)
        if failed:
            raise SiteError("Sphinx could not build the site: its messages are above.")
        shutil.rmtree(out, ignore_errors=True)
        shutil.move(html, out)
    return time.perf_counter() - started


def chromium() -> str | None:
    """A Chromium or Chrome to test the site in: CHROMIUM, else the first on PATH."""
    names = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
    return os.environ.get("CHROMIUM") or next(filter(None, map(shutil.which, names)), None)
