"""Fixtures for the shop's tests. Every test that touches the database runs twice: on SQLite
(aiosqlite) and on PostgreSQL (asyncpg).

Isolation: a test gets one connection with an outer transaction that is rolled back at the
end. Sessions join it with join_transaction_mode="create_savepoint", so the app's own
`commit()` only releases a savepoint and nothing reaches the database for good.

Event loops: the engine lives for the whole test session, and a connection belongs to the
loop that opened it. So every async fixture here runs in the session's loop
(`loop_scope="session"`), and so must the tests that use them: their modules set
`pytestmark = pytest.mark.asyncio(loop_scope="session")`.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from course.isolation import enable_sqlite_savepoints
from shop import services
from shop.app import create_app
from shop.dependencies import get_http_client, get_sessionmaker
from shop.models import Base, StockLevel, create_schema
from shop.settings import Settings

RATES_URL = "https://rates.test"


def postgres_url() -> str:
    """A fresh PostgreSQL database private to this process (so xdist workers never collide)."""
    try:
        from course.db import database_for_this_process
    except ImportError as error:
        pytest.fail(
            "The PostgreSQL half of the shop's tests gets its database from the course "
            f"toolkit, course.db.database_for_this_process, which cannot be imported: {error}. "
            "Install the project (pip install -e .) and run pytest from its root.",
            pytrace=False,
        )
    return database_for_this_process("apptests")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        # A file, not :memory: (one connection shared by all), so that connections are separate.
        return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'shop.db'}"
    return postgres_url()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url)
    if engine.dialect.name == "sqlite":
        enable_sqlite_savepoints(engine)
    await create_schema(engine)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as connection:
        transaction = await connection.begin()
        yield connection
        await transaction.rollback()


@pytest.fixture
def test_sessionmaker(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    """Sessions bound to the test's connection; their commits release savepoints."""
    return async_sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest_asyncio.fixture(loop_scope="session")
async def session(
    test_sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    async with test_sessionmaker() as session:
        yield session


@pytest_asyncio.fixture(loop_scope="session")
async def delete_committed_rows(engine: AsyncEngine) -> AsyncIterator[None]:
    """For the few tests that must really commit (concurrency, the unmocked app): empty
    every table afterwards. Safe because the database is private to this process."""
    yield
    async with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(table.delete())


class FakeRatesApi:
    """Plays the exchange-rate service behind httpx.MockTransport; tests change its answers."""

    def __init__(self) -> None:
        self.rates = {"USD": 1.0825, "GBP": 0.8512}
        self.status_code = 200
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status_code != 200:
            return httpx.Response(self.status_code, json={"message": "upstream trouble"})
        base = request.url.params["base"]
        return httpx.Response(200, json={"base": base, "rates": self.rates})


@pytest.fixture
def rates_api() -> FakeRatesApi:
    return FakeRatesApi()


@pytest_asyncio.fixture(loop_scope="session")
async def app(
    database_url: str,
    test_sessionmaker: async_sessionmaker[AsyncSession],
    rates_api: FakeRatesApi,
) -> AsyncIterator[FastAPI]:
    """The app, wired to the test's transaction and to the fake rates API."""
    app = create_app(
        Settings(database_url=database_url, exchange_rates_url=RATES_URL, shop_currency="EUR")
    )
    # Each request gets a session of its own, as in production, joined to the test's
    # transaction; so does the background task, which opens its own (get_session depends on
    # get_sessionmaker). Sharing the test's session with the routes would hide a route that
    # forgets to commit: module 03 shows it.
    app.dependency_overrides[get_sessionmaker] = lambda: test_sessionmaker
    async with httpx.AsyncClient(transport=httpx.MockTransport(rates_api)) as rates_client:
        app.dependency_overrides[get_http_client] = lambda: rates_client
        yield app
    app.dependency_overrides.clear()


@pytest_asyncio.fixture(loop_scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client for the app with its lifespan running (ASGITransport alone never runs it)."""
    async with LifespanManager(app) as manager:
        # manager.app, not app: it hands the lifespan's state to the requests.
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@dataclass(frozen=True)
class Catalog:
    """Ids of the rows a test starts with (ids, not ORM objects: a rollback expires those)."""

    customer_id: int
    widget_id: int  # 2.50; 3 in North, 10 in South
    gadget_id: int  # 10.00; 2 in South
    north_id: int
    south_id: int


@pytest_asyncio.fixture(loop_scope="session")
async def catalog(session: AsyncSession) -> Catalog:
    customer = await services.create_customer(session, "ada@example.com", "Ada Lovelace")
    widget = await services.create_product(session, "WID-1", "Widget", 250)
    gadget = await services.create_product(session, "GAD-1", "Gadget", 1000)
    north = await services.create_warehouse(session, "NORTH", "North")
    south = await services.create_warehouse(session, "SOUTH", "South")
    await services.set_stock(session, widget.id, north.id, 3)
    await services.set_stock(session, widget.id, south.id, 10)
    await services.set_stock(session, gadget.id, south.id, 2)
    return Catalog(customer.id, widget.id, gadget.id, north.id, south.id)


@pytest.fixture
def stock(session: AsyncSession) -> Callable[[int, int], Awaitable[int | None]]:
    """`await stock(product_id, warehouse_id)`: the quantity as the database has it now."""

    async def quantity(product_id: int, warehouse_id: int) -> int | None:
        return await session.scalar(
            select(StockLevel.quantity).where(
                StockLevel.product_id == product_id, StockLevel.warehouse_id == warehouse_id
            )
        )

    return quantity
