"""Async hygiene (module 08): tasks kept alive, resources closed, an old suite migrated.

- `loop_reports`: what the running loop reports to its exception handler ("Task was destroyed
  but it is pending!"), collected instead of logged.
- `what_collection_reports`: what Python says when it destroys what a coroutine left open
  (warnings, unraisable exceptions, log records), measured with `gc.collect()`.
- `spawn_problems`: exercise 08.1's check, driven by `gc.collect()`.
- `LEAKY_LIFESPAN`, `LIFESPAN_SUITE`, `lifespan_run`: the shop with a leak planted in its lifespan,
  and exercise 08.2's check (a suite in a new process, leaks made failures, tracemalloc on).
- `OLD_SUITE`, `MIGRATION_TESTS`, `migration_run`: a pytest-asyncio 0.21/0.23 suite and
  exercise 08.3's check (the learner's conftest and ini on the old tests, `-W error`).
"""

import ast
import asyncio
import contextlib
import gc
import inspect
import logging
import re
import sys
import textwrap
import warnings
import weakref
from dataclasses import dataclass, field

from course.lessons.reports import trim
from course.lessons.terminal import run_in_a_terminal
from course.pytest_run import Run

# --- tasks ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def loop_reports():
    """While the block runs, what the running loop reports to its exception handler is appended
    to the list this yields (each report's message), instead of being logged."""
    loop = asyncio.get_running_loop()
    reports = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda loop, context: reports.append(context["message"]))
    try:
        yield reports
    finally:
        loop.set_exception_handler(previous)


async def _wait_at_a_gate(gates: list, sent: list) -> None:
    """Wait on an event that only this coroutine holds (the check reaches it through a weak
    reference): nothing but the task itself keeps this task alive."""
    gate = asyncio.Event()
    gates.append(weakref.ref(gate))
    await gate.wait()
    sent.append("sent")


async def spawn_problems(spawn, tasks: int = 3) -> list[str]:
    """Exercise 08.1's check: what is wrong with `spawn(coroutine)`, driven by gc.collect().

    Each coroutine waits on a gate that only it holds, so a task that nothing else references
    is destroyed by the collection, every time. Then the gates open: a finished task must be
    forgotten (no reference left), or a long-running app keeps every task it ever ran."""
    gates, sent = [], []
    with loop_reports() as reports:
        spawned = []
        for _ in range(tasks):
            coroutine = _wait_at_a_gate(gates, sent)
            try:
                spawned.append(spawn(coroutine))
            except BaseException:
                coroutine.close()  # never started: no "never awaited" warning on top
                raise
        if not all(isinstance(task, asyncio.Task) for task in spawned):
            return [f"spawn returned {spawned[0]!r}, not the asyncio.Task it created"]
        finished = [weakref.ref(task) for task in spawned]
        del spawned
        await asyncio.sleep(0)  # each task starts and waits at its gate
        gc.collect()
        open_gates = [gate() for gate in gates]
        if reports or None in open_gates or len(gates) < tasks:
            return [
                f"{reports.count('Task was destroyed but it is pending!')} of {tasks} tasks "
                "were destroyed by the garbage collector while pending: nothing held a strong "
                "reference to them"
            ]
        for gate in open_gates:
            gate.set()
        del open_gates
        for _ in range(3):  # the tasks finish, then their done callbacks run
            await asyncio.sleep(0)
        if len(sent) != tasks:
            return [f"{tasks - len(sent)} of {tasks} tasks did not finish once their gate opened"]
        gc.collect()
        kept = sum(task() is not None for task in finished)
    if kept:
        return [
            f"{kept} of {tasks} finished tasks are still referenced: remove each task from "
            "where you keep it when it is done (task.add_done_callback)"
        ]
    return []


# --- resources -----------------------------------------------------------------------------------


@dataclass
class Reports:
    warnings: list[str] = field(default_factory=list)
    unraisable: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)

    def show(self, what: str) -> None:
        said = [*self.warnings, *self.unraisable, *self.logs] or ["nothing"]
        print(f"{what}:")
        for line in said:
            print(f"    {line}")


class _Records(logging.Handler):
    def __init__(self, lines):
        super().__init__(logging.WARNING)
        self.lines = lines

    def emit(self, record):
        self.lines.append(f"log {record.levelname} {record.name}: {_first(record.getMessage())}")


