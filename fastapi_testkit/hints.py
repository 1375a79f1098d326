"""Hints for known mistakes in async FastAPI + SQLAlchemy tests, keyed on the error they
produce, each with the lesson of the course that explains it.

A pytest plugin: `pytest -p fastapi_testkit.hints` (or "fastapi_testkit.hints" in
pytest_plugins) prints, under a failing run's summary, the hint for each known mistake found in
the failures.
"""

import re
from dataclasses import dataclass

# The course's repository, as pyproject.toml names it (a test keeps the two equal): this
# package is copied into projects that have no course to ask.
COURSE_REPOSITORY = "https://github.com/OWNER/REPO"

LESSONS = {
    0: ("00_start_here", "Start here"),
    1: ("01_event_loops", "Event loops and loop scope"),
    2: ("02_transactional_isolation", "Transactional isolation with async SQLAlchemy"),
    3: ("03_dependency_overrides", "Dependency overrides and the test client"),
    4: ("04_mocking", "Mocking: AsyncMock, autospec, respx and fakes"),
    5: ("05_parallelism", "Parallelism: pytest-xdist and one database per worker"),
    6: (
        "06_production_parity",
        "Production parity: testcontainers, SQLite vs PostgreSQL, migrations, versions",
    ),
    7: ("07_concurrency_and_isolation", "Concurrency and isolation levels"),
    8: ("08_async_hygiene_and_migration", "Async hygiene and migration"),
}


@dataclass(frozen=True)
class Hint:
    pattern: str  # a regular expression, searched for in the failures' text
    text: str
    lesson: int  # the number of the lesson that explains the mistake

    @property
    def lesson_line(self) -> str:
        notebook, title = LESSONS[self.lesson]
        return (
            f"Explained in lesson {self.lesson:02d}, {title}: "
            f"{COURSE_REPOSITORY}/blob/main/notebooks/{notebook}.ipynb"
        )


