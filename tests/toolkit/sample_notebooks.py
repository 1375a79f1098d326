"""A small solution notebook, shaped like every module's, for the toolkit's tests."""

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

SETUP = "import course; course.setup()"


def solution_notebook(*, executed: bool = True):
    """A small solution notebook with two graded exercises, the shape every module has."""
    cells = [
        new_markdown_cell("# Module 99", id="title"),
        new_code_cell(SETUP, id="setup"),
        new_markdown_cell("**Exercise 99.1**: write `double`.", id="ex1-task"),
        new_code_cell(
            "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
            id="ex1-solution",
        ),
        new_code_cell(
            "%%ipytest\ndef test_double():\n    assert double(21) == 42",
            id="ex1-check",
            metadata={"course": {"check": "99.1"}},
        ),
        new_code_cell("### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION", id="ex2-solution"),
        new_code_cell(
            "%%ipytest\ndef test_answer():\n    assert answer == 42",
            id="ex2-check",
            metadata={"course": {"check": "99.2"}},
        ),
    ]
    nb = new_notebook(cells=cells)
    for number, cell in enumerate(c for c in cells if c.cell_type == "code"):
        cell.execution_count = number + 1 if executed else None
    return nb
