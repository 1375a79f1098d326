"""Run pytest in a subprocess on a folder of test files, and read back what happened to each test.

ipytest runs pytest inside the kernel, where pytest-xdist cannot work (its workers are other
processes, and cannot import tests that live in the kernel: chmp/ipytest#90). Module 05 writes
its tests to files and runs them here, with xdist, and looks at the outcome and the worker of
each test. A small plugin (this module, loaded with `-p course.pytest_run`) records both and
writes them as JSON where `COURSE_PYTEST_REPORT` says.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPORT_VARIABLE = "COURSE_PYTEST_REPORT"
# Only these plugins: autoloading every installed one (nbval, respx, ...) slows each worker's
# start and lets unrelated plugins change the outcome. `-p xdist` (its entry point's name) and
# not `-p xdist.plugin`: other plugins (pytest-random-order) look for one named "xdist".
PLUGINS = ["--disable-plugin-autoload", "-p", "xdist", "-p", "pytest_asyncio.plugin"]
DEFAULT_INI = "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"


@dataclass
class Run:
    returncode: int
    outcomes: dict[str, str]  # node id -> passed, failed, error or skipped
    workers: dict[str, str]  # node id -> gw0, gw1, ... or master (no xdist)
    errors: dict[str, str]  # node id -> the first `E ...` line of its failure or error
    summary: str  # pytest's last line, without the timing: "3 passed, 1 failed"
    seconds: float
    output: str  # everything pytest printed: stderr (warnings, errors at start-up) first
    folder: Path  # where it ran: the files the tests wrote are there


def run_pytest(folder: Path | str, *args: str, timeout: float = 120) -> Run:
    """`python -m pytest ARGS` in `folder`, which is its rootdir; the folder's conftest.py and
    pytest.ini apply (without a pytest.ini, pytest-asyncio strict mode with function loops)."""
    folder = Path(folder)
    ini = folder / "pytest.ini"
    with tempfile.TemporaryDirectory(prefix="pytest-run-") as scratch:
        report = Path(scratch) / "report.json"
        if not ini.exists():
            ini = Path(scratch) / "pytest.ini"
            ini.write_text(DEFAULT_INI)
        command = [
            *(sys.executable, "-m", "pytest", "-c", str(ini), "--rootdir", str(folder)),
            *("-p", "no:cacheprovider", "--color=no", "-q", *PLUGINS, "-p", __name__, *args),
        ]
        # COLUMNS: pytest's line width, whatever the terminal that started Jupyter
        env = {**_clean_environment(), REPORT_VARIABLE: str(report), "COLUMNS": "80"}
        started = time.perf_counter()
        done = subprocess.run(
            command, cwd=folder, env=env, capture_output=True, text=True, timeout=timeout
        )
        seconds = time.perf_counter() - started
        tests = json.loads(report.read_text()) if report.exists() else {}
    output = done.stderr + done.stdout
    lines = done.stdout.strip().splitlines()
    summary = re.sub(r" in [\d.]+s.*$", "", lines[-1].strip("= ")) if lines else ""
    return Run(
        returncode=done.returncode,
        outcomes={nodeid: test["outcome"] for nodeid, test in tests.items()},
        workers={nodeid: test["worker"] for nodeid, test in tests.items()},
        errors={nodeid: test["error"] for nodeid, test in tests.items() if test["error"]},
        summary=summary,
        seconds=seconds,
        output=output,
        folder=folder,
    )


_COLOUR_VARIABLES = {"FORCE_COLOR", "CLICOLOR_FORCE", "PY_COLORS"}  # a kernel sets the first two


def _clean_environment() -> dict[str, str]:
    """This process's environment without what an enclosing pytest put there (a kernel that
    nbval started from an xdist worker inherits PYTEST_XDIST_WORKER=gw1, for instance), and
    without the variables that force colour codes into what pytest prints before `--color=no`
    applies (an error in a conftest.py)."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("PYTEST_") and name not in _COLOUR_VARIABLES
    }


# --- the plugin, in the pytest process (the controller, with xdist) -----------------------------

_tests: dict[str, dict] = {}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """On the process that ran the test: note which one it was (reports travel to xdist's
    controller with their user properties)."""
    report = yield
    worker = getattr(item.config, "workerinput", {}).get("workerid", "master")
    report.user_properties.append(("worker", worker))
    return report


def pytest_runtest_logreport(report):
    worker = dict(report.user_properties).get("worker", "master")
    test = _tests.setdefault(report.nodeid, {"outcome": "passed", "worker": worker, "error": ""})
    if report.failed:
        test["outcome"] = "failed" if report.when == "call" else "error"
        test["error"] = test["error"] or first_error(report.longreprtext)
    elif report.skipped and test["outcome"] == "passed":
        test["outcome"] = "skipped"


def pytest_collectreport(report):
    if report.failed:  # a file that cannot even be imported
        _tests[report.nodeid] = {
            "outcome": "error",
            "worker": "master",
            "error": first_error(report.longreprtext),
        }


def pytest_sessionfinish(session):
    path = os.environ.get(REPORT_VARIABLE)
    if path and not hasattr(session.config, "workerinput"):  # the controller, or no xdist
        Path(path).write_text(json.dumps(_tests))


_NAMED_ERROR = re.compile(r"\w+(Error|Exception|Mismatch): ")


def first_error(text: str) -> str:
    """A failure's first error line, without file locations (they differ between machines).
    Some errors have no `E ` lines (pytest's ScopeMismatch): then the line that names one."""
    lines = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
    lines = lines or [line for line in text.splitlines() if _NAMED_ERROR.match(line)]
    line = (lines or text.strip().splitlines()[-1:] or ["?"])[0]
    return re.sub(r" at [^\s>\]]+:\d+", "", line)
