"""The service layer, called directly with the test's session."""

from decimal import Decimal
from unittest.mock import AsyncMock

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop import services
from shop.errors import AlreadyExists, NotFound, OutOfStock
from shop.models import Notification, Order, StockLevel
from shop.notifications import send_order_confirmation
from shop.rates import ExchangeRatesClient

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def count(session: AsyncSession, model: type) -> int:
    return await session.scalar(select(func.count()).select_from(model))


async def test_create_product_refuses_a_duplicate_sku(session: AsyncSession) -> None:
    first = await services.create_product(session, "SKU-1", "First", 100)

    with pytest.raises(AlreadyExists, match="SKU-1"):
        await services.create_product(session, "SKU-1", "Second", 200)

    # The failed insert was rolled back and the session is usable again.
    assert [p.id for p in await services.list_products(session)] == [first.id]


async def test_set_stock_creates_then_replaces_the_count(session: AsyncSession, stock) -> None:
    product = await services.create_product(session, "SKU-1", "Thing", 100)
    warehouse = await services.create_warehouse(session, "W1", "Depot")

    await services.set_stock(session, product.id, warehouse.id, 7)
    assert await stock(product.id, warehouse.id) == 7
    await services.set_stock(session, product.id, warehouse.id, 2)
    assert await stock(product.id, warehouse.id) == 2


async def test_set_stock_needs_an_existing_warehouse(session: AsyncSession, catalog) -> None:
    with pytest.raises(NotFound, match="Warehouse"):
        await services.set_stock(session, catalog.widget_id, 999_999, 1)


async def test_reserve_stock_takes_from_the_first_warehouse_with_enough(
    session: AsyncSession, catalog, stock
) -> None:
    # North holds 3 widgets, South 10: 5 can only come from South.
    assert await services.reserve_stock(session, catalog.widget_id, 5) == catalog.south_id
    assert await services.reserve_stock(session, catalog.widget_id, 3) == catalog.north_id
    await session.flush()
    assert await stock(catalog.widget_id, catalog.north_id) == 0
    assert await stock(catalog.widget_id, catalog.south_id) == 5


async def test_reserve_stock_refuses_more_than_any_warehouse_holds(
    session: AsyncSession, catalog, stock
) -> None:
    # 13 widgets exist in total, but no single warehouse holds 11.
    with pytest.raises(OutOfStock):
        await services.reserve_stock(session, catalog.widget_id, 11)
    assert await stock(catalog.widget_id, catalog.north_id) == 3
    assert await stock(catalog.widget_id, catalog.south_id) == 10


async def test_reserve_stock_reads_the_current_quantity_not_the_sessions_copy(
    session: AsyncSession, test_sessionmaker: async_sessionmaker[AsyncSession], catalog, stock
) -> None:
    stale = await session.get(StockLevel, (catalog.widget_id, catalog.north_id))
    async with test_sessionmaker() as other_session:  # say, another request: North sold out
        await services.set_stock(other_session, catalog.widget_id, catalog.north_id, 0)
    assert stale.quantity == 3  # the session still holds the old copy

    assert await services.reserve_stock(session, catalog.widget_id, 2) == catalog.south_id
    await session.flush()
    assert await stock(catalog.widget_id, catalog.north_id) == 0


async def test_place_order_reserves_stock_and_prices_the_lines(
    session: AsyncSession, catalog, stock
) -> None:
    order = await services.place_order(
        session, catalog.customer_id, [(catalog.gadget_id, 2), (catalog.widget_id, 4)]
    )

    assert order.customer_id == catalog.customer_id
    assert [(line.product_id, line.quantity, line.unit_price_cents) for line in order.lines] == [
        (catalog.widget_id, 4, 250),
        (catalog.gadget_id, 2, 1000),
    ]
    assert order.total_cents == 4 * 250 + 2 * 1000
    assert await stock(catalog.widget_id, catalog.south_id) == 6
    assert await stock(catalog.gadget_id, catalog.south_id) == 0


async def test_place_order_is_all_or_nothing(session: AsyncSession, catalog, stock) -> None:
    # Widgets are available, but only 2 gadgets.
    with pytest.raises(OutOfStock):
        await services.place_order(
            session, catalog.customer_id, [(catalog.widget_id, 1), (catalog.gadget_id, 3)]
        )

    assert await count(session, Order) == 0
    assert await stock(catalog.widget_id, catalog.north_id) == 3


async def test_place_order_needs_an_existing_customer_and_products(
    session: AsyncSession, catalog
) -> None:
    with pytest.raises(NotFound, match="Customer"):
        await services.place_order(session, 999_999, [(catalog.widget_id, 1)])
    with pytest.raises(NotFound, match="Product"):
        await services.place_order(session, catalog.customer_id, [(999_999, 1)])


async def test_order_total_in_converts_with_the_rate_and_rounds_to_cents(
    session: AsyncSession, catalog
) -> None:
    order = await services.place_order(session, catalog.customer_id, [(catalog.widget_id, 3)])
    rates = AsyncMock(spec=ExchangeRatesClient)
    rates.get_rate.return_value = Decimal("1.0825")

    total = await services.order_total_in(session, rates, order.id, "USD", "EUR")

    assert total == (812, Decimal("1.0825"))  # 750 cents * 1.0825 = 811.875
    rates.get_rate.assert_awaited_once_with("EUR", "USD")


async def test_send_order_confirmation_records_a_notification_in_its_own_session(
    session: AsyncSession, test_sessionmaker: async_sessionmaker[AsyncSession], catalog
) -> None:
    order = await services.place_order(session, catalog.customer_id, [(catalog.widget_id, 1)])

    await send_order_confirmation(test_sessionmaker, order.id)

    notification = await session.scalar(select(Notification))
    assert (notification.order_id, notification.recipient) == (order.id, "ada@example.com")
    assert str(order.id) in notification.subject


async def test_send_order_confirmation_fails_loudly_for_an_order_it_cannot_see(
    test_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    with pytest.raises(LookupError, match="was it committed"):
        await send_order_confirmation(test_sessionmaker, 999_999)
