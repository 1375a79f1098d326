"""fastapi_testkit, the take-home setup: each of its settings on a minimal app written here (so
each is proven on its own), its configuration errors, and both capstone suites."""

import ast
import asyncio
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import make_url

from course import hints as course_hints
from course.db import database_for_this_process
from course.paths import PROJECT_ROOT
from course.pytest_run import Run, run_pytest
from fastapi_testkit import hints as testkit_hints

ANYIO = ("-p", "anyio.pytest_plugin")

NOTES_APP = '''
"""A minimal app: module-level engine and sessionmaker, an lru_cache'd setting, a lifespan,
and a background task that opens a session of its own."""

import os
from contextlib import asynccontextmanager
from functools import lru_cache

from fastapi import BackgroundTasks, Depends, FastAPI, HTTPException
from sqlalchemy import String
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(50), unique=True)


class Audit(Base):
    __tablename__ = "audits"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(50))


# Nothing listens there: a test that reaches it has not been isolated.
engine = create_async_engine("postgresql+asyncpg://nobody:nothing@127.0.0.1:9/nowhere")
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)


async def get_session():
    async with SessionLocal() as session:
        yield session


async def get_sessionmaker():
    return SessionLocal


@lru_cache
def get_greeting() -> str:
    return os.environ.get("GREETING", "hello")


async def audit(text: str) -> None:
    async with SessionLocal() as session:
        session.add(Audit(text=text))
        await session.commit()


@asynccontextmanager
async def lifespan(app):
    app.state.started = True
    yield
    app.state.started = False


app = FastAPI(lifespan=lifespan)


@app.post("/notes", status_code=201)
async def add_note(text: str, background: BackgroundTasks, session=Depends(get_session)):
    session.add(Note(text=text))
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise HTTPException(409, "that note exists") from None
    background.add_task(audit, text)
    return {"text": text}


@app.post("/sessionmaker-notes", status_code=201)
async def add_note_by_sessionmaker(text: str, sessionmaker=Depends(get_sessionmaker)):
    async with sessionmaker() as session:
        session.add(Note(text=text))
        await session.commit()
    return {"text": text}


async def get_signature() -> str:
    return "notes"


@app.get("/greeting")
async def greeting(signature=Depends(get_signature)):
    return {"greeting": get_greeting(), "signature": signature, "started": app.state.started}
'''

SESSION_KIT = """
    dependency=get_session, provides="session", schema=Base.metadata,
    sessionmakers=["notes_app.SessionLocal"], settings_caches=[get_greeting],
"""

# The same test twice: the unique text fails the second time unless the first was rolled back.
COMMITS_ARE_ROLLED_BACK = """
@pytest.mark.parametrize("attempt", [1, 2])
async def test_what_the_app_and_its_background_task_commit_is_rolled_back(client, session, attempt):
    assert (await client.post("/notes", params={"text": "same"})).status_code == 201
    assert await session.scalar(select(Note.text)) == "same"
    assert await session.scalar(select(Audit.text)) == "same"
"""

OVERRIDES_ARE_PUT_BACK = """
async def test_a_test_overrides_a_dependency(app, client):
    app.dependency_overrides[get_signature] = lambda: "overridden"
    assert (await client.get("/greeting")).json()["signature"] == "overridden"


async def test_the_next_test_sees_the_apps_own_and_its_lifespan_ran(client):
    response = await client.get("/greeting")
    assert response.json() == {"greeting": "hello", "signature": "notes", "started": True}
"""

LOOPS = """
LOOPS = []


@pytest.mark.parametrize("attempt", [1, 2, 3])
async def test_on_a_loop(session, attempt):
    LOOPS.append(asyncio.get_running_loop())
    assert await session.scalar(select(func.count()).select_from(Note)) == 0


def test_the_loops():
    assert len(set(LOOPS)) == EXPECTED_LOOPS
"""


@pytest.fixture(scope="module")
def server_url() -> str:
    """A database whose role may create databases: what TEST_DATABASE_URL names."""
    return database_for_this_process("testkit", create_databases=True)


@pytest.fixture
def environment(server_url, monkeypatch):
    monkeypatch.setenv("TEST_DATABASE_URL", server_url)