def _first(text: str) -> str:
    """A message's first sentence, without addresses, ports or file descriptors."""
    text = trim(text.splitlines()[0]).split("; ")[0]
    return text.split(" <")[0].split(" fd=")[0] if "<" in text or "fd=" in text else text


async def what_collection_reports(leave_open) -> Reports:
    """Run `await leave_open()`, which leaves something open and drops every reference to it;
    collect the garbage; return what Python said: warnings (all shown), unraisable exceptions
    and log records of WARNING and above."""
    reports = Reports()
    handler = _Records(reports.logs)
    logging.getLogger().addHandler(handler)
    hook = sys.unraisablehook
    sys.unraisablehook = lambda u: reports.unraisable.append(f"unraisable {_first(str(u))}")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            await leave_open()
            for _ in range(3):  # callbacks still queued (a transport's connection_lost) run
                await asyncio.sleep(0)
            while gc.collect():  # what one object's finalizer frees, the next round collects
                pass
    finally:
        sys.unraisablehook = hook
        logging.getLogger().removeHandler(handler)
    reports.warnings = [f"{w.category.__name__}: {_first(str(w.message))}" for w in caught]
    return reports


LEAKY_LIFESPAN = '''
@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the database engine and the outbound HTTP client; close both on shutdown."""
    settings: Settings = app.state.settings
    engine = create_async_engine(settings.database_url)
    http_client = httpx.AsyncClient(timeout=settings.http_timeout_seconds)
    if settings.create_schema:
        await create_schema(engine)
    app.state.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    app.state.http_client = http_client
    yield
    await http_client.aclose()
'''
"""The shop's lifespan with a leak planted: the engine is never disposed."""

_LIFESPAN_IMPORTS = """\
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from shop.models import create_schema
from shop.settings import Settings
"""

# Leaks made failures: a ResourceWarning raised in __del__ is an unraisable exception, which
# pytest reports as PytestUnraisableExceptionWarning: both must be errors.
LEAK_INI = """\
[pytest]
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
filterwarnings =
    error::ResourceWarning
    error::pytest.PytestUnraisableExceptionWarning
"""

# Garbage collected after each test, and only then, so that a leak is reported under the test
# that made it (left on, the collector may find it in the middle of that test or of a later one).
LEAK_CONFTEST = """\
import gc

import pytest


def pytest_sessionstart(session):
    gc.disable()


@pytest.fixture(autouse=True)
def collect_garbage_after_each_test():
    yield
    gc.collect()
"""

LIFESPAN_SUITE = """\
import os

import httpx
import pytest
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient

import lifespan_under_test
from lifespan_under_test import lifespan
from shop.app import create_app
from shop.settings import Settings


# startup_timeout: asgi-lifespan's default (5 s) is less than start-up can take under
# tracemalloc on a loaded machine.
def the_shop():
    app = create_app(Settings(database_url=os.environ["DATABASE_URL"], create_schema=True))
    app.router.lifespan_context = lifespan
    return app


@pytest.mark.asyncio
async def test_the_shop_answers():
    async with LifespanManager(the_shop(), startup_timeout=60) as manager:
        transport = ASGITransport(app=manager.app)
        async with AsyncClient(transport=transport, base_url="http://shop") as client:
            response = await client.get("/products")
    assert response.status_code == 200


@pytest.mark.asyncio
async def test_shutdown_closes_what_startup_opened():
    app = the_shop()
    async with LifespanManager(app, startup_timeout=60):
        engine = app.state.sessionmaker.kw["bind"]
        async with engine.connect():  # a connection into the pool
            pass
    assert app.state.http_client.is_closed, "the HTTP client is still open after shutdown"
    assert engine.pool.checkedin() == 0, "the engine's pool still holds a connection"


@pytest.mark.asyncio
async def test_a_failed_start_up_closes_the_client(monkeypatch):
    clients = []

    class RecordedClient(httpx.AsyncClient):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            clients.append(self)

    async def schema_fails(engine):
        raise RuntimeError("the schema could not be created")

    monkeypatch.setattr(httpx, "AsyncClient", RecordedClient)
    monkeypatch.setattr(lifespan_under_test, "create_schema", schema_fails)
    with pytest.raises(RuntimeError, match="schema could not be created"):
        async with LifespanManager(the_shop(), startup_timeout=60):
            pass
    assert clients and all(client.is_closed for client in clients), (
        "start-up failed after the HTTP client was made, and the client was left open"
    )
"""


