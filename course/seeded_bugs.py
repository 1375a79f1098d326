"""Seeded bugs: realistic mistakes planted in the running shop, and the hunt that runs a
learner's tests against the reference shop and against each bug (exercises 03.4 and 04.4).

A bug is planted without editing `shop/`: a context manager swaps one function of the shop for
a wrong version and puts the original back on exit. The routes look their collaborators up at
request time (`services.create_product`, `send_order_confirmation` in `shop.api`), and every
`ExchangeRatesClient` looks `get_rate` up on its class, so a swap changes what every app built
from `create_app`, and every client, does while it lasts.

`SHOP_BUGS` are the bugs of exercise 03.4 (the app through its API); `RATES_CLIENT_BUGS` those
of exercise 04.4 (the exchange-rate client on its own); `CONCURRENCY_BUGS` those of exercise
07.3 (`services.reserve_stock` and module 07's `OrderDesk`, which `place` looks up on its class).
`LENDING_BUGS` are planted in the second app, `lending` (module 09), whose routes look up
`lending.loans.*` at request time; course.suite_hunt plants them in a pytest process of its own.

`hunt(tests, namespace)` runs test functions with pytest, in this process, with the course's
notebook settings: once on the reference shop, where they must all pass, then once per bug,
where at least one of them must fail (the bug is *caught*). Only tests that passed on the
reference count, so a test that always fails catches nothing. The tests may use any fixture
defined in `namespace` (the notebook's globals). Their own output is kept out of the
notebook's: the hunt's report is what a check prints.
"""

import contextlib
import datetime
import io
import re
import sys
import tempfile
import threading
import types
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from course.lessons.concurrency import OrderDesk, run_transaction
from course.pytest_run import first_error
from lending import db, loans
from lending.models import Loan, Member, Reminder
from lending.settings import Settings as LendingSettings
from shop import api, services
from shop.errors import OutOfStock, RatesUnavailable, UnknownCurrency
from shop.models import Order, Product, StockLevel
from shop.rates import ExchangeRatesClient
from shop.settings import Settings

# --- the bugs ------------------------------------------------------------------------------

_reference_order_total_in = services.order_total_in


async def _create_product_without_commit(session, sku, name, price_cents):
    """Flushes, so the INSERT runs and the response carries an id, but never commits."""
    product = Product(sku=sku, name=name, price_cents=price_cents)
    session.add(product)
    await session.flush()
    return product


async def _order_total_in_the_environments_currency(
    session, rates, order_id, currency, shop_currency
):
    """Reads the shop currency from `Settings()`, the environment, not from the app's settings."""
    return await _reference_order_total_in(
        session, rates, order_id, currency, Settings().shop_currency
    )


async def _order_total_divided_by_the_rate(session, rates, order_id, currency, shop_currency):
    order = await services.get_order(session, order_id)
    rate = await rates.get_rate(shop_currency, currency)
    total = (order.total_cents / rate).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    return int(total), rate


async def _get_order_or_none(session, order_id):
    """Forgets the `NotFound`: an unknown order comes back as None."""
    return await session.get(Order, order_id, options=[selectinload(Order.lines)])


async def _send_no_confirmation(sessionmaker, order_id):
    """The background task that should record the order confirmation, doing nothing."""


def _get_rate_changed(
    *,
    param: str = "base",
    to_decimal: Callable[[object], Decimal] = lambda rate: Decimal(str(rate)),
    wrapped: type[Exception] = httpx.HTTPError,
    same_currency_is_one: bool = True,
    currency_looked_up_in_try: bool = False,
) -> Callable:
    """`ExchangeRatesClient.get_rate` as shop/rates.py has it, with one detail changed (a bug
    sets one keyword; the defaults are the reference)."""

    async def get_rate(self: ExchangeRatesClient, base: str, target: str) -> Decimal:
        if same_currency_is_one and base == target:
            return Decimal(1)
        try:
            url = f"{self._base_url}/latest"
            response = await self._http_client.get(url, params={param: base})
            response.raise_for_status()
            rates = response.json()["rates"]
            if currency_looked_up_in_try:
                rates[target]  # a KeyError here becomes RatesUnavailable
        except (wrapped, ValueError, KeyError, TypeError) as error:
            raise RatesUnavailable("the exchange-rate service is unavailable") from error
        if target not in rates:
            raise UnknownCurrency(f"no exchange rate from {base} to {target}")
        return to_decimal(rates[target])

    return get_rate


