"""The first code cell of every notebook: `import course; course.setup()`."""

import os
from pathlib import Path

import ipytest
from IPython import get_ipython

from course import db, guard
from course.postgres import PostgresUnavailable

PYTEST_INI = Path(__file__).with_name("notebook-pytest.ini")
PYTEST_OPTIONS = [
    "-c", str(PYTEST_INI),  # the course's settings, not those of whatever project is around
    "--rootdir", ".",  # test ids read `t_<module>.py::test_name`, wherever the notebook is
    "--noconftest",  # a stray conftest.py above the notebook must not change its results
    "-q", "--color=no",  # quiet, stable output that nbval can compare
    "-p", "no:cacheprovider",  # no .pytest_cache beside the notebooks
    # Only the plugins the course uses: autoloading every installed one (nbval, xdist, ...)
    # adds ~2 s to the first check cell of every kernel.
    "--disable-plugin-autoload",
    "-p", "pytest_asyncio.plugin", "-p", "anyio.pytest_plugin", "-p", "respx.plugin",
    "-p", "course.hints",  # a short hint under a failure that is a known mistake
    # Naming a plugin marks it for assertion rewriting; once a cell has imported it, pytest
    # warns (with a machine-specific path) that it cannot be rewritten. Nothing is lost.
    "-W", "ignore::pytest.PytestAssertRewriteWarning",
]  # fmt: skip


def setup(*, needs_postgres: bool = False, create_databases: bool = False) -> None:
    """Configure ipytest for async tests and give this kernel its own database.

    - run_in_thread: the kernel already runs an event loop, and pytest-asyncio's Runner
      cannot start one inside it ("Runner.run() cannot be called from a running event loop").
    - raise_on_error: a failing test makes the cell fail, so nbval and the grader see it.

    The database URL goes into DATABASE_URL, where the sample app's settings read it. The
    kernel connects as a role of its own, which owns that database only; it may create
    databases only when the notebook asks for it (create_databases=True: lesson 02, module 05).
    Without PostgreSQL, lessons that can run on SQLite do; the others stop here.
    """
    # pytest prints more when it detects CI (full assertion diffs, uncut summary lines): the
    # tests of a notebook must print the same on a laptop, on Binder and in CI.
    # A kernel started by nbval under pytest-xdist inherits the worker's name: the suites it
    # runs in a terminal would name their databases after that worker instead of "main".
    for variable in ("CI", "BUILD_NUMBER", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):
        os.environ.pop(variable, None)
    shell = get_ipython()
    if shell is not None:  # outside a kernel (a script, a test) there are no magics
        ipytest.autoconfig(run_in_thread=True, raise_on_error=True, addopts=PYTEST_OPTIONS)
        shell.register_magic_function(writetest, "cell")
        shell.set_custom_exc((ipytest.Error,), _failed_tests)
        guard.watch(shell)  # before any learner cell: what the grader's guard cells restore
    try:
        url = db.kernel_database(create_databases=create_databases)
    except PostgresUnavailable as error:
        if needs_postgres:
            raise PostgresUnavailable(f"This notebook needs PostgreSQL.\n{error}") from None
        url = db.sqlite_url("kernel")
        print(f"No PostgreSQL here, so this notebook runs on SQLite.\n{error}")
    os.environ["DATABASE_URL"] = url


def writetest(line: str, cell: str) -> None:
    """%%writetest PATH: write the cell to PATH (creating its folder), like %%writefile, and
    print nothing: lessons write test files for pytest runs in a new process with it, and a
    temporary path printed in an output would differ on every run."""
    path = Path(line.strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(cell)


def _failed_tests(shell, etype, value, tb, tb_offset=None) -> None:
    """A failing %%ipytest cell: pytest has printed what failed, so the error is one line, not a
    traceback through ipytest's own code (with this machine's paths in it)."""
    shell._showtraceback(etype, value, [f"ipytest.Error: {value} (pytest's report is above)"])