# Where each leaked object was allocated: tracemalloc started once the tests are imported
# (started with the interpreter, PYTHONTRACEMALLOC=30, it made this run ~5 times slower).
TRACEMALLOC_CONFTEST = """\
import tracemalloc


def pytest_collection_finish(session):
    tracemalloc.start(30)
"""


def lifespan_run(source: str, *, traced: bool = False, quiet: bool = True) -> Run:
    """Exercise 08.2's check: the shop, with `source` as its lifespan, under LIFESPAN_SUITE, in
    a new process where leaks are failures; `traced`: with tracemalloc (about 2 s slower)."""
    conftest = LEAK_CONFTEST + ("\n\n" + TRACEMALLOC_CONFTEST if traced else "")
    return run_in_a_terminal(
        {
            "pytest.ini": LEAK_INI,
            "conftest.py": conftest,
            "lifespan_under_test.py": _LIFESPAN_IMPORTS + "\n\n" + textwrap.dedent(source),
            "test_lifespan.py": LIFESPAN_SUITE,
        },
        quiet=quiet,
    )


def source_of(function) -> str:
    """The source of a function defined in a notebook cell, decorators included."""
    return inspect.getsource(inspect.unwrap(function))


# --- migration -----------------------------------------------------------------------------------

_OLD_SUITE = {
    "pytest.ini": """\
        [pytest]
        asyncio_mode = auto
        """,
    "conftest.py": '''\
        import asyncio
        import os

        import pytest
        from sqlalchemy.ext.asyncio import create_async_engine


        @pytest.fixture(scope="session")
        def event_loop():
            """One loop for the whole run (the pytest-asyncio 0.21 recipe)."""
            loop = asyncio.new_event_loop()
            yield loop
            loop.close()


        @pytest.fixture(scope="session")
        async def engine():
            engine = create_async_engine(os.environ["DATABASE_URL"])
            yield engine
            await engine.dispose()


        @pytest.fixture
        async def connection(engine):
            async with engine.connect() as connection:
                yield connection
                await connection.rollback()
        ''',
    "test_orders.py": """\
        import pytest
        from sqlalchemy import text

        from loop_witness import note

        pytestmark = pytest.mark.asyncio(scope="session")


        async def test_the_server_answers(connection):
            note("test_the_server_answers")
            assert await connection.scalar(text("SELECT 1")) == 1


        async def test_a_temporary_table_starts_empty(connection):
            note("test_a_temporary_table_starts_empty")
            await connection.execute(text("CREATE TEMPORARY TABLE orders (id int)"))
            assert await connection.scalar(text("SELECT count(*) FROM orders")) == 0


        async def test_the_engine_is_shared(engine):
            note("test_the_engine_is_shared")
            async with engine.connect() as connection:
                assert await connection.scalar(text("SELECT 2")) == 2
        """,
    # Not part of the old suite: it records which loop each test ran on (`-p loop_witness`).
    "loop_witness.py": '''\
        """Which loop each test ran on (course.lessons.LoopBook), and how many engines were
        created, printed at the end of the run."""
        import sqlalchemy.ext.asyncio

        from course.lessons import LoopBook

        book = LoopBook()
        note = book.note
        engines = []
        create_async_engine = sqlalchemy.ext.asyncio.create_async_engine


        def counted_create_async_engine(*args, **kwargs):
            engines.append("created")
            return create_async_engine(*args, **kwargs)


        # loaded with -p, before any conftest imports the function
        sqlalchemy.ext.asyncio.create_async_engine = counted_create_async_engine


        def pytest_terminal_summary(terminalreporter):
            terminalreporter.write_sep("-", "loops")
            book.show()
            terminalreporter.write_line(f"engines created: {len(engines)}")
        ''',
}

OLD_SUITE = {name: textwrap.dedent(text) for name, text in _OLD_SUITE.items()}

MIGRATION_TESTS = {
    name: text.replace('\npytestmark = pytest.mark.asyncio(scope="session")\n', "")
    for name, text in OLD_SUITE.items()
    if name not in ("pytest.ini", "conftest.py")
}
"""Exercise 08.3's tests: the old suite's, unmarked (auto mode marks them)."""


def migration_run(conftest: str, ini: str, *, quiet: bool = True) -> Run:
    """Exercise 08.3's check: the old tests with this conftest.py and pytest.ini, warnings as
    errors, each test's loop noted."""
    files = {**MIGRATION_TESTS, "conftest.py": conftest, "pytest.ini": ini}
    return run_in_a_terminal(files, "-W", "error", "-p", "loop_witness", quiet=quiet)


