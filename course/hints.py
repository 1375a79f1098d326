"""Short hints for known mistakes, keyed on the error they produce.

Used twice: as a pytest plugin in every notebook (loaded by course.setup), which prints the
hints under a failing run's summary; and by `course check`, on the failures it reports.
"""

import re

from fastapi_testkit import hints as testkit_hints

HINTS = [
    (
        r"NotImplementedError: Exercise \d+\.\d+",
        "This exercise still has its stub: replace the `raise NotImplementedError(...)` line "
        "with your solution and run that cell, then the check.",
    ),
    (
        r"NameError: name '\w+' is not defined|fixture '(?!event_loop')\w+' not found",
        "The check uses a name your exercise cell should define: run (or solve) the cell "
        "above the check first.",
    ),
    (
        r"Runner\.run\(\) cannot be called from a running event loop",
        "pytest ran in the kernel's own thread, where a loop is already running: run "
        "`import course; course.setup()` again (it sets ipytest's run_in_thread=True).",
    ),
    (
        r"DockerException: Error while fetching server API version",
        "No Docker daemon answers, and testcontainers' PostgresContainer(...) asks it already "
        "in its constructor. Ask first (docker.from_env().ping(), or "
        "course.containers.docker_daemon_answers()) and fall back to a local PostgreSQL "
        "(module 06).",
    ),
    # General hints, which a learner's own project gets too (fastapi_testkit.hints, with the
    # lesson that explains each); here without that line, the lesson being at hand.
    *((hint.pattern, hint.text) for hint in testkit_hints.HINTS),
]
_COMPILED = [(re.compile(pattern, re.S), hint) for pattern, hint in HINTS]


def hints_for(text: str) -> list[str]:
    """The hints whose error appears in text, in the order of HINTS, each once."""
    return [hint for pattern, hint in _COMPILED if pattern.search(text)]


# --- the pytest plugin ---------------------------------------------------------------------


def pytest_terminal_summary(terminalreporter):
    for hint in hints_for(testkit_hints.failures(terminalreporter)):
        terminalreporter.write_line(f"Hint: {hint}")
