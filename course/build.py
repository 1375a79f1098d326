"""Exercises from solutions, normalized notebooks, and re-executed stored outputs.

`solutions/` is the single source: each solution region, between the lines
`### BEGIN SOLUTION` and `### END SOLUTION`, becomes a stub that fails loudly in the generated
`exercises/` copy, whose outputs are cleared and whose cell ids are kept (the grader matches
cells by id). Every notebook is written in one normal form, so diffs stay small and
`course build --check` can tell what is stale.
"""

import copy
import hashlib
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course import outputs
from course.errors import NotebookError
from course.paths import PROJECT_ROOT, state_dir

LESSONS, SOLUTIONS, EXERCISES = "notebooks", "solutions", "exercises"
SETUP_LINE = re.compile(r"^import course; course\.setup\(.*\)$")
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = 'raise NotImplementedError("Exercise {exercise}: replace this line with your solution")'
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
KEPT_CELL_METADATA = ("tags", "course")


@dataclass(frozen=True)
class Module:
    name: str  # e.g. "01_event_loops"
    root: Path = PROJECT_ROOT

    @property
    def number(self) -> str:
        return self.name.split("_", 1)[0]

    def path(self, kind: str) -> Path:
        return self.root / kind / f"{self.name}.ipynb"


def modules(root: Path = PROJECT_ROOT) -> list[Module]:
    """Every module that has a lesson or a solution notebook."""
    names = {p.stem for kind in (LESSONS, SOLUTIONS) for p in (root / kind).glob("[0-9]*.ipynb")}
    return [Module(name, root) for name in sorted(names)]


# --- reading cells -----------------------------------------------------------------------


def check_id(cell) -> str | None:
    """The exercise a check cell grades ("01.2"), or None for any other cell."""
    return cell.get("metadata", {}).get("course", {}).get("check")


def has_solution(cell) -> bool:
    return BEGIN in cell.source or END in cell.source


def exercises_of(nb) -> dict[str, list[str]]:
    """Each exercise id with the ids of its solution cells: those since the previous check."""
    exercises, pending = {}, []
    for cell in nb.cells:
        if has_solution(cell):
            pending.append(cell.id)
        elif exercise := check_id(cell):
            exercises[exercise] = pending
            pending = []
    return exercises


# --- normal form -------------------------------------------------------------------------