async def _reserve_stock_without_lock(session, product_id, quantity):
    """Reads the stock with a plain SELECT, no FOR UPDATE: two orders read the same quantity."""
    stock = await session.scalar(
        select(StockLevel)
        .where(StockLevel.product_id == product_id, StockLevel.quantity >= quantity)
        .order_by(StockLevel.warehouse_id)
        .limit(1)
    )
    if stock is None:
        raise OutOfStock(f"not enough stock of product {product_id} for {quantity} units")
    stock.quantity -= quantity
    return stock.warehouse_id


async def _place_without_retry(self, customer_id, items):
    """OrderDesk.place that tries once: a serialization failure reaches the caller."""

    async def order(session):
        return (await services.place_order(session, customer_id, items)).id

    order_id = await run_transaction(self.sessionmaker, order, attempts=1)
    await self.charge(customer_id, items)
    return order_id


async def _place_charging_inside_the_retry(self, customer_id, items):
    """OrderDesk.place with the payment inside the retried transaction: one charge per attempt."""

    async def charge_and_order(session):
        await self.charge(customer_id, items)
        return (await services.place_order(session, customer_id, items)).id

    return await run_transaction(self.sessionmaker, charge_and_order, attempts=self.attempts)


_reference_check_can_borrow = loans.check_can_borrow
# What a module-level `LIMIT = get_settings().max_loans_per_member` would hold: the environment
# when the module was imported.
_LENDING_SETTINGS_AT_IMPORT = LendingSettings()


async def _check_the_limit_read_at_import(session, book_id, member_id, max_loans):
    limit = _LENDING_SETTINGS_AT_IMPORT.max_loans_per_member
    await _reference_check_can_borrow(session, book_id, member_id, limit)


async def _check_one_over_the_limit(session, book_id, member_id, max_loans):
    """Compares with > instead of >=: a member gets one book more than the limit."""
    await _reference_check_can_borrow(session, book_id, member_id, max_loans + 1)


async def _lend_book_letting_the_integrity_error_out(session, book_id, member_id, settings):
    """Relies on the unique index but forgets to turn its IntegrityError into a 409."""
    await loans.check_can_borrow(session, book_id, member_id, settings.max_loans_per_member)
    due_on = datetime.date.today() + datetime.timedelta(days=settings.loan_days)
    loan = Loan(book_id=book_id, member_id=member_id, due_on=due_on)
    session.add(loan)
    await session.commit()
    return loan


async def _return_book_without_commit(session, loan_id):
    """Sets returned_at and flushes, so the response shows it, but never commits."""
    loan = await session.get(Loan, loan_id)
    loan.returned_at = datetime.datetime.now(datetime.UTC)
    await session.flush()
    return loan


async def _every_open_loan(session, member_id):
    """Forgets the member in the WHERE clause: lists everybody's open loans."""
    return (
        await session.scalars(select(Loan).where(Loan.returned_at.is_(None)).order_by(Loan.id))
    ).all()


async def _write_reminder_without_commit(loan_id):
    """Adds the reminder and flushes (it gets an id), then closes the session: rolled back."""
    async with db.SessionLocal() as session:
        loan = await session.get(Loan, loan_id)
        member = await session.get(Member, loan.member_id)
        session.add(Reminder(loan_id=loan_id, recipient=member.email, due_on=loan.due_on))
        await session.flush()


@dataclass(frozen=True)
class Bug:
    name: str
    what: str  # what is wrong, in one line
    target: object  # the module or class whose attribute is swapped
    attribute: str
    replacement: Callable

    @contextlib.contextmanager
    def planted(self) -> Iterator[None]:
        original = getattr(self.target, self.attribute)
        setattr(self.target, self.attribute, self.replacement)
        try:
            yield
        finally:
            setattr(self.target, self.attribute, original)


