"""Database chores that lessons do between demos: CREATE and DROP DATABASE, and a look at what
a test left behind."""

import os
import re

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from shop.models import Base


def kernel_url() -> str:
    """This kernel's own database (`course.setup()` put it in DATABASE_URL)."""
    return os.environ["DATABASE_URL"]


async def admin(*statements: str) -> None:
    """Run statements such as CREATE/DROP DATABASE, which refuse to run inside a transaction:
    in autocommit mode, on this kernel's own database, one after another."""
    engine = create_async_engine(kernel_url(), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.exec_driver_sql(statement)
                if created := re.match(r'\s*CREATE DATABASE\s+"?([^"\s]+)', statement, re.I):
                    # Any role may connect to a new database: its owner (this kernel's role)
                    # closes it to the others, who can then neither read nor change it.
                    await connection.exec_driver_sql(
                        f'REVOKE CONNECT ON DATABASE "{created[1]}" FROM PUBLIC'
                    )
    finally:
        await engine.dispose()


async def rows_seen_elsewhere(url: str | None = None) -> dict[str, int]:
    """{table: rows} for every shop table that holds rows, as a new connection of a new engine
    sees them: what the next test, or anyone else, would find. {} means: clean."""
    engine = create_async_engine(url or kernel_url())
    try:
        async with engine.connect() as connection:
            counts = {
                table.name: await connection.scalar(select(func.count()).select_from(table))
                for table in Base.metadata.sorted_tables
            }
    finally:
        await engine.dispose()
    return {name: count for name, count in counts.items() if count}
