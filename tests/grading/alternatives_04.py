"""Correct solutions to module 04 written differently from the references (a learner's own way).

- 04.1 an `async def` side effect (the AsyncMock awaits it) that looks the pair up with
  `dict.get`, set with `configure_mock` on a `spec_set` autospec.
- 04.2 a route built with `router.route(method=..., host=..., path=...)` from the parts of
  `RATES_URL`, its `side_effect` assigned afterwards: an `async def` that also receives the route,
  reads the base from `request.url.params` with a default and answers an unknown one with a 404
  and no body.
- 04.3 no `patch`: the original looked up on `shop.api` by hand, replaced with
  `create_autospec(original)` and put back in a `finally`.
- 04.4 no respx: a test class on `httpx.MockTransport`, with its own recording handler and
  client, and the failures (a read timeout, a 500) parametrized as handler functions.
"""

_RATES_DOUBLE = '''\
def rates_double(rates: dict[tuple[str, str], Decimal]) -> ExchangeRatesClient:
    """An autospecced ExchangeRatesClient whose get_rate answers from `rates`."""

    async def answer(base, target):
        rate = Decimal(1) if base == target else rates.get((base, target))
        if rate is None:
            raise UnknownCurrency(f"{base} to {target}: no such rate")
        return rate

    client = create_autospec(ExchangeRatesClient, instance=True, spec_set=True)
    client.configure_mock(**{"get_rate.side_effect": answer})
    return client
'''

_MOCK_RATES_API = '''\
def mock_rates_api(router: respx.MockRouter, rates: dict[str, dict[str, float]]) -> respx.Route:
    """Register the exchange-rate service at RATES_URL on `router`; return its route."""
    service = httpx.URL(RATES_URL)
    route = router.route(method="GET", host=service.host, path="/latest")

    async def answer(request, route):
        base = request.url.params.get("base", "")
        if base in rates:
            return httpx.Response(200, json={"base": base, "rates": dict(rates[base])})
        return httpx.Response(404)

    route.side_effect = answer
    return route
'''

_CAPTURED_CONFIRMATIONS = '''\
@contextmanager
def captured_confirmations():
    """Patch the order-confirmation background task with an autospecced mock; yield the mock."""
    original = shop.api.send_order_confirmation  # the name the routes look up
    stand_in = create_autospec(original)
    shop.api.send_order_confirmation = stand_in
    try:
        yield stand_in
    finally:
        shop.api.send_order_confirmation = original
'''

_TESTS = '''\
%%ipytest
# Your tests: async def test_...(rates_client, respx_mock, ...), each @pytest.mark.asyncio
class RecordingService:
    """An exchange-rate service for httpx.MockTransport: answers with `reply`, keeps requests."""

    def __init__(self, reply):
        self.reply = reply
        self.requests = []

    def __call__(self, request):
        self.requests.append(request)
        return self.reply(request)


def read_timeout(request):
    raise httpx.ReadTimeout("the service is too slow", request=request)


def server_error(request):
    return httpx.Response(500, text="oops")


def usd_rates(request):
    return httpx.Response(200, json={"base": "USD", "rates": {"EUR": 0.93, "JPY": 151.2}})


async def ask(service, base, target):
    async with httpx.AsyncClient(transport=httpx.MockTransport(service)) as http_client:
        return await ExchangeRatesClient(http_client, RATES_URL).get_rate(base, target)


@pytest.mark.asyncio
class TestExchangeRatesClient:
    async def test_it_asks_for_the_base_and_keeps_the_digits(self):
        service = RecordingService(usd_rates)
        rate = await ask(service, "USD", "EUR")
        assert str(rate) == "0.93"
        assert [(r.url.path, r.url.query) for r in service.requests] == [("/latest", b"base=USD")]

    async def test_no_request_for_a_currency_to_itself(self):
        service = RecordingService(usd_rates)
        assert await ask(service, "JPY", "JPY") == 1
        assert service.requests == []

    @pytest.mark.parametrize("reply", [read_timeout, server_error])
    async def test_failures_are_rates_unavailable(self, reply):
        with pytest.raises(RatesUnavailable):
            await ask(RecordingService(reply), "USD", "EUR")

    async def test_a_target_missing_from_the_answer(self):
        with pytest.raises(UnknownCurrency):
            await ask(RecordingService(usd_rates), "USD", "CHF")

ex4_tests = seeded_bugs.tests_in(globals())  # the tests of this cell, for the check
'''

ALTERNATIVES = {
    "04_mocking": {
        "ex1-solution": _RATES_DOUBLE.rstrip(),
        "ex2-solution": _MOCK_RATES_API.rstrip(),
        "ex3-solution": _CAPTURED_CONFIRMATIONS.rstrip(),
        "ex4-solution": _TESTS.rstrip(),
    },
}