def project(
    folder: Path,
    kit: str,
    tests: str,
    *,
    mark: str = "pytest.mark.asyncio",
    ini: str = "asyncio_mode = strict\nasyncio_default_test_loop_scope = session",
) -> Path:
    """A project with notes_app.py, a conftest.py configuring `Testkit(app=app, <kit>)`, and
    test_notes.py holding `tests` (every async test marked with `mark`)."""
    conftest = textwrap.dedent("""
        from fastapi_testkit import Alembic, Testkit
        from notes_app import Base, app, get_greeting, get_session, get_sessionmaker

        pytest_plugins = ["fastapi_testkit"]
        testkit = Testkit(app=app, KIT)
    """).replace("KIT", textwrap.dedent(kit).strip())
    test_header = textwrap.dedent(f"""
        import asyncio

        import pytest
        from sqlalchemy import func, select

        from notes_app import Audit, Note, get_greeting, get_signature

        pytestmark = {mark}
    """)
    files = {
        "notes_app.py": NOTES_APP,
        "pytest.ini": f"[pytest]\nasyncio_default_fixture_loop_scope = function\n{ini}\n",
        "conftest.py": conftest,
        "test_notes.py": test_header + textwrap.dedent(tests),
    }
    for name, text in files.items():
        (folder / name).write_text(text.lstrip())
    return folder


def passed(run: Run, count: int) -> None:
    assert run.returncode == 0, run.output
    assert list(run.outcomes.values()) == ["passed"] * count, run.output


def databases_left(server_url: str) -> list[str]:
    async def names():
        url = make_url(server_url)
        connection = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(False))
        try:
            rows = await connection.fetch(
                "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", url.database + "_"
            )
        finally:
            await connection.close()
        return [row["datname"] for row in rows]

    return asyncio.run(names())


# --- the settings, each on its own ---------------------------------------------------------------


def test_a_session_dependency_commits_and_background_tasks_are_rolled_back(tmp_path, environment):
    # The app's rollback must undo its own work only (create_savepoint), not the test's.
    own_rollback = """
        async def test_the_apps_rollback_leaves_the_tests_rows(client, session):
            assert (await client.post("/notes", params={"text": "kept"})).status_code == 201
            assert (await client.post("/notes", params={"text": "kept"})).status_code == 409
            assert await session.scalar(select(func.count()).select_from(Note)) == 1
    """
    tests = COMMITS_ARE_ROLLED_BACK + textwrap.dedent(own_rollback)
    passed(run_pytest(project(tmp_path, SESSION_KIT, tests)), 3)


def test_a_sessionmaker_dependency_is_rolled_back(tmp_path, environment):
    tests = """
        @pytest.mark.parametrize("attempt", [1, 2])
        async def test_committed_through_the_sessionmaker(client, session, attempt):
            response = await client.post("/sessionmaker-notes", params={"text": "x"})
            assert response.status_code == 201
            assert await session.scalar(select(Note.text)) == "x"
    """
    kit = 'dependency=get_sessionmaker, provides="sessionmaker", schema=Base.metadata'
    passed(run_pytest(project(tmp_path, kit, textwrap.dedent(tests))), 2)


def test_without_the_module_level_sessionmaker_the_background_task_escapes(tmp_path, environment):
    kit = "dependency=get_session, schema=Base.metadata"
    run = run_pytest(project(tmp_path, kit, COMMITS_ARE_ROLLED_BACK))
    # The task reached the app's own engine: here nothing listens, in a real app it commits.
    assert run.outcomes and set(run.outcomes.values()) == {"failed"}, run.output
    assert "Connect call failed" in run.output or "ConnectionRefusedError" in run.output


def test_lru_cached_settings_are_cleared_before_and_after_each_test(tmp_path, environment):
    # Cached at import, before any test: only a clearing before the test lets it see its setenv.
    changed = """
        CACHED_AT_IMPORT = get_greeting()


        async def test_greeting_changed(client, monkeypatch):
            monkeypatch.setenv("GREETING", "hi")
            assert (await client.get("/greeting")).json()["greeting"] == "hi"
    """
    folder = project(tmp_path, SESSION_KIT, changed)
    # Read by a module-scoped fixture, between two tests: only a clearing after the test above
    # keeps its "hi" out.
    (folder / "test_other_module.py").write_text(
        textwrap.dedent("""
        import pytest

        from notes_app import get_greeting


        @pytest.fixture(scope="module")
        def greeting_for_this_module():
            return get_greeting()


        def test_greeting_default(greeting_for_this_module):
            assert greeting_for_this_module == "hello"
    """)
    )
    passed(run_pytest(folder), 2)


def test_a_tests_own_overrides_are_put_back_and_the_lifespan_runs(tmp_path, environment):
    passed(run_pytest(project(tmp_path, SESSION_KIT, OVERRIDES_ARE_PUT_BACK)), 2)


