#!/usr/bin/env python3
"""Set up the course in one command, then open it or test it.

    python3 bootstrap.py lab     set up, start PostgreSQL, open JupyterLab on the start notebook
    python3 bootstrap.py test    set up, start PostgreSQL, run the whole test suite
    python3 bootstrap.py course ARGS...   set up, then run the `course` command (CI, grading)

Set-up makes .venv/ with the pinned requirements and the course installed in it, and is
skipped when nothing it depends on has changed. Needs only Python 3.11 or 3.12.
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / "course-installed.sha256"
INPUTS = ("requirements.txt", "pyproject.toml")
SUPPORTED = ((3, 11), (3, 12))  # what pgserver ships PostgreSQL wheels for, and what CI tests

# The README's test command runs exactly this: unit tests, the build check, the exercise
# checks and nbval over lessons and solutions, spread over all cores one notebook per worker.
TEST_COMMAND = [
    "-m", "pytest", "-n", "auto", "--dist", "loadfile",
    "--nbval", "--nbval-current-env", "--nbval-sanitize-with", "nbval_sanitize.cfg",
    "-p", "no:cacheprovider", "tests", "notebooks", "solutions",
]  # fmt: skip


def _fingerprint() -> str:
    digest = hashlib.sha256(sys.version.encode())
    for name in INPUTS:
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def set_up() -> None:
    if sys.version_info[:2] not in SUPPORTED:
        versions = " or ".join(f"{major}.{minor}" for major, minor in SUPPORTED)
        sys.exit(f"The course needs Python {versions}; this is {sys.version.split()[0]}.")
    if STAMP.exists() and STAMP.read_text() == _fingerprint():
        return
    print(f"Setting up {VENV} (a few minutes the first time) ...", flush=True)
    if not (BIN / "python").exists():
        try:
            venv.create(VENV, with_pip=True)
        except subprocess.CalledProcessError:
            sys.exit("Python's venv module could not install pip: on Debian/Ubuntu, "
                     "`apt install python3-venv`, then run this again.")  # fmt: skip
    pip = [str(BIN / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", "requirements.txt", "-e", "."], cwd=ROOT, check=True)
    STAMP.write_text(_fingerprint())


def main() -> int:
    commands = {
        "lab": [str(BIN / "course"), "lab"],
        "test": [str(BIN / "python"), *TEST_COMMAND],
        "course": [str(BIN / "course")],
    }
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    set_up()
    extra = sys.argv[2:]
    if sys.argv[1] == "test":
        # Start the server once up front, rather than in every worker at the same moment.
        subprocess.run([str(BIN / "course"), "db", "start"], cwd=ROOT, check=True)
    return subprocess.call([*commands[sys.argv[1]], *extra], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
