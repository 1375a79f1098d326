"""Request and response bodies of the HTTP API."""

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class ProductIn(BaseModel):
    sku: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    price_cents: int = Field(ge=0)


class ProductOut(ProductIn):
    model_config = ConfigDict(from_attributes=True)

    id: int


class WarehouseIn(BaseModel):
    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)


class WarehouseOut(WarehouseIn):
    model_config = ConfigDict(from_attributes=True)

    id: int


class StockIn(BaseModel):
    quantity: int = Field(ge=0)


class StockOut(StockIn):
    model_config = ConfigDict(from_attributes=True)

    product_id: int
    warehouse_id: int


class CustomerIn(BaseModel):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=254)
    name: str = Field(min_length=1, max_length=200)


class CustomerOut(CustomerIn):
    model_config = ConfigDict(from_attributes=True)

    id: int


class OrderLineIn(BaseModel):
    product_id: int
    quantity: int = Field(gt=0)


class OrderIn(BaseModel):
    customer_id: int
    lines: list[OrderLineIn] = Field(min_length=1)


class OrderLineOut(OrderLineIn):
    model_config = ConfigDict(from_attributes=True)

    warehouse_id: int
    unit_price_cents: int


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    placed_at: datetime
    lines: list[OrderLineOut]
    total_cents: int


class OrderTotalOut(BaseModel):
    order_id: int
    currency: str
    total_cents: int
    rate: Decimal
