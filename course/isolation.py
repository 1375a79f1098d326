"""Ways to give every database test a clean database, and what each one costs per test.

Module 02 compares them; `benchmarks/isolation.py` prints the table. A *strategy* is an async
context manager: `async with strategy(db, n) as session:` hands one test a session and, when
the test is over, leaves the database as clean as it found it (except `no_cleanup`, the
baseline). Every test runs the same workload, `a_test`: the app's own service functions, which
commit and, on a duplicate, roll back, as app code does.

| strategy          | how the database is cleaned                                  | backends   |
|-------------------|--------------------------------------------------------------|------------|
| no cleanup        | it is not (the baseline: what a test costs without isolation) | both       |
| savepoint         | an outer transaction, rolled back; the session joins it with  | both       |
|                   | join_transaction_mode="create_savepoint"                      |            |
| DELETE            | DELETE FROM every table, children first                       | both       |
| TRUNCATE          | one TRUNCATE of all tables, RESTART IDENTITY                  | PostgreSQL |
| drop + create     | drop_all and create_all                                       | both       |
| template database | a new database per test: CREATE DATABASE ... TEMPLATE         | PostgreSQL |
|                   | (SQLite: a copy of a template file)                           | SQLite     |
"""

import asyncio
import contextlib
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from shop import services
from shop.errors import AlreadyExists
from shop.models import Base

POSTGRESQL, SQLITE = "postgresql", "sqlite"


def enable_sqlite_savepoints(engine: AsyncEngine) -> None:
    """SQLAlchemy's documented fix for SAVEPOINT on sqlite3/aiosqlite: the driver emits no
    BEGIN of its own (isolation_level None), SQLAlchemy emits BEGIN when a transaction starts."""

    @event.listens_for(engine.sync_engine, "connect")
    def _no_driver_begin(dbapi_connection, connection_record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine.sync_engine, "begin")
    def _emit_begin(connection):
        connection.exec_driver_sql("BEGIN")


def make_engine(url: str) -> AsyncEngine:
    """An engine as the strategies need it: on SQLite, with working savepoints."""
    engine = create_async_engine(url)
    if engine.dialect.name == SQLITE:
        enable_sqlite_savepoints(engine)
    return engine


async def a_test(session: AsyncSession, n: int) -> None:
    """One test's work through the app's service layer: 9 commits, one rolled-back duplicate,
    rows in 6 tables. `n` keeps keys unique when nothing cleans up between tests."""
    # Ids, not objects: the rollback below expires every object in the session.
    customer = (await services.create_customer(session, f"c{n}@example.com", "Customer")).id
    widget = (await services.create_product(session, f"WID-{n}", "Widget", 250)).id
    gadget = (await services.create_product(session, f"GAD-{n}", "Gadget", 1000)).id
    # A duplicate: the service catches the IntegrityError and rolls back, as app code does.
    with contextlib.suppress(AlreadyExists):
        await services.create_product(session, f"WID-{n}", "Duplicate", 1)
    north = (await services.create_warehouse(session, f"N-{n}", "North")).id
    south = (await services.create_warehouse(session, f"S-{n}", "South")).id
    await services.set_stock(session, widget, north, 3)
    await services.set_stock(session, gadget, south, 2)
    await services.place_order(session, customer, [(widget, 1), (gadget, 1)])


