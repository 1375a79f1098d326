"""The engine and the sessionmaker, created at import (no connection is opened until used)."""

from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from lending.settings import get_settings

engine = create_async_engine(get_settings().database_url)
# expire_on_commit=False: objects stay readable after commit, where reloading an expired
# attribute would need an await that attribute access cannot do.
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)


async def get_session() -> AsyncIterator[AsyncSession]:
    """One session per request, closed (anything uncommitted rolled back) at the end."""
    async with SessionLocal() as session:
        yield session
