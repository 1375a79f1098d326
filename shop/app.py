"""The application factory and its lifespan.

Run it with: uvicorn --factory shop.app:create_app
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from shop.api import router
from shop.errors import ShopError
from shop.models import create_schema
from shop.settings import Settings


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the database engine and the outbound HTTP client; close both on shutdown."""
    settings: Settings = app.state.settings
    engine = create_async_engine(settings.database_url)
    http_client = httpx.AsyncClient(timeout=settings.http_timeout_seconds)
    try:
        if settings.create_schema:
            await create_schema(engine)
        # expire_on_commit=False: objects stay readable after commit, where reloading an
        # expired attribute would need an await that attribute access cannot do.
        app.state.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
        app.state.http_client = http_client
        yield
    finally:
        await http_client.aclose()
        await engine.dispose()


async def handle_shop_error(request: Request, error: ShopError) -> JSONResponse:
    return JSONResponse({"detail": error.detail}, status_code=error.status_code)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. Without `settings`, they are read from the environment now."""
    app = FastAPI(title="Shop", lifespan=lifespan)
    app.state.settings = settings or Settings()
    app.include_router(router)
    app.add_exception_handler(ShopError, handle_shop_error)
    return app
