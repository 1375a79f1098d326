"""The HTTP API through httpx.AsyncClient + ASGITransport, inside the test's transaction."""

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shop.dependencies import get_settings
from shop.models import Notification, Order
from shop.settings import Settings

pytestmark = pytest.mark.asyncio(loop_scope="session")


def order_of(customer_id: int, product_id: int, quantity: int) -> dict:
    """The JSON body of a one-line order."""
    return {"customer_id": customer_id, "lines": [{"product_id": product_id, "quantity": quantity}]}


async def place_widget_order(client: httpx.AsyncClient, catalog, quantity: int) -> int:
    response = await client.post(
        "/orders", json=order_of(catalog.customer_id, catalog.widget_id, quantity)
    )
    assert response.status_code == 201
    return response.json()["id"]


async def test_create_and_list_products(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/products", json={"sku": "A-1", "name": "Apple", "price_cents": 99}
    )
    assert created.status_code == 201
    assert created.json() == {
        "id": created.json()["id"],
        "sku": "A-1",
        "name": "Apple",
        "price_cents": 99,
    }

    listed = await client.get("/products")
    assert listed.status_code == 200
    assert listed.json() == [created.json()]


async def test_create_product_refuses_a_duplicate_sku(client: httpx.AsyncClient) -> None:
    product = {"sku": "A-1", "name": "Apple", "price_cents": 99}
    assert (await client.post("/products", json=product)).status_code == 201

    duplicate = await client.post("/products", json=product)

    assert duplicate.status_code == 409
    assert duplicate.json() == {"detail": "product 'A-1' already exists"}


async def test_create_product_validates_the_price(client: httpx.AsyncClient) -> None:
    response = await client.post("/products", json={"sku": "A-1", "name": "A", "price_cents": -1})
    assert response.status_code == 422


async def test_create_warehouse_and_refuse_a_duplicate(client: httpx.AsyncClient) -> None:
    warehouse = {"code": "EAST", "name": "East"}
    created = await client.post("/warehouses", json=warehouse)
    assert created.status_code == 201
    assert created.json()["code"] == "EAST"
    assert (await client.post("/warehouses", json=warehouse)).status_code == 409


async def test_set_stock(client: httpx.AsyncClient, catalog, stock) -> None:
    url = f"/products/{catalog.gadget_id}/stock/{catalog.north_id}"
    response = await client.put(url, json={"quantity": 40})

    assert response.status_code == 200
    assert response.json() == {
        "product_id": catalog.gadget_id,
        "warehouse_id": catalog.north_id,
        "quantity": 40,
    }
    assert await stock(catalog.gadget_id, catalog.north_id) == 40


async def test_set_stock_of_an_unknown_product(client: httpx.AsyncClient, catalog) -> None:
    response = await client.put(f"/products/999999/stock/{catalog.north_id}", json={"quantity": 1})
    assert response.status_code == 404
    assert response.json() == {"detail": "Product 999999 not found"}


async def test_create_customer_and_refuse_a_duplicate_email(client: httpx.AsyncClient) -> None:
    customer = {"email": "grace@example.com", "name": "Grace Hopper"}
    created = await client.post("/customers", json=customer)
    assert created.status_code == 201
    assert created.json() == {"id": created.json()["id"], **customer}
    assert (await client.post("/customers", json=customer)).status_code == 409


async def test_create_customer_validates_the_email(client: httpx.AsyncClient) -> None:
    response = await client.post("/customers", json={"email": "not-an-email", "name": "X"})
    assert response.status_code == 422


async def test_place_order(client: httpx.AsyncClient, catalog, stock) -> None:
    response = await client.post(
        "/orders", json=order_of(catalog.customer_id, catalog.widget_id, 2)
    )

    assert response.status_code == 201
    body = response.json()
    assert body["customer_id"] == catalog.customer_id
    assert body["lines"] == [
        {
            "product_id": catalog.widget_id,
            "quantity": 2,
            "warehouse_id": catalog.north_id,
            "unit_price_cents": 250,
        }
    ]
    assert body["total_cents"] == 500
    assert await stock(catalog.widget_id, catalog.north_id) == 1