@dataclass
class Database:
    """The database the strategies clean: its URL, an engine, and what the template
    strategies need. Create with `await Database.open(url)`, end with `await db.close()`."""

    url: str
    engine: AsyncEngine
    scratch: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="isolation-")))

    @classmethod
    async def open(cls, url: str) -> "Database":
        db = cls(url, make_engine(url))
        await db.recreate_schema()
        return db

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        return async_sessionmaker(self.engine, expire_on_commit=False)

    def sibling(self, suffix: str) -> str:
        """The URL of another database beside this one (PostgreSQL) or file (SQLite)."""
        url = make_url(self.url)
        if self.backend == SQLITE:
            return url.set(database=str(self.scratch / f"{suffix}.db")).render_as_string(False)
        # course_kernel_123 -> course_kernel_template_123: still ends with the owner's pid, so
        # the toolkit drops it if that process dies before it can (course.db._drop_abandoned).
        prefix, pid = re.fullmatch(r"(.*?)(_\d+)?", url.database).groups()
        return url.set(database=f"{prefix}_{suffix}{pid or ''}").render_as_string(False)

    async def recreate_schema(self) -> None:
        async with self.engine.begin() as connection:
            await connection.run_sync(Base.metadata.drop_all)
            await connection.run_sync(Base.metadata.create_all)

    async def admin(self, *statements: str) -> None:
        """Run statements outside any transaction (CREATE/DROP DATABASE need that)."""
        async with self.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            for statement in statements:
                await autocommit.exec_driver_sql(statement)

    async def rows_left(self, url: str | None = None) -> dict[str, int]:
        """Rows in each table, counted on a new connection of a new engine: what any other
        connection (the next test, another process) would find."""
        engine = create_async_engine(url or self.url)
        try:
            async with engine.connect() as connection:
                return {
                    table.name: await connection.scalar(select(func.count()).select_from(table))
                    for table in Base.metadata.sorted_tables
                }
        finally:
            await engine.dispose()

    async def close(self) -> None:
        await self.engine.dispose()
        shutil.rmtree(self.scratch, ignore_errors=True)


Strategy = Callable[[Database, int], AbstractAsyncContextManager[AsyncSession]]


@asynccontextmanager
async def no_cleanup(db: Database, n: int) -> AsyncIterator[AsyncSession]:
    async with db.sessionmaker() as session:
        yield session


@asynccontextmanager
async def savepoint(db: Database, n: int) -> AsyncIterator[AsyncSession]:
    async with db.engine.connect() as connection:
        transaction = await connection.begin()
        async with AsyncSession(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        ) as session:
            yield session
        await transaction.rollback()


@asynccontextmanager
async def delete_rows(db: Database, n: int) -> AsyncIterator[AsyncSession]:
    async with db.sessionmaker() as session:
        yield session
    async with db.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):  # children before parents
            await connection.execute(table.delete())


@asynccontextmanager
async def truncate(db: Database, n: int) -> AsyncIterator[AsyncSession]:
    async with db.sessionmaker() as session:
        yield session
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)  # any order
    async with db.engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY"))


@asynccontextmanager
async def drop_create(db: Database, n: int) -> AsyncIterator[AsyncSession]:
    async with db.sessionmaker() as session:
        yield session
    await db.recreate_schema()


def closed_to_others(database: str) -> str:
    """Every role may connect to a new database (a copy too: it does not inherit the template's
    grants). Its owner, this kernel's role, closes it to the other kernels."""
    return f'REVOKE CONNECT ON DATABASE "{database}" FROM PUBLIC'


async def prepare_template(db: Database) -> str:
    """Make the template: a database (a file on SQLite) with the schema and no rows."""
    template = db.sibling("template")
    if db.backend == POSTGRESQL:
        name = make_url(template).database
        await db.admin(
            f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"', closed_to_others(name)
        )
    engine = make_engine(template)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    await engine.dispose()  # CREATE DATABASE ... TEMPLATE refuses a template in use
    return template


@asynccontextmanager
async def template_database(db: Database, n: int) -> AsyncIterator[AsyncSession]:
    template, url = db.sibling("template"), db.sibling("test")
    if db.backend == POSTGRESQL:
        name, source = make_url(url).database, make_url(template).database
        await db.admin(f'CREATE DATABASE "{name}" TEMPLATE "{source}"', closed_to_others(name))
    else:
        shutil.copyfile(make_url(template).database, make_url(url).database)
    engine = make_engine(url)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            yield session
    finally:
        await engine.dispose()
        if db.backend == POSTGRESQL:
            await db.admin(f'DROP DATABASE "{name}"')
        else:
            Path(make_url(url).database).unlink()


STRATEGIES: dict[str, Strategy] = {
    "no cleanup": no_cleanup,
    "savepoint": savepoint,
    "DELETE": delete_rows,
    "TRUNCATE": truncate,
    "drop + create": drop_create,
    "template database": template_database,
}
POSTGRESQL_ONLY = {"TRUNCATE"}


