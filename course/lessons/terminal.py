"""pytest in a new process, for what cannot happen inside a notebook's pytest run: another
configuration file, several worker processes (ipytest cannot use pytest-xdist,
chmp/ipytest#90), a `-W` option.

The test files go into a fresh folder, written from a dict or with the `%%writetest PATH` cell
magic (course/notebook.py: `%%writefile` without the "Writing PATH" line, whose temporary path
would differ on every run).
"""

import re
import tempfile
import textwrap
from pathlib import Path

from course.lessons.reports import trim
from course.pytest_run import Run, run_pytest

_FOLDERS = []  # kept until the kernel stops, which deletes them
_REPEATED_STATUS = re.compile(r"(?m)^(bringing up nodes\.\.\.\n)(\1)+")
_WORKER_PYTHON = re.compile(r"(?m)^\[gw\d+\] \w+ -- Python \S+ \S+\n")  # holds a path


def new_folder() -> Path:
    """A fresh, empty temporary folder for one demo's files."""
    folder = tempfile.TemporaryDirectory(prefix="course-")
    _FOLDERS.append(folder)
    return Path(folder.name)


def write_files(folder: Path, files: dict[str, str]) -> None:
    """Write each name → text into folder (the text dedented, so it can be indented in a cell)."""
    for name, text in files.items():
        path = Path(folder, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


def run_in_a_terminal(files: dict[str, str] | Path, *args: str, quiet: bool = False) -> Run:
    """Run pytest with args in a new process, as you would in a terminal, on a folder: the given
    one, or a fresh one with these files. Prints what pytest printed, trimmed (unless quiet), and
    returns the run: its outcomes, workers, errors, summary, output and folder.

    Only the plugins named in args are loaded, beside pytest-asyncio and pytest-xdist
    (`-p anyio.pytest_plugin`, for instance); without a pytest.ini in the folder, pytest-asyncio
    runs in strict mode with function-scoped loops.
    """
    if isinstance(files, dict):
        folder = new_folder()
        write_files(folder, files)
    else:
        folder = Path(files)
    run = run_pytest(folder, *args)
    if not quiet:
        print(shown(run.output))
    return run


def shown(output: str) -> str:
    """pytest's output as a terminal shows it: trimmed, and xdist's status line once (without a
    terminal, xdist prints "bringing up nodes..." again instead of replacing it), and without
    the line that names each worker's Python executable."""
    output = _WORKER_PYTHON.sub("", trim(output))
    return _REPEATED_STATUS.sub(r"\1", output).strip()