def test_the_schema_from_alembic_migrations(tmp_path, environment):
    migrations = tmp_path / "migrations" / "versions"
    migrations.mkdir(parents=True)
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/migrations\n")
    (tmp_path / "migrations" / "env.py").write_text(
        textwrap.dedent("""
        import asyncio

        from alembic import context
        from sqlalchemy.ext.asyncio import create_async_engine


        def run(connection):
            context.configure(connection=connection)
            with context.begin_transaction():
                context.run_migrations()


        async def main():
            engine = create_async_engine(context.config.get_main_option("sqlalchemy.url"))
            async with engine.connect() as connection:
                await connection.run_sync(run)
            await engine.dispose()


        asyncio.run(main())
    """)
    )
    (migrations / "0001_notes.py").write_text(
        textwrap.dedent("""
        import sqlalchemy as sa
        from alembic import op

        revision = "0001"
        down_revision = None


        def upgrade():
            op.create_table("notes", sa.Column("id", sa.Integer, primary_key=True),
                            sa.Column("text", sa.String(50), unique=True))
            op.create_table("audits", sa.Column("id", sa.Integer, primary_key=True),
                            sa.Column("text", sa.String(50)))
    """)
    )
    tests = COMMITS_ARE_ROLLED_BACK + textwrap.dedent("""
        async def test_the_migrations_ran(session):
            version = await session.scalar(sa.text("SELECT version_num FROM alembic_version"))
            assert version == "0001"
    """)
    kit = SESSION_KIT.replace("Base.metadata", 'Alembic("alembic.ini")')
    folder = project(tmp_path, kit, tests)
    test_file = folder / "test_notes.py"
    test_file.write_text("import sqlalchemy as sa\n" + test_file.read_text())
    passed(run_pytest(folder), 3)


def test_asyncio_auto_mode_needs_no_marks(tmp_path, environment):
    folder = project(
        tmp_path,
        SESSION_KIT,
        COMMITS_ARE_ROLLED_BACK,
        mark="[]",
        ini="asyncio_mode = auto\nasyncio_default_test_loop_scope = session",
    )
    passed(run_pytest(folder), 2)


@pytest.mark.parametrize(("loop_scope", "loops"), [("session", 1), ("function", 3)])
def test_anyio_with_a_session_loop_or_a_loop_per_test(tmp_path, environment, loop_scope, loops):
    kit = f'{SESSION_KIT}runner="anyio", loop_scope="{loop_scope}",'
    tests = COMMITS_ARE_ROLLED_BACK + LOOPS.replace("EXPECTED_LOOPS", str(loops))
    passed(run_pytest(project(tmp_path, kit, tests, mark="pytest.mark.anyio"), *ANYIO), 6)


@pytest.mark.parametrize(("loop_scope", "loops"), [("session", 1), ("function", 3)])
def test_the_fixtures_follow_the_suites_loop_scope(tmp_path, environment, loop_scope, loops):
    tests = COMMITS_ARE_ROLLED_BACK + LOOPS.replace("EXPECTED_LOOPS", str(loops))
    folder = project(
        tmp_path,
        SESSION_KIT,
        tests,
        ini=f"asyncio_mode = strict\nasyncio_default_test_loop_scope = {loop_scope}",
    )
    passed(run_pytest(folder), 6)


# --- configuration errors ------------------------------------------------------------------------


def test_without_test_database_url_one_error_says_what_to_set(tmp_path, monkeypatch):
    monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
    run = run_pytest(project(tmp_path, SESSION_KIT, COMMITS_ARE_ROLLED_BACK))
    assert run.returncode == 4  # a usage error: no test ran
    assert "fastapi_testkit needs a PostgreSQL server: set TEST_DATABASE_URL" in run.output


def test_without_a_testkit_object_one_error_says_what_to_write(tmp_path, environment):
    folder = project(tmp_path, SESSION_KIT, COMMITS_ARE_ROLLED_BACK)
    conftest = folder / "conftest.py"
    conftest.write_text(conftest.read_text().replace("testkit = ", "kit = "))
    run = run_pytest(folder)
    assert run.returncode == 4
    assert "fastapi_testkit found no `testkit` in a conftest.py" in run.output
    assert "testkit = Testkit(app=app" in run.output


def test_a_testkit_of_the_wrong_type_is_refused(tmp_path, environment):
    folder = project(tmp_path, SESSION_KIT, COMMITS_ARE_ROLLED_BACK)
    (folder / "conftest.py").write_text(
        'pytest_plugins = ["fastapi_testkit"]\ntestkit = {"app": "notes_app:app"}\n'
    )
    run = run_pytest(folder)
    assert run.returncode == 4
    assert "is a dict, not a fastapi_testkit.Testkit" in run.output


def test_a_wrong_provides_is_refused(tmp_path, environment):
    run = run_pytest(project(tmp_path, 'dependency=get_session, provides="engine"', ""))
    assert run.returncode != 0
    assert "Testkit(provides='engine'): provides must be 'session' or 'sessionmaker'" in run.output


# --- the package itself, and the capstone suites -------------------------------------------------


