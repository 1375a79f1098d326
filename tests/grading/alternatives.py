"""Correct solutions written differently from the references, one per exercise (a learner's own
way).

Each alternative takes another valid route than the reference in `solutions/`, so that a grader
which passes them compares behaviour (the check cells), not the text of the reference:

- 00.1 `client.request(...)` and `response.is_error`, raising `httpx.HTTPStatusError` itself
  instead of calling `raise_for_status()`; the id goes through `int(...)`.
- 00.2 an `AsyncSession` on the table object, `execute(...).scalar_one()`, the engine disposed
  of after the session closes (no try/finally, no bare connection).
- 01.1 the mark built with `MarkDecorator.with_args(...)` instead of calling the mark.
- 01.2 the fixture registered under `name="ex2_engine"` on a function of another name; the
  tables created on a plain connection committed by hand; dispose in a `finally`.
- 01.3 explicit `scope="function"`; the connection opened with `await engine.connect()`, not
  `async with`; rollback and close in a `finally`.
- 01.4 the dispose registered up front as a callback of an `AsyncExitStack` that wraps the yield.
"""

import copy
import importlib
from pathlib import Path

from course.build import exercise_from_solution, exercises_of

# --- 00_start_here ---------------------------------------------------------------------------

_CREATE_PRODUCT = '''\
async def create_product(client: httpx.AsyncClient, sku: str, name: str, price_cents: int) -> int:
    """Create a product through the API; return its id, or raise if the app refuses."""
    response = await client.request(
        "POST", "/products", json=dict(sku=sku, name=name, price_cents=price_cents)
    )
    if response.is_error:
        raise httpx.HTTPStatusError(
            f"the shop refused {sku!r}: {response.status_code} {response.text}",
            request=response.request,
            response=response,
        )
    created = response.json()
    return int(created["id"])
'''

_COUNT_ROWS = '''\
from sqlalchemy import func, select


async def count_rows(model: type[Base]) -> int:
    """How many rows the model's table holds in this kernel's database."""
    from sqlalchemy.ext.asyncio import AsyncSession

    engine = create_async_engine(os.environ["DATABASE_URL"])
    async with AsyncSession(engine) as session:
        result = await session.execute(select(func.count()).select_from(model.__table__))
        rows = result.scalar_one()
    await engine.dispose()  # its connections belong to this test's loop: close them here
    return rows
'''

# --- 01_event_loops --------------------------------------------------------------------------

_MODULE_LOOP = """\
# module_loop = the asyncio mark for the module loop
asyncio_mark = pytest.mark.asyncio
module_loop = asyncio_mark.with_args(loop_scope="module")
"""

_EX2_ENGINE = """\
# ex2_engine: module-scoped, on the module loop; creates the tables, yields the engine, disposes.
@pytest_asyncio.fixture(name="ex2_engine", loop_scope="module", scope="module")
async def shared_engine_for_the_module():
    engine = create_async_engine(os.environ["DATABASE_URL"])
    try:
        async with engine.connect() as setup:
            await setup.run_sync(Base.metadata.create_all)
            await setup.commit()
        yield engine
    finally:
        await engine.dispose()
"""

_EX3_CONNECTION = """\
# ex3_connection: function-scoped, on the module loop; a connection in a transaction, rolled back.
@pytest_asyncio.fixture(scope="function", loop_scope="module")
async def ex3_connection(ex3_engine):
    connection = await ex3_engine.connect()
    outer = await connection.begin()
    try:
        yield connection
    finally:
        await outer.rollback()
        await connection.close()
"""

_EX4_DB = """\
@pytest_asyncio.fixture
async def ex4_db(ex4_engine):
    import contextlib

    async with contextlib.AsyncExitStack() as cleanup:
        cleanup.push_async_callback(ex4_engine.dispose)  # runs on this test's loop, at teardown
        yield ex4_engine
"""

# module name -> {solution cell id -> the whole cell source as a learner would leave it in the
# exercise notebook: the stub line replaced by their code; no ### markers}.
# Modules 02 and later keep theirs in alternatives_NN.py beside this file, merged in below.
ALTERNATIVES: dict[str, dict[str, str]] = {
    "00_start_here": {
        "exercise-1-solution": _CREATE_PRODUCT.rstrip(),
        "exercise-2-solution": _COUNT_ROWS.rstrip(),
    },
    "01_event_loops": {
        "ex1-solution": _MODULE_LOOP.rstrip(),
        "ex2-solution": _EX2_ENGINE.rstrip(),
        "ex3-solution": _EX3_CONNECTION.rstrip(),
        "ex4-solution": _EX4_DB.rstrip(),
    },
}

for _path in sorted(Path(__file__).parent.glob("alternatives_[0-9][0-9].py")):
    ALTERNATIVES.update(importlib.import_module(_path.stem).ALTERNATIVES)


def alternative_notebook(module_name: str, solution_nb, *, only: str | None = None):
    """The exercise notebook as a learner who solved everything their own way leaves it.

    With `only` (an exercise id such as "01.2"), just that exercise is solved the learner's way
    and every other keeps the reference solution: proof that the alternative passes on its own.
    Raises KeyError when a solution cell has no alternative, or an alternative no cell.
    """
    alternatives = ALTERNATIVES[module_name]
    path = Path("solutions") / f"{module_name}.ipynb"
    solution_cells = {cell_id for cells in exercises_of(solution_nb).values() for cell_id in cells}
    if missing := sorted(solution_cells - alternatives.keys()):
        raise KeyError(f"{module_name}: no alternative for solution cells {missing}")
    if unknown := sorted(alternatives.keys() - solution_cells):
        raise KeyError(f"{module_name}: alternatives for cells that are not solutions {unknown}")
    replaced = set(exercises_of(solution_nb)[only]) if only is not None else solution_cells
    notebook = exercise_from_solution(copy.deepcopy(solution_nb), path, only=only)
    for cell in notebook.cells:
        if cell.id in replaced:
            cell.source = alternatives[cell.id]
    return notebook
