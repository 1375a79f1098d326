"""The seeded-bug hunt for a whole suite, in a pytest process of its own under pytest-xdist
(exercise 09.2): the learner's test files with their conftest, as they would run at home.

`course.seeded_bugs.hunt` runs test functions inside the kernel, where xdist cannot work. Here
one `python -m pytest -n 2` run does the whole hunt: this module, loaded in it as a plugin
(`-p course.suite_hunt --seeded-bugs a,b`), parametrizes every test over the variants
[reference, a, b] and plants the test's variant around it (an autouse fixture: the bugs swap
a module attribute, as in seeded_bugs, in the worker that runs the test). The variant and the
test's name travel to xdist's controller in each report's user properties; the controller
writes every outcome as JSON where `--seeded-bugs-report` says.

A bug is caught when a test that passed on the reference fails with the bug planted: a test
that always fails catches nothing. To keep the run short, the tests run on the reference first,
then bug by bug, and a test is skipped under a bug that is caught already: the workers leave
marks for each other in a folder beside the report (`passed/<test>`, `caught/<bug>`).
"""

import hashlib
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from course.pytest_run import first_error, run_pytest
from course.seeded_bugs import REFERENCE, Hunt, planted

VARIANT = "_seeded_bug"  # the fixture that plants each test's variant
# What a capstone suite needs beside course.pytest_run's plugins (xdist, pytest-asyncio).
SUITE_PLUGINS = ("-p", "anyio.pytest_plugin", "-p", "random_order.plugin")


def hunt_suite(folder: Path, bugs: Sequence[str], *args: str) -> Hunt:
    """Run the suite in `folder` (its conftest.py and pytest.ini apply) once, every test on the
    reference and with each bug, with pytest's extra `args` (`-n 2`, say)."""
    with tempfile.TemporaryDirectory(prefix="suite-hunt-") as scratch:
        report = Path(scratch, "outcomes.json")
        options = ["--seeded-bugs", ",".join(bugs), "--seeded-bugs-report", str(report)]
        run = run_pytest(folder, *SUITE_PLUGINS, "-p", __name__, *options, *args)
        outcomes = json.loads(report.read_text()) if report.exists() else {"tests": []}
    reference: dict[tuple, str] = {}
    errors: dict[tuple, str] = {}
    failed_with: dict[str, list[tuple]] = {}
    for variant, name, outcome, error in outcomes["tests"]:
        test = ("", name, ())
        if variant == REFERENCE:
            if outcome != "passed" or reference.get(test, "passed") != "passed":
                reference[test] = "failed" if outcome in ("failed", "error") else outcome
                errors.setdefault(test, error[:200])
            else:
                reference[test] = outcome
        elif outcome in ("failed", "error"):
            failed_with.setdefault(variant, []).append(test)
    if not outcomes["tests"] and run.returncode != 0:  # pytest did not even start its tests
        reference[("", "the run", ())] = "failed"
        errors[("", "the run", ())] = first_error(run.output)[:300]
    caught_by = {
        bug: next(test for test in tests if reference.get(test) == "passed")
        for bug, tests in failed_with.items()
        if any(reference.get(test) == "passed" for test in tests)
    }
    return Hunt(list(bugs), reference, errors, caught_by, run.output)


# --- the plugin, in the pytest process ------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("seeded bugs (course.suite_hunt)")
    group.addoption("--seeded-bugs", help="run every test on the reference and with each bug")
    group.addoption("--seeded-bugs-report", help="write each test's outcome there, as JSON")


_config: list[pytest.Config] = []  # this process's


def pytest_configure(config: pytest.Config) -> None:
    _config[:] = [config]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    bugs = metafunc.config.getoption("seeded_bugs")
    if bugs is not None and VARIANT in metafunc.fixturenames:
        metafunc.parametrize(VARIANT, [REFERENCE, *bugs.split(",")], indirect=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The reference first, then bug by bug (the same order in every worker, as xdist needs)."""
    variants = {name: index for index, name in enumerate(_variants_of(items))}
    items.sort(key=lambda item: variants[_variant(item)])


@pytest.fixture(autouse=True, name=VARIANT)
def _plant(request: pytest.FixtureRequest):
    variant = getattr(request, "param", REFERENCE)
    if variant != REFERENCE and _mark(request.config, "caught", variant).exists():
        pytest.skip(f"{variant} was caught already")
    with planted(None if variant == REFERENCE else variant):
        yield variant


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any fixture: a test whose set-up fails is still counted under its variant."""
    callspec = getattr(item, "callspec", None)
    params = dict(callspec.params) if callspec else {}
    variant = params.pop(VARIANT, REFERENCE)
    others = ", ".join(f"{key}={value!r}" for key, value in sorted(params.items()))
    name = item.originalname + (f"[{others}]" if others else "")
    item.user_properties += [("seeded_bug", variant), ("seeded_test", name)]


_outcomes: dict[tuple[str, str], list[str]] = {}  # (variant, test) -> [outcome, error]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    properties = dict(report.user_properties)
    if "seeded_bug" not in properties:
        return
    key = (properties["seeded_bug"], properties["seeded_test"])
    _leave_marks(report, *key)
    outcome = _outcomes.setdefault(key, ["passed", ""])
    if report.failed:
        outcome[:] = ["failed", outcome[1] or first_error(report.longreprtext)]
    elif report.skipped and outcome[0] == "passed":
        outcome[0] = "skipped"


def _leave_marks(report: pytest.TestReport, variant: str, test: str) -> None:
    """What the other workers may skip from now on."""
    config = _config[0]
    if not config.getoption("seeded_bugs_report"):
        return
    if variant == REFERENCE and report.when == "call" and report.passed:
        _mark(config, "passed", test).touch()
    elif variant != REFERENCE and report.failed and _mark(config, "passed", test).exists():
        _mark(config, "caught", variant).touch()


def _mark(config: pytest.Config, kind: str, name: str) -> Path:
    folder = Path(config.getoption("seeded_bugs_report")).parent / kind
    folder.mkdir(exist_ok=True)
    return folder / hashlib.sha256(name.encode()).hexdigest()


def _variant(item: pytest.Item) -> str:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get(VARIANT, REFERENCE) if callspec else REFERENCE


def _variants_of(items: list[pytest.Item]) -> list[str]:
    return list(dict.fromkeys([REFERENCE, *map(_variant, items)]))


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:  # a test file that cannot even be imported
        _outcomes[(REFERENCE, f"collecting {report.nodeid}")] = [
            "failed",
            first_error(report.longreprtext),
        ]


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("seeded_bugs_report")
    if path and not hasattr(session.config, "workerinput"):  # the controller, or no xdist
        tests = [[*key, *outcome] for key, outcome in _outcomes.items()]
        Path(path).write_text(json.dumps({"tests": tests}))
