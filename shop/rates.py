"""Client for the external exchange-rate service: `GET {base_url}/latest?base=EUR`.

The service answers `{"base": "EUR", "rates": {"USD": 1.08, ...}}`, as https://frankfurter.app does.
"""

from decimal import Decimal

import httpx

from shop.errors import RatesUnavailable, UnknownCurrency


class ExchangeRatesClient:
    def __init__(self, http_client: httpx.AsyncClient, base_url: str) -> None:
        self._http_client = http_client
        self._base_url = base_url.rstrip("/")

    async def get_rate(self, base: str, target: str) -> Decimal:
        """How many units of `target` one unit of `base` buys."""
        if base == target:
            return Decimal(1)
        try:
            url = f"{self._base_url}/latest"
            response = await self._http_client.get(url, params={"base": base})
            response.raise_for_status()
            rates = response.json()["rates"]
        # Network errors, timeouts, 4xx/5xx answers, and bodies that are not the JSON we expect.
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
            raise RatesUnavailable("the exchange-rate service is unavailable") from error
        if target not in rates:
            raise UnknownCurrency(f"no exchange rate from {base} to {target}")
        # Through str: Decimal(1.08) would carry the float's binary rounding error into prices.
        return Decimal(str(rates[target]))