def test_the_package_imports_nothing_from_the_course():
    for path in (PROJECT_ROOT / "fastapi_testkit").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                assert module.split(".")[0] not in {"course", "shop", "lending"}, (path, module)


CAPSTONE_SUITES = sorted(path.name for path in (PROJECT_ROOT / "capstone").glob("*_tests"))


@pytest.mark.parametrize("suite", CAPSTONE_SUITES)
@pytest.mark.parametrize("args", [[], ["-n", "2", "--random-order"]], ids=["serial", "n2-random"])
def test_a_capstone_suite_passes_and_leaves_nothing_behind(suite, args, server_url, environment):
    # As a learner runs it: in its folder, every installed plugin loaded.
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    folder = PROJECT_ROOT / "capstone" / suite
    # Without the PYTEST_* variables of this run (an xdist worker's id, for one).
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout and "failed" not in done.stdout
    assert databases_left(server_url) == []


# --- hints at home -------------------------------------------------------------------------------


def test_at_home_a_known_mistake_gets_its_hint_and_the_lesson(tmp_path):
    (tmp_path / "test_mistake.py").write_text(
        textwrap.dedent("""
            import asyncio
            from unittest.mock import Mock


            async def send(mailer):
                await mailer.send("hello")


            def test_a_mock_awaited():
                asyncio.run(send(Mock()))
        """)
    )
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "fastapi_testkit.hints",
        "-p",
        "no:cacheprovider",
    ]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    hint = next(hint for hint in testkit_hints.HINTS if "not awaitable was awaited" in hint.text)
    assert f"Hint: {hint.text}\n" in done.stdout
    assert (
        "Explained in lesson 04, Mocking: AsyncMock, autospec, respx and fakes: "
        f"{testkit_hints.COURSE_REPOSITORY}/blob/main/notebooks/04_mocking.ipynb"
    ) in done.stdout


@pytest.mark.parametrize("hint", testkit_hints.HINTS, ids=lambda hint: hint.pattern[:30])
def test_each_general_hint_names_a_lesson_that_exists_and_that_its_text_cites(hint):
    notebook, title = testkit_hints.LESSONS[hint.lesson]
    text = (PROJECT_ROOT / "notebooks" / f"{notebook}.ipynb").read_text()
    assert f"# {hint.lesson:02d} · {title}" in text
    cited = re.findall(r"\b(0\d)\b", hint.text)  # "(module 04)", "(modules 02 and 03)"
    assert not cited or f"{hint.lesson:02d}" in cited


def test_the_notebooks_print_the_general_hints_without_the_lesson_line():
    assert all((hint.pattern, hint.text) in course_hints.HINTS for hint in testkit_hints.HINTS)
    assert course_hints.hints_for("RuntimeError: got Future attached to a different loop") == [
        testkit_hints.HINTS[0].text
    ]


# --- the README's snippet ------------------------------------------------------------------------

README_SECTION = "## Use the capstone setup in your own project"

MYAPP = {
    "myapp/__init__.py": "",
    "myapp/models.py": """
        from sqlalchemy import String
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


        class Base(DeclarativeBase):
            pass


        class Item(Base):
            __tablename__ = "items"
            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str] = mapped_column(String(50), unique=True)
    """,
    "myapp/db.py": """
        from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

        engine = create_async_engine("postgresql+asyncpg://app:secret@localhost/app")
        SessionLocal = async_sessionmaker(engine, expire_on_commit=False)


        async def get_session():
            async with SessionLocal() as session:
                yield session
    """,
    "myapp/main.py": """
        from fastapi import Depends, FastAPI

        from myapp.db import get_session
        from myapp.models import Item

        app = FastAPI()


        @app.post("/items", status_code=201)
        async def add_item(name: str, session=Depends(get_session)):
            session.add(Item(name=name))
            await session.commit()
            return {"name": name}
    """,
    "tests/test_items.py": """
        import pytest
        from sqlalchemy import select

        from myapp.models import Item


        @pytest.mark.asyncio
        @pytest.mark.parametrize("attempt", [1, 2])
        async def test_add_item(client, session, attempt):
            assert (await client.post("/items", params={"name": "pen"})).status_code == 201
            assert await session.scalar(select(Item.name)) == "pen"
    """,
}


def test_the_readme_snippet_configures_a_project_of_its_own(tmp_path, environment):
    section = (PROJECT_ROOT / "README.md").read_text().split(README_SECTION)[1].split("\n## ")[0]
    (snippet,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    for name, text in {**MYAPP, "tests/conftest.py": snippet}.items():
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    # Copied beside the app, as the README says.
    shutil.copytree(PROJECT_ROOT / "fastapi_testkit", tmp_path / "fastapi_testkit")
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    for args in ([], ["-n", "2"]):
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, "tests"]
        done = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "2 passed" in done.stdout
