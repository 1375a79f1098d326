"""The app, created at import: `uvicorn lending.app:app`."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from lending import db
from lending.api import router


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    # Close the pool's connections on shutdown, in the loop that opened them.
    await db.engine.dispose()


app = FastAPI(title="Lending library", lifespan=lifespan)
app.include_router(router)