BUGS: dict[str, Bug] = {
    bug.name: bug
    for bug in [
        Bug(
            "product-not-committed",
            "POST /products flushes the new product but never commits it",
            services,
            "create_product",
            _create_product_without_commit,
        ),
        Bug(
            "settings-override-ignored",
            "the order total reads the shop currency from Settings() (the environment), "
            "not from the app's settings",
            services,
            "order_total_in",
            _order_total_in_the_environments_currency,
        ),
        Bug(
            "rate-applied-backwards",
            "the order total is divided by the exchange rate instead of multiplied",
            services,
            "order_total_in",
            _order_total_divided_by_the_rate,
        ),
        Bug(
            "unknown-order-not-404",
            "GET /orders/{id} of an unknown order does not answer 404 (the service returns None)",
            services,
            "get_order",
            _get_order_or_none,
        ),
        Bug(
            "confirmation-not-sent",
            "placing an order never records the confirmation (the background task does nothing)",
            api,
            "send_order_confirmation",
            _send_no_confirmation,
        ),
        Bug(
            "base-param-misnamed",
            "the client asks for ?from=EUR instead of ?base=EUR",
            ExchangeRatesClient,
            "get_rate",
            _get_rate_changed(param="from"),
        ),
        Bug(
            "rate-through-float",
            "the client builds the rate as Decimal(1.1), with the float's binary error",
            ExchangeRatesClient,
            "get_rate",
            _get_rate_changed(to_decimal=Decimal),
        ),
        Bug(
            "timeout-not-wrapped",
            "a timeout escapes as httpx.TimeoutException instead of RatesUnavailable",
            ExchangeRatesClient,
            "get_rate",
            _get_rate_changed(wrapped=httpx.HTTPStatusError),
        ),
        Bug(
            "same-currency-asks-the-service",
            "a rate from a currency to itself is asked of the service instead of being 1",
            ExchangeRatesClient,
            "get_rate",
            _get_rate_changed(same_currency_is_one=False),
        ),
        Bug(
            "unknown-currency-not-reported",
            "a currency the service does not know raises RatesUnavailable, not UnknownCurrency",
            ExchangeRatesClient,
            "get_rate",
            _get_rate_changed(currency_looked_up_in_try=True),
        ),
        Bug(
            "stock-read-without-lock",
            "reserve_stock reads the stock without SELECT ... FOR UPDATE: a lost update",
            services,
            "reserve_stock",
            _reserve_stock_without_lock,
        ),
        Bug(
            "order-not-retried",
            "OrderDesk.place tries once: a serialization failure reaches the caller",
            OrderDesk,
            "place",
            _place_without_retry,
        ),
        Bug(
            "charge-inside-retry",
            "OrderDesk.place charges the customer inside the retried transaction: once per attempt",
            OrderDesk,
            "place",
            _place_charging_inside_the_retry,
        ),
        Bug(
            "limit-read-at-import",
            "the loan limit is the one in the environment when the app was imported: "
            "a changed setting is never seen",
            loans,
            "check_can_borrow",
            _check_the_limit_read_at_import,
        ),
        Bug(
            "limit-off-by-one",
            "a member may borrow one book more than the loan limit",
            loans,
            "check_can_borrow",
            _check_one_over_the_limit,
        ),
        Bug(
            "double-lend-not-409",
            "lending a book that is out raises the IntegrityError (a 500) instead of answering 409",
            loans,
            "lend_book",
            _lend_book_letting_the_integrity_error_out,
        ),
        Bug(
            "return-not-committed",
            "a return is flushed, never committed: the response says returned, the book stays out",
            loans,
            "return_book",
            _return_book_without_commit,
        ),
        Bug(
            "other-members-loans-listed",
            "GET /members/{id}/loans lists every member's open loans",
            loans,
            "open_loans_of",
            _every_open_loan,
        ),
        Bug(
            "reminder-not-committed",
            "the background task flushes the reminder but never commits it",
            loans,
            "write_reminder",
            _write_reminder_without_commit,
        ),
    ]
}
SHOP_BUGS = [
    "product-not-committed",
    "settings-override-ignored",
    "rate-applied-backwards",
    "unknown-order-not-404",
    "confirmation-not-sent",
]
CONCURRENCY_BUGS = ["stock-read-without-lock", "order-not-retried", "charge-inside-retry"]
LENDING_BUGS = [
    "limit-read-at-import",
    "limit-off-by-one",
    "double-lend-not-409",
    "return-not-committed",
    "other-members-loans-listed",
    "reminder-not-committed",
]
RATES_CLIENT_BUGS = [
    name for name in BUGS if name not in SHOP_BUGS + CONCURRENCY_BUGS + LENDING_BUGS
]


