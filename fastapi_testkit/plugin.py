"""The pytest plugin: finds the suite's `testkit`, checks it, and registers its fixtures."""

import os
from pathlib import Path

import pytest

from fastapi_testkit.config import Testkit
from fastapi_testkit.fixtures import make_fixtures

HOW_TO_CONFIGURE = """\
write in your tests' root conftest.py:

    from fastapi_testkit import Testkit
    pytest_plugins = ["fastapi_testkit"]
    testkit = Testkit(app=app, dependency=get_session, provides="session", schema=Base.metadata)
"""


def _find_testkit(config: pytest.Config) -> tuple[Testkit, Path]:
    conftests = [
        plugin
        for plugin in config.pluginmanager.get_plugins()
        if Path(getattr(plugin, "__file__", None) or "").name == "conftest.py"
    ]
    found = [conftest for conftest in conftests if hasattr(conftest, "testkit")]
    if not found:
        raise pytest.UsageError(
            "fastapi_testkit found no `testkit` in a conftest.py: " + HOW_TO_CONFIGURE
        )
    if len(found) > 1:
        places = ", ".join(module.__file__ for module in found)
        raise pytest.UsageError(
            f"fastapi_testkit found several `testkit` objects: {places}; keep one"
        )
    conftest = found[0]
    if not isinstance(conftest.testkit, Testkit):
        raise pytest.UsageError(
            f"`testkit` in {conftest.__file__} is a {type(conftest.testkit).__name__}, "
            "not a fastapi_testkit.Testkit: " + HOW_TO_CONFIGURE
        )
    return conftest.testkit, Path(conftest.__file__).parent


def _loop_scope(kit: Testkit, config: pytest.Config) -> str:
    if kit.loop_scope is not None:
        return kit.loop_scope
    if kit.runner == "anyio":
        return "session"
    # The fixtures' loop must be the tests' loop: an asyncpg connection opened on one loop
    # and used on another fails ("attached to a different loop").
    suite_scope = config.getini("asyncio_default_test_loop_scope") or "function"
    if suite_scope not in ("session", "function"):
        raise pytest.UsageError(
            f"asyncio_default_test_loop_scope = {suite_scope}: fastapi_testkit runs on a "
            'session loop or a loop per test; set Testkit(loop_scope="session") or "function"'
        )
    return suite_scope


def pytest_configure(config: pytest.Config) -> None:
    kit, base = _find_testkit(config)
    server_url = os.environ.get(kit.database_url)
    if not server_url:
        raise pytest.UsageError(
            f"fastapi_testkit needs a PostgreSQL server: set {kit.database_url} to a URL like "
            "postgresql+asyncpg://user:password@localhost:5432/app_test whose user may "
            "CREATE DATABASE (each pytest worker makes and drops a database of its own)"
        )
    fixtures = make_fixtures(kit, server_url, base, _loop_scope(kit, config))
    config.pluginmanager.register(fixtures, "fastapi_testkit.fixtures")
