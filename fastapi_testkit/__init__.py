"""fastapi_testkit: a PostgreSQL-backed test setup for async FastAPI + SQLAlchemy 2 apps.

Copy this folder into your project and write, in your tests' root conftest.py:

    from fastapi_testkit import Testkit
    from myapp.main import app                 # an app object, or a zero-argument factory
    from myapp.db import get_session
    from myapp.models import Base

    pytest_plugins = ["fastapi_testkit"]
    testkit = Testkit(
        app=app,
        dependency=get_session, provides="session",   # or provides="sessionmaker"
        schema=Base.metadata,                          # or schema=Alembic("alembic.ini")
    )

and set TEST_DATABASE_URL to a PostgreSQL server where that user may CREATE DATABASE, e.g.
postgresql+asyncpg://app:secret@localhost:5432/app_test. Run pytest serially or with
pytest-xdist (-n auto): each worker makes its own database `app_test_gw0`, ... (`app_test_main`
when serial), builds the schema once, and drops it at the end.

Fixtures: `database_url`, `engine`, `connection` (one per test, in a transaction rolled back
at the end), `session` and `sessionmaker` (on that connection: the app's commits release
savepoints), `app` (the dependency overridden; overrides put back after the test) and
`client` (an httpx.AsyncClient over the app, its lifespan running).

Other settings of Testkit, all optional:
- sessionmakers=["myapp.db.SessionLocal"]: module-level sessionmakers (used by background
  tasks, say) replaced during each test by one on the test's connection.
- settings_caches=[get_settings]: lru_cache'd functions cleared before and after each test,
  so monkeypatch.setenv() takes effect and leaks into no other test.
- runner="anyio": for suites that mark tests @pytest.mark.anyio instead of using
  pytest-asyncio (asyncio backend); pytest-asyncio, if installed, must stay in strict mode
  (its default), or it would run the async fixtures too.
- loop_scope="session" or "function": the loop the fixtures run on. It must be the tests'
  loop; by default it is the ini's asyncio_default_test_loop_scope (anyio: "session").
- database_url="TEST_DATABASE_URL": the environment variable to read the server URL from.

Known mistakes, explained at the end of a failing run: pytest -p fastapi_testkit.hints.

PYTEST_DONT_REWRITE: conftest.py imports this package before pytest loads it as a plugin, and
pytest would warn that it cannot rewrite its asserts (it has none).
"""

from fastapi_testkit.config import Alembic, Testkit
from fastapi_testkit.plugin import pytest_configure

__all__ = ["Alembic", "Testkit", "pytest_configure"]
