import nbformat
import pytest
from sample_notebooks import solution_notebook


@pytest.fixture
def course_root(tmp_path):
    """A throwaway course tree holding module 99 as a solution notebook."""
    for folder in ("notebooks", "solutions", "exercises"):
        (tmp_path / folder).mkdir()
    nbformat.write(solution_notebook(), tmp_path / "solutions" / "99_sample.ipynb")
    return tmp_path
