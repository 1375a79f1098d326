"""bootstrap.py, the learner's first command: which Pythons it takes, and what it says to the
others before it installs anything."""

import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib

import pytest
from packaging.specifiers import SpecifierSet

from course import pythons
from course.paths import PROJECT_ROOT

ONE_LINE = "The course needs Python 3.11 to 3.14; this is {}."


@pytest.fixture
def bootstrap(monkeypatch, tmp_path):
    """bootstrap.py as a module, its .venv moved into tmp_path."""
    spec = importlib.util.spec_from_file_location("bootstrap", PROJECT_ROOT / "bootstrap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "VENV", tmp_path / ".venv")
    monkeypatch.setattr(module, "BIN", tmp_path / ".venv" / "bin")
    return module


@pytest.mark.parametrize(
    "version", [(3, 11, 0), (3, 12, 8), (3, 13, 0), (3, 14, 2)], ids=lambda v: f"{v[0]}.{v[1]}"
)
def test_supported_pythons(bootstrap, version):
    assert bootstrap.unsupported(version) is None


@pytest.mark.parametrize("version", [(2, 7, 18), (3, 9, 6), (3, 10, 13), (3, 15, 0)], ids=str)
def test_unsupported_pythons_get_the_range(bootstrap, version):
    assert bootstrap.unsupported(version) == ONE_LINE.format(".".join(map(str, version)))


@pytest.mark.parametrize("version", ["3.6", "3.8", "3.9", "3.10"])
def test_an_old_python_gets_one_line_and_nothing_is_installed(version, tmp_path):
    # macOS ships 3.9, and Debian 11 and Ubuntu 22.04 have 3.9 and 3.10 as python3.
    python = pythons.find(version) or pytest.skip(f"no Python {version} on this machine")
    for name in ("bootstrap.py", "requirements.txt", "pyproject.toml"):
        shutil.copy(PROJECT_ROOT / name, tmp_path)
    result = subprocess.run(
        [python, "bootstrap.py", "lab"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stdout == ""
    patch_release = re.escape(ONE_LINE.format(f"{version}.@")).replace("@", r"\d+")
    assert re.fullmatch(patch_release + "\n", result.stderr)
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "bootstrap.py",
        "pyproject.toml",
        "requirements.txt",
    ]


def test_a_venv_of_another_python_is_remade(bootstrap):
    bootstrap.BIN.mkdir(parents=True)
    (bootstrap.BIN / "python").touch()
    config = bootstrap.VENV / "pyvenv.cfg"
    this = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for written, ours in [
        (f"version = {this}.7", True),
        (f"version_info = {this}.0", True),  # as uv writes it
        ("version = 3.10.13", False),
    ]:
        config.write_text(f"home = /somewhere\n{written}\n")
        assert bootstrap.venv_is_this_pythons() is ours, written
    config.unlink()
    assert bootstrap.venv_is_this_pythons() is False


def test_pyproject_declares_the_same_range(bootstrap):
    with open(PROJECT_ROOT / "pyproject.toml", "rb") as file:
        declared = SpecifierSet(tomllib.load(file)["project"]["requires-python"])
    oldest, newest = bootstrap.OLDEST, bootstrap.NEWEST
    below, above = (oldest[0], oldest[1] - 1), (newest[0], newest[1] + 1)
    for version, supported in [(oldest, True), (newest, True), (below, False), (above, False)]:
        assert (f"{version[0]}.{version[1]}.0" in declared) is supported, version


def test_pyproject_installs_every_package_of_the_project():
    """`packages` is an explicit list: a new subpackage (course.lessons) must be on it, or a
    non-editable install (a wheel) leaves it out."""
    with open(PROJECT_ROOT / "pyproject.toml", "rb") as file:
        listed = set(tomllib.load(file)["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(PROJECT_ROOT).parts)
        for top in ("course", "fastapi_testkit", "lending", "shop")
        for init in (PROJECT_ROOT / top).rglob("__init__.py")
    }
    assert listed == found
