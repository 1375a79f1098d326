"""Correct solutions to module 03 written differently from the references (a learner's own way).

- 03.1 an `AsyncExitStack` holding the lifespan and the client, another placeholder host.
- 03.2 both `get_session` (an async generator, a session per request) and `get_sessionmaker` (an
  async function) overridden with one `dict.update`; the sessionmaker built positionally; the
  reset done FastAPI's documented way, `app.dependency_overrides = {}`, in a `finally`.
- 03.3 an async MockTransport handler that answers 404 for an unknown base; the client created
  without `async with` and closed by hand; the earlier override taken out with `pop` and a
  sentinel, and put back (or the key dropped) in a `finally`; an `async def` override.
- 03.4 one test class: two products listed in order, a parametrized 404 (ids 0 and 424242), and
  one test that checks the dollar total, the confirmation row (counted with `func.count`) and,
  with `monkeypatch.setitem` on the overrides, a total from a GBP shop built with `Settings(...)`.
"""

_LIFESPAN_CLIENT = """\
# lifespan_client(app): an async context manager (@asynccontextmanager) that yields an
# httpx.AsyncClient for `app`, with the app's lifespan running while the block runs.
import contextlib


@contextlib.asynccontextmanager
async def lifespan_client(app):
    async with contextlib.AsyncExitStack() as stack:
        manager = await stack.enter_async_context(LifespanManager(app))
        transport = httpx.ASGITransport(app=manager.app)
        yield await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://shop.local")
        )
"""

_EX2_APP = '''\
@pytest_asyncio.fixture(loop_scope="module")
async def ex2_app(shop_connection):
    """The shop, with all its database work inside the test's transaction."""
    factory = async_sessionmaker(
        shop_connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )

    async def a_session_per_request():
        async with factory() as session:
            yield session

    async def the_factory():
        return factory

    app = create_app(Settings())
    app.dependency_overrides.update(
        {get_session: a_session_per_request, get_sessionmaker: the_factory}
    )
    try:
        yield app
    finally:
        app.dependency_overrides = {}
'''

_FAKE_RATES = """\
# fake_rates(app, rates): an async context manager that answers the app's exchange-rate
# requests from `rates` ({base: {currency: rate}}) and yields the list of the requests it sent.
@asynccontextmanager
async def fake_rates(app, rates):
    seen = []

    async def rates_service(request):
        seen.append(request)
        base = request.url.params.get("base", "")
        if base not in rates:
            return httpx.Response(404, json={"message": f"no rates for {base!r}"})
        return httpx.Response(200, json={"base": base, "rates": rates[base]})

    client = httpx.AsyncClient(transport=httpx.MockTransport(rates_service))

    async def fake_client():
        return client

    nothing = object()
    earlier = app.dependency_overrides.pop(get_http_client, nothing)
    app.dependency_overrides[get_http_client] = fake_client
    try:
        yield seen
    finally:
        await client.aclose()
        if earlier is nothing:
            app.dependency_overrides.pop(get_http_client, None)
        else:
            app.dependency_overrides[get_http_client] = earlier
"""

_TESTS = """\
%%ipytest
# Your tests: async def test_...(shop_client, ...), each @pytest.mark.asyncio(loop_scope="module")
@pytest.mark.asyncio(loop_scope="module")
class TestShopBehaviour:
    async def test_products_come_back_in_order(self, shop_client):
        for sku in ("B-1", "B-2"):
            body = {"sku": sku, "name": f"Item {sku}", "price_cents": 10}
            assert (await shop_client.post("/products", json=body)).status_code == 201
        skus = [p["sku"] for p in (await shop_client.get("/products")).json()]
        assert skus == ["B-1", "B-2"]

    @pytest.mark.parametrize("order_id", [0, 424242])
    async def test_missing_orders(self, shop_client, order_id):
        assert (await shop_client.get(f"/orders/{order_id}")).status_code == 404

    async def test_an_order_end_to_end(
        self, shop_app, shop_client, shop_session, rates_api, monkeypatch
    ):
        order = await place_widget_order(shop_client, 2)  # 500 cents
        url = f"/orders/{order['id']}/total"

        in_dollars = await shop_client.get(url, params={"currency": "USD"})
        assert in_dollars.json()["total_cents"] == 550  # x 1.10

        confirmations = await shop_session.scalar(
            select(func.count()).where(Notification.order_id == order["id"])
        )
        assert confirmations == 1

        pound_shop = Settings(exchange_rates_url=RATES_URL, shop_currency="GBP")
        monkeypatch.setitem(shop_app.dependency_overrides, get_settings, lambda: pound_shop)
        from_pounds = await shop_client.get(url, params={"currency": "USD"})
        assert from_pounds.json()["total_cents"] == 650  # x 1.30
        assert rates_api.requests[-1].url.params["base"] == "GBP"

ex4_tests = seeded_bugs.tests_in(globals())  # the tests of this cell, for the check
"""

ALTERNATIVES = {
    "03_dependency_overrides": {
        "ex1-solution": _LIFESPAN_CLIENT.rstrip(),
        "ex2-solution": _EX2_APP.rstrip(),
        "ex3-solution": _FAKE_RATES.rstrip(),
        "ex4-solution": _TESTS.rstrip(),
    },
}
