"""The shop's suite on fastapi_testkit: pytest-asyncio (strict), one loop for the run, the
schema from create_all, and the app's sessionmaker dependency overridden."""

import httpx
import pytest_asyncio

from fastapi_testkit import Testkit
from shop.app import create_app
from shop.dependencies import get_http_client, get_sessionmaker
from shop.models import Base
from shop.settings import Settings

pytest_plugins = ["fastapi_testkit"]

RATES_URL = "https://rates.test"


def shop_app():
    return create_app(Settings(exchange_rates_url=RATES_URL, shop_currency="EUR"))


testkit = Testkit(
    app=shop_app,
    dependency=get_sessionmaker,
    provides="sessionmaker",
    schema=Base.metadata,
)


@pytest_asyncio.fixture(autouse=True)
async def exchange_rates(app):
    """The exchange-rate service, answered in-process: one euro buys 1.10 US dollars."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"base": "EUR", "rates": {"USD": 1.10}})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as rates_client:
        app.dependency_overrides[get_http_client] = lambda: rates_client
        yield
