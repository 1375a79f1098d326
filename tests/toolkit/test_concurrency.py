"""Module 07's helpers (course/lessons/concurrency.py) and the seeded concurrency bugs of
exercise 07.3, hunted as the notebook's check hunts them."""

import asyncio
from unittest.mock import AsyncMock

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from course import seeded_bugs
from course.lessons import concurrency
from course.lessons.concurrency import (
    OrderDesk,
    finished_or_blocked,
    hold_and_race,
    run_transaction,
    sqlstate,
    stock_a_product,
    units_left,
)
from shop import services


def hunted_tests() -> dict:
    """The tests of exercise 07.3's reference solution, one per bug."""
    on_module_loop = pytest.mark.asyncio(loop_scope="module")

    @on_module_loop
    async def test_two_orders_for_the_same_stock_both_count(committing_sessionmaker):
        shop = await stock_a_product(committing_sessionmaker, 5)

        async def hold(session):
            await services.reserve_stock(session, shop.product_id, 1)

        async def race():
            async with committing_sessionmaker() as session:
                await services.place_order(session, shop.customer_id, [(shop.product_id, 1)])

        await hold_and_race(committing_sessionmaker, hold, race)
        assert await units_left(committing_sessionmaker, shop.product_id) == 3

    @on_module_loop
    async def test_a_conflict_is_retried_and_charged_once(shop_engine, committing_sessionmaker):
        shop = await stock_a_product(committing_sessionmaker, 5)
        charge = AsyncMock()
        desk = OrderDesk(shop_engine, charge)

        async def hold(session):
            await services.reserve_stock(session, shop.product_id, 1)

        async def race():
            return await desk.place(shop.customer_id, [(shop.product_id, 1)])

        how, _ = await hold_and_race(committing_sessionmaker, hold, race)
        assert how == "blocked"
        charge.assert_awaited_once_with(shop.customer_id, [(shop.product_id, 1)])
        assert await units_left(committing_sessionmaker, shop.product_id) == 3

    return seeded_bugs.tests_in(locals())


@pytest.fixture(scope="module")
def fixtures(kernel_like_database) -> dict:
    """`from course.lessons.concurrency import *` on a database like a kernel's (conftest.py)."""
    return {name: getattr(concurrency, name) for name in concurrency.__all__}


def test_the_reference_tests_catch_every_concurrency_bug(fixtures):
    hunt = seeded_bugs.hunt(hunted_tests(), fixtures, bugs=seeded_bugs.CONCURRENCY_BUGS)
    assert hunt.reference_passed, hunt.reference_problem() + hunt.output
    assert {bug: test[1] for bug, test in hunt.caught_by.items()} == {
        "stock-read-without-lock": "test_two_orders_for_the_same_stock_both_count",
        "order-not-retried": "test_a_conflict_is_retried_and_charged_once",
        "charge-inside-retry": "test_a_conflict_is_retried_and_charged_once",
    }


def test_orders_one_after_the_other_catch_no_lost_update(fixtures):
    """The same orders, not interleaved: the lost update needs the driven interleaving."""

    @pytest.mark.asyncio(loop_scope="module")
    async def test_two_orders(committing_sessionmaker):
        shop = await stock_a_product(committing_sessionmaker, 5)

        async def buy():
            async with committing_sessionmaker() as session:
                await services.place_order(session, shop.customer_id, [(shop.product_id, 1)])

        await buy()
        await buy()
        assert await units_left(committing_sessionmaker, shop.product_id) == 3

    hunt = seeded_bugs.hunt(
        {"test_two_orders": test_two_orders},
        fixtures,
        bugs=["stock-read-without-lock"],
    )
    assert hunt.reference_passed
    assert hunt.missed == ["stock-read-without-lock"]


# --- the helpers, on their own -----------------------------------------------------------------


@pytest.fixture
def url(kernel_like_database) -> str:
    return kernel_like_database


def raise_sqlstate(code: str) -> str:
    return f"DO $$ BEGIN RAISE EXCEPTION 'raised on purpose' USING ERRCODE = '{code}'; END $$"


@pytest.mark.asyncio
async def test_sqlstate_reads_the_drivers_code_whatever_the_class(url):
    engine = create_async_engine(url)
    try:
        for code, wrapped_as in [("40001", DBAPIError), ("40P01", DBAPIError)]:
            async with engine.connect() as connection:
                with pytest.raises(DBAPIError) as raised:
                    await connection.execute(text(raise_sqlstate(code)))
            assert type(raised.value) is wrapped_as  # not an OperationalError
            assert sqlstate(raised.value) == code
        assert sqlstate(ValueError("not a database error")) is None
    finally:
        await engine.dispose()


@pytest.mark.asyncio
async def test_run_transaction_retries_only_what_may_succeed_next_time(url):
    from sqlalchemy.ext.asyncio import async_sessionmaker

    engine = create_async_engine(url)
    sessionmaker = async_sessionmaker(engine)
    sessions = []

    async def fails_then_works(session):
        sessions.append(session)
        if len(sessions) < 3:
            await session.execute(text(raise_sqlstate("40001")))
        return len(sessions)

    async def always_unique_violation(session):
        sessions.append(session)
        await session.execute(text(raise_sqlstate("23505")))

    try:
        assert await run_transaction(sessionmaker, fails_then_works) == 3
        assert len({id(session) for session in sessions}) == 3  # a new session each time
        sessions.clear()
        with pytest.raises(DBAPIError):
            await run_transaction(sessionmaker, fails_then_works, attempts=2)
        assert len(sessions) == 2
        sessions.clear()
        with pytest.raises(IntegrityError):
            await run_transaction(sessionmaker, always_unique_violation)
        assert len(sessions) == 1
    finally:
        await engine.dispose()


@pytest.mark.asyncio
async def test_a_wait_that_never_comes_fails_with_a_message_instead_of_hanging(url):
    engine = create_async_engine(url)
    never = asyncio.create_task(asyncio.Event().wait())  # neither finishes nor takes a lock
    try:
        with pytest.raises(AssertionError, match="neither finished nor waited on a lock"):
            await finished_or_blocked(never, holder_pid=0, engine=engine, timeout=0.2)
        await asyncio.sleep(0)  # let the cancellation land
        assert never.cancelled()
    finally:
        await engine.dispose()