def _stable_id(source: str, taken: set[str]) -> str:
    base = hashlib.sha1(source.encode()).hexdigest()[:8]
    candidate, n = base, 1
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def normalize(nb, *, keep_outputs: bool = True):
    """The course's normal form: nbformat 4.5, fixed notebook metadata, only meaningful cell
    metadata, an id on every cell, no trailing blank lines in sources."""
    nb = copy.deepcopy(nb)
    nb.nbformat, nb.nbformat_minor = 4, 5
    nb.metadata = nbformat.from_dict(
        {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    )
    taken = {cell.get("id") for cell in nb.cells}
    for cell in nb.cells:
        if not cell.get("id"):
            cell.id = _stable_id(cell.source, taken)
            taken.add(cell.id)
        cell.source = cell.source.rstrip()
        metadata = {key: cell.metadata[key] for key in KEPT_CELL_METADATA if cell.metadata.get(key)}
        cell.metadata = nbformat.from_dict(metadata)
        if "attachments" in cell and not cell.attachments:
            del cell["attachments"]
        if cell.cell_type == "code":
            if not keep_outputs:
                cell.outputs, cell.execution_count = [], None
            cell.outputs = merge_streams(cell.outputs)
            for output in cell.outputs:
                if "metadata" in output:
                    output.metadata = nbformat.from_dict({})
                outputs.clean(output)
    return nb


def merge_streams(outputs) -> list:
    """One output per run of stdout (or stderr) text: how the kernel splits a cell's prints
    into messages varies from run to run, and nbval merges them before comparing too."""
    merged = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (
            output.output_type == "stream"
            and previous is not None
            and previous.output_type == "stream"
            and previous.name == output.name
        ):
            merged[-1] = nbformat.from_dict({**previous, "text": previous.text + output.text})
        else:
            merged.append(output)
    return merged


def dumps(nb) -> str:
    return nbformat.writes(nb, version=4) + "\n"


# --- exercises ---------------------------------------------------------------------------


def _stub_regions(source: str, exercise: str, where: str) -> str:
    lines, out, inside = source.split("\n"), [], None
    for number, line in enumerate(lines, 1):
        marker = line.strip()
        if marker == BEGIN:
            if inside is not None:
                raise NotebookError(f"{where}: line {number}: {BEGIN} inside another region")
            inside = line[: len(line) - len(line.lstrip())]
            out.append(inside + STUB.format(exercise=exercise))
        elif marker == END:
            if inside is None:
                raise NotebookError(f"{where}: line {number}: {END} without {BEGIN}")
            inside = None
        elif inside is None:
            out.append(line)
    if inside is not None:
        raise NotebookError(f"{where}: {BEGIN} is never closed by {END}")
    return "\n".join(out)


def validate(nb, path: Path, *, is_solution: bool) -> None:
    """Conventions every lesson and solution notebook keeps; raises NotebookError."""
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    if not code or not SETUP_LINE.match(code[0].source.strip()):
        raise NotebookError(f"{path}: the first code cell must be `import course; course.setup()`")
    ids = [cell.id for cell in nb.cells]
    if duplicates := sorted({i for i in ids if ids.count(i) > 1}):
        raise NotebookError(f"{path}: duplicate cell ids {duplicates}")
    if unexecuted := [cell.id for cell in code if cell.execution_count is None]:
        # nbval does not compare cells without stored outputs: an unexecuted notebook would pass.
        raise NotebookError(
            f"{path}: cells {unexecuted} were never executed; run `course build --execute {path}`"
        )
    if not is_solution:
        return
    checks = [check_id(cell) for cell in nb.cells if check_id(cell)]
    if len(set(checks)) != len(checks):
        raise NotebookError(f"{path}: a check id is used twice: {checks}")
    for exercise, solution_cells in exercises_of(nb).items():
        if not solution_cells:
            raise NotebookError(f"{path}: check {exercise} has no solution region before it")
    if trailing := [
        cell.id for cell in nb.cells[_last_check_index(nb) + 1 :] if has_solution(cell)
    ]:
        raise NotebookError(f"{path}: solution regions {trailing} come after the last check")


def _last_check_index(nb) -> int:
    return max((i for i, cell in enumerate(nb.cells) if check_id(cell)), default=-1)


def exercise_from_solution(solution, path: Path, *, only: str | None = None):
    """The exercise notebook: solution regions stubbed, outputs cleared, cell ids kept.

    With `only`, just that exercise is stubbed and every other keeps its solution: what a
    learner sees who has solved all but that one.
    """
    exercise = normalize(solution, keep_outputs=False)
    owner = {cell_id: ex for ex, cells in exercises_of(exercise).items() for cell_id in cells}
    for cell in exercise.cells:
        if has_solution(cell) and only in (None, owner.get(cell.id)):
            cell.source = _stub_regions(cell.source, owner[cell.id], f"{path} cell {cell.id}")
        elif has_solution(cell):
            cell.source = _solution_only(cell.source)
    return exercise


def _solution_only(source: str) -> str:
    """The source with its marker lines removed: the reference, as a learner would write it."""
    return "\n".join(line for line in source.split("\n") if line.strip() not in (BEGIN, END))


# --- the build ---------------------------------------------------------------------------


def planned_files(root: Path = PROJECT_ROOT, only: list[str] | None = None) -> dict[Path, str]:
    """Every notebook the build owns (of the modules numbered in `only`, if given), with the
    exact text it should have."""
    planned = {}
    for module in modules(root):
        if only and module.number not in only:
            continue
        for kind in (LESSONS, SOLUTIONS):
            path = module.path(kind)
            if not path.exists():
                continue
            nb = _read(path)
            validate(nb, path.relative_to(root), is_solution=kind == SOLUTIONS)
            planned[path] = dumps(normalize(nb))
            if kind == SOLUTIONS:
                exercise = exercise_from_solution(nb, path.relative_to(root))
                planned[module.path(EXERCISES)] = dumps(exercise)
    return planned


def _read(path: Path):
    try:
        return nbformat.read(path, as_version=4)
    except Exception as error:  # JSON errors, schema errors: one clear line either way
        raise NotebookError(f"{path}: not a readable notebook ({error})") from None


def stale_files(root: Path = PROJECT_ROOT) -> list[Path]:
    """Notebooks whose text differs from what the build would write, and orphan exercises."""
    planned = planned_files(root)
    stale = [p for p, text in planned.items() if not p.exists() or p.read_text() != text]
    orphans = [p for p in (root / EXERCISES).glob("*.ipynb") if p not in planned]
    return sorted(stale + orphans)


def machine_specific_outputs(root: Path = PROJECT_ROOT) -> list[str]:
    """One line for each stored output, in a lesson or a solution, that shows a path of the
    machine that executed it: "notebooks/00_start_here.ipynb, cell kernel-database: ..."."""
    found = []
    for module in modules(root):
        for kind in (LESSONS, SOLUTIONS):
            path = module.path(kind)
            if path.exists():
                for cell_id, what, line in outputs.machine_specific(_read(path)):
                    found.append(f"{path.relative_to(root)}, cell {cell_id}: {what} in {line!r}")
    return found


def build(root: Path = PROJECT_ROOT, only: list[str] | None = None) -> list[Path]:
    """Write every stale notebook; returns what changed.

    An exercise notebook that differs from its committed version holds someone's work: it is
    copied to .course/backups/ before being regenerated, never just overwritten.
    """
    changed = []
    for path, text in planned_files(root, only).items():
        if path.exists() and path.read_text() == text:
            continue
        if path.parent.name == EXERCISES and path.exists() and not _committed_as_is(path, root):
            backup = state_dir() / "backups" / f"{path.stem}-{time.strftime('%Y%m%d-%H%M%S')}.ipynb"
            backup.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, backup)
            print(f"{path.relative_to(root)} had changes of yours: they are kept in {backup}")
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        changed.append(path)
    return changed


def _committed_as_is(path: Path, root: Path) -> bool:
    """Whether git has this exact file committed (so regenerating it loses nothing)."""
    result = subprocess.run(
        ["git", "-C", str(root), "diff", "--quiet", "HEAD", "--", str(path)], capture_output=True
    )
    tracked = subprocess.run(
        ["git", "-C", str(root), "ls-files", "--error-unmatch", str(path)], capture_output=True
    )
    return result.returncode == 0 and tracked.returncode == 0
