"""What a suite tells the kit: the `Testkit` settings, checked as soon as they are written."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI
from sqlalchemy import MetaData


@dataclass(frozen=True)
class Alembic:
    """Build the schema with `alembic upgrade head` instead of `MetaData.create_all`.

    `config_path` is the alembic.ini, relative to the conftest.py that defines `testkit`.
    The kit hands the worker's database URL to Alembic as the `sqlalchemy.url` option, which
    is where `alembic init -t async` makes env.py read it.
    """

    config_path: str | Path


@dataclass(frozen=True)
class Testkit:
    """A suite's settings: write one as `testkit = Testkit(...)` in the tests' root conftest.py
    (the package docstring describes each)."""

    app: FastAPI | Callable[[], FastAPI]
    dependency: Callable[..., Any] | None = None
    provides: Literal["session", "sessionmaker"] = "session"
    schema: MetaData | Alembic | None = None
    sessionmakers: Sequence[str] = ()
    runner: Literal["asyncio", "anyio"] = "asyncio"
    loop_scope: Literal["session", "function"] | None = None
    settings_caches: Sequence[Callable[..., Any]] = field(default_factory=tuple)
    database_url: str = "TEST_DATABASE_URL"

    def __post_init__(self) -> None:
        _one_of("provides", self.provides, ("session", "sessionmaker"))
        _one_of("runner", self.runner, ("asyncio", "anyio"))
        if self.loop_scope is not None:
            _one_of("loop_scope", self.loop_scope, ("session", "function"))
        if not isinstance(self.schema, MetaData | Alembic | None):
            raise TypeError(
                "Testkit(schema=...) takes your models' MetaData (Base.metadata) "
                f'or Alembic("path/to/alembic.ini"), not {self.schema!r}'
            )
        if isinstance(self.sessionmakers, str):
            raise TypeError('Testkit(sessionmakers=...) takes a list: ["myapp.db.SessionLocal"]')
        for function in self.settings_caches:
            if not hasattr(function, "cache_clear"):
                raise TypeError(
                    f"Testkit(settings_caches=...): {function!r} has no cache_clear(); "
                    "list the functions decorated with functools.lru_cache or cache"
                )


def _one_of(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        choices = " or ".join(repr(choice) for choice in allowed)
        raise ValueError(f"Testkit({name}={value!r}): {name} must be {choices}")
