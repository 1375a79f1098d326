"""Correct solutions to module 05 written differently from the references (a learner's own way).

- 05.1 an async session fixture (pytest-asyncio, `loop_scope="session"`) that awaits `admin`
  itself, keeps the database's URL as a `URL` object until it yields, and drops the database
  without `FORCE` in a `finally`, after disposing of the only engine that used it.
- 05.2 no lock and no marker file: the controller process (the only one without `workerinput`,
  with or without xdist) builds the template in `pytest_sessionstart`, before any worker starts,
  and drops it in `pytest_sessionfinish`; the fixture only clones, naming the database from the
  environment variable `PYTEST_XDIST_WORKER` instead of the `worker_id` fixture.
- 05.3 the arguments split from one string, in their long `--option=value` form.
"""

_DATABASE_PER_WORKER = '''\
%%writetest {EX1_DIR}/conftest.py
"""Each pytest-xdist worker gets a database of its own, with the shop's tables."""

import asyncio
import os

import pytest
import pytest_asyncio  # if you write an async fixture
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from course.lessons import admin  # CREATE/DROP DATABASE: autocommit, on the kernel's database
from shop.models import create_schema

KERNEL_URL = make_url(os.environ["DATABASE_URL"])  # the kernel's database: unique on the server


# database_url: session scope; yields the URL of the worker's own database, with the shop's
# tables, and drops that database at the end.


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def database_url(worker_id):
    own = KERNEL_URL.set(database=f"{KERNEL_URL.database}_{worker_id}")
    await admin(f'DROP DATABASE IF EXISTS "{own.database}"', f'CREATE DATABASE "{own.database}"')
    engine = create_async_engine(own)
    try:
        await create_schema(engine)
    finally:
        await engine.dispose()
    try:
        yield own.render_as_string(hide_password=False)
    finally:
        await admin(f'DROP DATABASE "{own.database}"')
'''

_TEMPLATE_ONCE_PER_RUN = '''\
%%writetest {EX2_DIR}/conftest.py
"""One template database per run, built once; each pytest-xdist worker clones it."""

import asyncio
import os
from pathlib import Path

import pytest
from filelock import FileLock
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from course.lessons import admin  # CREATE/DROP DATABASE: autocommit, on the kernel's database
from shop.models import create_schema

KERNEL_URL = make_url(os.environ["DATABASE_URL"])  # the kernel's database: unique on the server
TEMPLATE = f"{KERNEL_URL.database}_template"


def url_of(database: str) -> str:
    return KERNEL_URL.set(database=database).render_as_string(hide_password=False)


def build_template() -> None:
    """Create the database TEMPLATE with the shop's tables (in a real project: slow). A plain
    function: it runs its own event loop, so call it from a plain fixture, never an async one."""

    async def build():
        await admin(
            f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)', f'CREATE DATABASE "{TEMPLATE}"'
        )
        engine = create_async_engine(url_of(TEMPLATE))
        await create_schema(engine)
        await engine.dispose()  # a database with a connection open cannot be cloned

    with open(Path(__file__).with_name("template-builds.log"), "a") as builds:
        builds.write(f"{os.getpid()}\\n")  # the check counts the builds
    asyncio.run(build())


# database_url: session scope; the worker's own database, cloned from TEMPLATE, dropped at the
# end. TEMPLATE: built once per run, dropped at the end of the run.
def in_the_controller(session) -> bool:
    """The process that runs the whole run: xdist's controller, or the only one without it."""
    return not hasattr(session.config, "workerinput")


def pytest_sessionstart(session):
    if in_the_controller(session):  # before any worker starts
        build_template()


def pytest_sessionfinish(session):
    if in_the_controller(session):  # after every worker has finished
        asyncio.run(admin(f'DROP DATABASE "{TEMPLATE}"'))


@pytest.fixture(scope="session")
def database_url():
    worker = os.environ.get("PYTEST_XDIST_WORKER", "master")
    clone = f"{KERNEL_URL.database}_{worker}"
    asyncio.run(admin(f'CREATE DATABASE "{clone}" TEMPLATE "{TEMPLATE}"'))
    try:
        yield url_of(clone)
    finally:
        asyncio.run(admin(f'DROP DATABASE "{clone}" WITH (FORCE)'))
'''

_DISTRIBUTION = """\
# EX3_ARGS: pytest's arguments, a list of strings such as ["-n", "2"]
EX3_ARGS = "--numprocesses=2 --dist=loadfile".split()
"""

ALTERNATIVES = {
    "05_parallelism": {
        "ex1-solution": _DATABASE_PER_WORKER.rstrip(),
        "ex2-solution": _TEMPLATE_ONCE_PER_RUN.rstrip(),
        "ex3-solution": _DISTRIBUTION.rstrip(),
    },
}
