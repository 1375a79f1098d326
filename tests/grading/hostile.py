"""Hostile submissions: a reference solution with a learner's cell that attacks the grader's
machine instead of solving the first exercise. Each builder takes (module name, reference
solution), like the variants of test_grading.py, and returns a new notebook; the hostile code
goes at the top of the first exercise's first solution cell, so that exercise fails and the
others are solved.
"""

import copy
from pathlib import Path

from course.build import exercises_of

MEMORY_HOG = """\
blocks = []
while True:
    blocks.append(bytearray(10**8))
"""

FORK_BOMB = """\
import os
while True:
    os.fork()
"""

# Appends a line to each target, and records in its own folder (the kernel's cwd, which the
# test reads afterwards) what each attempt did, and its database (which must be gone after).
FILE_SABOTEUR = """\
import os
from pathlib import Path
Path("database.txt").write_text(os.environ["DATABASE_URL"])
for target in {targets!r}:
    try:
        with open(target, "a") as file:
            file.write("sabotaged")
        outcome = "written"
    except OSError as error:
        outcome = type(error).__name__
    with open("sabotage.log", "a") as log:
        log.write(f"{{target}}: {{outcome}}\\n")
"""


def first_solution_cell(nb):
    first_exercise = next(iter(exercises_of(nb).values()))
    return next(cell for cell in nb.cells if cell.id == first_exercise[0])


def with_code(solution, code: str):
    nb = copy.deepcopy(solution)
    cell = first_solution_cell(nb)
    cell.source = f"{code}\n{cell.source}"
    return nb


def memory_hog(name, solution):
    return with_code(solution, MEMORY_HOG)


def fork_bomb(name, solution):
    return with_code(solution, FORK_BOMB)


def file_saboteur(targets: list[Path]):
    """A builder whose notebook tries to append to each of these files."""
    code = FILE_SABOTEUR.format(targets=[str(target) for target in targets])
    return lambda name, solution: with_code(solution, code)
