"""Concurrent orders for the last units in stock, each on its own connection."""

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from shop import services
from shop.errors import OutOfStock
from shop.models import Order, StockLevel

pytestmark = pytest.mark.asyncio(loop_scope="session")

UNITS_IN_STOCK = 5
BUYERS = 12


async def test_concurrent_orders_never_oversell(
    engine: AsyncEngine, delete_committed_rows: None
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip(
            "needs row locks: SQLite has none and SQLAlchemy leaves FOR UPDATE out, so "
            "concurrent writers fail with 'database is locked' (or, in sqlite3's legacy "
            "transaction mode, all succeed and oversell)"
        )
    # Not the test's shared connection: each buyer needs its own connection and transaction,
    # so the setup is really committed and cleaned up by `delete_committed_rows`.
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    async with sessionmaker() as session:
        customer = await services.create_customer(session, "rush@example.com", "Rush")
        product = await services.create_product(session, "LAST-1", "Last units", 500)
        warehouse = await services.create_warehouse(session, "MAIN", "Main")
        await services.set_stock(session, product.id, warehouse.id, UNITS_IN_STOCK)

    async def buy_one() -> bool:
        async with sessionmaker() as session:
            try:
                await services.place_order(session, customer.id, [(product.id, 1)])
            except OutOfStock:
                return False
            return True

    results = await asyncio.gather(*(buy_one() for _ in range(BUYERS)))

    assert results.count(True) == UNITS_IN_STOCK
    async with sessionmaker() as session:
        assert await session.scalar(select(StockLevel.quantity)) == 0
        assert await session.scalar(select(func.count()).select_from(Order)) == UNITS_IN_STOCK
