"""Every exercise of the course: its checks fail on the stub and pass on the reference.

In a file of its own so that, under `--dist loadfile`, it runs beside the nbval files.
"""

import pytest

from course import build, execute


@pytest.mark.parametrize("module", build.modules(), ids=lambda m: m.name)
def test_course_exercises_fail_on_stubs_and_pass_on_references(module):
    if not module.path(build.SOLUTIONS).exists():
        pytest.skip(f"{module.name} has no exercises")
    assert execute.verify_module(module) == []
