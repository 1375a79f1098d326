"""Stored outputs as a learner reads them: on GitHub, on Binder and on the website.

The sanitizer (nbval_sanitize.cfg) makes outputs compare equal across runs; `clean` also
applies it to what is stored, so that no notebook shows the pid, port, temporary file or
memory address of the machine that executed it. Timings are kept as they ran: they say
something, and they give nothing away. Tracebacks, which nbval does not compare, also lose
colour codes and the paths of this machine's checkout and packages.

`machine_specific` finds what cleaning cannot: a cell that prints a path of the machine
itself. `course build --check` fails on it, naming the notebook and the cell.
"""

import configparser
import re
import sys
import tempfile
from pathlib import Path

from course.paths import PROJECT_ROOT, SANITIZER

KEPT_AS_RUN = {"pytest timings"}  # sanitizer sections that stored outputs keep as they ran
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_SITE_PACKAGES = re.compile(r"[^\s'\"(]*[/\\](site|dist)-packages[/\\]")
_TEXT_FIELDS = ("text", "evalue")


def _stored_patterns() -> list[tuple[re.Pattern, str]]:
    config = configparser.ConfigParser()
    config.read_string(SANITIZER.read_text())
    return [
        (re.compile(config[section]["regex"]), config[section]["replace"])
        for section in config.sections()
        if section not in KEPT_AS_RUN
    ]


_PATTERNS = _stored_patterns()


def _sanitized(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _machine_paths() -> list[tuple[str, str]]:
    """This machine's own paths, longest first, with what a traceback shows instead."""
    paths = [(str(PROJECT_ROOT), "<course>"), (str(Path.home()), "~")]
    return sorted(((p, r) for p, r in paths if len(p) > 1), key=lambda pr: -len(pr[0]))


def _clean_traceback_line(line: str) -> str:
    line = _SITE_PACKAGES.sub("<site-packages>/", _ANSI.sub("", line))
    for path, replacement in _machine_paths():
        line = line.replace(path, replacement)
    return _sanitized(line)


def readable(text: str) -> str:
    """Text for anyone to read, as tracebacks are stored: no colour codes, no path of this
    machine's checkout, home folder or packages, sanitized."""
    return "\n".join(_clean_traceback_line(line) for line in text.splitlines())


def clean(output: dict) -> dict:
    """One output as it is stored (nbformat dict; changed in place and returned)."""
    for field in _TEXT_FIELDS:
        if isinstance(output.get(field), str):
            output[field] = _sanitized(output[field])
    data = output.get("data", {})
    for mime in ("text/plain", "text/markdown", "text/html"):
        if isinstance(data.get(mime), str):
            data[mime] = _sanitized(data[mime])
    if "traceback" in output:
        output["traceback"] = [_clean_traceback_line(line) for line in output["traceback"]]
    return output


def _suspects() -> list[tuple[str, re.Pattern]]:
    here = [
        ("the checkout's path", PROJECT_ROOT),
        ("the home directory", Path.home()),
        ("the Python environment's path", Path(sys.prefix)),
        ("the temporary folder", Path(tempfile.gettempdir())),
    ]
    found = [
        (what, re.compile(re.escape(str(path)) + r"(?=[/\\]|\b)"))
        for what, path in here
        if len(str(path)) > 1
    ]
    return [
        *found,
        ("a home directory", re.compile(r"/home/[^/\s]+/|/Users/[^/\s]+/|[A-Za-z]:\\Users\\")),
        ("a temporary path", re.compile(r"/tmp/[\w.-]+|/var/folders/")),
        ("a path of installed packages", re.compile(r"[/\\](site|dist)-packages[/\\]")),
        ("a kernel's temporary cell file", re.compile(r"ipykernel_\d+")),
    ]


def machine_specific(nb) -> list[tuple[str, str, str]]:
    """(cell id, what was found, the line it is in) for every stored output that shows a path
    of the machine that executed it."""
    suspects, found = _suspects(), []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            texts = [output.get(field) for field in _TEXT_FIELDS]
            texts += list(output.get("data", {}).values()) + output.get("traceback", [])
            for text in (t for t in texts if isinstance(t, str)):
                for line in text.splitlines():
                    for what, pattern in suspects:
                        if pattern.search(line):
                            found.append((cell.id, what, line.strip()[:160]))
                            break
    return found
