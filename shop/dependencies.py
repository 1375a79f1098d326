"""FastAPI dependencies: what routes get from the running app, and what tests override.

The lifespan (shop.app) puts the sessionmaker and the HTTP client on `app.state`; these
functions hand them to routes, so `app.dependency_overrides` can swap any of them.
They are `async def` although they await nothing: FastAPI runs a plain `def` dependency in
a worker thread, a needless hop for a lookup.
"""

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.rates import ExchangeRatesClient
from shop.settings import Settings


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    return request.app.state.sessionmaker


async def get_session(
    sessionmaker: Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)],
) -> AsyncIterator[AsyncSession]:
    """One session per request, closed (and anything uncommitted rolled back) at the end."""
    async with sessionmaker() as session:
        yield session


async def get_http_client(request: Request) -> httpx.AsyncClient:
    """The app's one outbound client: it pools connections across requests."""
    return request.app.state.http_client


async def get_rates_client(
    http_client: Annotated[httpx.AsyncClient, Depends(get_http_client)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> ExchangeRatesClient:
    return ExchangeRatesClient(http_client, settings.exchange_rates_url)


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionmakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
RatesClientDep = Annotated[ExchangeRatesClient, Depends(get_rates_client)]