@contextlib.contextmanager
def planted(name: str | None) -> Iterator[None]:
    """Plant the bug of that name for the duration of the block (None: the reference shop)."""
    with BUGS[name].planted() if name else contextlib.nullcontext():
        yield


# --- finding and running a learner's tests ---------------------------------------------------

_TEST_NAME = re.compile(r"^(test|Test)")  # what ipytest removes between cells, and pytest collects


def tests_in(namespace: Mapping[str, object]) -> dict[str, object]:
    """The test functions and test classes defined in a namespace (a notebook's globals).

    Call it at the end of a `%%ipytest` cell: ipytest removed the tests of earlier cells when the
    cell started, so what is left is this cell's tests.
    """
    return {
        name: obj
        for name, obj in namespace.items()
        if _TEST_NAME.match(name) and (callable(obj) or isinstance(obj, type))
    }


REFERENCE = "reference"  # the variant with no bug planted
_VARIANT = "_seeded_bug"  # the fixture that plants each variant in turn


def _test_key(item) -> tuple:
    """The same test across variants: its node, with its own parameters but not the variant."""
    callspec = getattr(item, "callspec", None)
    params = sorted((k, repr(v)) for k, v in (callspec.params if callspec else {}).items())
    return (item.parent.nodeid, item.originalname, tuple(p for p in params if p[0] != _VARIANT))


def _test_name(key: tuple) -> str:
    _, name, params = key
    return name + (f"[{', '.join(f'{k}={v}' for k, v in params)}]" if params else "")


class _Recorder:
    """Collects, while the session runs, each test's outcome on the reference and which bugs
    were caught; also plants each variant (as the module-scoped fixture `_seeded_bug`)."""

    def __init__(self, bugs: list[str]) -> None:
        self.variants = [REFERENCE, *bugs]
        self.reference: dict[tuple, str] = {}  # test -> passed/failed/skipped
        self.errors: dict[tuple, str] = {}  # test -> its first error line on the reference
        self.caught: dict[str, tuple] = {}  # bug -> the first test that failed with it
        self.of_node: dict[str, tuple[str, tuple]] = {}  # node id -> (variant, test)

    def fixtures(self) -> dict[str, object]:
        recorder = self

        @pytest.fixture(scope="module", autouse=True, params=self.variants, name=_VARIANT)
        def plant(request):
            with planted(None if request.param == REFERENCE else request.param):
                yield request.param

        @pytest.fixture(autouse=True, name="_seeded_bug_gate")
        def gate(request, _seeded_bug):
            test = _test_key(request.node)
            recorder.of_node[request.node.nodeid] = (_seeded_bug, test)
            if _seeded_bug != REFERENCE:
                if recorder.reference.get(test) != "passed":
                    pytest.skip("this test did not pass on the reference shop")
                if _seeded_bug in recorder.caught:
                    pytest.skip("this bug was caught already")

        return {_VARIANT: plant, "_seeded_bug_gate": gate}

    def pytest_runtest_logreport(self, report) -> None:
        variant, test = self.of_node.get(report.nodeid, (REFERENCE, ("", report.nodeid, ())))
        if variant == REFERENCE:
            if report.failed:
                self.reference[test] = "failed"
                self.errors.setdefault(test, first_error(report.longreprtext)[:200])
            elif report.skipped:
                self.reference.setdefault(test, "skipped")
            elif report.when == "call":
                self.reference.setdefault(test, "passed")
        elif report.failed:
            self.caught.setdefault(variant, test)

    def pytest_collectreport(self, report) -> None:
        if report.failed:  # the tests could not even be collected: a failed "test"
            test = ("", "collection", ())
            self.reference[test] = "failed"
            self.errors.setdefault(test, first_error(report.longreprtext)[:200])


