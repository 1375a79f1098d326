"""The schema that the shop's Alembic migrations build is the one its models describe, on both
databases: these tests fail when models and migrations drift apart (module 06).

The migrations run on a connection the test holds (Alembic's cookbook: connection sharing,
`config.attributes["connection"]`), into a place of their own: a new SQLite file, or on
PostgreSQL a new schema inside a transaction that is rolled back (its DDL is transactional).
Two more run them as production does, by URL, and offline (`--sql`).
"""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from course.lessons.parity import config_on, migrated
from shop.migrations import alembic_config
from shop.models import Base

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def connection(database_url: str, tmp_path: Path) -> AsyncIterator[AsyncConnection]:
    """A connection to an empty place for the migrations, on the database under test."""
    if make_url(database_url).get_backend_name() == "sqlite":
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}"
    engine = create_async_engine(database_url)
    async with engine.connect() as connection:
        await connection.begin()
        if engine.dialect.name == "postgresql":
            await connection.exec_driver_sql("CREATE SCHEMA migrated")
            await connection.exec_driver_sql("SET LOCAL search_path TO migrated")
        yield connection
        await connection.rollback()
    await engine.dispose()


def downgrade(connection: Connection) -> None:
    command.downgrade(config_on(connection), "base")


def drift(connection: Connection) -> tuple[list, set]:
    """compare_metadata's differences (server defaults too), and the CHECK constraints that
    only one side has: compare_metadata does not compare those."""
    context = MigrationContext.configure(connection, opts={"compare_server_default": True})
    differences = compare_metadata(context, Base.metadata)
    inspector = sa.inspect(connection)
    declared = {
        (table.name, constraint.name)
        for table in Base.metadata.sorted_tables
        for constraint in table.constraints
        if isinstance(constraint, sa.CheckConstraint)
    }
    built = {
        (table, check["name"])
        for table in inspector.get_table_names()
        for check in inspector.get_check_constraints(table)
    }
    return differences, declared ^ built


async def test_the_migrations_build_what_the_models_describe(connection: AsyncConnection):
    await connection.run_sync(migrated)
    differences, checks = await connection.run_sync(drift)
    assert differences == []
    assert checks == set()


async def test_a_drifted_schema_is_caught(connection: AsyncConnection):
    """The drift test can fail: a server default and a lost CHECK constraint, which
    compare_metadata with its defaults misses, are both reported."""
    await connection.run_sync(migrated)
    await connection.run_sync(drift_the_stock_levels)
    differences, checks = await connection.run_sync(drift)
    assert [difference[0][0] for difference in differences] == ["modify_default"]
    assert checks == {("stock_levels", "quantity_not_negative")}


def drift_the_stock_levels(connection: Connection) -> None:
    """What a hand-edited migration might do (batch mode: SQLite copies the table)."""
    operations = Operations(MigrationContext.configure(connection))
    with operations.batch_alter_table("stock_levels") as batch:
        batch.alter_column("quantity", server_default="0")
        batch.drop_constraint("quantity_not_negative", type_="check")


async def test_the_downgrade_removes_everything(connection: AsyncConnection):
    await connection.run_sync(migrated)
    await connection.run_sync(downgrade)
    tables = await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names())
    assert tables == ["alembic_version"]


async def test_a_program_migrates_a_database_by_its_url(tmp_path: Path):
    """As production runs them: `alembic_config(url)` and no connection handed in, so env.py
    opens its own on an event loop of its own (here in a thread, beside this test's loop)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'by-url.db'}"
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        differences, checks = await connection.run_sync(drift)
    await engine.dispose()
    assert (differences, checks) == ([], set())


async def test_the_migrations_print_their_sql_offline(capsys):
    """`alembic upgrade head --sql`: the SQL for a DBA to run, without connecting."""
    offline = alembic_config("postgresql+asyncpg://shop@db.invalid/shop")
    command.upgrade(offline, "head", sql=True)
    assert "CREATE TABLE stock_levels" in capsys.readouterr().out
