"""The app as deployed: settings from the environment, the lifespan, and a run with nothing
overridden (real engine, real sessions, the background task's own connection)."""

import httpx
import pytest
import respx
from asgi_lifespan import LifespanManager
from sqlalchemy import func, inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shop.app import create_app
from shop.models import Base, Notification, StockLevel
from shop.settings import Settings

RATES_URL = "https://rates.test"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite+aiosqlite:///from-env.db")
    monkeypatch.setenv("EXCHANGE_RATES_URL", "https://rates.example")
    monkeypatch.setenv("SHOP_CURRENCY", "CHF")
    monkeypatch.setenv("CREATE_SCHEMA", "true")

    settings = create_app().state.settings

    assert settings == Settings(
        database_url="sqlite+aiosqlite:///from-env.db",
        exchange_rates_url="https://rates.example",
        shop_currency="CHF",
        create_schema=True,
    )


@pytest.mark.asyncio
async def test_the_lifespan_creates_the_schema_and_closes_what_it_opened(tmp_path) -> None:
    app = create_app(
        Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'new.db'}", create_schema=True)
    )

    async with LifespanManager(app):
        http_client: httpx.AsyncClient = app.state.http_client
        assert not http_client.is_closed
        async with app.state.sessionmaker() as session:
            connection = await session.connection()
            tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        assert sorted(tables) == sorted(Base.metadata.tables)

    assert http_client.is_closed


@pytest.mark.asyncio(loop_scope="session")
async def test_an_order_end_to_end_with_nothing_overridden(
    database_url: str,
    engine: AsyncEngine,
    delete_committed_rows: None,
    respx_mock: respx.MockRouter,
) -> None:
    # respx patches httpx's network layer, so it also catches the lifespan's own client.
    respx_mock.get(f"{RATES_URL}/latest", params={"base": "EUR"}).respond(
        json={"base": "EUR", "rates": {"USD": 2.0}}
    )
    app = create_app(
        Settings(database_url=database_url, exchange_rates_url=RATES_URL, shop_currency="EUR")
    )

    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://test"
        ) as client,
    ):
        customer = await client.post("/customers", json={"email": "e2e@example.com", "name": "E2E"})
        product = await client.post(
            "/products", json={"sku": "E2E", "name": "Thing", "price_cents": 300}
        )
        warehouse = await client.post("/warehouses", json={"code": "E2E", "name": "Depot"})
        product_id, warehouse_id = product.json()["id"], warehouse.json()["id"]
        await client.put(f"/products/{product_id}/stock/{warehouse_id}", json={"quantity": 5})
        order = await client.post(
            "/orders",
            json={
                "customer_id": customer.json()["id"],
                "lines": [{"product_id": product_id, "quantity": 2}],
            },
        )
        assert order.status_code == 201
        total = await client.get(f"/orders/{order.json()['id']}/total", params={"currency": "USD"})
        assert total.json()["total_cents"] == 1200

    # Committed for real: another connection sees the stock taken and the background task's row.
    async with engine.connect() as connection:
        assert await connection.scalar(select(StockLevel.quantity)) == 3
        assert await connection.scalar(select(func.count()).select_from(Notification)) == 1