HINTS = [
    Hint(
        r"attached to a different loop|Event loop is closed",
        "An object made on one event loop (a pooled connection, a client) was used on another. "
        "Give the fixture and the tests that use it the same loop_scope, or create the object "
        "inside the loop that uses it (module 01).",
        lesson=1,
    ),
    Hint(
        r"another operation is in progress",
        "Two awaits shared one asyncpg connection, often a pooled connection left over from a "
        "closed loop: see 'attached to a different loop' in module 01.",
        lesson=1,
    ),
    Hint(
        r"asyncio\.run\(\) cannot be called from a running event loop",
        "asyncio.run() starts an event loop of its own, and cannot inside a loop that is "
        "already running, as in an async fixture or test: there, `await` the coroutine. "
        "A plain (def) fixture may call asyncio.run() (module 05).",
        lesson=5,
    ),
    Hint(
        r"ScopeMismatch.*_scoped_runner|_scoped_runner.*ScopeMismatch",
        "A fixture's scope is wider than its loop_scope: give it a loop_scope at least as wide, "
        "e.g. @pytest_asyncio.fixture(scope='module', loop_scope='module').",
        lesson=1,
    ),
    Hint(
        r"coroutine '[\w.]+' was never awaited|<coroutine object [\w.]+ at",
        "An async function was called without `await`: the call only made a coroutine object, "
        "and nothing ran.",
        lesson=1,
    ),
    Hint(
        r"object [\w.]+ can't be used in 'await' expression",
        "Something that is not awaitable was awaited: often a Mock or MagicMock standing in "
        "for an async function (its return_value is what got awaited). Use AsyncMock, or an "
        "autospec of the real class (create_autospec), whose async methods are AsyncMocks "
        "(module 04).",
        lesson=4,
    ),
    Hint(
        r"to have been awaited\.|Awaited 0 times|Not awaited",
        "The mock was never awaited: was it called without `await` (assert_called_* passes "
        "then, assert_awaited_* does not), or is the real function still used because it "
        "was patched where it is not looked up (module 04)?",
        lesson=4,
    ),
    Hint(
        r"RESPX: <Request\(.*\)> not mocked!",
        "The code sent a request that no respx route matches: compare its method, URL and "
        "query parameters with your routes (module 04).",
        lesson=4,
    ),
    Hint(
        r"async def functions are not natively supported",
        "pytest-asyncio runs an async test only when it is marked (strict mode): add "
        "@pytest.mark.asyncio to the test, or to its class. (In a test file, pytestmark = "
        "pytest.mark.asyncio marks the whole module; in a notebook it would stay set for every "
        "later cell: module 01.)",
        lesson=1,
    ),
    Hint(
        r"fixture 'event_loop' not found",
        "pytest-asyncio 1.0 removed the event_loop fixture: choose a loop with loop_scope on "
        "the asyncio mark or the fixture instead.",
        lesson=1,
    ),
    Hint(
        r"'State' object has no attribute",
        "The request found nothing on app.state, where the app's lifespan puts what it starts. "
        "httpx.ASGITransport never runs the lifespan: start the app in "
        "asgi_lifespan.LifespanManager and send requests to manager.app, not to the app itself. "
        "Starlette's TestClient runs it only inside `with TestClient(app) as client:` "
        "(module 03).",
        lesson=3,
    ),
    Hint(
        r"does not exist \(was it committed\?\)",
        "Code that opens its own session (a background task) cannot see the test's uncommitted "
        "rows: override get_sessionmaker, which get_session uses too, so that every session "
        "joins the test's connection (modules 02 and 03).",
        lesson=3,
    ),
    Hint(
        r'duplicate key value violates unique constraint "pg_',
        "Two processes created the same database or the same tables at once, in PostgreSQL's "
        "catalog: with pytest-xdist, give each worker a database of its own, named with "
        "worker_id, and build anything shared once per run under a FileLock (module 05).",
        lesson=5,
    ),
    Hint(
        r'duplicate key value violates unique constraint "(?!pg_)|UNIQUE constraint failed',
        "Rows from an earlier test are still in the database: does your session fixture roll "
        "back what each test wrote (module 02: join_transaction_mode='create_savepoint')?",
        lesson=2,
    ),
    Hint(
        r"cannot truncate a table referenced in a foreign key constraint",
        "PostgreSQL truncates related tables only together: name them all in one TRUNCATE, or "
        "add CASCADE (module 02).",
        lesson=2,
    ),
    Hint(
        r"MissingGreenlet|greenlet_spawn has not been called",
        "SQLAlchemy had to load an attribute from the database outside an await, which an "
        "async session cannot do. Most often it is an object read after session.commit(), "
        "which expires every object it loaded: create the session or sessionmaker with "
        "expire_on_commit=False, or `await session.refresh(obj)` after the commit (module 02).",
        lesson=2,
    ),
    Hint(
        r"KeyError: 'id'",
        "A response's JSON had no 'id': did the request fail? Call response.raise_for_status() "
        "before reading the JSON, so that an error status says what went wrong (module 00).",
        lesson=0,
    ),
    Hint(
        r"No module named 'psycopg2?'|The asyncio extension requires an async driver",
        "The URL names a synchronous PostgreSQL driver: testcontainers' default is psycopg2, "
        "and SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3. An async engine needs "
        "postgresql+asyncpg:// (PostgresContainer(..., driver='asyncpg')) (module 06).",
        lesson=6,
    ),
    Hint(
        r"current transaction is aborted, commands ignored",
        "A statement failed earlier in this transaction, and PostgreSQL refuses every later one "
        "until a rollback. Run the statement that is meant to fail inside a savepoint, `async "
        "with connection.begin_nested():`, so that only it is rolled back (module 06).",
        lesson=6,
    ),
    Hint(
        r"could not serialize access|deadlock detected|"
        r"asyncpg\.exceptions\.(SerializationError|DeadlockDetectedError)",
        "Two transactions collided: a serialization failure (SQLSTATE 40001) or a deadlock "
        "(40P01). Between test processes, give each its own database (module 05). In the "
        "code under test, run the whole transaction again in a new session; through asyncpg "
        "the error is a plain DBAPIError, not an OperationalError: decide on "
        "error.orig.sqlstate (module 07).",
        lesson=7,
    ),
    Hint(
        r"canceling statement due to lock timeout|could not obtain lock on row",
        "A statement gave up waiting for a row lock that another open transaction holds "
        "(lock_timeout, or FOR UPDATE NOWAIT). Queue workers pass each other with FOR UPDATE "
        "SKIP LOCKED; code that must see the other's change waits with a plain FOR UPDATE "
        "(module 07).",
        lesson=7,
    ),
    Hint(
        r"Task was destroyed but it is pending",
        "A task was garbage-collected before it finished: the event loop keeps only weak "
        "references to tasks. Keep each task in a set until it is done "
        "(task.add_done_callback(tasks.discard)), or start it in an asyncio.TaskGroup "
        "(module 08).",
        lesson=8,
    ),
    Hint(
        r"ResourceWarning: unclosed|was deleted before being closed|"
        r"non-checked-in connection|Unclosed client session",
        "Something was left open and found by the garbage collector: dispose of engines "
        "(`await engine.dispose()`), close connections and clients (`async with`, `aclose()`), "
        "in a `finally`. Set PYTHONTRACEMALLOC=30 (or start tracemalloc in a conftest) to see "
        "where it was allocated (module 08).",
        lesson=8,
    ),
    Hint(
        r'The "scope" keyword argument to the asyncio marker has been deprecated|'
        r'"asyncio_default_fixture_loop_scope" is unset',
        "A pytest-asyncio 0.2x setting: the marker takes loop_scope=, not scope=, and the ini "
        "should set asyncio_default_fixture_loop_scope (and asyncio_default_test_loop_scope for "
        "all tests at once); a custom event_loop fixture is ignored by 1.x: delete it "
        "(module 08).",
        lesson=8,
    ),
    Hint(
        r"requested an async fixture '\w+', with no plugin or hook that handled it",
        "An async fixture made with @pytest.fixture was requested by a test that no plugin "
        "runs it for: in pytest-asyncio's strict mode, async fixtures need "
        "@pytest_asyncio.fixture (module 01). An anyio test's fixtures run on anyio's loop "
        "instead: keep one plugin per suite, or give each kind of test fixtures of its own "
        "plugin (module 08).",
        lesson=1,
    ),
    Hint(
        r"No module named 'trio'",
        "The anyio_backend fixture asked for trio, which is not installed: return 'asyncio' "
        "from a session-scoped anyio_backend fixture (SQLAlchemy's asyncio extension and "
        "asyncpg run on asyncio only) (module 08).",
        lesson=8,
    ),
]
_COMPILED = [(re.compile(hint.pattern, re.S), hint) for hint in HINTS]


def hints_for(text: str) -> list[Hint]:
    """The hints whose error appears in text, in the order of HINTS, each once."""
    return [hint for pattern, hint in _COMPILED if pattern.search(text)]


def failures(terminalreporter) -> str:
    """The text of every failed test and error of the run."""
    return "\n".join(
        report.longreprtext
        for kind in ("failed", "error")
        for report in terminalreporter.stats.get(kind, [])
    )


def pytest_terminal_summary(terminalreporter) -> None:
    for hint in hints_for(failures(terminalreporter)):
        terminalreporter.write_line(f"Hint: {hint.text}")
        terminalreporter.write_line(f"      {hint.lesson_line}")
