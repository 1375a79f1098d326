"""The service layer: what the shop does, as async functions taking an `AsyncSession`.

Routes stay thin and call these; tests and notebooks can call them directly too. Functions
that change data commit, so each call is one unit of work; on a refusal they roll back.
"""

from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from shop.errors import AlreadyExists, NotFound, OutOfStock, ShopError
from shop.models import Base, Customer, Order, OrderLine, Product, StockLevel, Warehouse
from shop.rates import ExchangeRatesClient

Model = TypeVar("Model", bound=Base)


async def _add_unique(session: AsyncSession, row: Model, what: str) -> Model:
    """Insert a row whose natural key must be unique; a duplicate becomes `AlreadyExists`.

    Catching the database's refusal, rather than looking first, is safe against a
    concurrent insert of the same key. (On these tables a unique key is the only
    constraint that a well-typed insert can break.)
    """
    session.add(row)
    try:
        await session.commit()
    except IntegrityError as error:
        await session.rollback()
        raise AlreadyExists(f"{what} already exists") from error
    return row


async def _get_or_404(session: AsyncSession, model: type[Model], id_: int) -> Model:
    row = await session.get(model, id_)
    if row is None:
        raise NotFound(f"{model.__name__} {id_} not found")
    return row


async def create_product(session: AsyncSession, sku: str, name: str, price_cents: int) -> Product:
    product = Product(sku=sku, name=name, price_cents=price_cents)
    return await _add_unique(session, product, f"product {sku!r}")


async def list_products(session: AsyncSession) -> Sequence[Product]:
    return (await session.scalars(select(Product).order_by(Product.id))).all()


async def create_warehouse(session: AsyncSession, code: str, name: str) -> Warehouse:
    return await _add_unique(session, Warehouse(code=code, name=name), f"warehouse {code!r}")


async def set_stock(
    session: AsyncSession, product_id: int, warehouse_id: int, quantity: int
) -> StockLevel:
    """Record a stock count (after a delivery or an inventory), replacing the previous one."""
    await _get_or_404(session, Product, product_id)
    await _get_or_404(session, Warehouse, warehouse_id)
    stock = await session.get(StockLevel, (product_id, warehouse_id))
    if stock is None:
        stock = StockLevel(product_id=product_id, warehouse_id=warehouse_id, quantity=quantity)
        session.add(stock)
    else:
        stock.quantity = quantity
    await session.commit()
    return stock


async def create_customer(session: AsyncSession, email: str, name: str) -> Customer:
    return await _add_unique(session, Customer(email=email, name=name), f"customer {email!r}")


async def reserve_stock(session: AsyncSession, product_id: int, quantity: int) -> int:
    """Take `quantity` units of a product from the first warehouse that has enough.

    Returns that warehouse's id. Does not commit: the caller's transaction decides.

    `with_for_update()` (SELECT ... FOR UPDATE) locks the product's stock rows until the
    transaction ends, so a concurrent order waits here and then reads the decremented
    quantity. Without it, two orders read the same quantity and the second write silently
    undoes the first (a lost update), which oversells. `populate_existing` makes the ORM
    overwrite rows already in the session with what the locked read returned.

    Safe under concurrency on PostgreSQL only: SQLite has no row locks, and SQLAlchemy
    leaves FOR UPDATE out there.
    """
    stock_levels = await session.scalars(
        select(StockLevel)
        .where(StockLevel.product_id == product_id)
        .order_by(StockLevel.warehouse_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    for stock in stock_levels:
        if stock.quantity >= quantity:
            stock.quantity -= quantity
            return stock.warehouse_id
    raise OutOfStock(f"not enough stock of product {product_id} for {quantity} units")


async def place_order(
    session: AsyncSession, customer_id: int, items: Iterable[tuple[int, int]]
) -> Order:
    """Place an order for `(product_id, quantity)` items, reserving stock for every line.

    All or nothing: if any line cannot be served, nothing is reserved.
    """
    try:
        await _get_or_404(session, Customer, customer_id)
        order = Order(customer_id=customer_id)
        # Lock stock rows in one fixed order (by product id): two orders that share products
        # then queue behind each other instead of deadlocking.
        for product_id, quantity in sorted(items):
            product = await _get_or_404(session, Product, product_id)
            warehouse_id = await reserve_stock(session, product_id, quantity)
            order.lines.append(
                OrderLine(
                    product_id=product_id,
                    warehouse_id=warehouse_id,
                    quantity=quantity,
                    unit_price_cents=product.price_cents,
                )
            )
        session.add(order)
        await session.commit()
    except ShopError:
        await session.rollback()
        raise
    return order


async def get_order(session: AsyncSession, order_id: int) -> Order:
    order = await session.get(Order, order_id, options=[selectinload(Order.lines)])
    if order is None:
        raise NotFound(f"Order {order_id} not found")
    return order


async def order_total_in(
    session: AsyncSession,
    rates: ExchangeRatesClient,
    order_id: int,
    currency: str,
    shop_currency: str,
) -> tuple[int, Decimal]:
    """An order's total converted to `currency`: `(total in cents, exchange rate used)`."""
    order = await get_order(session, order_id)
    rate = await rates.get_rate(shop_currency, currency)
    total = (order.total_cents * rate).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    return int(total), rate
