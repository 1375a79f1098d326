"""Proof that the transactional isolation in conftest.py holds, on both backends."""

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from course.isolation import enable_sqlite_savepoints
from shop import services
from shop.models import Base, Product, create_schema

pytestmark = pytest.mark.asyncio(loop_scope="session")


COUNT_PRODUCTS = select(func.count()).select_from(Product)


async def products_seen_by_another_connection(engine: AsyncEngine) -> int:
    async with engine.connect() as other_connection:
        return await other_connection.scalar(COUNT_PRODUCTS)


async def test_a_test_starts_with_every_table_empty(session: AsyncSession) -> None:
    # The tests that ran before this one wrote rows: none may be left.
    for table in Base.metadata.sorted_tables:
        count = await session.scalar(select(func.count()).select_from(table))
        assert count == 0, f"{table.name} holds rows left by an earlier test"


async def test_commits_stay_inside_the_test_transaction(
    engine: AsyncEngine, session: AsyncSession, client: httpx.AsyncClient
) -> None:
    # A commit by the service layer, and one by a route.
    await services.create_product(session, "ISO-1", "Committed by a service", 100)
    response = await client.post(
        "/products", json={"sku": "ISO-2", "name": "Posted", "price_cents": 1}
    )
    assert response.status_code == 201

    assert await session.scalar(COUNT_PRODUCTS) == 2
    # Any other connection sees nothing: the commits only released savepoints.
    assert await products_seen_by_another_connection(engine) == 0


@pytest.mark.parametrize(("with_fix", "rows_left"), [(False, 1), (True, 0)])
async def test_sqlite_savepoints_leak_without_the_documented_fix(
    tmp_path, with_fix: bool, rows_left: int
) -> None:
    """The control experiment: the same rolled-back test, on an engine with and without
    the fix the `engine` fixture applies. Without it, the "savepoint" commits for good."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'leak.db'}")
    if with_fix:
        enable_sqlite_savepoints(engine)
    await create_schema(engine)
    async with engine.connect() as connection:
        transaction = await connection.begin()
        async with AsyncSession(
            bind=connection, join_transaction_mode="create_savepoint"
        ) as session:
            await services.create_product(session, "LEAK-1", "Should vanish", 100)
        await transaction.rollback()

    assert await products_seen_by_another_connection(engine) == rows_left
    await engine.dispose()
