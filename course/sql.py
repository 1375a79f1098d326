"""SQL from the toolkit's sync code: statements on one asyncpg connection, run to completion even
where a notebook's event loop is already running."""

import asyncio
import contextlib
import threading

from sqlalchemy.engine import make_url


def run_coroutine(coroutine):
    """Run a coroutine to completion from sync code, even inside a notebook's running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        # No loop here (a script, or atexit, where Python 3.12 forbids new threads).
        return asyncio.run(coroutine)
    result = {}

    def runner():
        try:
            result["value"] = asyncio.run(coroutine)
        except BaseException as error:
            result["error"] = error

    thread = threading.Thread(target=runner)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result.get("value")


@contextlib.asynccontextmanager
async def connect(url: str):
    """An asyncpg connection to a SQLAlchemy-style URL (postgresql+asyncpg://...)."""
    import asyncpg

    parts = make_url(url)
    connection = await asyncpg.connect(
        user=parts.username, password=parts.password, host=parts.host, port=parts.port,
        database=parts.database, timeout=10,
    )  # fmt: skip
    try:
        yield connection
    finally:
        await connection.close()


async def _fetch_each(url: str, statements) -> list:
    async with connect(url) as connection:
        return [await connection.fetch(statement) for statement in statements]


def run(url: str, *statements: str) -> list:
    """Run the statements one after another on one connection; the rows of each."""
    return run_coroutine(_fetch_each(url, statements))
