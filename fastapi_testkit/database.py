"""One database per pytest-xdist worker: made, given its schema, and dropped.

This runs in a thread of its own, with its own event loop, so that it never touches the
loop the tests run on, and so that an Alembic env.py that calls asyncio.run() works.
"""

import asyncio
import os
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import MetaData, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from fastapi_testkit.config import Alembic

T = TypeVar("T")


def worker_database_url(server_url: str) -> URL:
    """`<database>_gw0` under `pytest -n`, `<database>_main` without: workers never share."""
    url = make_url(server_url).set(drivername="postgresql+asyncpg")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return url.set(database=f"{url.database}_{worker}")


def in_a_thread(function: Callable[[], T]) -> T:
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(function).result()


def run_in_a_thread(coroutine: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return in_a_thread(lambda: asyncio.run(coroutine()))


async def _as_administrator(server_url: str, *statements: str) -> None:
    # AUTOCOMMIT: CREATE/DROP DATABASE cannot run inside a transaction block.
    engine = create_async_engine(
        make_url(server_url).set(drivername="postgresql+asyncpg"),
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
    )
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def _create_all(url: URL, metadata: MetaData) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
    finally:
        await engine.dispose()


def _upgrade_head(url: URL, alembic: Alembic, base: Path) -> None:
    from alembic import command  # only suites whose schema comes from migrations need Alembic
    from alembic.config import Config

    config = Config(str(base / alembic.config_path))
    # The .ini syntax reads "%" as interpolation: a password holding one must be doubled.
    config.set_main_option("sqlalchemy.url", url.render_as_string(False).replace("%", "%%"))
    command.upgrade(config, "head")


def create_database(server_url: str, schema: MetaData | Alembic | None, base: Path) -> URL:
    url = worker_database_url(server_url)
    name = url.database
    # WITH (FORCE): a database left by a killed run may still have connections open.
    run_in_a_thread(
        lambda: _as_administrator(
            server_url,
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
            f'CREATE DATABASE "{name}"',
        )
    )
    if isinstance(schema, MetaData):
        run_in_a_thread(lambda: _create_all(url, schema))
    elif isinstance(schema, Alembic):
        in_a_thread(lambda: _upgrade_head(url, schema, base))
    return url


def drop_database(server_url: str, url: URL) -> None:
    statement = f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'
    run_in_a_thread(lambda: _as_administrator(server_url, statement))