def engines_created(run: Run) -> int | None:
    """How many engines the loop witness saw created (None: it did not report)."""
    found = re.findall(r"(?m)^engines created: (\d+)$", run.output)
    return int(found[-1]) if found else None


def defines_fixture(source: str, name: str) -> bool:
    """Whether the module source defines a function called `name` (an `event_loop` fixture)."""
    tree = ast.parse(textwrap.dedent(source))
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    return any(isinstance(node, functions) and node.name == name for node in ast.walk(tree))


def loops_used(run: Run) -> str:
    """The last line of the loop witness: 'N loop(s), all closed after the run: ...'."""
    lines = [line for line in run.output.splitlines() if " loop(s), all closed" in line]
    return lines[-1] if lines else "no loop noted (did the tests run?)"


def allocated_at(run: Run, filename: str) -> list[str]:
    """The frames of tracemalloc's "Object allocated at" tracebacks that are in `filename`, each
    with its line of code (the library frames around them hold paths of this machine)."""
    lines = [line.lstrip(" |") for line in run.output.splitlines()]
    found = []
    for number, line in enumerate(lines[:-1]):
        frame = re.match(r'File "[^"]*?([^"/]+)", line (\d+)', line)
        if frame and frame[1] == filename:
            found.append((int(frame[2]), lines[number + 1].strip()))
    return [f"{filename}, line {line}: {code}" for line, code in sorted(set(found))]


def brief(run: Run) -> None:
    """What a run ended with: its summary, each test's first error, the deprecation warnings
    it printed (once each) and, when loops were noted, the loop witness's last line."""
    print(run.summary or "no tests ran")
    errors = [f"{test.split('::')[-1]}: {trim(error)[:160]}" for test, error in run.errors.items()]
    warned = [line.strip() for line in run.output.splitlines() if "DeprecationWarning: " in line]
    warned = [line[line.index("PytestDeprecationWarning") :][:160] for line in warned]
    warned = [
        line
        for line in warned
        if not line.endswith("...") and not any(line[:60] in error for error in errors)
    ]
    for line in dict.fromkeys(errors + warned):
        print("  " + line)
    if re.search(r"^[1-9]\d* loop\(s\)", loops_used(run)):
        print("  " + loops_used(run))


# --- a tiny HTTP server -------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def tiny_http_server():
    """An HTTP/1.1 server on 127.0.0.1 that answers every request with 200 "ok" and keeps each
    connection open until the client closes it. Yields (url, connections): `connections` is a
    list with one entry per TCP connection accepted."""
    connections, writers = [], []

    async def answer(reader, writer):
        connections.append("accepted")
        writers.append(writer)
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/", connections
    finally:
        server.close()
        for writer in writers:  # Python 3.12+ waits for open connections in wait_closed
            writer.transport.abort()
        await server.wait_closed()


# --- the checks of exercises 08.2 and 08.3 ------------------------------------------------------


def _failures(run: Run) -> list[str]:
    problems = [f"{test.split('::')[-1]}: {error}" for test, error in run.errors.items()]
    if not run.outcomes:
        problems.append(f"no test ran: {trim(run.output.strip())[-400:]}")
    return problems


def lifespan_problems(source: str) -> list[str]:
    """Exercise 08.2's check: what fails when the shop runs with this lifespan source."""
    stub = re.search(r"NotImplementedError\(\"(Exercise [^\"]*)", source)
    if stub:  # without its yield the stub is no lifespan at all: say what is wrong
        return [f"NotImplementedError: {stub[1]}"]
    return _failures(lifespan_run(source))


def migration_problems(conftest: str, ini: str) -> list[str]:
    """Exercise 08.3's check: what is wrong with this conftest.py and pytest.ini for the old
    tests under pytest-asyncio 1.x."""
    problems = []
    if defines_fixture(conftest, "event_loop"):
        problems.append(
            "the conftest still defines event_loop: pytest-asyncio 1.x ignores it; choose the "
            "loop with loop scopes instead, and delete it"
        )
    run = migration_run(conftest, ini)
    problems += _failures(run)
    if not problems and run.summary != "3 passed":
        problems.append(f"the run ended with {run.summary!r}, not '3 passed'")
    if not problems and engines_created(run) != 1:
        problems.append(f"{engines_created(run)} engines were created, not one for the session")
    if not problems and not loops_used(run).startswith("1 loop(s)"):
        problems.append(f"the tests ran on more than one loop: {loops_used(run)}")
    return problems
