"""Every isolation strategy of course/isolation.py (module 02's benchmark) really cleans up.

Each strategy runs one test of the benchmark's workload (commits, a rolled-back duplicate,
rows in six tables); then a new connection of a new engine must find every table empty. The
baseline, `no cleanup`, must leave rows: proof that the check can see them. No timings here.
"""

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from course import isolation
from course.db import database_for_this_process
from course.postgres import find_bin_dir
from shop.models import Product

BACKENDS = ["sqlite", "postgresql"]


def url_for(backend: str, tmp_path) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'isolation.db'}"
    if find_bin_dir() is None:
        pytest.skip("no PostgreSQL here")
    return database_for_this_process("isolationtests", create_databases=True)


async def one_test(url: str, name: str) -> dict:
    """Run one test with the strategy; what is left: rows per table, as another connection
    sees them, and the rows the test saw inside (to prove it did write)."""
    db = await isolation.Database.open(url)
    try:
        await isolation.prepare_template(db)
        async with isolation.STRATEGIES[name](db, 1) as session:
            await isolation.a_test(session, 1)
            seen_inside = await session.scalar(select(func.count()).select_from(Product))
        return {
            "inside": seen_inside,
            "left": await db.rows_left(),
            "template": await db.rows_left(db.sibling("template")),
            "test database": await databases_like(db, "test"),
        }
    finally:
        if db.backend == isolation.POSTGRESQL:
            template = make_url(db.sibling("template")).database
            await db.admin(f'DROP DATABASE IF EXISTS "{template}"')
        await db.close()


async def databases_like(db: isolation.Database, suffix: str) -> bool:
    """Whether the per-test database (or file) of the template strategy still exists."""
    url = make_url(db.sibling(suffix))
    if db.backend == isolation.SQLITE:
        return Path(url.database).exists()
    async with db.engine.connect() as connection:
        query = text("SELECT count(*) FROM pg_database WHERE datname = :name")
        return bool(await connection.scalar(query, {"name": url.database}))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", [n for n in isolation.STRATEGIES if n != "no cleanup"])
def test_the_strategy_leaves_every_table_empty(backend, name, tmp_path):
    if name not in isolation.strategies_for(backend):
        pytest.skip(f"{name} is PostgreSQL only")
    result = asyncio.run(one_test(url_for(backend, tmp_path), name))
    assert result["inside"] == 2, "the test itself must see the two products it committed"
    assert set(result["left"].values()) == {0}, result["left"]
    assert set(result["template"].values()) == {0}, "the template must stay empty"
    assert not result["test database"], "the per-test database must be gone"


@pytest.mark.parametrize("backend", BACKENDS)
def test_without_cleanup_rows_are_left(backend, tmp_path):
    result = asyncio.run(one_test(url_for(backend, tmp_path), "no cleanup"))
    assert result["left"]["products"] == 2
    assert result["left"]["order_lines"] == 2
    assert sum(result["left"].values()) == 10  # 1 customer, 2 products, 2 warehouses, ...
