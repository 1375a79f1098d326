"""What a grading run shows while nbval runs, and what each check cell printed.

Two halves, one in each process:

- A pytest plugin, loaded into the nbval run with `-p course.grading_progress
  --grading-events FILE`. Where nbval runs a cell, it attaches the cell's outputs to the report
  when nbval compares them (the check cells, under --nbval-lax); where reports are collected
  (pytest-xdist's controller, which receives every worker's reports as cells finish, or the one
  process without xdist) it appends one JSON line per finished cell to FILE. That is sturdier
  than reading pytest's terminal output, whose format changes with options and versions and
  which nbval.log keeps whole; and a cell's outputs are available only in the process that ran
  it. nbval reports every cell of a notebook, also after a timeout (marked xfail) and after the
  kernel died (failed), so a notebook is done when all its cells have reported.
- `run`, in the grader: it starts nbval and follows FILE, showing notebooks done out of the
  total, the elapsed time and the checks failed so far, as a live bar on a terminal and one plain
  line per notebook otherwise (a CI log, a pipe).

Progress is informational: verdicts come from nbval's junit XML alone.
"""

import copy
import json
import subprocess
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import nbformat
import pytest
from nbval.plugin import coalesce_streams
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

EVENTS_OPTION = "--grading-events"


def plugin_args(events: Path) -> list[str]:
    """The options that load this plugin into an nbval run."""
    return ["-p", __name__, EVENTS_OPTION, str(events)]


# --- the plugin, in the nbval run -------------------------------------------------------------


def pytest_addoption(parser):
    parser.addoption(
        EVENTS_OPTION,
        metavar="FILE",
        help="write each finished notebook cell, and the outputs of those nbval compares, to "
        "FILE as JSON lines (course grade follows it to show progress)",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    options = getattr(item, "options", {})  # nbval's cell options; "check": outputs compared
    if call.when == "call" and options.get("check") and item.test_outputs is not None:
        # Sent to xdist's controller with the report: a JSON string, as execnet takes no
        # nbformat nodes. (nbval merges streams only after a cell that raised no error.)
        report.cell_outputs = json.dumps(coalesce_streams(copy.deepcopy(item.test_outputs)))
    return report


def pytest_configure(config):
    path = config.getoption(EVENTS_OPTION)
    if path and not hasattr(config, "workerinput"):  # an xdist worker reports to the controller
        config.pluginmanager.register(_EventWriter(Path(path)), "course-grading-events")


class _EventWriter:
    def __init__(self, path: Path):
        self.file = path.open("w")

    def pytest_runtest_logreport(self, report):
        # A cell's one final report: its call, or its setup when that failed or skipped it.
        if report.when != "call" and (report.when != "setup" or report.passed):
            return
        notebook, _, name = report.nodeid.partition("::")
        if not name.startswith("Cell "):
            return
        event = {"notebook": notebook, "cell": int(name.removeprefix("Cell "))}
        event["outcome"] = report.outcome
        if hasattr(report, "cell_outputs"):
            event["outputs"] = json.loads(report.cell_outputs)
        self.file.write(json.dumps(event) + "\n")
        self.file.flush()

    def pytest_unconfigure(self):
        self.file.close()


# --- the grader's side ---------------------------------------------------------------------------


@dataclass
class Notebook:
    """A prepared notebook as the progress shows it."""

    name: str  # the submission, as given
    cells: int  # code cells: nbval reports each once
    checks: set[int]  # the check cells' numbers
    reported: dict[int, str] = field(default_factory=dict)  # cell number -> outcome

    @property
    def done(self) -> bool:
        return len(self.reported) >= self.cells

    @property
    def passed_checks(self) -> int:
        return sum(self.reported.get(n) == "passed" for n in self.checks)

    @property
    def failed_checks(self) -> int:
        return sum(self.reported.get(n, "passed") != "passed" for n in self.checks)


class Display:
    """Notebooks done out of the total, elapsed time, and checks failed so far."""

    def __init__(self, notebooks: dict[str, Notebook], console: Console | None = None):
        self.notebooks = notebooks
        self.console = console or Console()
        self.started = time.monotonic()
        self.finished = 0
        self.bar = None
        if self.console.is_interactive:  # a terminal that can redraw a line
            self.bar = Progress(
                TextColumn("Grading"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("notebooks"),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                console=self.console,
            )
            self.task = self.bar.add_task(self.failures(), total=len(notebooks))

    def __enter__(self):
        if self.bar:
            self.bar.start()
        return self

    def __exit__(self, *exc_info):
        # nbval stopped: what did not finish (a crashed worker, an interrupted run) is over too.
        for notebook in self.notebooks.values():
            if not notebook.done:
                self._finished(notebook, "nbval stopped before its last cell")
        if self.bar:
            self.bar.stop()

    def failures(self) -> str:
        checks = sum(n.failed_checks for n in self.notebooks.values())
        notebooks = sum(bool(n.failed_checks) for n in self.notebooks.values())
        return f"failed so far: {_count(checks, 'check')} in {_count(notebooks, 'notebook')}"

    def add(self, event: dict) -> None:
        notebook = self.notebooks.get(event["notebook"])
        if notebook is None or notebook.done:
            return
        notebook.reported[event["cell"]] = event["outcome"]
        if self.bar:
            self.bar.update(self.task, description=self.failures())
        if notebook.done:
            passed, checks = notebook.passed_checks, len(notebook.checks)
            self._finished(notebook, f"{passed} of {checks} checks passed")

    def _finished(self, notebook: Notebook, how: str) -> None:
        self.finished += 1
        if self.bar:
            self.bar.update(self.task, completed=self.finished, description=self.failures())
            return
        elapsed = timedelta(seconds=int(time.monotonic() - self.started))
        line = f"[{self.finished}/{len(self.notebooks)} {elapsed}] {notebook.name}: {how}; "
        self.console.print(line + self.failures(), markup=False, highlight=False, soft_wrap=True)


def _count(number: int, thing: str) -> str:
    return f"{number} {thing}{'s' * (number != 1)}"


class _Follower:
    """The complete lines a growing file has gained since the last call."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0

    def new_events(self) -> list[dict]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as file:
            file.seek(self.offset)
            text = file.read()
        complete = text[: text.rfind(b"\n") + 1]  # a line being written waits for next time
        self.offset += len(complete)
        return [event for line in complete.splitlines() if (event := _event(line))]


def _event(line: bytes) -> dict | None:
    """A line as the plugin wrote it, or None: without a sandbox a learner's kernel can write
    to this file too, and progress must not stop grading."""
    try:
        event = json.loads(line)
        return (
            event
            if isinstance(event, dict) and {"notebook", "cell", "outcome"} <= set(event)
            else None
        )
    except ValueError:
        return None


def run(command: list[str], events: Path, notebooks: dict[str, Notebook], *,
        console: Console | None = None, **popen) -> dict[tuple[str, int], list]:  # fmt: skip
    """Run the nbval command (with plugin_args(events)) showing its progress; returns what
    each check cell printed, by notebook (as nbval names it) and cell number."""
    events.unlink(missing_ok=True)
    follower, printed = _Follower(events), {}
    with subprocess.Popen(command, **popen) as process, Display(notebooks, console) as display:
        while True:
            try:
                process.wait(timeout=0.25)
                stopped = True
            except subprocess.TimeoutExpired:
                stopped = False
            for event in follower.new_events():
                display.add(event)
                if "outputs" in event:
                    outputs = [nbformat.from_dict(output) for output in event["outputs"]]
                    printed[event["notebook"], event["cell"]] = outputs
            if stopped:
                return printed
