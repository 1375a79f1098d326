"""Running pytest in a subprocess, with and without xdist, and reading back each test's fate."""

import pytest

from course.pytest_run import run_pytest

TESTS = """\
import os

import pytest


@pytest.mark.parametrize("number", range(4))
def test_passes(number):
    pass


def test_fails():
    assert 41 == 42


@pytest.mark.skip(reason="not today")
def test_skipped():
    pass


@pytest.fixture
def broken():
    raise RuntimeError("the fixture broke")


def test_errors(broken):
    pass


def test_the_environment_is_not_the_callers(worker_id):
    assert os.environ.get("PYTEST_XDIST_WORKER", "master") == worker_id
"""


@pytest.fixture
def folder(tmp_path, monkeypatch):
    (tmp_path / "test_sample.py").write_text(TESTS)
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw7")  # as in a kernel that nbval started
    return tmp_path


@pytest.mark.parametrize(("args", "workers"), [((), {"master"}), (("-n", "2"), {"gw0", "gw1"})])
def test_each_test_has_its_outcome_worker_and_error(folder, args, workers):
    run = run_pytest(folder, *args)

    assert run.returncode == 1
    assert run.summary == "1 failed, 5 passed, 1 skipped, 1 error"
    outcomes = {nodeid.split("::")[1]: outcome for nodeid, outcome in run.outcomes.items()}
    assert outcomes == {
        **{f"test_passes[{number}]": "passed" for number in range(4)},
        "test_fails": "failed",
        "test_skipped": "skipped",
        "test_errors": "error",
        "test_the_environment_is_not_the_callers": "passed",
    }
    assert set(run.workers.values()) == workers
    assert sorted(run.errors.values()) == ["RuntimeError: the fixture broke", "assert 41 == 42"]


def test_a_file_that_cannot_be_imported_is_an_error(tmp_path):
    (tmp_path / "test_broken.py").write_text("import no_such_module\n")

    run = run_pytest(tmp_path)

    assert run.returncode == 2
    assert run.outcomes == {"test_broken.py": "error"}
    assert run.errors == {"test_broken.py": "ModuleNotFoundError: No module named 'no_such_module'"}


def test_the_folders_own_pytest_ini_applies(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\n")
    (tmp_path / "test_async.py").write_text("async def test_unmarked():\n    pass\n")

    assert run_pytest(tmp_path).outcomes == {"test_async.py::test_unmarked": "passed"}


def test_an_error_without_e_lines_is_named_by_its_own_line(tmp_path):
    """pytest reports a ScopeMismatch without `E ` lines: its error is that line, not the
    last line of the report (a path into site-packages)."""
    (tmp_path / "test_mismatch.py").write_text(
        "import pytest, pytest_asyncio\n\n"
        "@pytest_asyncio.fixture(scope='session')\n"
        "async def wide():\n    return 1\n\n"
        "@pytest.mark.asyncio\nasync def test_it(wide):\n    pass\n"
    )
    error = run_pytest(tmp_path).errors["test_mismatch.py::test_it"]
    assert error.startswith("ScopeMismatch: You tried to access the function scoped fixture")
