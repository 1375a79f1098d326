"""Production parity (module 06): PostgreSQL from testcontainers or the local server, the
shop's tables on PostgreSQL and on SQLite side by side, and the schema that the shop's Alembic
migrations build, with drifts planted in it.

- `postgres_url_for_tests`: the recipe of the lesson's section 1, a test run's PostgreSQL: a
  pinned container (asyncpg) when a Docker daemon answers, else the local server, said in one
  line. Its Docker branch is driven, where no daemon runs, by `ContainerRecorder`, which
  stands in for `PostgresContainer` and records what it is given, bound to the real signature
  (`postgres_container_arguments`).
- `shop_tables_on(kind)` and the fixture `database` (parametrized over both): a connection
  to PostgreSQL (this kernel's database) or to SQLite in memory, in a transaction that is
  rolled back, with the shop's tables.
- `config_on(connection)`, `migrated(connection)`, `migrated_schema(drift)` and `DRIFTS`: the
  migrations run by Alembic on a connection that a test holds, in a schema of its own, with
  one seeded drift if asked.
"""

import contextlib
import inspect
import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

import pytest_asyncio
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from testcontainers.community.postgres import PostgresContainer

from course.containers import POSTGRES_IMAGE, docker_daemon_answers
from shop.migrations import alembic_config
from shop.models import Base

__all__ = [
    "DATABASES",
    "DRIFTS",
    "ContainerRecorder",
    "config_on",
    "database",
    "migrated",
    "migrated_schema",
    "postgres_container_arguments",
    "postgres_url_for_tests",
    "shop_tables_on",
]

# --- section 1: testcontainers, or the local server -------------------------------------------


@contextlib.contextmanager
def postgres_url_for_tests(
    *,
    docker_answers: Callable[[], bool] = docker_daemon_answers,
    postgres_container: Callable[..., PostgresContainer] = PostgresContainer,
    local_url: Callable[[], str] = lambda: os.environ["DATABASE_URL"],
) -> Iterator[str]:
    """The asyncpg URL of a PostgreSQL for a test run: a throwaway container of the pinned
    image when a Docker daemon answers (removed at the end), else the local server."""
    if docker_answers():  # a ping, ~2 ms; `which docker` proves nothing
        with postgres_container(image=POSTGRES_IMAGE, driver="asyncpg") as postgres:
            yield postgres.get_connection_url()
    else:
        print("No Docker daemon answers: the tests use the local PostgreSQL (DATABASE_URL).")
        yield local_url()


def postgres_container_arguments(*args, **kwargs) -> dict[str, object]:
    """What `PostgresContainer(*args, **kwargs)` is configured with: the arguments bound to its
    real signature, its defaults filled in (a call that signature refuses raises TypeError;
    other keywords go on to Docker, and are listed as they are)."""
    bound = inspect.signature(PostgresContainer.__init__).bind(None, *args, **kwargs)
    bound.apply_defaults()
    arguments = {name: value for name, value in bound.arguments.items() if name != "self"}
    extra = arguments.pop("kwargs", {})
    return {**arguments, **extra}


@dataclass
class _RecordedContainer:
    arguments: dict[str, object]
    started: bool = False
    stopped: bool = False

    def start(self) -> "_RecordedContainer":
        self.started = True
        return self

    def stop(self, *args, **kwargs) -> None:
        self.stopped = True

    def __enter__(self) -> "_RecordedContainer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def get_connection_url(self, host=None, driver="unset") -> str:
        """The URL's form as PostgresContainer builds it; the host is no real one."""
        driver = self.arguments["driver"] if driver == "unset" else driver
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        user = self.arguments["username"] or "test"  # PostgresContainer's own fallbacks
        password = self.arguments["password"] or "test"
        dbname = self.arguments["dbname"] or "test"
        host = host or "docker.invalid"
        return f"{scheme}://{user}:{password}@{host}:{self.arguments['port']}/{dbname}"


