"""The pieces of the setup, then the fixtures made of them for one suite's `Testkit` (their
loop and scope depend on it)."""

import importlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from fastapi_testkit.config import Testkit
from fastapi_testkit.database import create_database, drop_database

# --- the pieces ----------------------------------------------------------------------------------


async def transaction_per_test(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection in a transaction that is rolled back after the test: whatever the test and
    the app committed is gone, and the next test starts on empty tables."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        yield connection
        await transaction.rollback()


def bound_to(
    connection: AsyncConnection, like: async_sessionmaker | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions on the test's connection, configured like `like` if given. Their commits only
    release a savepoint (create_savepoint), so the test's transaction still rolls them back.
    expire_on_commit=False: reading an attribute after a commit would need a lazy load, which
    an async session cannot do (MissingGreenlet)."""
    options = {"class_": AsyncSession, "expire_on_commit": False}
    if like is not None:
        options |= {**like.kw, "class_": like.class_}
    options |= {"bind": connection, "join_transaction_mode": "create_savepoint"}
    return async_sessionmaker(**options)


def replace_sessionmakers(
    dotted_names: Iterable[str], connection: AsyncConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replace module-level sessionmakers ("myapp.db.SessionLocal") for the test. Code that
    opens sessions itself (a background task) would otherwise commit for good, on a connection
    of its own that cannot see the test's uncommitted rows."""
    for dotted_name in dotted_names:
        module_name, _, attribute = dotted_name.rpartition(".")
        module = importlib.import_module(module_name)
        original = getattr(module, attribute)
        monkeypatch.setattr(module, attribute, bound_to(connection, like=original))


def database_override(
    provides: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> Callable[..., Any]:
    """What the app's database dependency returns during a test."""
    if provides == "sessionmaker":

        async def test_sessionmaker() -> async_sessionmaker[AsyncSession]:
            return sessionmaker

        return test_sessionmaker

    async def test_session() -> AsyncIterator[AsyncSession]:
        # A session per request, as the app's own dependency gives: one session shared with
        # the test would hide what the app forgot to commit.
        async with sessionmaker() as session:
            yield session

    return test_session


@contextmanager
def overridden(
    app: FastAPI, overrides: dict[Callable[..., Any], Callable[..., Any]]
) -> Iterator[FastAPI]:
    """The app with these dependency overrides, and any a test adds, for the test only: an
    app that outlives the test would hand the next test this one's overrides (and its
    rolled-back connection)."""
    before = dict(app.dependency_overrides)
    app.dependency_overrides.update(overrides)
    try:
        yield app
    finally:
        app.dependency_overrides.clear()
        app.dependency_overrides.update(before)


@asynccontextmanager
async def lifespan_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app, its lifespan running: ASGITransport alone never runs it, and
    whatever the lifespan sets up (app.state) would be missing."""
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@contextmanager
def cleared(caches: Iterable[Callable[..., Any]]) -> Iterator[None]:
    """lru_cache'd functions (get_settings) emptied before and after: cached, a setting keeps
    the first value it was read with, whatever a later test's monkeypatch.setenv says."""
    for function in caches:
        function.cache_clear()
    try:
        yield
    finally:
        for function in caches:
            function.cache_clear()


# --- the fixtures --------------------------------------------------------------------------------


def _async_fixture_decorator(kit: Testkit, loop_scope: str) -> Callable[..., Any]:
    if kit.runner == "anyio":
        return pytest.fixture  # anyio's plugin runs it, on the loop of the anyio_backend
    import pytest_asyncio

    def decorator(*, scope: str) -> Callable[..., Any]:
        return pytest_asyncio.fixture(scope=scope, loop_scope=loop_scope)

    return decorator


def make_fixtures(kit: Testkit, server_url: str, base: Path, loop_scope: str) -> ModuleType:
    async_fixture = _async_fixture_decorator(kit, loop_scope)
    # A session loop lets one engine (and its pool) serve the whole run. With a loop per test,
    # a pooled connection would outlive its loop: "attached to a different loop".
    engine_scope = "session" if loop_scope == "session" else "function"
    pool = {} if loop_scope == "session" else {"poolclass": NullPool}

    @pytest.fixture(scope="session")
    def database_url() -> Iterator[str]:
        """This worker's own database, with the schema built once."""
        url = create_database(server_url, kit.schema, base)
        yield url.render_as_string(hide_password=False)
        drop_database(server_url, url)

    @async_fixture(scope=engine_scope)
    async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
        engine = create_async_engine(database_url, **pool)
        yield engine
        await engine.dispose()

    @async_fixture(scope="function")
    async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
        async for connection in transaction_per_test(engine):
            yield connection

    @pytest.fixture
    def sessionmaker(
        connection: AsyncConnection, monkeypatch: pytest.MonkeyPatch
    ) -> async_sessionmaker[AsyncSession]:
        replace_sessionmakers(kit.sessionmakers, connection, monkeypatch)
        return bound_to(connection)

    @async_fixture(scope="function")
    async def session(
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> AsyncIterator[AsyncSession]:
        async with sessionmaker() as session:
            yield session

    @pytest.fixture
    def app(request: pytest.FixtureRequest) -> Iterator[FastAPI]:
        """The app, its database dependency overridden for this test."""
        application = kit.app if isinstance(kit.app, FastAPI) else kit.app()
        overrides = {}
        if kit.dependency is not None or kit.sessionmakers:
            test_sessionmaker = request.getfixturevalue("sessionmaker")
        if kit.dependency is not None:
            overrides[kit.dependency] = database_override(kit.provides, test_sessionmaker)
        with overridden(application, overrides):
            yield application

    @async_fixture(scope="function")
    async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
        async with lifespan_client(app) as client:
            yield client

    @pytest.fixture(autouse=True)
    def clear_settings_caches() -> Iterator[None]:
        with cleared(kit.settings_caches):
            yield

    # pytest reads a plugin's fixtures from a module's attributes.
    fixtures = ModuleType("fastapi_testkit.fixtures_of_this_suite")
    fixtures.__dict__.update(
        database_url=database_url,
        engine=engine,
        connection=connection,
        sessionmaker=sessionmaker,
        session=session,
        app=app,
        client=client,
        clear_settings_caches=clear_settings_caches,
    )
    if kit.runner == "anyio":

        @pytest.fixture(scope="session")
        def anyio_backend() -> str:
            # Session scope, so that session-scoped async fixtures may run on it too.
            return "asyncio"

        fixtures.anyio_backend = anyio_backend
    return fixtures
