"""The shop under test, as lessons from module 03 on use it:
`from course.lessons.shop_fixtures import *`. pytest finds a fixture by its name in the test
module's namespace, so a fixture and every fixture it requests must be imported.

- The savepoint recipe, taught in module 02: a module-wide engine, an outer transaction per
  test (`shop_connection`) that is rolled back at the end, and sessions that join it with
  `join_transaction_mode="create_savepoint"`, so that the app's commits release savepoints.
- The lifespan client, taught in module 03: the app started in `asgi_lifespan.LifespanManager`,
  requests sent through `httpx.ASGITransport` to `manager.app`, and a session per request
  (the app gets the sessionmaker, never one shared session: module 03 shows what sharing hides).
- The exchange-rate service replaced by `FakeRatesApi` behind `httpx.MockTransport` (modules 03
  and 04).

Every async fixture here runs on the module's loop: tests that use them are marked
`@pytest.mark.asyncio(loop_scope="module")` (module 01).
"""

import os

import httpx
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from shop.app import create_app
from shop.dependencies import get_http_client, get_sessionmaker
from shop.settings import Settings

__all__ = [
    "RATES_URL",
    "FakeRatesApi",
    "place_widget_order",
    "rates_api",
    "shop_app",
    "shop_client",
    "shop_connection",
    "shop_engine",
    "shop_session",
    "shop_sessionmaker",
]

RATES_URL = "https://rates.test"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shop_engine():
    engine = create_async_engine(os.environ["DATABASE_URL"])
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture(loop_scope="module")
async def shop_connection(shop_engine):
    async with shop_engine.connect() as connection:
        transaction = await connection.begin()  # the outer transaction
        yield connection
        await transaction.rollback()  # whatever the test and the app wrote is gone


@pytest.fixture
def shop_sessionmaker(shop_connection):
    """Sessions joined to the test's transaction: their commits release savepoints.
    expire_on_commit=False: objects stay readable after a commit (module 02)."""
    return async_sessionmaker(
        bind=shop_connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest_asyncio.fixture(loop_scope="module")
async def shop_session(shop_sessionmaker):
    async with shop_sessionmaker() as session:
        yield session


class FakeRatesApi:
    """The exchange-rate service: answers GET /latest?base=XXX from `rates`, records requests."""

    def __init__(self):
        self.rates = {"EUR": {"USD": 1.10, "GBP": 0.85}, "GBP": {"USD": 1.30, "EUR": 1.18}}
        self.requests = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        base = request.url.params.get("base")
        if request.url.path != "/latest" or base not in self.rates:
            return httpx.Response(404, json={"message": "unknown base"})
        return httpx.Response(200, json={"base": base, "rates": self.rates[base]})


@pytest.fixture
def rates_api():
    return FakeRatesApi()


@pytest_asyncio.fixture(loop_scope="module")
async def shop_app(shop_sessionmaker, rates_api):
    """The shop, in EUR, on the test's transaction, asking `rates_api` for exchange rates."""
    app = create_app(Settings(exchange_rates_url=RATES_URL, shop_currency="EUR"))
    app.dependency_overrides[get_sessionmaker] = lambda: shop_sessionmaker
    async with httpx.AsyncClient(transport=httpx.MockTransport(rates_api)) as rates_client:
        app.dependency_overrides[get_http_client] = lambda: rates_client
        yield app
    app.dependency_overrides.clear()


@pytest_asyncio.fixture(loop_scope="module")
async def shop_client(shop_app):
    async with LifespanManager(shop_app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def place_widget_order(client: httpx.AsyncClient, quantity: int = 3) -> dict:
    """A customer orders `quantity` widgets at 2.50 EUR, all through the API; returns the order."""
    customer = await client.post("/customers", json={"email": "ada@example.com", "name": "Ada"})
    widget = await client.post(
        "/products", json={"sku": "WID-1", "name": "Widget", "price_cents": 250}
    )
    north = await client.post("/warehouses", json={"code": "NORTH", "name": "North"})
    stock_url = f"/products/{widget.json()['id']}/stock/{north.json()['id']}"
    assert (await client.put(stock_url, json={"quantity": 10})).status_code == 200
    lines = [{"product_id": widget.json()["id"], "quantity": quantity}]
    body = {"customer_id": customer.json()["id"], "lines": lines}
    order = await client.post("/orders", json=body)
    assert order.status_code == 201, order.text
    return order.json()
