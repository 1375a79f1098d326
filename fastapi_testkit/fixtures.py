"""The fixtures, made for one suite's `Testkit` (their loop and scope depend on it)."""

import importlib
from collections.abc import AsyncIterator, Callable, Iterator
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


def _async_fixture_decorator(kit: Testkit, loop_scope: str) -> Callable[..., Any]:
    if kit.runner == "anyio":
        return pytest.fixture  # anyio's plugin runs it, on the loop of the anyio_backend
    import pytest_asyncio

    def decorator(*, scope: str) -> Callable[..., Any]:
        return pytest_asyncio.fixture(scope=scope, loop_scope=loop_scope)

    return decorator


def _bound_to(connection: AsyncConnection, like: async_sessionmaker | None = None):
    """Sessions on the test's connection. Their commits only release a savepoint
    (create_savepoint), so the test's outer transaction can still roll everything back."""
    options = {"expire_on_commit": False, "class_": AsyncSession}
    if like is not None:
        options |= {**like.kw, "class_": like.class_}
    options |= {"bind": connection, "join_transaction_mode": "create_savepoint"}
    return async_sessionmaker(**options)


def make_fixtures(kit: Testkit, server_url: str, base: Path, loop_scope: str) -> ModuleType:
    async_fixture = _async_fixture_decorator(kit, loop_scope)
    # A session loop lets one engine (and its pool) serve the whole run; with a loop per test,
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
        async with engine.connect() as connection:
            transaction = await connection.begin()
            yield connection
            # Whatever the test and the app committed is undone: the next test starts empty.
            await transaction.rollback()

    @pytest.fixture
    def sessionmaker(
        connection: AsyncConnection, monkeypatch: pytest.MonkeyPatch
    ) -> async_sessionmaker[AsyncSession]:
        # Code that opens sessions itself (background tasks, scripts) imports a module-level
        # sessionmaker: unreplaced, its commits would land in the database for good.
        for dotted_name in kit.sessionmakers:
            module_name, _, attribute = dotted_name.rpartition(".")
            module = importlib.import_module(module_name)
            original = getattr(module, attribute)
            monkeypatch.setattr(module, attribute, _bound_to(connection, like=original))
        return _bound_to(connection)

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
        before = dict(application.dependency_overrides)
        if kit.dependency is not None or kit.sessionmakers:
            test_sessionmaker = request.getfixturevalue("sessionmaker")
        if kit.dependency is not None:
            application.dependency_overrides[kit.dependency] = _override(
                kit.provides, test_sessionmaker
            )
        yield application
        # An app that outlives the test (a module-level one) would otherwise hand the next
        # test this test's overrides, and its rolled-back connection.
        application.dependency_overrides.clear()
        application.dependency_overrides.update(before)

    @async_fixture(scope="function")
    async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
        # ASGITransport alone does not run the lifespan: whatever it sets up would be missing.
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield client

    @pytest.fixture(autouse=True)
    def clear_settings_caches() -> Iterator[None]:
        # An lru_cache'd get_settings() would keep the first test's environment for all.
        for function in kit.settings_caches:
            function.cache_clear()
        yield
        for function in kit.settings_caches:
            function.cache_clear()

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


def _override(provides: str, test_sessionmaker: async_sessionmaker[AsyncSession]):
    if provides == "sessionmaker":

        async def test_sessionmaker_dependency() -> async_sessionmaker[AsyncSession]:
            return test_sessionmaker

        return test_sessionmaker_dependency

    async def test_session_dependency() -> AsyncIterator[AsyncSession]:
        # A session per request, as the app's own dependency gives: one session shared
        # with the test would hide what the app forgot to commit.
        async with test_sessionmaker() as session:
            yield session

    return test_session_dependency
