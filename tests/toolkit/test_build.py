"""Exercises generated from solutions, the normal form, and the staleness check."""

import os
import shutil
import subprocess
import sys

import nbformat
import pytest
from sample_notebooks import solution_notebook

from course import build
from course.paths import PROJECT_ROOT


def cell(nb, cell_id):
    return next(c for c in nb.cells if c.id == cell_id)


def test_solution_regions_become_loud_stubs_at_their_indentation():
    exercise = build.exercise_from_solution(solution_notebook(), "99.ipynb")
    assert cell(exercise, "ex1-solution").source == (
        "def double(x):\n"
        '    raise NotImplementedError("Exercise 99.1: replace this line with your solution")'
    )
    assert cell(exercise, "ex2-solution").source == (
        'raise NotImplementedError("Exercise 99.2: replace this line with your solution")'
    )


def test_exercises_keep_ids_and_checks_and_lose_outputs():
    solution = solution_notebook()
    cell(solution, "ex1-check").outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="1 passed in 0.01s\n")
    ]
    exercise = build.exercise_from_solution(solution, "99.ipynb")
    assert [c.id for c in exercise.cells] == [c.id for c in solution.cells]
    assert cell(exercise, "ex1-check").source == cell(solution, "ex1-check").source
    code = [c for c in exercise.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("### BEGIN SOLUTION\nx = 1", "never closed"),
        ("x = 1\n### END SOLUTION", "without ### BEGIN SOLUTION"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside another region"),
    ],
)
def test_broken_markers_are_named_with_file_and_cell(source, message):
    solution = solution_notebook()
    cell(solution, "ex2-solution").source = source
    with pytest.raises(build.NotebookError, match=message) as error:
        build.exercise_from_solution(solution, "solutions/99.ipynb")
    assert "solutions/99.ipynb cell ex2-solution" in str(error.value)


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda nb: setattr(cell(nb, "setup"), "source", "import os"), "first code cell"),
        (lambda nb: setattr(cell(nb, "ex1-check"), "execution_count", None), "never executed"),
        (lambda nb: setattr(cell(nb, "ex2-solution"), "source", "answer = 42"), "no solution"),
        (lambda nb: setattr(cell(nb, "ex2-check"), "id", "ex1-check"), "duplicate cell ids"),
    ],
)
def test_validation_names_what_is_wrong(breakage, message):
    nb = solution_notebook()
    breakage(nb)
    with pytest.raises(build.NotebookError, match=message):
        build.validate(nb, "solutions/99.ipynb", is_solution=True)


def test_normal_form_is_idempotent_and_drops_editor_noise():
    nb = solution_notebook()
    nb.metadata["widgets"] = {"state": {}}
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    cell(nb, "ex1-check").metadata.update({"scrolled": True, "execution": {"iopub": "x"}})
    once = build.normalize(nb)
    assert build.dumps(build.normalize(once)) == build.dumps(once)
    assert set(once.metadata) == {"kernelspec", "language_info"}
    assert once.metadata.language_info == {"name": "python"}
    assert cell(once, "ex1-check").metadata == {"course": {"check": "99.1"}}


def test_build_is_deterministic_and_check_finds_staleness(course_root):
    written = build.build(course_root)
    assert course_root / "exercises" / "99_sample.ipynb" in written
    assert build.build(course_root) == []  # nothing changed, nothing written
    assert build.stale_files(course_root) == []

    solution = course_root / "solutions" / "99_sample.ipynb"
    nb = nbformat.read(solution, as_version=4)
    cell(nb, "ex1-task").source += " Use `*`."
    cell(nb, "ex1-solution").metadata["scrolled"] = True  # JupyterLab's noise
    nbformat.write(nb, solution)
    assert build.stale_files(course_root) == [
        course_root / "exercises" / "99_sample.ipynb",
        solution,
    ]
    build.build(course_root)
    assert "Use `*`." in (course_root / "exercises" / "99_sample.ipynb").read_text()
    assert build.stale_files(course_root) == []


def test_orphan_and_hand_edited_exercises_are_reported(course_root):
    build.build(course_root)
    orphan = course_root / "exercises" / "98_gone.ipynb"
    orphan.write_text("{}")
    exercise = course_root / "exercises" / "99_sample.ipynb"
    exercise.write_text(exercise.read_text().replace("replace this line", "my attempt"))
    assert build.stale_files(course_root) == [orphan, exercise]


def test_a_learners_exercise_is_backed_up_not_lost(course_root, monkeypatch):
    monkeypatch.setenv("COURSE_STATE_DIR", str(course_root / ".course"))
    build.build(course_root)
    exercise = course_root / "exercises" / "99_sample.ipynb"
    work = exercise.read_text().replace("replace this line", "my attempt")
    exercise.write_text(work)
    build.build(course_root)
    backups = list((course_root / ".course" / "backups").glob("99_sample-*.ipynb"))
    assert [b.read_text() for b in backups] == [work]