@dataclass
class ContainerRecorder:
    """Stands in for `PostgresContainer` where no Docker daemon runs: each call is bound to the
    real class's signature (`postgres_container_arguments`) and recorded; the container it returns
    starts nothing, and says whether it was started and stopped."""

    containers: list[_RecordedContainer] = field(default_factory=list)

    def __call__(self, *args, **kwargs) -> _RecordedContainer:
        container = _RecordedContainer(postgres_container_arguments(*args, **kwargs))
        self.containers.append(container)
        return container


# --- section 2: the same test on PostgreSQL and on SQLite -------------------------------------

DATABASES = ["postgresql", "sqlite"]


@contextlib.asynccontextmanager
async def shop_tables_on(kind: str) -> AsyncIterator[AsyncConnection]:
    """A connection to `kind` ("postgresql": this kernel's database; "sqlite": a new database
    in memory), in a transaction that is rolled back at the end, with the shop's tables."""
    url = os.environ["DATABASE_URL"] if kind == "postgresql" else "sqlite+aiosqlite://"
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.begin()
            await connection.run_sync(Base.metadata.create_all)  # PostgreSQL: rolled back too
            yield connection
    finally:
        await engine.dispose()


@pytest_asyncio.fixture(params=DATABASES)
async def database(request) -> AsyncIterator[AsyncConnection]:
    """The test runs twice: on PostgreSQL and on SQLite (`shop_tables_on`)."""
    async with shop_tables_on(request.param) as connection:
        yield connection


# --- section 3: the schema the migrations build -----------------------------------------------


def config_on(connection: Connection) -> Config:
    """Alembic's configuration for the shop's migrations, with this connection for env.py to
    run them on, in its transaction (Alembic's cookbook: connection sharing)."""
    config = alembic_config()
    config.attributes["connection"] = connection
    return config


def migrated(connection: Connection, revision: str = "head") -> None:
    """Run the shop's migrations up to `revision` on this connection. Call it through
    `AsyncConnection.run_sync`: Alembic's commands are synchronous."""
    command.upgrade(config_on(connection), revision)


@dataclass(frozen=True)
class Drift:
    what: str  # what the migrations do differently from the models, in one line
    change: Callable[[Operations], None]


DRIFTS: dict[str, Drift] = {
    "name-shorter": Drift(
        "products.name is VARCHAR(100) in the migrated schema, String(200) in the model",
        lambda op: op.alter_column("products", "name", type_=sa.String(100)),
    ),
    "quantity-nullable": Drift(
        "order_lines.quantity may be NULL in the migrated schema, not in the model",
        lambda op: op.alter_column("order_lines", "quantity", nullable=True),
    ),
    "email-not-unique": Drift(
        "customers.email has no unique constraint in the migrated schema",
        lambda op: op.drop_constraint("customers_email_key", "customers", type_="unique"),
    ),
    "stock-default": Drift(
        "stock_levels.quantity has a server default (0) in the migrated schema, none in the model",
        lambda op: op.alter_column("stock_levels", "quantity", server_default="0"),
    ),
    "check-missing": Drift(
        "stock_levels has lost its CHECK constraint quantity_not_negative",
        lambda op: op.drop_constraint("quantity_not_negative", "stock_levels", type_="check"),
    ),
}


@contextlib.asynccontextmanager
async def migrated_schema(drift: str | None = None) -> AsyncIterator[AsyncConnection]:
    """A connection to this kernel's database, in a transaction that is rolled back at the
    end, whose search_path is a new schema that the shop's migrations built (then `drift`
    applied, one of DRIFTS). Everything happens in that transaction: PostgreSQL's DDL is
    transactional, so the rollback removes schema, tables and all."""
    engine = create_async_engine(os.environ["DATABASE_URL"])
    try:
        async with engine.connect() as connection:
            await connection.begin()
            await connection.exec_driver_sql("CREATE SCHEMA migrated")
            await connection.exec_driver_sql("SET LOCAL search_path TO migrated")
            await connection.run_sync(migrated)
            if drift:
                await connection.run_sync(_drifted, DRIFTS[drift])
            yield connection
    finally:
        await engine.dispose()


def _drifted(connection: Connection, drift: Drift) -> None:
    drift.change(Operations(MigrationContext.configure(connection)))
