"""Exercises 09.1 and 09.2's checks (course.lessons.capstone) on the references and on the
plausible wrong answers of tests/grading/alternatives_09.py: each wrong one fails, and says why.

Each check starts pytest in new processes (09.1: serially and with -n 2 at once), as the
notebook does, on a database whose role may create databases, like a kernel's."""

import asyncio
import importlib.util
import shutil

import pytest

from course.db import database_for_this_process
from course.lessons import capstone
from course.paths import PROJECT_ROOT
from course.seeded_bugs import LENDING_BUGS

_spec = importlib.util.spec_from_file_location(
    "alternatives_09", PROJECT_ROOT / "tests" / "grading" / "alternatives_09.py"
)
alternatives = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(alternatives)


@pytest.fixture(scope="module")
def kernel_like_url() -> str:
    return database_for_this_process("capstone", create_databases=True)


@pytest.fixture(autouse=True)
def kernel_environment(kernel_like_url, monkeypatch):
    """What course.setup() and use_this_kernels_server() give a notebook."""
    for name in ("DATABASE_URL", "TEST_DATABASE_URL", "LENDING_DATABASE_URL"):
        monkeypatch.setenv(name, kernel_like_url)


def setup_folder(conftest: str):
    folder = capstone.suite_folder()
    (folder / "conftest.py").write_text(conftest)
    return folder


def test_the_reference_setup_passes_serially_and_on_two_workers():
    folder = capstone.suite_folder()
    shutil.copy(capstone.LENDING_SUITE / "conftest.py", folder)

    result = asyncio.run(capstone.check_setup(folder))

    assert result.passed, str(result)
    assert str(result) == (
        "serially: 9 passed\n-n 2 --random-order: 9 passed\nleft on the server: nothing"
    )


@pytest.mark.parametrize("mistake", list(alternatives.WRONG_SETUPS))
def test_a_wrong_setup_fails_and_says_why(mistake):
    conftest, why = alternatives.WRONG_SETUPS[mistake]

    result = asyncio.run(capstone.check_setup(setup_folder(conftest)))

    assert not result.passed
    assert why in str(result), str(result)


def test_a_stubbed_setup_fails_naming_the_exercise():
    stub = 'raise NotImplementedError("Exercise 09.1: replace this line with your solution")\n'

    result = asyncio.run(capstone.check_setup(setup_folder(stub)))

    assert not result.passed
    assert "NotImplementedError: Exercise 09.1" in str(result), str(result)


def test_the_reference_suite_catches_every_bug_under_xdist():
    folder = capstone.suite_folder()
    shutil.copy(capstone.LENDING_SUITE / "test_lending.py", folder)

    hunt = capstone.hunt_lending_suite(folder)

    assert hunt.reference_passed, hunt.report()
    assert hunt.missed == []


@pytest.mark.parametrize("weakness", list(alternatives.WRONG_SUITES))
def test_a_weak_suite_misses_bugs_by_name(weakness):
    tests, missed = alternatives.WRONG_SUITES[weakness]
    folder = capstone.suite_folder()
    (folder / "test_lending.py").write_text(tests)

    hunt = capstone.hunt_lending_suite(folder)

    assert hunt.reference_passed, hunt.report()
    assert hunt.missed == missed
    assert all(f"bug {bug}: NOT caught" in hunt.report() for bug in missed)


def test_a_suite_that_fails_on_the_app_catches_nothing():
    folder = capstone.suite_folder()
    (folder / "test_failing.py").write_text(
        "import pytest\n\n\n@pytest.mark.anyio\nasync def test_no(client):\n    assert False\n"
    )

    hunt = capstone.hunt_lending_suite(folder)

    assert not hunt.reference_passed
    assert hunt.missed == LENDING_BUGS


def test_tests_not_marked_for_anyio_are_told_so():
    folder = capstone.suite_folder()
    (folder / "test_unmarked.py").write_text(
        "async def test_no_loans(client):\n"
        "    assert (await client.get('/members/1/loans')).json() == []\n"
    )

    hunt = capstone.hunt_lending_suite(folder)

    assert "mark it @pytest.mark.anyio" in hunt.reference_problem(), hunt.report()
