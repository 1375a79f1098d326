"""Module 08's helpers and the checks of its exercises, run on the reference solutions, on the
correct alternatives (tests/grading/alternatives_08.py) and on the wrong answers there: each
wrong answer must be refused, each correct one accepted."""

import asyncio
import gc
import importlib.util
import inspect
import textwrap
from collections.abc import Coroutine
from pathlib import Path

import nbformat
import pytest

from course.lessons import hygiene

ROOT = Path(__file__).resolve().parents[2]
MODULE = "08_async_hygiene_and_migration"


def _alternatives():
    spec = importlib.util.spec_from_file_location(
        "alternatives_08", ROOT / "tests" / "grading" / "alternatives_08.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ALTERNATIVES = _alternatives()


def reference(cell_id: str) -> str:
    """A solution cell's source, its solution markers dropped."""
    notebook = nbformat.read(ROOT / "solutions" / f"{MODULE}.ipynb", as_version=4)
    source = next(cell.source for cell in notebook.cells if cell.get("id") == cell_id)
    return "\n".join(line for line in source.splitlines() if "### " not in line)


def correct(cell_id: str) -> list[str]:
    return [reference(cell_id), ALTERNATIVES.ALTERNATIVES[MODULE][cell_id]]


def wrong(cell_id: str) -> list:
    return [pytest.param(source, id=why) for why, source in ALTERNATIVES.WRONG[MODULE][cell_id]]


def defined(source: str) -> dict:
    namespace = {"asyncio": asyncio, "Coroutine": Coroutine}
    exec(textwrap.dedent(source), namespace)
    return namespace


# --- 08.1 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", correct("spawn-solution"), ids=["reference", "alternative"])
def test_a_spawn_that_keeps_tasks_until_done_passes_every_time(source):
    spawn = defined(source)["spawn"]
    results = [asyncio.run(hygiene.spawn_problems(spawn)) for _ in range(20)]
    assert results == [[]] * 20


@pytest.mark.parametrize("source", wrong("spawn-solution"))
def test_a_wrong_spawn_is_refused_every_time(source):
    spawn = defined(source)["spawn"]
    results = [asyncio.run(hygiene.spawn_problems(spawn)) for _ in range(20)]
    assert all(results), results


def test_a_dropped_task_is_reported_destroyed():
    async def drop_one():
        with hygiene.loop_reports() as reports:
            asyncio.create_task(asyncio.Event().wait())  # noqa: RUF006 (dropped on purpose)
            await asyncio.sleep(0)
            gc.collect()
        return reports

    assert asyncio.run(drop_one()) == ["Task was destroyed but it is pending!"]


# --- 08.2 ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def database(kernel_like_database):
    return kernel_like_database


@pytest.mark.parametrize("source", correct("lifespan-solution"), ids=["reference", "alternative"])
def test_a_lifespan_that_closes_everything_passes(database, source):
    assert hygiene.lifespan_problems(source) == []


@pytest.mark.parametrize("source", wrong("lifespan-solution"))
def test_a_leaky_lifespan_is_refused(database, source):
    assert hygiene.lifespan_problems(source)


def test_the_planted_leak_is_traced_to_its_line(database):
    run = hygiene.lifespan_run(hygiene.LEAKY_LIFESPAN, traced=True)
    assert "await create_schema(engine)" in "\n".join(
        hygiene.allocated_at(run, "lifespan_under_test.py")
    )


# --- 08.3 ----------------------------------------------------------------------------------------


def _migration(source: str) -> tuple[str, str]:
    namespace = defined(source)
    return namespace["MIGRATED_CONFTEST"], namespace["MIGRATED_INI"]


@pytest.mark.parametrize("source", correct("migrate-solution"), ids=["reference", "alternative"])
def test_a_migrated_conftest_passes(database, source):
    assert hygiene.migration_problems(*_migration(source)) == []


@pytest.mark.parametrize("source", wrong("migrate-solution"))
def test_a_wrong_migration_is_refused(database, source):
    assert hygiene.migration_problems(*_migration(source))


def test_the_old_suite_fails_under_pytest_asyncio_1(database):
    run = hygiene.migration_run(hygiene.OLD_SUITE["conftest.py"], hygiene.OLD_SUITE["pytest.ini"])
    assert run.returncode != 0


def test_defines_fixture_finds_functions_only():
    assert hygiene.defines_fixture("def event_loop():\n    pass\n", "event_loop")
    assert not hygiene.defines_fixture("event_loop = None\n", "event_loop")


# --- resources -----------------------------------------------------------------------------------


def test_an_unclosed_in_memory_httpx_client_reports_nothing():
    import httpx

    async def leave_open():
        client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
        await client.get("http://shop.test/")

    reports = asyncio.run(hygiene.what_collection_reports(leave_open))
    assert reports.warnings == reports.unraisable == reports.logs == []


def test_source_of_keeps_the_decorator():
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app):
        yield

    assert hygiene.source_of(lifespan).lstrip().startswith("@asynccontextmanager")
    assert inspect.isfunction(inspect.unwrap(lifespan))
