"""Failures printed short and the same on every machine.

Several lesson cells fail on purpose, to show a real error message. A full pytest traceback
runs to a hundred lines of library code, with file paths, line numbers, task numbers and
addresses that differ between machines and Python versions. A cell that passes
`# ipytest: plugins=[brief_errors]` gets each failure as its error lines only, trimmed.
"""

import gc
import re
import sys
import warnings

import pytest

# What changes from run to run or machine to machine, and what it is replaced with.
_UNSTABLE = [
    (re.compile(r"name='Task-\d+'"), "name='Task-…'"),
    (re.compile(r"cb=\[[^\]]*\]"), "cb=[…]"),  # a task's callbacks vary with thread use
    (re.compile(r" at 0x[0-9a-fA-F]+"), ""),  # "<... object at 0x7f...>"
    (re.compile(r" at [^\s>\]]+:\d+"), ""),  # " at /path/file.py:123" inside reprs
    (re.compile(r"(?m)^\S+\.py:\d+: +"), ""),  # "/path/file.py:123: " at line starts
    (re.compile(r"(?m)^(CRITICAL|ERROR|WARNING|INFO|DEBUG) +([\w.]+):[\w.]+:\d+ "), r"\1 \2 "),
]
_LOG_LINE = re.compile(r"^(CRITICAL|ERROR|WARNING|INFO|DEBUG) |^[\w.]+(Error|Exception): ")


def trim(text: str) -> str:
    """Blank out task numbers, callbacks, addresses and file locations."""
    for pattern, replacement in _UNSTABLE:
        text = pattern.sub(replacement, text)
    return text


def first_line(error: BaseException) -> str:
    """`ErrorType: first line of its message`; for a database error wrapped by SQLAlchemy, the
    driver's own message (`error.orig`), without SQLAlchemy's long tail."""
    message = str(getattr(error, "orig", None) or error).strip()
    return f"{type(error).__name__}: {message.splitlines()[0] if message else ''}".rstrip(": ")


class BriefErrors:
    """A pytest plugin: each failure reported as its error lines (`E ...`) only, captured logs
    as their log lines only, warnings without file locations; all trimmed."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if report.failed:
            lines = report.longreprtext.splitlines()
            errors = [line[1:].strip() for line in lines if line.startswith("E ")]
            report.longrepr = _Brief(trim("\n".join(errors) if errors else report.longreprtext))
        report.sections = [
            (title, trim(_log_lines(content)))
            for title, content in report.sections
            if title.startswith("Captured log")
        ]
        return report

    @pytest.hookimpl(wrapper=True, tryfirst=True)  # before the terminal prints the warnings
    def pytest_terminal_summary(self, terminalreporter):
        for warning in terminalreporter.stats.get("warnings", []):
            warning.message = trim(warning.message)
            warning.nodeid = warning.nodeid.split("::", 1)[-1]  # without the temporary module
        return (yield)


class _Brief:
    """A failure's text, printed as it is (and left out of pytest's one-line summary)."""

    def __init__(self, text):
        self.text = text

    def toterminal(self, out):
        out.line(self.text)


def _log_lines(log: str) -> str:
    """A captured log without its tracebacks: the log lines and the errors they end with."""
    lines = [line for line in log.splitlines() if _LOG_LINE.match(line)]
    return "\n".join(line for n, line in enumerate(lines) if n == 0 or line != lines[n - 1])


brief_errors = BriefErrors()


def collect_garbage_quietly() -> None:
    """A failed run can leave objects behind (a coroutine never awaited, a connection never
    closed) that Python complains about when it destroys them, which may be in the middle of
    some later cell. Destroy them now, silently."""
    # The last failed cell's traceback (sys.last_traceback, kept by IPython) holds that pytest
    # run, its captured log records and what they reference: let it go first.
    sys.last_type = sys.last_value = sys.last_traceback = None
    if hasattr(sys, "last_exc"):  # Python 3.12+
        sys.last_exc = None
    hook, sys.unraisablehook = sys.unraisablehook, lambda unraisable: None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gc.collect()
    finally:
        sys.unraisablehook = hook
