#!/usr/bin/env python3
"""Set up the course in one command, then open it or test it.

    python3 bootstrap.py lab     set up, start PostgreSQL, open JupyterLab on the start notebook
    python3 bootstrap.py test    set up, start PostgreSQL, run the whole test suite
    python3 bootstrap.py site    set up, build the course's website into _site/
    python3 bootstrap.py course ARGS...   set up, then run the `course` command (CI, grading)

Set-up makes .venv/ with the pinned requirements and the course installed in it, and is
skipped when nothing it depends on has changed. Needs only Python 3.11 to 3.14.
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
# Every pinned requirement has wheels for these; CI tests the oldest in full and one more.
OLDEST, NEWEST = (3, 11), (3, 14)

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


# The version check must run, and say what is wrong, on any Python 3 a learner may have
# (macOS ships 3.9): until it has passed, no walrus and no `X | Y` annotations.
def unsupported(version):
    """Why this Python cannot run the course (one line), or None when it can."""
    if OLDEST <= tuple(version[:2]) <= NEWEST:
        return None
    supported = f"{OLDEST[0]}.{OLDEST[1]} to {NEWEST[0]}.{NEWEST[1]}"
    found = ".".join(str(part) for part in version[:3])
    return f"The course needs Python {supported}; this is {found}."


def venv_is_this_pythons():
    """Whether .venv exists and was made by a Python of this X.Y (its pyvenv.cfg says)."""
    try:
        lines = (VENV / "pyvenv.cfg").read_text().splitlines()
    except OSError:
        return False
    settings = (line.partition("=") for line in lines)
    made_with = {key.strip(): value.strip() for key, _, value in settings}
    version = made_with.get("version") or made_with.get("version_info") or ""  # venv, or uv
    return (BIN / "python").exists() and version.startswith("{}.{}.".format(*sys.version_info))


def set_up() -> None:
    problem = unsupported(sys.version_info)
    if problem:
        sys.exit(problem)
    if STAMP.exists() and STAMP.read_text() == _fingerprint():
        return
    print(f"Setting up {VENV} (a few minutes the first time) ...", flush=True)
    if not venv_is_this_pythons():
        try:
            # A venv made by another Python is remade: nothing of the learner's lives in it.
            venv.create(VENV, clear=True, with_pip=True)
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
        "site": [str(BIN / "course"), "site"],
        "course": [str(BIN / "course")],
    }
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    set_up()
    if sys.argv[1] == "test":
        # Start the server once up front, rather than in every worker at the same moment.
        subprocess.run([str(BIN / "course"), "db", "start"], cwd=ROOT, check=True)
    command = [*commands[sys.argv[1]], *sys.argv[2:]]
    os.chdir(ROOT)
    # The command takes over this process, so a Ctrl-C reaches it alone: JupyterLab then shuts
    # down as it should, with no traceback from here.
    os.execv(command[0], command)


if __name__ == "__main__":
    sys.exit(main())
