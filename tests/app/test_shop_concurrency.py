"""Overlapping orders, each on its own connection, with real commits.

The interleaving is driven, never left to luck (module 07): the first order reserves its units
and stays open; the second runs until it has finished or waits on a lock the first holds, as
PostgreSQL reports it; then the first commits. Without `FOR UPDATE` in `reserve_stock`, these
tests fail on every run; with it, they pass on every run.
"""

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from course.lessons.concurrency import hold_and_race
from shop import services
from shop.errors import OutOfStock
from shop.models import Order, StockLevel

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def sessionmaker(engine: AsyncEngine, delete_committed_rows: None) -> async_sessionmaker:
    if engine.dialect.name != "postgresql":
        pytest.skip(
            "needs row locks: SQLite has none and SQLAlchemy leaves FOR UPDATE out, so "
            "concurrent writers fail with 'database is locked' (or, in sqlite3's legacy "
            "transaction mode, all succeed and oversell)"
        )
    # Not the test's shared connection: each order needs its own connection and transaction,
    # so the setup is really committed and cleaned up by `delete_committed_rows`.
    return async_sessionmaker(engine, expire_on_commit=False)


async def a_second_order(sessionmaker, customer_id, items) -> str:
    async with sessionmaker() as session:
        try:
            await services.place_order(session, customer_id, items)
        except OutOfStock:
            return "out of stock"
        return "placed"


@pytest.mark.parametrize(("units", "second_order"), [(2, "placed"), (1, "out of stock")])
async def test_overlapping_orders_never_oversell(sessionmaker, units, second_order):
    async with sessionmaker() as session:
        customer = await services.create_customer(session, "rush@example.com", "Rush")
        product = await services.create_product(session, "LAST-1", "Last units", 500)
        warehouse = await services.create_warehouse(session, "MAIN", "Main")
        await services.set_stock(session, product.id, warehouse.id, units)

    how, outcome = await hold_and_race(
        sessionmaker,
        lambda session: services.reserve_stock(session, product.id, 1),  # the first order
        lambda: a_second_order(sessionmaker, customer.id, [(product.id, 1)]),
    )

    assert (how, outcome) == ("blocked", second_order)
    async with sessionmaker() as session:
        assert await session.scalar(select(StockLevel.quantity)) == 0
        placed = await session.scalar(select(func.count()).select_from(Order))
        assert placed == (1 if second_order == "placed" else 0)


async def test_orders_listing_products_in_opposite_orders_queue_instead_of_deadlocking(
    sessionmaker,
):
    async with sessionmaker() as session:
        customer = await services.create_customer(session, "pair@example.com", "Pair")
        warehouse = await services.create_warehouse(session, "MAIN", "Main")
        ids = []
        for sku in ("A-1", "B-1"):
            product = await services.create_product(session, sku, sku, 100)
            await services.set_stock(session, product.id, warehouse.id, 5)
            ids.append(product.id)

    async def first_order(session):  # the stock rows locked as place_order locks them: sorted
        for product_id in sorted(ids):
            await services.reserve_stock(session, product_id, 1)

    reversed_items = [(product_id, 1) for product_id in reversed(ids)]
    how, outcome = await hold_and_race(
        sessionmaker, first_order, lambda: a_second_order(sessionmaker, customer.id, reversed_items)
    )

    assert (how, outcome) == ("blocked", "placed")
