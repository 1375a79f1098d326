import asyncio
from collections.abc import Iterator

import nbformat
import pytest
from sample_notebooks import solution_notebook
from sqlalchemy.ext.asyncio import create_async_engine

from course.db import database_for_this_process
from shop.models import create_schema


@pytest.fixture
def course_root(tmp_path):
    """A throwaway course tree holding module 99 as a solution notebook."""
    for folder in ("notebooks", "solutions", "exercises"):
        (tmp_path / folder).mkdir()
    nbformat.write(solution_notebook(), tmp_path / "solutions" / "99_sample.ipynb")
    return tmp_path


@pytest.fixture(scope="module")
def kernel_like_database() -> Iterator[str]:
    """A database of this process with the shop's tables, its URL in DATABASE_URL: what
    `course.setup()` gives a notebook kernel (made afresh for each test module)."""
    url = database_for_this_process("toolkit")

    async def create_tables():
        engine = create_async_engine(url)
        await create_schema(engine)
        await engine.dispose()

    asyncio.run(create_tables())
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("DATABASE_URL", url)
        yield url
