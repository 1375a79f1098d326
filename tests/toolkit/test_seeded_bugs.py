"""The seeded bugs of exercises 03.4 and 04.4, and the hunt that runs a learner's tests against
them.

The hunt is run here as the notebook's check runs it: with test functions and fixtures like the
notebook's (the fixtures of the exercise's given cell, the tests of its reference solution), in
a pytest session of its own, in this process.
"""

import sys
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select

from course import seeded_bugs
from course.lessons import shop_fixtures
from course.lessons.concurrency import OrderDesk
from course.lessons.shop_fixtures import RATES_URL, place_widget_order
from lending import loans
from shop import api, services
from shop.dependencies import get_settings
from shop.errors import RatesUnavailable, UnknownCurrency
from shop.models import Notification
from shop.rates import ExchangeRatesClient

TARGETS = {
    "product-not-committed": (services, "create_product"),
    "settings-override-ignored": (services, "order_total_in"),
    "rate-applied-backwards": (services, "order_total_in"),
    "unknown-order-not-404": (services, "get_order"),
    "confirmation-not-sent": (api, "send_order_confirmation"),
    **dict.fromkeys(seeded_bugs.RATES_CLIENT_BUGS, (ExchangeRatesClient, "get_rate")),
    "stock-read-without-lock": (services, "reserve_stock"),
    **dict.fromkeys(["order-not-retried", "charge-inside-retry"], (OrderDesk, "place")),
    **dict.fromkeys(["limit-read-at-import", "limit-off-by-one"], (loans, "check_can_borrow")),
    "double-lend-not-409": (loans, "lend_book"),
    "return-not-committed": (loans, "return_book"),
    "other-members-loans-listed": (loans, "open_loans_of"),
    "reminder-not-committed": (loans, "write_reminder"),
}


def reference_tests() -> dict:
    """The tests of the exercise's reference solution, one per behaviour."""
    on_module_loop = pytest.mark.asyncio(loop_scope="module")

    @on_module_loop
    async def test_a_new_product_is_listed(shop_client):
        created = await shop_client.post(
            "/products", json={"sku": "A", "name": "A", "price_cents": 1}
        )
        assert (await shop_client.get("/products")).json() == [created.json()]

    @on_module_loop
    async def test_an_unknown_order_is_404(shop_client):
        assert (await shop_client.get("/orders/999999")).status_code == 404

    @on_module_loop
    async def test_an_order_total_in_dollars(shop_client):
        order = await place_widget_order(shop_client, 3)
        total = await shop_client.get(f"/orders/{order['id']}/total", params={"currency": "USD"})
        assert total.json()["total_cents"] == 825

    @on_module_loop
    async def test_the_total_uses_the_settings(shop_app, shop_client, rates_api):
        order = await place_widget_order(shop_client, 3)
        pounds = shop_app.state.settings.model_copy(update={"shop_currency": "GBP"})
        shop_app.dependency_overrides[get_settings] = lambda: pounds
        total = await shop_client.get(f"/orders/{order['id']}/total", params={"currency": "USD"})
        assert total.json()["total_cents"] == 975
        assert [r.url.params["base"] for r in rates_api.requests] == ["GBP"]

    @on_module_loop
    async def test_an_order_is_confirmed(shop_client, shop_session):
        order = await place_widget_order(shop_client, 1)
        count = select(func.count()).where(Notification.order_id == order["id"])
        assert await shop_session.scalar(count) == 1

    return seeded_bugs.tests_in(locals())


@pytest.fixture(scope="module")
def fixtures(kernel_like_database) -> dict:
    """The exercise's given cell, `from course.lessons.shop_fixtures import *`, on a database
    like a kernel's (conftest.py)."""
    return {name: getattr(shop_fixtures, name) for name in shop_fixtures.__all__}


@pytest.fixture(scope="module")
def reference_hunt(fixtures) -> seeded_bugs.Hunt:
    return seeded_bugs.hunt(reference_tests(), fixtures)


