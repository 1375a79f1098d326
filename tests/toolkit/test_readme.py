"""Every `sh` block of the README runs, as written, from the repository root."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from course import site
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
    ready = site.published()
    assert len(ready) >= 6
    for module in ready:
        path = PROJECT_ROOT / "notebooks" / f"{module.stem}.ipynb"
        title = "".join(json.loads(path.read_text())["cells"][0]["source"])
        opening = re.search(r"\*\*Time[:.]\*\*[^*]*", title)[0]
        times = [str(module.lesson_minutes), str(module.exercise_minutes)]
        assert re.findall(r"\d+", opening)[:2] == times, (path.name, opening)