def _pytest_options(root: Path) -> list[str]:
    """The notebook's pytest options (course.notebook), rooted in the hunt's own folder."""
    from course.notebook import PYTEST_OPTIONS

    return [*PYTEST_OPTIONS, "--rootdir", str(root)]


def _run_pytest(path: Path, recorder: _Recorder) -> str:
    """One pytest session on the file, in a thread of its own (the caller's thread may be
    running an event loop, as a notebook kernel's is); returns its output, kept out of sight."""
    output = io.StringIO()

    def session() -> None:
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            pytest.main([*_pytest_options(path.parent), str(path)], plugins=[recorder])

    thread = threading.Thread(target=session, name="seeded-bugs-hunt")
    thread.start()
    thread.join()
    return output.getvalue()


@dataclass(repr=False)
class Hunt:
    """The learner's tests on the reference shop and on each seeded bug."""

    bugs: list[str]
    reference: dict[tuple, str]  # test -> passed/failed/skipped
    errors: dict[tuple, str]
    caught_by: dict[str, tuple]  # bug -> the first test that failed with it
    output: str = ""  # pytest's own report of the whole run, for the curious

    @property
    def reference_passed(self) -> bool:
        outcomes = set(self.reference.values())
        return outcomes == {"passed"}

    def caught(self, bug: str) -> bool:
        return bug in self.caught_by

    @property
    def missed(self) -> list[str]:
        return [bug for bug in self.bugs if not self.caught(bug)]

    def reference_problem(self) -> str:
        """Why the reference run did not pass (empty when it did)."""
        if not self.reference:
            return (
                "no tests ran: write test functions (async def test_...) in your cell, run "
                "it, then run this check"
            )
        return "; ".join(
            f"{_test_name(test)} {outcome}"
            + (f": {self.errors[test]}" if test in self.errors else "")
            for test, outcome in self.reference.items()
            if outcome != "passed"
        )

    def __repr__(self) -> str:
        verdict = "passed" if self.reference_passed else "failed"
        return f"<Hunt: reference {verdict}, bugs missed: {self.missed}>"

    def report(self) -> str:
        """One line for the reference, one per bug: the same text on every run when all is well."""
        if self.reference_passed:
            lines = ["reference: passed"]
        else:
            lines = [f"reference: FAILED ({self.reference_problem()})"]
        for bug in self.bugs:
            if self.caught(bug):
                lines.append(f"bug {bug}: caught")
            else:
                lines.append(f"bug {bug}: NOT caught ({BUGS[bug].what})")
        return "\n".join(lines)


def hunt(
    tests: Mapping[str, object],
    namespace: Mapping[str, object],
    *,
    bugs: Sequence[str] = SHOP_BUGS,
) -> Hunt:
    """Run `tests` (from `tests_in`) with pytest on the reference shop, then with each bug.

    `namespace` provides the fixtures (the notebook's globals); names in it that look like tests
    are left out, so stale tests of other cells never run. One pytest session does it all: a
    module-scoped autouse fixture plants each variant in turn (pytest groups the tests by it),
    and under a bug a test is skipped once the bug is caught, or if it failed on the reference.
    """
    recorder = _Recorder(list(bugs))
    module_name = f"seeded_bugs_{uuid.uuid4().hex}"
    module = types.ModuleType(module_name)
    module.__dict__.update(
        (name, obj)
        for name, obj in namespace.items()
        if not name.startswith("__") and not _TEST_NAME.match(name)
    )
    module.__dict__.update(recorder.fixtures())
    module.__dict__.update(tests)
    with tempfile.TemporaryDirectory(prefix="seeded-bugs-") as folder:
        path = Path(folder) / f"{module_name}.py"
        path.write_text("")  # pytest collects a file; the module itself is registered below
        module.__file__ = str(path)
        sys.modules[module_name] = module
        try:
            output = _run_pytest(path, recorder) if tests else ""
        finally:
            del sys.modules[module_name]
            with contextlib.suppress(ValueError):
                sys.path.remove(folder)  # pytest's default import mode put it there
    return Hunt(recorder.variants[1:], recorder.reference, recorder.errors, recorder.caught, output)