# --- the bugs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(seeded_bugs.BUGS))
def test_a_bug_swaps_one_function_of_the_shop_and_puts_it_back(name):
    target, attribute = TARGETS[name]
    original = getattr(target, attribute)
    with seeded_bugs.planted(name):
        assert getattr(target, attribute) is not original
    assert getattr(target, attribute) is original


def test_a_bug_is_removed_even_when_the_block_fails():
    with pytest.raises(ZeroDivisionError), seeded_bugs.planted("confirmation-not-sent"):
        raise ZeroDivisionError("in the block")
    assert api.send_order_confirmation.__module__ == "shop.notifications"


def test_planting_no_bug_changes_nothing():
    before = {name: getattr(target, attr) for name, (target, attr) in TARGETS.items()}
    with seeded_bugs.planted(None):
        assert before == {name: getattr(target, attr) for name, (target, attr) in TARGETS.items()}


# --- finding tests -----------------------------------------------------------------------------


def test_tests_in_finds_test_functions_and_classes_only():
    async def test_a(): ...

    class TestB: ...

    def helper(): ...

    assert seeded_bugs.tests_in(
        {"test_a": test_a, "TestB": TestB, "helper": helper, "test_value": 3}
    ) == {"test_a": test_a, "TestB": TestB}


# --- the hunt ----------------------------------------------------------------------------------


def catchers(hunt: seeded_bugs.Hunt) -> dict[str, str]:
    """Bug -> the name of the test that caught it, after checking that the reference passed."""
    assert hunt.reference_passed, hunt.reference_problem()
    return {bug: test[1] for bug, test in hunt.caught_by.items()}


def test_the_reference_tests_pass_and_catch_each_bug_with_its_own_test(reference_hunt):
    assert catchers(reference_hunt) == {
        "product-not-committed": "test_a_new_product_is_listed",
        "settings-override-ignored": "test_the_total_uses_the_settings",
        "rate-applied-backwards": "test_an_order_total_in_dollars",
        "unknown-order-not-404": "test_an_unknown_order_is_404",
        "confirmation-not-sent": "test_an_order_is_confirmed",
    }


def test_the_report_of_a_good_hunt_is_always_the_same_text(reference_hunt):
    assert reference_hunt.report() == "\n".join(
        ["reference: passed", *(f"bug {bug}: caught" for bug in seeded_bugs.SHOP_BUGS)]
    )


def test_the_hunt_leaves_nothing_behind(reference_hunt):
    assert not [name for name in sys.modules if name.startswith("seeded_bugs_")]
    assert services.create_product.__module__ == "shop.services"
    assert services.order_total_in.__name__ == "order_total_in"
    assert services.get_order.__name__ == "get_order"
    assert api.send_order_confirmation.__module__ == "shop.notifications"
    assert ExchangeRatesClient.get_rate.__qualname__ == "ExchangeRatesClient.get_rate"


def test_tests_that_pass_everything_catch_nothing(fixtures):
    @pytest.mark.asyncio(loop_scope="module")
    async def test_anything(shop_client):
        assert True

    hunt = seeded_bugs.hunt({"test_anything": test_anything}, fixtures)
    assert hunt.reference_passed
    assert hunt.missed == seeded_bugs.SHOP_BUGS
    assert "bug confirmation-not-sent: NOT caught (" in hunt.report()


def test_no_tests_is_a_failure_with_a_reason(fixtures):
    hunt = seeded_bugs.hunt({}, fixtures)
    assert not hunt.reference_passed
    assert hunt.missed == seeded_bugs.SHOP_BUGS
    assert hunt.report().startswith("reference: FAILED (no tests ran")


