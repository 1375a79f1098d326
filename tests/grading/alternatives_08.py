"""Correct solutions to module 08 written differently from the references (a learner's own way),
and plausible wrong ones that each check must refuse (tests/toolkit/test_hygiene.py runs the
checks on both).

- 08.1 a dict of pending tasks made with `asyncio.ensure_future`, each removed by a lambda
  callback with `dict.pop`.
- 08.2 an `AsyncExitStack`: the client entered as a context, the engine's dispose pushed as a
  callback, so that whatever was opened is closed in reverse order.
- 08.3 the ini sets only the tests' loop scope; each fixture names its loop with
  `@pytest_asyncio.fixture(loop_scope="session")`.
"""

from course.lessons.hygiene import LEAKY_LIFESPAN

_SPAWN = '''\
running_tasks: set[asyncio.Task] = set()  # use it, or keep tasks your own way


def spawn(coroutine: Coroutine) -> asyncio.Task:
    """Schedule `coroutine` as a task that stays alive until it is done; return the task."""
    task = asyncio.ensure_future(coroutine)
    spawn.pending = getattr(spawn, "pending", {})
    spawn.pending[task] = "running"
    task.add_done_callback(lambda done: spawn.pending.pop(done, None))
    return task
'''

_LIFESPAN = '''\
@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the database engine and the outbound HTTP client; close both on shutdown."""
    from contextlib import AsyncExitStack

    settings: Settings = app.state.settings
    async with AsyncExitStack() as stack:
        engine = create_async_engine(settings.database_url)
        stack.push_async_callback(engine.dispose)
        http_client = await stack.enter_async_context(
            httpx.AsyncClient(timeout=settings.http_timeout_seconds)
        )
        if settings.create_schema:
            await create_schema(engine)
        app.state.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
        app.state.http_client = http_client
        yield
'''

_MIGRATED = """\
MIGRATED_INI = '''
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
asyncio_default_test_loop_scope = session
'''

MIGRATED_CONFTEST = '''
import os

import pytest_asyncio
from sqlalchemy.ext.asyncio import create_async_engine


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def engine():
    engine = create_async_engine(os.environ["DATABASE_URL"])
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def connection(engine):
    connection = await engine.connect()
    try:
        yield connection
    finally:
        await connection.rollback()
        await connection.close()
'''
"""

ALTERNATIVES = {
    "08_async_hygiene_and_migration": {
        "spawn-solution": _SPAWN.rstrip(),
        "lifespan-solution": _LIFESPAN.rstrip(),
        "migrate-solution": _MIGRATED.rstrip(),
    },
}

# --- wrong answers: (what is wrong, the cell's source) -----------------------------------------

_GOOD_CONFTEST = """
import os

import pytest
from sqlalchemy.ext.asyncio import create_async_engine


@pytest.fixture(scope="session")
async def engine():
    engine = create_async_engine(os.environ["DATABASE_URL"])
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine):
    async with engine.connect() as connection:
        yield connection
        await connection.rollback()
"""
_GOOD_INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = session
asyncio_default_test_loop_scope = session
"""
_OLD_EVENT_LOOP = """

@pytest.fixture(scope="session")
def event_loop():
    import asyncio

    loop = asyncio.new_event_loop()
    yield loop
    loop.close()
"""


_CLOSING_LIFESPAN = """\
@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    engine = create_async_engine(settings.database_url)
    http_client = httpx.AsyncClient(timeout=settings.http_timeout_seconds)
    try:
        if settings.create_schema:
            await create_schema(engine)
        app.state.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
        app.state.http_client = http_client
        yield
    finally:
        await http_client.aclose()
        await engine.dispose()
"""

_NO_FINALLY_LIFESPAN = """\
@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    engine = create_async_engine(settings.database_url)
    http_client = httpx.AsyncClient(timeout=settings.http_timeout_seconds)
    if settings.create_schema:
        await create_schema(engine)
    app.state.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    app.state.http_client = http_client
    yield
    await http_client.aclose()
    await engine.dispose()
"""


def _migrated(conftest: str, ini: str) -> str:
    return f"MIGRATED_INI = {ini!r}\n\nMIGRATED_CONFTEST = {conftest!r}\n"


WRONG = {
    "08_async_hygiene_and_migration": {
        "spawn-solution": [
            (
                "the reference is returned, and dropped by the caller",
                "def spawn(coroutine):\n    return asyncio.create_task(coroutine)\n",
            ),
            (
                "a WeakSet holds nothing alive",
                "import weakref\n\nrunning_tasks = weakref.WeakSet()\n\n\n"
                "def spawn(coroutine):\n    task = asyncio.create_task(coroutine)\n"
                "    running_tasks.add(task)\n    return task\n",
            ),
            (
                "finished tasks are never forgotten",
                "running_tasks = set()\n\n\ndef spawn(coroutine):\n"
                "    task = asyncio.create_task(coroutine)\n    running_tasks.add(task)\n"
                "    return task\n",
            ),
        ],
        "lifespan-solution": [
            ("the planted leak: the engine is never disposed", LEAKY_LIFESPAN),
            (
                "the HTTP client is never closed (silent: it opened no socket)",
                _CLOSING_LIFESPAN.replace("        await http_client.aclose()\n", ""),
            ),
            ("no finally: a failed start-up leaves the client open", _NO_FINALLY_LIFESPAN),
            (
                "dispose() is called but not awaited",
                _CLOSING_LIFESPAN.replace("await engine.dispose()", "engine.dispose()"),
            ),
        ],
        "migrate-solution": [
            (
                "the event_loop fixture is kept",
                _migrated(_GOOD_CONFTEST + _OLD_EVENT_LOOP, _GOOD_INI),
            ),
            (
                "the tests keep their function loops",
                _migrated(
                    _GOOD_CONFTEST,
                    "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = session\n",
                ),
            ),
            (
                "the fixtures' default loop scope is left unset (a deprecation warning)",
                _migrated(
                    _GOOD_CONFTEST,
                    "[pytest]\nasyncio_mode = auto\nasyncio_default_test_loop_scope = session\n",
                ),
            ),
            (
                "an engine per test",
                _migrated(_GOOD_CONFTEST.replace('(scope="session")', ""), _GOOD_INI),
            ),
            (
                "strict mode: the unmarked tests do not run",
                _migrated(_GOOD_CONFTEST, _GOOD_INI.replace("auto", "strict")),
            ),
        ],
    },
}
