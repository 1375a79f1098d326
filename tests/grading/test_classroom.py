"""The GitHub Classroom workflow: it grades every exercise there is, with commands that exist,
against the course's solutions (tests/toolkit/test_workflows.py checks what every workflow must)."""

import csv
import shlex
import subprocess
import sys

import pytest
import yaml

from course import build, cli, grading
from course.paths import PROJECT_ROOT

WORKFLOW_FILE = PROJECT_ROOT / ".github/workflows/classroom.yml"
WORKFLOW = yaml.safe_load(WORKFLOW_FILE.read_text())
STEPS = WORKFLOW["jobs"]["grade"]["steps"]
GRADERS = [
    s for s in STEPS if s.get("uses", "").startswith("classroom-resources/autograding-command")
]


def test_one_graded_step_per_exercise_of_the_course():
    exercises = [e for ref in grading.references().values() for e in build.exercises_of(ref)]
    assert [step["with"]["command"].split()[-1] for step in GRADERS] == exercises


def test_the_reporter_hears_every_grader():
    (reporter,) = [s for s in STEPS if "grading-reporter" in s.get("uses", "")]
    ids = [step["id"] for step in GRADERS]
    assert reporter["with"]["runners"].split(",") == ids
    assert set(reporter["env"]) == {f"{i.upper()}_RESULTS" for i in ids}
    for step_id in ids:
        assert f"steps.{step_id}.outputs.result" in reporter["env"][f"{step_id.upper()}_RESULTS"]


def test_its_commands_are_the_course_cli():
    (grade,) = [s["run"] for s in STEPS if "course grade" in s.get("run", "")]
    words = shlex.split(grade)
    assert words[:3] == ["python3", "course/bootstrap.py", "course"]
    args = cli.parser().parse_args(words[3:])
    assert args.command == "grade" and args.submissions == ["submission/exercises"]
    for step in GRADERS:
        words = shlex.split(step["with"]["command"])
        assert words[0] == "course/.venv/bin/course"
        assert cli.parser().parse_args(words[1:]).command == "verdict"


def test_verdict_exits_zero_only_on_pass(tmp_path):
    gradebook = tmp_path / "gradebook.csv"
    with open(gradebook, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["submission", "module", "01.1", "01.2", "score", "notes"])
        writer.writerow(
            ["exercises/01_event_loops.ipynb", "01_event_loops", "pass", "fail", "1/2", ""]
        )

    def verdict(exercise):
        command = [sys.executable, "-m", "course.cli", "verdict", str(gradebook), exercise]
        return subprocess.run(command, capture_output=True, text=True).returncode

    assert (verdict("01.1"), verdict("01.2"), verdict("09.9")) == (0, 1, 1)


def run_reference_guard(course_repository, is_template):
    """Run the guard step's script as Actions runs a `run:` step, given what its `env:` holds."""
    (guard,) = [s for s in STEPS if s.get("id") == "reference"]
    assert guard["env"] == {
        "COURSE_REPOSITORY": "${{ vars.COURSE_REPOSITORY }}",
        "IS_TEMPLATE": "${{ github.event.repository.is_template }}",
    }
    env = {
        "PATH": "/usr/bin:/bin",
        "COURSE_REPOSITORY": course_repository,
        "IS_TEMPLATE": is_template,
    }
    command = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", guard["run"]]
    return subprocess.run(command, env=env, capture_output=True, text=True)


def test_the_reference_guard_runs_first_and_gates_the_reporting():
    assert STEPS[0]["id"] == "reference"
    reporting = [s for s in STEPS if "if" in s]
    assert [s["name"] for s in reporting] == ["Keep the gradebook", "Report to GitHub Classroom"]
    assert all("steps.reference.outcome == 'success'" in s["if"] for s in reporting)


@pytest.mark.parametrize("is_template", ["false", ""])  # "" when the event has no repository
def test_a_learners_copy_without_course_repository_is_not_graded(is_template):
    result = run_reference_guard(course_repository="", is_template=is_template)
    assert result.returncode == 1
    assert result.stdout.startswith("::error title=COURSE_REPOSITORY is not set::")
    assert "Set the organization's Actions variable COURSE_REPOSITORY" in result.stdout
    assert "owner/name" in result.stdout


def test_a_learners_copy_with_course_repository_is_graded_against_it():
    result = run_reference_guard(course_repository="example-org/async-course", is_template="false")
    assert (result.returncode, result.stdout) == (
        0,
        "Reference solutions from example-org/async-course\n",
    )


def test_the_course_repository_itself_needs_no_variable():
    result = run_reference_guard(course_repository="", is_template="true")
    assert (result.returncode, result.stdout) == (
        0,
        "Reference solutions from this course repository\n",
    )
