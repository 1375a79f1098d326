"""Module 09: fastapi_testkit applied to the course's apps.

Exercises 09.1 and 09.2 (the lending app, `lending/`): the learner's conftest.py or test files
go into a folder of their own (`%%writetest`), and the checks run pytest on it in new
processes, serially and under pytest-xdist, as the learner would at home:
- `check_setup(folder)`: the course's reference suite (capstone/lending_tests) on the
  learner's conftest.py, serially and with `-n 2 --random-order` at once; then no database of
  this kernel may be left on the server.
- `hunt_lending_suite(folder)`: the learner's tests on the reference conftest.py (with one loop
  per worker), against the app and each of `LENDING_BUGS`, in one `-n 2` run
  (course.suite_hunt).
Both processes get TEST_DATABASE_URL (the server, for fastapi_testkit) and LENDING_DATABASE_URL
(the app's own database, which no test may write to) from `use_this_kernels_server()`.
"""

import asyncio
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from course.lessons.databases import kernel_url
from course.lessons.parallel import databases_of_this_kernel, drop_databases, shown
from course.lessons.terminal import new_folder
from course.paths import PROJECT_ROOT
from course.pytest_run import Run, first_error, run_pytest
from course.seeded_bugs import LENDING_BUGS, Hunt
from course.suite_hunt import SUITE_PLUGINS, hunt_suite

__all__ = [
    "LENDING_SUITE",
    "check_setup",
    "hunt_lending_suite",
    "suite_folder",
    "use_this_kernels_server",
]

LENDING_SUITE = PROJECT_ROOT / "capstone" / "lending_tests"  # the course's reference suite
_TIMEOUT = 60  # seconds: a run that takes longer is stuck (on a lock, say)

_REAL_SESSIONLOCAL = (
    "The background task opened its session from the real lending.db.SessionLocal, on the "
    "app's own database (LENDING_DATABASE_URL: here this kernel's, without lending's tables; "
    "at home, your development database, for good): name it in sessionmakers=."
)
# The reference conftest.py on one loop per worker: its engine and pooled connection then serve
# every test, where a loop per test pays for an engine and a login per test, which the hunt,
# running each test up to 7 times, feels. The tests themselves run the same on either.
_HUNT_CONFTEST = (LENDING_SUITE / "conftest.py").read_text()
assert 'loop_scope="function"' in _HUNT_CONFTEST
_HUNT_CONFTEST = _HUNT_CONFTEST.replace('loop_scope="function"', 'loop_scope="session"')
_NOT_MARKED_FOR_ANYIO = (
    "an async test that anyio's plugin does not run: mark it @pytest.mark.anyio "
    "(pytestmark = pytest.mark.anyio marks a whole file); the fixtures run on anyio's loop"
)
# What a wrong setup makes the reference suite say ("test name: first error"), and why.
SETUP_MISTAKES = {
    "'async_sessionmaker' object has no attribute": (
        "The routes got an async_sessionmaker where lending's get_session yields a session: "
        'provides="session".'
    ),
    'relation "loans" does not exist': _REAL_SESSIONLOCAL,
    "does not exist (was it committed?)": _REAL_SESSIONLOCAL,
    'relation "alembic_version" does not exist': (
        "The schema was not built by lending's migrations: schema=Alembic(<the path of "
        "lending/alembic.ini>)."
    ),
    "test_the_loan_limit_comes_from_the_environment: assert 201 == 409": (
        "LENDING_MAX_LOANS_PER_MEMBER=1 was not seen: get_settings() returned the settings it "
        "had cached before the test; name it in settings_caches=."
    ),
    "fixture 'client' not found": (
        'fastapi_testkit is not loaded: pytest_plugins = ["fastapi_testkit"].'
    ),
}


def use_this_kernels_server() -> None:
    """The environment that pytest processes started from this kernel inherit: fastapi_testkit
    makes its databases on this kernel's server, as this kernel's role; lending's own engine
    points at this kernel's database."""
    os.environ["TEST_DATABASE_URL"] = os.environ["LENDING_DATABASE_URL"] = kernel_url()


def suite_folder() -> Path:
    """A fresh folder with the reference suite's pytest.ini (anyio runs the tests)."""
    folder = new_folder()
    shutil.copy(LENDING_SUITE / "pytest.ini", folder)
    return folder


@dataclass
class SetupCheck:
    runs: dict[str, Run]  # how it ran -> the run
    left: list[str] = field(default_factory=list)  # databases of this kernel left behind

    @property
    def passed(self) -> bool:
        return not self.left and all(_all_passed(run) for run in self.runs.values())

    def problems(self) -> list[str]:
        lines = []
        for how, run in self.runs.items():
            failures = [f"{_name(node)}: {error}" for node, error in sorted(run.errors.items())]
            if not run.outcomes:  # pytest stopped before its tests (a conftest that failed)
                failures.append(first_error(run.output))
            if not _all_passed(run):
                lines.append(f"{how}: {run.summary or 'no tests ran'}")
                lines += [f"  {failure}" for failure in failures[:3]]
            lines += _why(failures)
        if self.left:
            lines.append(f"left on the server: {', '.join(self.left)}")
        return list(dict.fromkeys(lines))

    def __str__(self) -> str:
        if not self.passed:
            return shown("\n".join(self.problems()))
        lines = [f"{how}: {run.summary}" for how, run in self.runs.items()]
        return "\n".join([*lines, "left on the server: nothing"])


async def check_setup(folder: Path) -> SetupCheck:
    """The reference suite on the conftest.py in `folder`, serially and with 2 workers in
    random order at once (their databases differ: `_main`, `_gw0`, `_gw1`); then the databases
    of this kernel left behind (dropped, so that the next check starts clean)."""
    for name in ("pytest.ini", "test_lending.py"):
        shutil.copy(LENDING_SUITE / name, folder)
    hows = {"serially": (), "-n 2 --random-order": ("-n", "2", "--random-order")}
    runs = await asyncio.gather(*(asyncio.to_thread(_run, folder, *args) for args in hows.values()))
    left = await databases_of_this_kernel()
    await drop_databases(left)
    return SetupCheck(dict(zip(hows, runs, strict=True)), left)


def hunt_lending_suite(folder: Path) -> Hunt:
    """The tests in `folder` on the reference conftest.py, on lending and each seeded bug."""
    (folder / "conftest.py").write_text(_HUNT_CONFTEST)
    hunt = hunt_suite(folder, LENDING_BUGS, "-n", "2", "--maxschedchunk", "1")
    for test, error in hunt.errors.items():
        # pytest's own words end in a link ("See: https://...") that says little here.
        if "sync-test-depending-on-async-fixture" in error:
            hunt.errors[test] = _NOT_MARKED_FOR_ANYIO
    return hunt


def _run(folder: Path, *args: str) -> Run:
    return run_pytest(folder, *SUITE_PLUGINS, *args, timeout=_TIMEOUT)


def _all_passed(run: Run) -> bool:
    return run.returncode == 0 and bool(run.outcomes)


def _name(nodeid: str) -> str:
    return nodeid.rpartition("::")[2]


def _why(failures: list[str]) -> list[str]:
    return [
        f"why: {why}"
        for sign, why in SETUP_MISTAKES.items()
        if any(sign in failure for failure in failures)
    ]