async def test_place_order_beyond_the_stock(
    client: httpx.AsyncClient, session: AsyncSession, catalog, stock
) -> None:
    response = await client.post(
        "/orders", json=order_of(catalog.customer_id, catalog.gadget_id, 3)
    )

    assert response.status_code == 409
    assert "not enough stock" in response.json()["detail"]
    assert await stock(catalog.gadget_id, catalog.south_id) == 2
    assert await session.scalar(select(Order)) is None


async def test_place_order_for_an_unknown_customer(client: httpx.AsyncClient, catalog) -> None:
    response = await client.post("/orders", json=order_of(999999, catalog.widget_id, 1))
    assert response.status_code == 404


async def test_placing_an_order_sends_a_confirmation_in_the_background(
    client: httpx.AsyncClient, session: AsyncSession, catalog
) -> None:
    response = await client.post(
        "/orders", json=order_of(catalog.customer_id, catalog.widget_id, 1)
    )
    assert response.status_code == 201

    # ASGITransport returns once the app is done, background tasks included.
    notifications = (await session.scalars(select(Notification))).all()
    assert [(n.order_id, n.recipient) for n in notifications] == [
        (response.json()["id"], "ada@example.com")
    ]


async def test_a_refused_order_sends_no_confirmation(
    client: httpx.AsyncClient, session: AsyncSession, catalog
) -> None:
    response = await client.post(
        "/orders", json=order_of(catalog.customer_id, catalog.gadget_id, 99)
    )
    assert response.status_code == 409
    assert await session.scalar(select(Notification)) is None


async def test_get_order(client: httpx.AsyncClient, catalog) -> None:
    order_id = await place_widget_order(client, catalog, 3)

    response = await client.get(f"/orders/{order_id}")

    assert response.status_code == 200
    assert response.json()["id"] == order_id
    assert response.json()["total_cents"] == 750


async def test_get_an_unknown_order(client: httpx.AsyncClient) -> None:
    response = await client.get("/orders/999999")
    assert response.status_code == 404
    assert response.json() == {"detail": "Order 999999 not found"}


async def test_order_total_in_another_currency(
    client: httpx.AsyncClient, rates_api, catalog
) -> None:
    order_id = await place_widget_order(client, catalog, 3)

    response = await client.get(f"/orders/{order_id}/total", params={"currency": "USD"})

    assert response.status_code == 200
    assert response.json() == {
        "order_id": order_id,
        "currency": "USD",
        "total_cents": 812,
        "rate": "1.0825",
    }
    [request] = rates_api.requests
    assert str(request.url) == "https://rates.test/latest?base=EUR"


async def test_order_total_when_the_rates_service_fails(
    client: httpx.AsyncClient, rates_api, catalog
) -> None:
    order_id = await place_widget_order(client, catalog, 1)
    rates_api.status_code = 503

    response = await client.get(f"/orders/{order_id}/total", params={"currency": "USD"})

    assert response.status_code == 502
    assert response.json() == {"detail": "the exchange-rate service is unavailable"}


async def test_order_total_in_a_currency_without_a_rate(
    client: httpx.AsyncClient, rates_api, catalog
) -> None:
    order_id = await place_widget_order(client, catalog, 1)
    response = await client.get(f"/orders/{order_id}/total", params={"currency": "JPY"})
    assert response.status_code == 400


async def test_order_total_rejects_a_malformed_currency(
    client: httpx.AsyncClient, rates_api
) -> None:
    response = await client.get("/orders/1/total", params={"currency": "usd"})
    assert response.status_code == 422
    assert rates_api.requests == []


async def test_order_total_uses_the_shop_currency_from_the_settings(
    app: FastAPI, client: httpx.AsyncClient, rates_api, catalog
) -> None:
    order_id = await place_widget_order(client, catalog, 1)
    settings = Settings(exchange_rates_url="https://other-rates.test", shop_currency="GBP")
    app.dependency_overrides[get_settings] = lambda: settings

    response = await client.get(f"/orders/{order_id}/total", params={"currency": "USD"})

    assert response.status_code == 200
    [request] = rates_api.requests
    assert str(request.url) == "https://other-rates.test/latest?base=GBP"
