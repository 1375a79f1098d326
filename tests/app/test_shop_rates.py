"""The exchange-rate client alone, against a mocked HTTP service (no database)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

import httpx
import pytest
import respx

from shop.errors import RatesUnavailable, UnknownCurrency
from shop.rates import ExchangeRatesClient

pytestmark = pytest.mark.asyncio

RATES_URL = "https://rates.test"


@asynccontextmanager
async def rates_client_answering(handler) -> AsyncIterator[ExchangeRatesClient]:
    """A rates client whose HTTP requests go to `handler` (httpx.MockTransport)."""
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http_client:
        yield ExchangeRatesClient(http_client, RATES_URL)


async def test_get_rate_asks_the_latest_rates_for_the_base_currency() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"base": "EUR", "rates": {"USD": 1.0825}})

    async with rates_client_answering(handler) as rates:
        rate = await rates.get_rate("EUR", "USD")

    assert rate == Decimal("1.0825")  # exact: not the float's 1.08249999...
    assert [str(request.url) for request in seen] == [f"{RATES_URL}/latest?base=EUR"]


async def test_same_currency_needs_no_request() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"unexpected request {request.url}")

    async with rates_client_answering(handler) as rates:
        assert await rates.get_rate("EUR", "EUR") == 1


async def test_a_currency_the_service_does_not_know_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"base": "EUR", "rates": {"USD": 1.08}})

    async with rates_client_answering(handler) as rates:
        with pytest.raises(UnknownCurrency, match="EUR to XYZ"):
            await rates.get_rate("EUR", "XYZ")


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(503, text="maintenance"),
        httpx.Response(404, json={"message": "not found"}),
        httpx.Response(200, text="<html>not json</html>"),
        httpx.Response(200, json={"unexpected": "shape"}),
    ],
    ids=["server-error", "client-error", "not-json", "no-rates-key"],
)
async def test_a_bad_answer_means_the_service_is_unavailable(answer: httpx.Response) -> None:
    async with rates_client_answering(lambda request: answer) as rates:
        with pytest.raises(RatesUnavailable):
            await rates.get_rate("EUR", "USD")


async def test_a_network_failure_means_the_service_is_unavailable(
    respx_mock: respx.MockRouter,
) -> None:
    # respx patches httpx's real transport, so a plain client is mocked too.
    respx_mock.get(f"{RATES_URL}/latest").mock(side_effect=httpx.ConnectError("refused"))
    async with httpx.AsyncClient() as http_client:
        with pytest.raises(RatesUnavailable) as raised:
            await ExchangeRatesClient(http_client, RATES_URL).get_rate("EUR", "USD")
    assert isinstance(raised.value.__cause__, httpx.ConnectError)
    assert respx_mock.calls.call_count == 1
