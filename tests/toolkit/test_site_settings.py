"""The website's inputs, without a browser: the one repository setting and the places that must
agree with it, the module table, what is staged for Sphinx, and a failed build."""

import json
import re
import shutil

import pytest

from course import site
from course.paths import PROJECT_ROOT
from fastapi_testkit import hints

README = (PROJECT_ROOT / "README.md").read_text()


def test_the_readme_badge_is_the_start_notebooks_launch_button():
    (badge,) = re.findall(r"\[!\[Binder\]\([^)]+\)\]\(([^)]+)\)", README)
    assert badge == site.binder_url("notebooks/00_start_here.ipynb")
    assert site.repository_url().startswith("https://github.com/")


def test_the_take_home_hints_link_to_the_same_repository():
    assert site.repository_url() == hints.COURSE_REPOSITORY


def test_the_module_table_is_the_readmes_row_by_row():
    rows = [line for line in README.splitlines() if re.match(r"^\| \d\d \|", line)]
    modules = site.modules()
    assert [m.number for m in modules] == [f"{n:02d}" for n in range(len(rows))] and len(rows) == 10
    assert [m.topic for m in modules] == [row.split(" | ")[1] for row in rows]


def test_the_home_page_fills_every_placeholder():
    page = site.home_page()
    assert "$" not in page
    assert site.binder_url("notebooks/00_start_here.ipynb") in page
    assert sum(m.lesson_minutes + m.exercise_minutes for m in site.modules()) // 60 >= 15
    toctree = page.split("```{toctree}")[1]
    assert "notebooks/00_start_here\nexercises/00_start_here\nnotebooks/01_event_loops" in toctree


def test_a_module_not_ready_is_in_the_table_but_has_no_pages():
    readme = README.replace("| 60 + 50 min | ready |", "| 60 + 50 min | planned |")
    assert [m.status for m in site.modules(readme)][-1] == "planned"
    page = site.home_page(readme)
    assert "| planned |" in page and "09_capstone" not in page.split("```{toctree}")[1]


def test_only_lessons_exercises_and_the_home_page_are_staged(tmp_path):
    site.stage(tmp_path)
    staged = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    stems = [m.stem for m in site.modules()]
    expected = [f"{kind}/{stem}.ipynb" for kind in ("exercises", "notebooks") for stem in stems]
    assert staged == sorted([*expected, "index.md"])
    for name in expected:
        assert (tmp_path / name).read_bytes() == (PROJECT_ROOT / name).read_bytes()


@pytest.fixture
def course_copy(tmp_path, monkeypatch):
    """The course's notebooks, README and pyproject.toml in a folder the site is built from."""
    for name in ("notebooks", "exercises"):
        shutil.copytree(PROJECT_ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("t_*"))
    for name in ("README.md", "pyproject.toml"):
        shutil.copy(PROJECT_ROOT / name, tmp_path)
    monkeypatch.setattr(site, "PROJECT_ROOT", tmp_path)
    return tmp_path


def test_a_malformed_notebook_fails_the_build_and_keeps_the_last_site(course_copy, capsys):
    broken = course_copy / "notebooks" / "03_dependency_overrides.ipynb"
    broken.write_text(json.dumps({"cells": "not a list"}))
    out = course_copy / "_site"
    out.mkdir()
    (out / "index.html").write_text("the last good build")
    with pytest.raises(site.SiteError, match="Sphinx could not build the site"):
        site.build(out)
    assert "03_dependency_overrides" in capsys.readouterr().err
    assert (out / "index.html").read_text() == "the last good build"


def test_a_readme_with_no_ready_module_is_told_so():
    with pytest.raises(site.SiteError, match="no row marked ready"):
        site.home_page(README.replace("min | ready |", "min | planned |"))