def test_a_test_that_fails_on_the_reference_catches_nothing(fixtures):
    @pytest.mark.asyncio(loop_scope="module")
    async def test_wrong_total(shop_client):
        order = await place_widget_order(shop_client, 3)
        total = await shop_client.get(f"/orders/{order['id']}/total", params={"currency": "USD"})
        assert total.json()["total_cents"] == 750  # wrong: it is 825

    hunt = seeded_bugs.hunt({"test_wrong_total": test_wrong_total}, fixtures)
    assert not hunt.reference_passed
    assert hunt.reference_problem() == "test_wrong_total failed: assert 825 == 750"
    assert hunt.missed == seeded_bugs.SHOP_BUGS


def test_parametrized_tests_are_followed_across_the_bugs(fixtures):
    @pytest.mark.asyncio(loop_scope="module")
    @pytest.mark.parametrize("order_id", [0, 424242])
    async def test_missing(shop_client, order_id):
        assert (await shop_client.get(f"/orders/{order_id}")).status_code == 404

    hunt = seeded_bugs.hunt(
        {"test_missing": test_missing}, fixtures, bugs=["unknown-order-not-404"]
    )
    assert hunt.reference_passed
    assert hunt.missed == []
    assert hunt.caught_by["unknown-order-not-404"][2] == (("order_id", "0"),)


# --- the rates client's bugs (exercise 04.4) ---------------------------------------------------


def rates_client_tests() -> dict:
    """Tests of ExchangeRatesClient on its own, through respx: one per behaviour."""
    url = f"{RATES_URL}/latest"
    euro_rates = {"base": "EUR", "rates": {"USD": 1.1}}

    @pytest.mark.asyncio
    async def test_the_rate_is_the_exact_decimal(respx_mock):
        respx_mock.get(url, params={"base": "EUR"}).respond(json=euro_rates)
        async with httpx.AsyncClient() as http:
            assert await ExchangeRatesClient(http, RATES_URL).get_rate("EUR", "USD") == Decimal(
                "1.1"
            )

    @pytest.mark.asyncio
    async def test_a_timeout_is_rates_unavailable(respx_mock):
        respx_mock.get(url).mock(side_effect=httpx.ConnectTimeout)
        async with httpx.AsyncClient() as http:
            with pytest.raises(RatesUnavailable):
                await ExchangeRatesClient(http, RATES_URL).get_rate("EUR", "USD")

    @pytest.mark.asyncio
    async def test_the_same_currency_needs_no_request(respx_mock):
        async with httpx.AsyncClient() as http:
            assert await ExchangeRatesClient(http, RATES_URL).get_rate("EUR", "EUR") == 1

    @pytest.mark.asyncio
    async def test_an_unknown_currency_is_reported(respx_mock):
        respx_mock.get(url, params={"base": "EUR"}).respond(json=euro_rates)
        async with httpx.AsyncClient() as http:
            with pytest.raises(UnknownCurrency):
                await ExchangeRatesClient(http, RATES_URL).get_rate("EUR", "XYZ")

    return seeded_bugs.tests_in(locals())


def test_the_rates_client_tests_catch_each_bug_with_its_own_test():
    hunt = seeded_bugs.hunt(rates_client_tests(), {}, bugs=seeded_bugs.RATES_CLIENT_BUGS)
    assert catchers(hunt) == {
        "base-param-misnamed": "test_the_rate_is_the_exact_decimal",
        "rate-through-float": "test_the_rate_is_the_exact_decimal",
        "timeout-not-wrapped": "test_a_timeout_is_rates_unavailable",
        "same-currency-asks-the-service": "test_the_same_currency_needs_no_request",
        "unknown-currency-not-reported": "test_an_unknown_currency_is_reported",
    }
    assert ExchangeRatesClient.get_rate.__qualname__ == "ExchangeRatesClient.get_rate"


def test_the_bugs_unchanged_are_the_reference_client(monkeypatch):
    """The bugs share one copy of `get_rate` with a keyword each: with none, it is the reference."""
    monkeypatch.setattr(ExchangeRatesClient, "get_rate", seeded_bugs._get_rate_changed())
    hunt = seeded_bugs.hunt(rates_client_tests(), {}, bugs=[])
    assert hunt.reference_passed, hunt.reference_problem()