def test_malformed_notebook_is_one_clear_error(course_root):
    (course_root / "solutions" / "99_sample.ipynb").write_text('{"cells": [')
    with pytest.raises(build.NotebookError, match="not a readable notebook"):
        build.build(course_root)


def test_the_repository_is_built_and_normalized():
    result = subprocess.run(
        [sys.executable, "-m", "course.cli", "build", "--check"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_stream_outputs_are_merged_without_touching_the_original():
    outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="."),
        nbformat.v4.new_output("stream", name="stdout", text="1 passed\n"),
        nbformat.v4.new_output("stream", name="stderr", text="warning\n"),
    ]
    merged = build.merge_streams(outputs)
    assert [(o.name, o.text) for o in merged] == [
        ("stdout", ".1 passed\n"),
        ("stderr", "warning\n"),
    ]
    assert [o.text for o in outputs] == [".", "1 passed\n", "warning\n"]


# --- stored outputs show no machine ----------------------------------------------------------


def _stdout(text):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def test_stored_outputs_lose_pids_addresses_and_temporary_names_but_keep_timings():
    solution = solution_notebook()
    cell(solution, "ex1-check").outputs = [
        _stdout(
            "/tmp/ipykernel_30458/3322730885.py:3: AssertionError\n"
            "FAILED t_b3609f1ced4a4488b87b92da44682bd9.py::test_double - assert 0\n"
            "<Connection object at 0x7f9bb15d4400> on course_kernel_19307 at 127.0.0.1:34373\n"
            "1 failed in 0.04s\n"
        )
    ]
    stored = cell(build.normalize(solution), "ex1-check").outputs[0].text
    assert stored == (
        "<cell>.py:3: AssertionError\n"
        "FAILED t_<module>.py::test_double - assert 0\n"
        "<Connection object at 0x<address>> on course_kernel_<pid> at 127.0.0.1:<port>\n"
        "1 failed in 0.04s\n"
    )


def test_tracebacks_lose_colours_and_this_machines_paths():
    solution = solution_notebook()
    site_packages = f"{sys.prefix}/lib/python3.11/site-packages"
    cell(solution, "ex1-check").outputs = [
        nbformat.v4.new_output(
            "error",
            ename="Error",
            evalue="boom",
            traceback=[
                f"\x1b[36mFile \x1b[39m\x1b[32m{site_packages}/ipytest/_impl.py:89\x1b[39m",
                f"File {PROJECT_ROOT}/course/notebook.py:12, in setup()",
            ],
        )
    ]
    stored = cell(build.normalize(solution), "ex1-check").outputs[0].traceback
    assert stored == [
        "File <site-packages>/ipytest/_impl.py:89",
        "File <course>/course/notebook.py:12, in setup()",
    ]


def test_the_check_names_the_notebook_and_cell_that_show_a_machine_path(course_root):
    build.build(course_root)
    assert build.machine_specific_outputs(course_root) == []

    path = course_root / "solutions" / "99_sample.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell(nb, "ex2-check").outputs = [_stdout(f"data in {course_root}/.course/postgres\n")]
    nbformat.write(nb, path)
    found = build.machine_specific_outputs(course_root)
    assert len(found) == 1
    assert found[0].startswith("solutions/99_sample.ipynb, cell ex2-check: the temporary folder")

    cell(nb, "ex2-check").outputs = [_stdout("Writing /home/ada/course/conftest.py\n")]
    nbformat.write(nb, path)
    assert "cell ex2-check: a home directory" in build.machine_specific_outputs(course_root)[0]


def test_course_build_check_fails_on_a_machine_path(tmp_path):
    """The command itself, on a copy of the course whose lesson prints the checkout's path."""
    copy = tmp_path / "course"
    shutil.copytree(PROJECT_ROOT, copy, ignore=shutil.ignore_patterns(".*", "__pycache__"))
    lesson = copy / "notebooks" / "00_start_here.ipynb"
    nb = nbformat.read(lesson, as_version=4)
    first_code = next(c for c in nb.cells if c.cell_type == "code" and c.outputs is not None)
    first_code.outputs = [_stdout(f"the course is in {copy}\n")]
    lesson.write_text(build.dumps(build.normalize(nb)))
    check = subprocess.run(
        [sys.executable, "-m", "course.cli", "build", "--check"],
        cwd=copy,
        env={**os.environ, "PYTHONPATH": str(copy)},
        capture_output=True,
        text=True,
    )
    assert check.returncode == 1
    where = f"notebooks/00_start_here.ipynb, cell {first_code.id}"
    assert f"{where}: the checkout's path" in check.stdout
