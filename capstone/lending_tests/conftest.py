"""The lending app's suite on fastapi_testkit: anyio marks and a loop per test, the schema from
the Alembic migrations, a session dependency, and the module-level SessionLocal that the
background task uses."""

from pathlib import Path

import lending
from fastapi_testkit import Alembic, Testkit
from lending.app import app
from lending.db import get_session
from lending.settings import get_settings

pytest_plugins = ["fastapi_testkit"]

testkit = Testkit(
    app=app,
    dependency=get_session,
    provides="session",
    sessionmakers=["lending.db.SessionLocal"],
    schema=Alembic(Path(lending.__file__).parent / "alembic.ini"),
    runner="anyio",
    loop_scope="function",
    settings_caches=[get_settings],
)
