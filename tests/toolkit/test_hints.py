"""Hints for known mistakes: keyed on the real messages, and printed by pytest in notebooks."""

import subprocess
import sys

import pytest

from course.hints import HINTS, hints_for

# A real message for each known mistake, as pytest, asyncpg, SQLAlchemy or Python print it,
# in the order of HINTS: the course's own, then the general ones (fastapi_testkit.hints).
MESSAGES = [
    "E   NotImplementedError: Exercise 01.2: replace this line with your solution",
    "NameError: name 'module_loop' is not defined",
    "RuntimeError: Runner.run() cannot be called from a running event loop",
    "docker.errors.DockerException: Error while fetching server API version: ('Connection "
    "aborted.', FileNotFoundError(2, 'No such file or directory'))",
    "RuntimeError: Task <Task pending name='Task-5'> got Future <Future pending> attached to a "
    "different loop",
    "asyncpg.exceptions._base.InterfaceError: cannot perform operation: another operation is "
    "in progress",
    "RuntimeError: asyncio.run() cannot be called from a running event loop",
    "ScopeMismatch: You tried to access the function scoped fixture _function_scoped_runner "
    "with a module scoped request object.",
    "E   assert <coroutine object create_product at 0x7f3a2c1d0e40> == 1",
    "TypeError: object decimal.Decimal can't be used in 'await' expression",
    "E           AssertionError: Expected send to have been awaited once. Awaited 0 times.",
    "respx.models.AllMockedAssertionError: RESPX: <Request('GET', "
    "'https://rates.test/latest?base=GBP')> not mocked!",
    "Failed: async def functions are not natively supported.",
    "E       fixture 'event_loop' not found",
    "AttributeError: 'State' object has no attribute 'sessionmaker'",
    "LookupError: order 1 does not exist (was it committed?)",
    "asyncpg.exceptions.UniqueViolationError: duplicate key value violates unique constraint "
    '"pg_database_datname_index"',
    "asyncpg.exceptions.UniqueViolationError: duplicate key value violates unique constraint "
    '"products_sku_key"',
    "asyncpg.exceptions.FeatureNotSupportedError: cannot truncate a table referenced in a "
    "foreign key constraint",
    "sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not been called; can't call "
    "await_only() here. Was IO attempted in an unexpected place?",
    "E       KeyError: 'id'",
    "ModuleNotFoundError: No module named 'psycopg2'",
    "sqlalchemy.exc.InternalError: (sqlalchemy.dialects.postgresql.asyncpg.InternalError) "
    "<class 'asyncpg.exceptions.InFailedSQLTransactionError'>: current transaction is aborted, "
    "commands ignored until end of transaction block",
    "sqlalchemy.exc.DBAPIError: (sqlalchemy.dialects.postgresql.asyncpg.Error) could not "
    "serialize access due to concurrent update",
    "asyncpg.exceptions.LockNotAvailableError: canceling statement due to lock timeout",
    "ERROR    asyncio:base_events.py:1785 Task was destroyed but it is pending!",
    "pytest.PytestUnraisableExceptionWarning: Exception ignored in: <function Connection.__del__"
    ">\nResourceWarning: unclosed connection <asyncpg.connection.Connection object>; run in "
    "asyncio debug mode to show the traceback of connection origin",
    'pytest.PytestDeprecationWarning: The "scope" keyword argument to the asyncio marker has '
    'been deprecated. Please use the "loop_scope" argument instead.',
    "Failed: 'test_asyncio' requested an async fixture 'resource', with no plugin or hook that "
    "handled it. This is an error, as pytest does not natively support it.",
    "E   ModuleNotFoundError: No module named 'trio'",
]


def test_every_hint_has_a_real_message():
    assert len(MESSAGES) == len(HINTS)


@pytest.mark.parametrize(
    ("message", "hint"), list(zip(MESSAGES, [h for _, h in HINTS], strict=True))
)
def test_each_message_gets_its_hint_and_no_other(message, hint):
    assert hints_for(message) == [hint]


def test_no_hint_for_an_ordinary_failure():
    assert hints_for("E   assert 41 == 42") == []


def test_pytest_prints_the_hint_under_the_failure(tmp_path):
    (tmp_path / "test_it.py").write_text("def test_it():\n    assert undefined_name\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "course.hints", "-p", "no:cacheprovider", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "Hint: The check uses a name your exercise cell should define" in result.stdout
