"""Module 07's recipes, taught in full in `notebooks/07_concurrency_and_isolation.ipynb` and
imported by its exercises: `from course.lessons.concurrency import *`.

- Tests that commit, beside savepoint isolation: `committing_sessionmaker` gives sessions on
  connections of their own, whose commits are real, after emptying the shop's tables
  (TRUNCATE ... RESTART IDENTITY, so ids start at 1 in every test).
- A driven race, never a lucky one: `hold_and_race` keeps one transaction open, starts a
  second piece of work, and waits (`finished_or_blocked`) until that work has finished or waits
  on a lock the first transaction holds, as PostgreSQL's `pg_blocking_pids()` reports it.
- Serialization failures: `sqlstate(error)` reads the SQLSTATE of a database error raised
  through SQLAlchemy and asyncpg; `run_transaction` re-runs a whole transaction, in a new
  session, on `40001` or `40P01`; `OrderDesk` places orders with it at SERIALIZABLE and
  charges the customer once, after the commit.
"""

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import pytest_asyncio
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from course.lessons.shop_fixtures import shop_engine
from shop import services
from shop.models import Base, StockLevel

__all__ = [
    "RETRYABLE",
    "OrderDesk",
    "Stocked",
    "backend_pid",
    "committing_sessionmaker",
    "finished_or_blocked",
    "hold_and_race",
    "run_transaction",
    "shop_engine",
    "sqlstate",
    "stock_a_product",
    "units_left",
]

Result = TypeVar("Result")
SERIALIZATION_FAILURE = "40001"
DEADLOCK_DETECTED = "40P01"
RETRYABLE = {SERIALIZATION_FAILURE, DEADLOCK_DETECTED}


# --- tests that commit -------------------------------------------------------------------------


async def empty_the_shop(engine: AsyncEngine) -> None:
    """TRUNCATE every shop table in one statement, ids restarting at 1."""
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY"))


@pytest_asyncio.fixture(loop_scope="module")
async def committing_sessionmaker(shop_engine):
    """Sessions on connections of their own, whose commits are real (no outer transaction),
    on empty tables: emptied before the test, so that a failed test leaves its rows to look at."""
    await empty_the_shop(shop_engine)
    return async_sessionmaker(shop_engine, expire_on_commit=False)


@dataclass(frozen=True)
class Stocked:
    customer_id: int
    product_id: int
    warehouse_id: int


async def stock_a_product(sessionmaker: async_sessionmaker, units: int) -> Stocked:
    """A customer and a product with `units` in one warehouse, committed."""
    async with sessionmaker() as session:
        customer = await services.create_customer(session, "ada@example.com", "Ada")
        product = await services.create_product(session, "WID-1", "Widget", 250)
        warehouse = await services.create_warehouse(session, "MAIN", "Main")
        await services.set_stock(session, product.id, warehouse.id, units)
    return Stocked(customer.id, product.id, warehouse.id)


async def units_left(sessionmaker: async_sessionmaker, product_id: int) -> int:
    """The product's stock, all warehouses together, as a new session sees it."""
    async with sessionmaker() as session:
        quantities = await session.scalars(
            select(StockLevel.quantity).where(StockLevel.product_id == product_id)
        )
        return sum(quantities)


# --- a driven race -----------------------------------------------------------------------------


async def backend_pid(session: AsyncSession) -> int:
    """The PostgreSQL backend (server process) of the session's connection; asking begins the
    session's transaction, if none is open."""
    return await session.scalar(text("SELECT pg_backend_pid()"))


BLOCKED_BY = text(
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND :holder = ANY(pg_blocking_pids(pid))"
)


