"""Every `sh` block of the README runs, as written, from the repository root."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from course.paths import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text()
COMMANDS = [
    line.strip()
    for block in re.findall(r"^```sh\n(.*?)^```", README, flags=re.S | re.M)
    for line in block.splitlines()
    if line.strip()
]


def test_the_readme_has_runnable_blocks():
    assert len(COMMANDS) >= 4


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_runs(command):
    venv_bin = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        command, shell=True, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_the_module_table_gives_each_lessons_own_time_estimate():
    """The README's times are the ones each lesson states in its opening."""
    rows = re.findall(r"^\| (\d\d) \| [^|]+ \| (\d+) \+ (\d+) min \| ready \|$", README, re.M)
    assert len(rows) >= 6
    for number, lesson, exercises in rows:
        (path,) = (PROJECT_ROOT / "notebooks").glob(f"{number}_*.ipynb")
        title = "".join(json.loads(path.read_text())["cells"][0]["source"])
        opening = re.search(r"\*\*Time[:.]\*\*[^*]*", title)[0]
        assert re.findall(r"\d+", opening)[:2] == [lesson, exercises], (path.name, opening)
