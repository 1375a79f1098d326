"""The HTTP routes: thin wrappers that parse the request and call the service layer."""

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query

from shop import services
from shop.dependencies import RatesClientDep, SessionDep, SessionmakerDep, SettingsDep
from shop.models import Customer, Order, Product, StockLevel, Warehouse
from shop.notifications import send_order_confirmation
from shop.schemas import (
    CustomerIn,
    CustomerOut,
    OrderIn,
    OrderOut,
    OrderTotalOut,
    ProductIn,
    ProductOut,
    StockIn,
    StockOut,
    WarehouseIn,
    WarehouseOut,
)

router = APIRouter()


@router.post("/products", status_code=201, response_model=ProductOut)
async def create_product(body: ProductIn, session: SessionDep) -> Product:
    return await services.create_product(session, body.sku, body.name, body.price_cents)


@router.get("/products", response_model=list[ProductOut])
async def list_products(session: SessionDep) -> list[Product]:
    return list(await services.list_products(session))


@router.post("/warehouses", status_code=201, response_model=WarehouseOut)
async def create_warehouse(body: WarehouseIn, session: SessionDep) -> Warehouse:
    return await services.create_warehouse(session, body.code, body.name)


@router.put("/products/{product_id}/stock/{warehouse_id}", response_model=StockOut)
async def set_stock(
    product_id: int, warehouse_id: int, body: StockIn, session: SessionDep
) -> StockLevel:
    return await services.set_stock(session, product_id, warehouse_id, body.quantity)


@router.post("/customers", status_code=201, response_model=CustomerOut)
async def create_customer(body: CustomerIn, session: SessionDep) -> Customer:
    return await services.create_customer(session, body.email, body.name)


@router.post("/orders", status_code=201, response_model=OrderOut)
async def place_order(
    body: OrderIn,
    session: SessionDep,
    sessionmaker: SessionmakerDep,
    background_tasks: BackgroundTasks,
) -> Order:
    items = [(line.product_id, line.quantity) for line in body.lines]
    order = await services.place_order(session, body.customer_id, items)
    # Runs after the response is sent, in a session of its own: it gets the sessionmaker.
    background_tasks.add_task(send_order_confirmation, sessionmaker, order.id)
    return order


@router.get("/orders/{order_id}", response_model=OrderOut)
async def get_order(order_id: int, session: SessionDep) -> Order:
    return await services.get_order(session, order_id)


@router.get("/orders/{order_id}/total", response_model=OrderTotalOut)
async def get_order_total(
    order_id: int,
    currency: Annotated[str, Query(pattern="^[A-Z]{3}$")],
    session: SessionDep,
    rates: RatesClientDep,
    settings: SettingsDep,
) -> OrderTotalOut:
    total_cents, rate = await services.order_total_in(
        session, rates, order_id, currency, settings.shop_currency
    )
    return OrderTotalOut(order_id=order_id, currency=currency, total_cents=total_cents, rate=rate)
