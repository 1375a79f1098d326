"""The shop through fastapi_testkit: each test starts on empty tables, whatever the order."""

import pytest
from sqlalchemy import func, select

from shop.models import Customer, Notification, StockLevel

pytestmark = pytest.mark.asyncio


async def stocked_widget(client, quantity: int = 5) -> tuple[int, int]:
    """A customer and a widget with `quantity` in stock; returns their ids."""
    customer = await client.post("/customers", json={"email": "ada@example.com", "name": "Ada"})
    widget = await client.post(
        "/products", json={"sku": "W-1", "name": "Widget", "price_cents": 250}
    )
    north = await client.post("/warehouses", json={"code": "N", "name": "North"})
    stock_url = f"/products/{widget.json()['id']}/stock/{north.json()['id']}"
    assert (await client.put(stock_url, json={"quantity": quantity})).status_code == 200
    return customer.json()["id"], widget.json()["id"]


async def test_what_the_app_commits_the_test_can_read(client, session):
    response = await client.post("/customers", json={"email": "ada@example.com", "name": "Ada"})

    assert response.status_code == 201
    assert await session.scalar(select(Customer.email)) == "ada@example.com"


async def test_each_test_starts_with_empty_tables(client, session):
    # The same e-mail as the test above: its commit was rolled back at its end.
    response = await client.post("/customers", json={"email": "ada@example.com", "name": "Ada"})

    assert response.status_code == 201
    assert await session.scalar(select(func.count()).select_from(Customer)) == 1


async def test_a_refused_order_rolls_back_and_the_test_goes_on(client, session):
    customer_id, widget_id = await stocked_widget(client, quantity=5)
    too_many = {"customer_id": customer_id, "lines": [{"product_id": widget_id, "quantity": 6}]}

    refused = await client.post("/orders", json=too_many)
    enough = await client.post(
        "/orders", json={**too_many, "lines": [{"product_id": widget_id, "quantity": 5}]}
    )

    assert refused.status_code == 409
    assert enough.status_code == 201
    assert await session.scalar(select(StockLevel.quantity)) == 0


async def test_the_order_confirmation_is_written_by_the_background_task(client, session):
    customer_id, widget_id = await stocked_widget(client)
    lines = [{"product_id": widget_id, "quantity": 2}]

    order = await client.post("/orders", json={"customer_id": customer_id, "lines": lines})

    # The background task ran before the ASGI call returned, on the test's connection.
    notification = await session.scalar(select(Notification))
    assert notification.order_id == order.json()["id"]
    assert notification.recipient == "ada@example.com"


async def test_the_total_in_dollars_uses_the_overridden_rates_service(client):
    customer_id, widget_id = await stocked_widget(client)
    lines = [{"product_id": widget_id, "quantity": 2}]
    order = await client.post("/orders", json={"customer_id": customer_id, "lines": lines})

    total = await client.get(f"/orders/{order.json()['id']}/total", params={"currency": "USD"})

    assert total.json()["total_cents"] == 550