async def finished_or_blocked(
    task: asyncio.Task, holder_pid: int, engine: AsyncEngine, *, timeout: float = 10.0
) -> str:
    """Wait until `task` has finished ("finished") or some connection waits on a lock that the
    backend `holder_pid` holds ("blocked"). A wait that never comes fails after `timeout`
    seconds with a message, instead of hanging the test.

    It looks from a connection of its own, in autocommit mode: pg_stat_activity is read once
    per transaction, and a new one each time sees the waits as they are now.
    """
    deadline = asyncio.get_running_loop().time() + timeout
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        while not task.done():
            if await connection.scalar(BLOCKED_BY, {"holder": holder_pid}):
                return "blocked"
            if asyncio.get_running_loop().time() > deadline:
                task.cancel()
                raise AssertionError(
                    f"the second transaction neither finished nor waited on a lock of the first "
                    f"within {timeout} s"
                )
            await asyncio.sleep(0.005)
    return "finished"


async def hold_and_race(
    sessionmaker: async_sessionmaker,
    hold: Callable[[AsyncSession], Awaitable[object]],
    race: Callable[[], Awaitable[Result]],
) -> tuple[str, Result]:
    """The interleaving that a lost update needs, every time:

    1. `hold(session)` runs in a transaction, which stays open;
    2. `race()` starts, as a task (it opens its own sessions);
    3. once it has finished or waits on a lock that the first transaction holds, the first
       commits;
    4. `race()` is awaited: returns ("finished" or "blocked", what race returned); its
       exception, if any, propagates.
    """
    async with sessionmaker() as session:
        holder = await backend_pid(session)
        await hold(session)
        task = asyncio.create_task(race())
        try:
            how = await finished_or_blocked(task, holder, session.bind)
            await session.commit()
        except BaseException:
            task.cancel()
            raise
    return how, await task


# --- serialization failures and retries ----------------------------------------------------------


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a database error raised through SQLAlchemy, else None.

    SQLAlchemy wraps the driver's error in a `DBAPIError` whose `orig` is the driver's (for
    asyncpg, SQLAlchemy's adapter of it, with `.sqlstate` and `.pgcode`); the class alone does
    not say which error it is: asyncpg's serialization failure arrives as a plain DBAPIError.
    """
    return getattr(getattr(error, "orig", None), "sqlstate", None)


async def run_transaction(
    sessionmaker: async_sessionmaker,
    work: Callable[[AsyncSession], Awaitable[Result]],
    *,
    attempts: int = 3,
) -> Result:
    """`work(session)` in a new session, then commit; on a serialization failure or a deadlock
    the whole transaction runs again, in a new session, up to `attempts` times in all.

    Only the database work belongs inside: whatever else `work` does (an HTTP call, a message,
    a background task) happens again on every attempt.
    """
    for attempt in range(1, attempts + 1):
        try:
            async with sessionmaker() as session:
                result = await work(session)
                await session.commit()
                return result
        except DBAPIError as error:
            if sqlstate(error) not in RETRYABLE or attempt == attempts:
                raise
        # A short, growing, random pause: transactions that collided do not collide again.
        await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))
    raise ValueError(f"attempts must be at least 1, not {attempts}")


class OrderDesk:
    """Places orders at SERIALIZABLE, each order one transaction re-run on a serialization
    failure (`run_transaction`), and charges the customer once, after the order's commit."""

    def __init__(
        self,
        engine: AsyncEngine,
        charge: Callable[[int, list[tuple[int, int]]], Awaitable[object]],
        *,
        attempts: int = 3,
    ) -> None:
        serializable = engine.execution_options(isolation_level="SERIALIZABLE")
        self.sessionmaker = async_sessionmaker(serializable, expire_on_commit=False)
        self.charge = charge  # the payment service: an HTTP call, a side effect
        self.attempts = attempts

    async def place(self, customer_id: int, items: list[tuple[int, int]]) -> int:
        """Place the order, then charge `charge(customer_id, items)`; returns the order's id."""

        async def order(session: AsyncSession) -> int:
            return (await services.place_order(session, customer_id, items)).id

        order_id = await run_transaction(self.sessionmaker, order, attempts=self.attempts)
        await self.charge(customer_id, items)  # outside the retried transaction: once
        return order_id
