"""Hostile submissions: learner code that attacks the grader rather than solving exercises.

Each builder takes a module's name and reference notebook and returns a submission: the
exercise notebook as handed out (or the reference) with the attack in a cell of the learner's
own, right after the set-up cell, where any learner can write code. The grading tests grade
them in the same run as the honest submissions and assert both sides: the attack gains nothing
and is named in `notes`, and no honest verdict changes. The attacks on the machine (memory,
processes, files) go at the top of the reference's first solution cell instead: that exercise
fails, the others are solved.
"""

import copy
from pathlib import Path

import nbformat

from course.build import exercise_from_solution, exercises_of

# Registers its own %%ipytest, which runs no test and prints what the reference's check cell
# printed (every learner has solutions/): before the guard cells, this got full marks.
FORGED_MAGIC = """\
import json
from pathlib import Path

import course

reference = Path(course.__file__).parents[1] / "solutions" / "{name}.ipynb"
printed = {{
    "".join(cell["source"]).strip(): "".join("".join(o.get("text", "")) for o in cell["outputs"])
    for cell in json.loads(reference.read_text())["cells"]
    if cell["cell_type"] == "code"
}}


def forged_ipytest(line, cell):
    source = f"%%ipytest {{line}}".strip() + "\\n" + cell
    print(printed.get(source.strip(), ""), end="")


get_ipython().register_magic_function(forged_ipytest, "cell", "ipytest")
"""

# Replaces pytest's entry point, which ipytest calls, with one that runs nothing and succeeds.
PATCHED_ENTRY_POINT = """\
import pytest


def main(args=None, plugins=None):
    return 0


pytest.main = main
"""

# Tries to reach other kernels' databases while the others are being graded: through the
# server's maintenance databases, then by dropping every other course database it can see.
# What the server answered goes to a file in the submission's own folder, for the test to read.
DATABASE_SABOTEUR = """\
import asyncio
import os
import time
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

own = make_url(os.environ["DATABASE_URL"])
answers = []


async def connect(database):
    return await asyncpg.connect(
        user=own.username, password=own.password, host=own.host, port=own.port, database=database
    )


async def sabotage(seconds):
    for database in ("postgres", "template1"):
        try:
            await (await connect(database)).close()
            answers.append(f"connected to {database}")
        except Exception as error:
            answers.append(f"connect {database}: {error}")
    connection = await connect(own.database)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        others = await connection.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE 'course%' AND datname <> $1",
            own.database,
        )
        for (name,) in others:
            try:
                await connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                answers.append(f"dropped {name}")
            except Exception as error:
                answers.append(f"drop {name}: {error}")
        await asyncio.sleep(0.2)
    await connection.close()


await sabotage(8)
Path("answers.log").write_text("\\n".join(answers) + "\\n")
"""


def _with_learner_cell(nb, source: str, cell_id: str):
    setup = next(i for i, cell in enumerate(nb.cells) if cell.cell_type == "code")
    nb.cells.insert(setup + 1, nbformat.v4.new_code_cell(source, id=cell_id))
    return nb


def _handed_out(name, solution):
    return exercise_from_solution(solution, Path(f"solutions/{name}.ipynb"))


def forged_magic(name, solution):
    return _with_learner_cell(_handed_out(name, solution), FORGED_MAGIC.format(name=name), "forge")


def patched_entry_point(name, solution):
    return _with_learner_cell(_handed_out(name, solution), PATCHED_ENTRY_POINT, "patch")


def database_saboteur(name, solution):
    return _with_learner_cell(solution, DATABASE_SABOTEUR, "sabotage")


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


def with_code_before_exercise(solution, index: int, code: str):
    """The reference with `code` at the top of exercise `index`'s first solution cell."""
    nb = copy.deepcopy(solution)
    first_solution_cell = list(exercises_of(nb).values())[index][0]
    cell = next(c for c in nb.cells if c.id == first_solution_cell)
    cell.source = f"{code}\n{cell.source}"
    return nb


def memory_hog(name, solution):
    return with_code_before_exercise(solution, 0, MEMORY_HOG)


def fork_bomb(name, solution):
    return with_code_before_exercise(solution, 0, FORK_BOMB)


def file_saboteur(targets: list[Path]):
    """A builder whose notebook tries to append to each of these files."""
    code = FILE_SABOTEUR.format(targets=[str(target) for target in targets])
    return lambda name, solution: with_code_before_exercise(solution, 0, code)
