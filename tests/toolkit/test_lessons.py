"""The lesson helpers in course.lessons, as lessons use them."""

import ast
import asyncio
import json
import os

import asyncpg
import pytest
from sqlalchemy import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from course import db, sql
from course.lessons import first_line, rows_seen_elsewhere, run_in_a_terminal, trim
from course.notebook import writetest
from course.paths import PROJECT_ROOT
from shop.models import Product, create_schema


def test_trim_blanks_what_differs_between_runs_and_machines():
    printed = (
        "Task <Task pending name='Task-42' coro=<f() running at /home/ada/x.py:12> "
        "cb=[_run_until_complete_cb() at /usr/lib/python3.11/asyncio/base_events.py:181]>\n"
        "<asyncpg.connection.Connection object at 0x7f9bb15d4400>\n"
        "/home/ada/.venv/lib/python3.11/site-packages/sqlalchemy/pool/base.py:389: Warning\n"
        "ERROR    sqlalchemy.pool.impl.AsyncAdaptedQueuePool:base.py:389 Exception closing\n"
    )
    assert trim(printed) == (
        "Task <Task pending name='Task-…' coro=<f() running> cb=[…]>\n"
        "<asyncpg.connection.Connection object>\n"
        "Warning\n"
        "ERROR sqlalchemy.pool.impl.AsyncAdaptedQueuePool Exception closing\n"
    )


def test_first_line_prefers_the_drivers_message():
    class Orig(Exception):
        pass

    wrapped = DBAPIError("SELECT 1", {}, Orig('database "x" is being accessed\nDETAIL: 1 other'))
    assert first_line(wrapped) == 'DBAPIError: database "x" is being accessed'
    assert first_line(ValueError("no\nmore")) == "ValueError: no"
    assert first_line(KeyError()) == "KeyError"


def test_writetest_writes_the_cell_quietly(tmp_path, capsys):
    writetest(f" {tmp_path}/new/test_it.py\n", "def test_it():\n    pass\n")
    assert (tmp_path / "new" / "test_it.py").read_text() == "def test_it():\n    pass\n"
    assert capsys.readouterr() == ("", "")


def test_run_in_a_terminal_prints_a_terminals_output_without_this_machine(capsys):
    run = run_in_a_terminal(
        {"test_two.py": """
            def test_passes():
                pass

            def test_fails():
                assert 1 == 2
        """},
        "-n", "2",
    )  # fmt: skip
    assert run.outcomes == {
        "test_two.py::test_passes": "passed",
        "test_two.py::test_fails": "failed",
    }
    assert (run.folder / "test_two.py").exists()
    printed = capsys.readouterr().out
    assert printed.count("bringing up nodes...") == 1
    assert "E       assert 1 == 2" in printed
    assert "-- Python" not in printed and os.sep + "site-packages" not in printed
    assert "1 failed, 1 passed in" in printed.splitlines()[-1]


def test_brief_errors_reports_error_lines_only():
    run = run_in_a_terminal(
        {
            "conftest.py": """
                from course.lessons import brief_errors

                def pytest_configure(config):
                    config.pluginmanager.register(brief_errors)
            """,
            "test_fails.py": """
                def helper():
                    raise LookupError("order 7 does not exist")

                def test_fails():
                    helper()
            """,
        },
        quiet=True,
    )
    failures = run.output.split("FAILURES", 1)[1].split("short test summary")[0]
    lines = [line for line in failures.splitlines() if line.strip("= ") and line[0] != "_"]
    assert lines == ["LookupError: order 7 does not exist"]


def test_rows_seen_elsewhere_counts_what_another_connection_sees(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}"

    async def scenario():
        engine = create_async_engine(url)
        await create_schema(engine)
        empty = await rows_seen_elsewhere(url)
        async with AsyncSession(engine) as session:
            session.add(Product(sku="WID-1", name="Widget", price_cents=250))
            await session.flush()
            uncommitted = await rows_seen_elsewhere(url)
            await session.commit()
        committed = await rows_seen_elsewhere(url)
        await engine.dispose()
        return empty, uncommitted, committed

    assert asyncio.run(scenario()) == ({}, {}, {"products": 1})


@pytest.fixture
def lesson_database(monkeypatch):
    """A database of this process on the course's PostgreSQL, as DATABASE_URL, with the shop's
    tables: what `course.setup(create_databases=True)` gives a kernel (module 05's)."""
    url = db.database_for_this_process("lessontests", create_databases=True)
    monkeypatch.setenv("DATABASE_URL", url)

    async def create():
        engine = create_async_engine(url)
        await create_schema(engine)
        await engine.dispose()

    asyncio.run(create())
    return url