def strategies_for(backend: str) -> list[str]:
    return [name for name in STRATEGIES if backend == POSTGRESQL or name not in POSTGRESQL_ONLY]


@dataclass(frozen=True)
class Measurement:
    backend: str
    strategy: str
    ms_per_test: float  # the median
    tests: int


async def measure(
    url: str, tests: int = 20, strategies: Sequence[str] | None = None, warmup: int = 2
) -> list[Measurement]:
    """Run `tests` tests (after `warmup` untimed ones) with each strategy on the database at
    `url`, and return the median milliseconds per test, set-up and cleanup included.

    It drops and recreates the shop's tables in that database, and leaves them empty.
    """
    db = await Database.open(url)
    names = list(strategies or strategies_for(db.backend))
    timings: dict[str, list[float]] = {name: [] for name in names}
    try:
        await prepare_template(db)
        # Round-robin, one test of each strategy per round, so that a change in the machine's
        # load during the run (another process, a noisy neighbour) affects all of them alike.
        for round_ in range(warmup + tests):
            for i, name in enumerate(names):
                n = round_ * len(names) + i  # unique keys, even when nothing cleans up
                started = time.perf_counter()
                async with STRATEGIES[name](db, n) as session:
                    await a_test(session, n)
                if round_ >= warmup:
                    timings[name].append((time.perf_counter() - started) * 1000)
        await db.recreate_schema()  # `no cleanup` left rows: leave the tables empty
    finally:
        if db.backend == POSTGRESQL:
            template = make_url(db.sibling("template")).database
            await db.admin(f'DROP DATABASE IF EXISTS "{template}"')
        await db.close()
    return [
        Measurement(db.backend, name, statistics.median(timings[name]), tests) for name in names
    ]


def table(results: Sequence[Measurement]) -> str:
    """The measurements as a text table: ms per test, and relative to the savepoint."""
    lines = [f"{'backend':<11} {'strategy':<18} {'ms/test':>8} {'x savepoint':>12} {'tests':>6}"]
    for backend in dict.fromkeys(r.backend for r in results):
        rows = [r for r in results if r.backend == backend]
        base = next((r.ms_per_test for r in rows if r.strategy == "savepoint"), None)
        for r in rows:
            relative = f"{r.ms_per_test / base:11.1f}x" if base else f"{'-':>12}"
            lines.append(
                f"{r.backend:<11} {r.strategy:<18} {r.ms_per_test:8.1f} {relative} {r.tests:6d}"
            )
    return "\n".join(lines)


def plot(results: Sequence[Measurement]):
    """A bar chart of ms per test, one group per strategy, one bar per backend."""
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(r.strategy for r in results))
    backends = list(dict.fromkeys(r.backend for r in results))
    height = 0.8 / len(backends)
    figure, axes = plt.subplots(figsize=(8, 0.5 + 0.55 * len(names)))
    for i, backend in enumerate(backends):
        ms = {r.strategy: r.ms_per_test for r in results if r.backend == backend}
        positions = [n + i * height for n, name in enumerate(names) if name in ms]
        values = [ms[name] for name in names if name in ms]
        bars = axes.barh(positions, values, height=height, label=backend)
        axes.bar_label(bars, fmt="%.1f", padding=2, fontsize=8)
    axes.set_yticks([n + height * (len(backends) - 1) / 2 for n in range(len(names))], names)
    axes.invert_yaxis()
    axes.margins(x=0.1)  # room for the labels of the longest bars
    axes.set_xlabel("milliseconds per test (median), set-up and cleanup included")
    axes.set_title("Isolation strategies: cost per test on this machine")
    axes.legend()
    figure.tight_layout()
    return figure


def run(urls: Sequence[str], tests: int = 20) -> list[Measurement]:
    """`measure` on each URL, from synchronous code (a script)."""

    async def all_of_them() -> list[Measurement]:
        return [m for url in urls for m in await measure(url, tests)]

    return asyncio.run(all_of_them())
