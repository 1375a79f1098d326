"""Checks that can fail, proved in real kernels: on the stub, on the reference, and after
hand edits to stored outputs."""

import subprocess
import sys

import nbformat
import pytest
from sample_notebooks import solution_notebook

from course import build, execute, grading
from course.paths import PROJECT_ROOT


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """Module 99 laid out like a real module, its solution executed as a maintainer would."""
    root = tmp_path_factory.mktemp("course")
    for folder in ("notebooks", "solutions", "exercises"):
        (root / folder).mkdir()
    path = root / "solutions" / "99_sample.ipynb"
    nbformat.write(solution_notebook(executed=False), path)
    nbformat.write(execute.execute(nbformat.read(path, 4), root, allow_errors=False), path)
    build.build(root)
    return build.Module("99_sample", root)


def test_a_sound_module_verifies(sample):
    assert execute.verify_module(sample) == []


def test_a_check_that_passes_on_its_stub_is_named(sample, tmp_path):
    # What happens when someone deletes an exercise's solution markers: the "stub" is the
    # solution itself, so its check passes on the exercise notebook.
    root = tmp_path
    (root / "solutions").mkdir()
    (root / "exercises").mkdir()
    nb = nbformat.read(sample.path(build.SOLUTIONS), 4)
    solution_cell = next(c for c in nb.cells if c.id == "ex2-solution")
    solution_cell.source = "answer = 42"
    # Exercise 99.2 now has no region; attach its check to 99.1's region so it still builds.
    nb.cells = [c for c in nb.cells if c.id != "ex1-check"]
    next(c for c in nb.cells if c.id == "ex2-check").metadata["course"]["check"] = "99.2"
    nbformat.write(nb, root / "solutions" / "99_sample.ipynb")
    problems = execute.verify_module(build.Module("99_sample", root))
    assert problems == [
        "exercise 99.2: its check passes on the generated exercise notebook, so it cannot "
        "tell a solved exercise from an unsolved one",
        "exercise 99.2: its check passes when only its own solution is replaced by the stub",
    ]


def test_a_check_that_fails_on_the_reference_is_named(sample, tmp_path):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "exercises").mkdir()
    nb = nbformat.read(sample.path(build.SOLUTIONS), 4)
    check = next(c for c in nb.cells if c.id == "ex1-check")
    check.source = check.source.replace("42", "43")
    nbformat.write(nb, tmp_path / "solutions" / "99_sample.ipynb")
    (problem,) = execute.verify_module(build.Module("99_sample", tmp_path))
    assert problem.startswith("exercise 99.1: its check fails on the reference solution")


def nbval(path, *extra):
    return subprocess.run(
        [
            sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env",
            "--nbval-sanitize-with", str(PROJECT_ROOT / "nbval_sanitize.cfg"),
            "-p", "no:cacheprovider", "-q", str(path), *extra,
        ],
        capture_output=True,
        text=True,
        cwd=path.parent,
    )  # fmt: skip


def test_nbval_accepts_stored_outputs_and_rejects_a_hand_edit(sample, tmp_path):
    stored = nbformat.read(sample.path(build.SOLUTIONS), 4)
    check = next(c for c in stored.cells if c.id == "ex1-check")
    summary = next(o for o in check.outputs if "passed in" in o.get("text", ""))

    # The stored timing differs from the next run's: the sanitizer absorbs it.
    clean = tmp_path / "clean.ipynb"
    nbformat.write(stored, clean)
    assert nbval(clean).returncode == 0

    summary.text = summary.text.replace("1 passed", "2 passed")
    edited = tmp_path / "edited.ipynb"
    nbformat.write(stored, edited)
    result = nbval(edited)
    assert result.returncode == 1
    assert "1 failed" in result.stdout


def test_refreshing_outputs_changes_nothing_when_nothing_changed(sample, tmp_path):
    path = tmp_path / "99_sample.ipynb"
    path.write_text(sample.path(build.SOLUTIONS).read_text())
    assert execute.refresh_outputs(path) is False
    assert path.read_text() == sample.path(build.SOLUTIONS).read_text()


def test_outputs_compare_as_nbval_sanitizes_them_line_starts_included():
    def summary(module):
        text = f"warnings summary\n{module}.py::test_a\n  RuntimeWarning\n1 passed in 0.12s\n"
        return [nbformat.v4.new_output("stream", name="stdout", text=text)]

    patterns = execute.sanitizer()
    first, second = (f"t_{digit * 32}" for digit in "ab")
    assert execute.comparable(summary(first), patterns) == execute.comparable(
        summary(second), patterns
    )
    assert execute.comparable(summary(first), patterns) != execute.comparable(
        summary("t_other"), patterns
    )


def test_every_exercise_notebook_is_identified_as_its_own_module():
    """By cell ids, even where one module's ids are all among another's (module 07's among
    08's): a learner's file, renamed, is graded as the module it is."""
    refs = grading.references()
    for name in refs:
        exercise = nbformat.read(PROJECT_ROOT / build.EXERCISES / f"{name}.ipynb", as_version=4)
        assert grading.identify(exercise, "renamed.ipynb", refs) == (name, [])


def test_a_module_whose_ids_are_all_in_another_does_not_take_its_notebooks():
    def notebook(*ids):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(id=cell_id) for cell_id in ids]
        return nb

    refs = {"07_x": notebook("setup", "ex1-check"), "08_y": notebook("setup", "ex1-check", "done")}
    assert grading.identify(notebook("setup", "ex1-check", "done"), "a.ipynb", refs)[0] == "08_y"
    assert grading.identify(notebook("setup", "ex1-check"), "b.ipynb", refs)[0] == "07_x"