def on_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def test_admin_creates_databases_closed_to_other_roles_and_drops_them(lesson_database):
    from course.lessons import admin

    name = f"{db.database_name('admintest')}_x"
    count = f"SELECT count(*) FROM pg_database WHERE datname = '{name}'"
    other_kernel = f"course_otherkernel_{os.getpid()}"
    other_role = db.provision(other_kernel)
    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
        assert sql.run(lesson_database, count) == [[(1,)]]
        # Its owner, this kernel's role, connects to it; another kernel's role may not.
        assert sql.run(on_database(lesson_database, name), "SELECT 1") == [[(1,)]]
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied for"):
            sql.run(on_database(other_role, name), "SELECT 1")
        asyncio.run(admin(f'DROP DATABASE "{name}"'))
        assert sql.run(lesson_database, count) == [[(0,)]]
    finally:
        db.release(other_kernel)


def test_the_shop_fixtures_roll_back_what_each_test_wrote(lesson_database):
    tests = """
        import pytest
        from course.lessons.shop_fixtures import *


        @pytest.mark.asyncio(loop_scope="module")
        @pytest.mark.parametrize("attempt", [1, 2])
        async def test_an_order_in_dollars(shop_client, rates_api, attempt):
            order = await place_widget_order(shop_client)
            total = await shop_client.get(f"/orders/{order['id']}/total?currency=USD")
            assert total.status_code == 200, total.text
            assert [r.url.params["base"] for r in rates_api.requests] == ["EUR"]
            products = await shop_client.get("/products")
            assert len(products.json()) == 1  # the first attempt's widget is gone
    """
    run = run_in_a_terminal({"test_shop.py": tests}, quiet=True)
    assert run.summary == "2 passed", run.output
    assert asyncio.run(rows_seen_elsewhere(lesson_database)) == {}


# The recipes a lesson writes out in full, and the lesson helper that later cells import: a
# module of course/lessons, or files of a package (paths from the repository's root).
TAUGHT_IN_FULL = {
    "02_transactional_isolation": (
        "shop_fixtures",
        ["shop_connection", "shop_sessionmaker", "shop_session"],
    ),
    "07_concurrency_and_isolation": (
        "concurrency",
        [
            "empty_the_shop",
            "committing_sessionmaker",
            "backend_pid",
            "finished_or_blocked",
            "hold_and_race",
            "sqlstate",
            "run_transaction",
        ],
    ),
    "09_capstone": (
        ("fastapi_testkit/database.py", "fastapi_testkit/fixtures.py"),
        [
            "worker_database_url",
            "_as_administrator",
            "create_database",
            "drop_database",
            "in_a_thread",
            "run_in_a_thread",
            "_create_all",
            "_upgrade_head",
            "transaction_per_test",
            "bound_to",
            "database_override",
            "overridden",
            "lifespan_client",
            "replace_sessionmakers",
            "cleared",
        ],
    ),
}


def _code(definition: ast.AST) -> str:
    """A definition as code, without its docstrings and annotations (a lesson may say less)."""
    for node in ast.walk(definition):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            node.returns = None
            if ast.get_docstring(node) is not None:
                node.body = node.body[1:] or [ast.Pass()]
        elif isinstance(node, ast.arg):
            node.annotation = None
    return ast.unparse(definition)


def _definitions(source: str) -> dict[str, ast.AST]:
    tree = ast.parse(source)
    return {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }


@pytest.mark.parametrize("lesson", TAUGHT_IN_FULL)
def test_a_recipe_written_out_in_a_lesson_is_the_one_later_cells_import(lesson):
    helper, names = TAUGHT_IN_FULL[lesson]
    paths = helper if isinstance(helper, tuple) else [f"course/lessons/{helper}.py"]
    imported = {}
    for path in paths:
        imported.update(_definitions((PROJECT_ROOT / path).read_text()))
    cells = json.loads((PROJECT_ROOT / "notebooks" / f"{lesson}.ipynb").read_text())["cells"]
    written = {}
    for cell in cells:
        if cell["cell_type"] == "code":
            lines = "".join(cell["source"]).splitlines()
            code = "\n".join(line for line in lines if not line.startswith("%"))
            written.update(_definitions(code))
    for name in names:
        assert _code(written[name]) == _code(imported[name]), f"{lesson} and {helper}.{name} differ"
