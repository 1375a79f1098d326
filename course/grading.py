"""Grading learners' exercise notebooks against the reference solutions, with nbval.

nbval compares a notebook only with its own stored outputs, and a learner's notebook has none
worth trusting. So each submission is first *prepared*, on a copy: every cell the learner is
not meant to change (the set-up, given code, and above all the check cells) is restored from
solutions/ by cell id, missing ones are put back, and each check cell gets the reference's
stored outputs and the `nbval-check-output` tag. nbval then runs the prepared copies in real
kernels (one per notebook, each with its own database), in parallel, and a check cell passes
only when it runs without error and prints what the reference printed, under the sanitizer.
"""

import csv
import json
import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course import build, grading_progress, sandbox, tampering
from course.errors import NotebookError
from course.hints import hints_for
from course.paths import PROJECT_ROOT, SANITIZER

# An empty configuration: no project's pytest settings (xfail_strict, addopts) may change verdicts.
GRADING_INI = Path(__file__).with_name("grading-pytest.ini")
CHECK_OUTPUT_TAG = "nbval-check-output"
VERDICTS = ("pass", "fail", "error")
ANSI = re.compile(r"\x1b\[[0-9;]*m|#x1B\[[0-9;]*m")


@dataclass
class Submission:
    given: str  # the path as given on the command line
    path: Path
    module: str = ""  # e.g. "01_event_loops"
    verdicts: dict[str, str] = field(default_factory=dict)  # exercise id -> pass/fail/error
    notes: list[str] = field(default_factory=list)
    prepared: Path | None = None
    checks: dict[str, int] = field(default_factory=dict)  # exercise id -> nbval cell number
    guards: dict[int, str] = field(default_factory=dict)  # nbval cell number -> exercise id
    # The prepared copy's code cells, kept here: its file is in reach of the learner's kernel.
    cell_ids: list[str] = field(default_factory=list)
    printed: dict[str, list] = field(default_factory=dict)  # exercise id -> its check's outputs
    changed: dict[str, list] = field(default_factory=dict)  # exercise id -> what guards found

    @property
    def score(self) -> str:
        passed = sum(verdict == "pass" for verdict in self.verdicts.values())
        return f"{passed}/{len(self.verdicts)}" if self.verdicts else ""


def find_notebooks(paths: list[str]) -> list[tuple[str, Path]]:
    """Each submitted notebook, with the path under which it was given: files as they are,
    folders searched (one folder per learner, or any layout)."""
    found = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            notebooks = sorted(
                p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
            )
            found += [(str(p), p) for p in notebooks]
        else:
            found.append((given, path))
    return found


def references(root: Path = PROJECT_ROOT) -> dict[str, nbformat.NotebookNode]:
    return {
        module.name: nbformat.read(module.path(build.SOLUTIONS), as_version=4)
        for module in build.modules(root)
        if module.path(build.SOLUTIONS).exists()
    }


def _read(path: Path):
    """The submission as a notebook, or a note saying why it cannot be graded."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        return None, f"unreadable file ({error.__class__.__name__})"
    if not text.strip():
        return None, "empty file"
    try:
        return nbformat.reads(text, as_version=4), ""
    except Exception as error:
        return None, f"malformed notebook ({str(error).splitlines()[0][:120]})"


def identify(nb, filename: str, refs: dict) -> tuple[str, list[str]]:
    """The module a notebook belongs to, by its cell ids (file names get changed)."""
    ids = {cell.get("id") for cell in nb.cells}
    overlap = {}  # per module: the share of its cells found, then the share of ours it has
    for name, ref in refs.items():
        shared = len(ids & {cell.id for cell in ref.cells})
        overlap[name] = (shared / len(ref.cells), shared / max(len(ids), 1))
    # The second share breaks a tie: a module whose ids are all among another's (common ids
    # such as "setup" or "ex1-check") must not take that other module's notebooks.
    best = max(overlap, key=overlap.get, default="")
    overlap = {name: share for name, (share, _) in overlap.items()}
    if not best or overlap[best] < 0.5:
        return "", ["not a notebook of this course (its cells match no module)"]
    named = filename.split("_", 1)[0]
    if named.isdigit() and named != best.split("_", 1)[0]:
        return best, [f"file name says module {named}, but it is module {best}"]
    return best, []


def _protected(reference) -> list:
    """Cells the learner is not meant to change: every code cell without a solution region."""
    return [c for c in reference.cells if c.cell_type == "code" and not build.has_solution(c)]


def prepare(submitted, reference) -> tuple[nbformat.NotebookNode, list[str]]:
    """A gradable copy of a submission, and notes on what was restored."""
    as_submitted = {cell.get("id"): cell for cell in submitted.cells}
    nb = build.normalize(submitted, keep_outputs=False)
    notes = []
    reference_order = [cell.id for cell in reference.cells]
    for ref in _protected(reference):
        exercise = build.check_id(ref)
        what = f"check {exercise}" if exercise else f"given cell {ref.id}"
        restored = nbformat.from_dict(ref)
        if exercise:
            restored.metadata.setdefault("tags", []).append(CHECK_OUTPUT_TAG)
        else:
            restored.outputs, restored.execution_count = [], None
        original = as_submitted.get(ref.id)
        if original is None:
            notes.append(f"{what} was missing (restored)")
            nb.cells.insert(_insertion_point(nb.cells, reference_order, ref.id), restored)
            continue
        if original.source.rstrip() != ref.source.rstrip():
            notes.append(f"{what} was edited (restored)")
        if exercise and original.get("outputs") and original.get("execution_count") is None:
            notes.append(f"{what} had outputs without being run (ignored)")
        position = next(i for i, cell in enumerate(nb.cells) if cell.id == ref.id)
        nb.cells[position] = restored
    protected = {cell.id for cell in _protected(reference)}
    notes += _run_after_the_setup(nb, protected)
    notes += tampering.flags([cell for cell in nb.cells if cell.id not in protected])
    _guard_checks(nb)
    return nb, notes


def _run_after_the_setup(nb, protected: set[str]) -> list[str]:
    """Learner code cells put before the set-up cell move after it: the set-up takes the
    snapshot that the guard cells compare with, before any learner code runs."""
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    setup = next((cell for cell in code if cell.id in protected), None)
    before = code[: code.index(setup)] if setup else []
    early = [cell for cell in before if cell.id not in protected]
    for cell in early:
        nb.cells.remove(cell)
        nb.cells.insert(nb.cells.index(setup) + 1 + early.index(cell), cell)
    return [f"cell {cell.id} came before the set-up cell (moved after it)" for cell in early]


def _guard_checks(nb) -> None:
    """A guard cell before and after each check cell (course.guard): it puts back the check
    machinery as the set-up left it, and fails, naming what learner code had changed."""
    for check in [cell for cell in nb.cells if build.check_id(cell)]:
        exercise = build.check_id(check)
        for where, offset in (("before", 0), ("after", 1)):
            guard = nbformat.v4.new_code_cell(
                f"import course.guard; course.guard.verify('{where} check {exercise}')",
                id=f"guard-{where}-{check.id}"[:64],
                metadata={"course": {"guard": exercise}},
            )
            nb.cells.insert(nb.cells.index(check) + offset, guard)


def guard_of(cell) -> str:
    """The exercise whose check a grader's guard cell watches; "" for other cells."""
    return cell.get("metadata", {}).get("course", {}).get("guard", "")


def _insertion_point(cells, reference_order: list[str], cell_id: str) -> int:
    """Right after the nearest cell that comes before it in the reference, if present."""
    position = {cell.id: i for i, cell in enumerate(cells)}
    for earlier in reversed(reference_order[: reference_order.index(cell_id)]):
        if earlier in position:
            return position[earlier] + 1
    return 0


def nbval_command(prepared_dir: Path, junit: Path, *, timeout: int, workers: str) -> list[str]:
    """The plain nbval run the grader makes; an instructor can run it by hand. Its kernels are
    the sandboxed grading kernel that `grade` writes beside the prepared copies."""
    parallel = ["-n", workers, "--dist", "loadfile"] if workers != "0" else []
    return [
        "env", f"JUPYTER_PATH={sandbox.jupyter_path(prepared_dir.parent)}",
        sys.executable, "-m", "pytest", str(prepared_dir),
        "-c", str(GRADING_INI), "--rootdir", str(prepared_dir), "-p", "no:cacheprovider",
        "--disable-plugin-autoload", "-p", "nbval", *(["-p", "xdist"] if parallel else []),
        "--nbval-lax", "--nbval-kernel-name", sandbox.KERNEL_NAME,
        "--nbval-sanitize-with", str(SANITIZER),
        "--nbval-cell-timeout", str(timeout), *parallel,
        "--junitxml", str(junit), "-o", "junit_family=xunit1", "-q",
    ]  # fmt: skip


def nbval_results(junit: Path, prepared_dir: Path) -> dict[Path, dict[int, tuple[str, str]]]:
    """nbval's verdict on every cell: notebook -> cell number -> (outcome, message)."""
    results: dict[Path, dict[int, tuple[str, str]]] = {}
    for case in ElementTree.parse(junit).iter("testcase"):
        match = re.fullmatch(r"Cell (\d+)", case.get("name", ""))
        if not match or not case.get("file"):
            continue
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "failed", "skipped": "skipped"}[child.tag]
                # the message is cut short: the element's text has the whole report
                message = ANSI.sub("", child.text or child.get("message") or "")
        notebook = (prepared_dir / case.get("file")).resolve()
        results.setdefault(notebook, {})[int(match[1])] = (outcome, message)
    return results


def _cell_numbers(nb) -> dict[str, int]:
    """nbval numbers code cells only, from 0: each check cell's number."""
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    return {build.check_id(cell): i for i, cell in enumerate(code) if build.check_id(cell)}


def _guard_numbers(nb) -> dict[int, str]:
    """nbval's number of each guard cell, with the exercise whose check it watches."""
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    return {i: guard_of(cell) for i, cell in enumerate(code) if guard_of(cell)}


MACHINERY_CHANGED = re.compile(r"MachineryChanged: (.+)")


LIMIT_NOTES = {
    "memory": "ran out of memory (limit {limits.memory_text})",
    "processes": "hit the process limit ({limits.processes} processes and threads)",
}


def _error_line(message: str) -> str:
    """The last line of the traceback in nbval's report of a cell's error ("MemoryError: ")."""
    _, found, traceback = message.rpartition("\nTraceback:")
    lines = [line for line in traceback.splitlines() if line.strip()] if found else []
    return lines[-1] if lines else ""


def judge(
    submission: Submission,
    cells: dict[int, tuple[str, str]],
    cell_ids: list[str],
    limits: sandbox.Limits = sandbox.DEFAULT_LIMITS,
):
    """Verdicts for one prepared submission from nbval's per-cell results."""
    died_at, notes = None, []
    for number in sorted(cells):
        outcome, message = cells[number]
        cell, error = cell_ids[number], _error_line(message)
        if "Failed to interrupt kernel" in message or "Kernel died" in message:
            died_at = number if died_at is None else died_at
            notes.append(f"kernel died or hung in cell {cell}")
        elif "Timeout of" in message:
            notes.append(f"cell {cell} timed out")
        elif "Previous cell timed out" in message and not any("timed out" in n for n in notes):
            notes.append(f"a cell before {cell} timed out")  # the interrupt raised nothing
        elif error.startswith("MemoryError"):
            notes.append(f"cell {cell} {LIMIT_NOTES['memory'].format(limits=limits)}")
        elif error.startswith("BlockingIOError") or "can't start new thread" in error:
            notes.append(f"cell {cell} {LIMIT_NOTES['processes'].format(limits=limits)}")
    submission.notes += notes
    for number, exercise in submission.guards.items():
        outcome, message = cells.get(number, ("missing", ""))
        if outcome == "failed" and (changed := MACHINERY_CHANGED.search(message)):
            submission.changed.setdefault(exercise, []).append(changed[1].strip())
            submission.notes.append(changed[1].strip())
    for exercise, number in submission.checks.items():
        outcome, message = cells.get(number, ("missing", ""))
        if exercise in submission.changed:
            submission.verdicts[exercise] = "fail"
        elif outcome == "passed":
            submission.verdicts[exercise] = "pass"
        elif outcome == "missing" or (died_at is not None and number >= died_at):
            submission.verdicts[exercise] = "error"
        else:
            submission.verdicts[exercise] = "fail"


def grade(paths: list[str], out: Path, *, timeout: int = 60, workers: str = "auto",
          root: Path = PROJECT_ROOT, limits: sandbox.Limits = sandbox.DEFAULT_LIMITS,
          ) -> list[Submission]:  # fmt: skip
    """Grade every submitted notebook, showing progress; writes out/gradebook.csv,
    out/summary.md and a feedback file per notebook in out/feedback/."""
    refs = references(root)
    prepared_dir = (out / "prepared").resolve()
    prepared_dir.mkdir(parents=True, exist_ok=True)
    submissions = []
    for index, (given, path) in enumerate(find_notebooks(paths), 1):
        submission = Submission(given, path)
        submissions.append(submission)
        nb, problem = _read(path)
        if nb is None:
            submission.module = _module_from_name(path.name, refs)
            submission.notes.append(problem)
            continue
        try:
            submission.module, notes = identify(nb, path.name, refs)
            submission.notes += notes
            if not submission.module:
                continue
            prepared, notes = prepare(nb, refs[submission.module])
        except Exception as error:  # valid JSON, but not a notebook we can work with
            submission.notes.append(f"malformed notebook ({error.__class__.__name__}: {error})")
            continue
        submission.notes += notes
        submission.checks = _cell_numbers(prepared)
        submission.guards = _guard_numbers(prepared)
        submission.cell_ids = [cell.id for cell in prepared.cells if cell.cell_type == "code"]
        submission.prepared = prepared_dir / f"{index:03d}" / f"{submission.module}.ipynb"
        submission.prepared.parent.mkdir(exist_ok=True)
        nbformat.write(prepared, submission.prepared)

    junit = (out / "nbval-junit.xml").resolve()
    events = (out / "nbval-cells.jsonl").resolve()  # progress, and what each check printed
    command = nbval_command(prepared_dir, junit, timeout=timeout, workers=workers)
    command += grading_progress.plugin_args(events)
    gradable = [s for s in submissions if s.prepared]
    if gradable:
        bwrap_problem = sandbox.bwrap_problem()
        for line in sandbox.unprotected(bwrap_problem):
            print(line, flush=True)
        sandbox.write_kernelspec(
            out,
            limits=limits,
            isolate_files=not bwrap_problem,
            create_databases=[name for name, ref in refs.items() if _creates_databases(ref)],
        )
        print("nbval command:\n  " + shlex.join(command), flush=True)
        notebooks = {_nodeid_path(s, prepared_dir): _progress_of(s) for s in gradable}
        with open(out / "nbval.log", "w") as log:
            printed = grading_progress.run(
                command, events, notebooks, cwd=prepared_dir, stdout=log, stderr=subprocess.STDOUT
            )
        if not sandbox.wait_for_cleanup(out):
            print("Some kernels' sandboxes were still being cleaned up after 60 s.", flush=True)
        results = nbval_results(junit, prepared_dir) if junit.exists() else {}
        for submission in gradable:
            cells = results.get(submission.prepared.resolve(), {})
            judge(submission, cells, submission.cell_ids, limits)
            for limit in sandbox.limits_hit(out, submission.prepared.parent):
                note = LIMIT_NOTES[limit].format(limits=limits)
                if not any(n.endswith(note) for n in submission.notes):
                    submission.notes.append(f"the kernel {note}")
            where = _nodeid_path(submission, prepared_dir)
            submission.printed = {
                exercise: printed[where, number]
                for exercise, number in submission.checks.items()
                if (where, number) in printed
            }
    for submission in submissions:
        exercises = build.exercises_of(refs[submission.module]) if submission.module else {}
        for exercise in exercises:
            submission.verdicts.setdefault(exercise, "error")
    write_gradebook(submissions, out, command)
    from course import feedback  # it explains failures with this module's self-check

    feedback.write(submissions, out / "feedback")
    return submissions


def _nodeid_path(submission: Submission, prepared_dir: Path) -> str:
    """The prepared copy as nbval names it, relative to the prepared folder."""
    return submission.prepared.relative_to(prepared_dir).as_posix()


def _progress_of(submission: Submission) -> grading_progress.Notebook:
    checks = set(submission.checks.values())
    return grading_progress.Notebook(submission.given, len(submission.cell_ids), checks)


def _creates_databases(reference) -> bool:
    """Whether the module's set-up line asks for a role that may CREATE DATABASE."""
    setup = next((c for c in reference.cells if c.cell_type == "code"), None)
    return bool(setup and re.search(r"create_databases\s*=\s*True", setup.source))


def _module_from_name(filename: str, refs: dict) -> str:
    number = filename.split("_", 1)[0]
    return next((name for name in refs if name.split("_", 1)[0] == number), "")


def write_gradebook(submissions: list[Submission], out: Path, command: list[str]) -> None:
    exercises = sorted({exercise for s in submissions for exercise in s.verdicts})
    with open(out / "gradebook.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["submission", "module", *exercises, "score", "notes"])
        for s in submissions:
            verdicts = [s.verdicts.get(exercise, "") for exercise in exercises]
            writer.writerow([s.given, s.module, *verdicts, s.score, "; ".join(s.notes)])

    lines = [
        "# Grading summary",
        "",
        f"{len(submissions)} notebooks; "
        f"{sum(bool(s.notes) for s in submissions)} with notes (see gradebook.csv).",
        "",
        "| exercise | pass | fail | error | pass rate |",
        "|---|---|---|---|---|",
    ]
    for exercise in exercises:
        counts = Counter(s.verdicts[exercise] for s in submissions if exercise in s.verdicts)
        total = sum(counts.values())
        rate = f"{100 * counts['pass'] / total:.0f}%" if total else "-"
        lines.append(
            f"| {exercise} | {counts['pass']} | {counts['fail']} | {counts['error']} | {rate} |"
        )
    lines += ["", "The nbval command that produced the verdicts:", "", "    " + shlex.join(command)]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    (out / "check-cells.json").write_text(
        json.dumps(
            {str(s.prepared): s.checks for s in submissions if s.prepared}, indent=1
        )  # which nbval "Cell N" is which exercise, for reading nbval's own report
        + "\n"
    )


# --- the learner's self-check ----------------------------------------------------------------


@dataclass(frozen=True)
class CheckReport:
    exercise: str
    verdict: str  # pass, fail or error
    message: str = ""
    hints: tuple[str, ...] = ()


_SECTION = re.compile(r"^_{3,} (.+?) _{3,}$")  # "____ test_name ____": a failure's report
_SUBSECTION = re.compile(r"^-{3,} .+ -{3,}$")  # "---- Captured stdout call ----"
_LOCATION = re.compile(r"^\S+\.py:\d+(: \w*)?$")  # "<cell>.py:3: AssertionError"


def _failure_lines(outputs, most: int = 12) -> str:
    """What a failing check said, as the notebook shows it: each failure's message (a
    check's own `pytest.fail(...)` text, or the `E ...` lines of an error), else pytest's
    summary lines, else the cell's error."""
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    reports, report = [], None
    for line in text.splitlines():
        if _SECTION.match(line):
            report = []
            reports.append(report)
        elif line.startswith("===") or _SUBSECTION.match(line):
            report = None
        elif report is not None:
            report.append(line)
    lines = []
    for report in reports:
        errors = [line[1:].strip() for line in report if line.startswith("E ")]
        lines += errors or [line for line in report if line.strip() and not _LOCATION.match(line)]
    if not lines:
        lines = [line for line in text.splitlines() if line.startswith(("FAILED", "ERROR"))]
    lines = lines or [f"{o.ename}: {o.evalue}" for o in outputs if o.output_type == "error"]
    lines = [re.sub(r"\bt_[0-9a-f]{32}\.py::", "", line).rstrip() for line in lines]
    return "\n".join(list(dict.fromkeys(lines))[:most])


def check_report(exercise: str, outputs, *, same_output: bool, changed=None) -> CheckReport:
    """A check cell's report from what it printed (same_output: whether that matched the
    reference's outputs under the sanitizer): its verdict, its failure's message and hints.
    `changed`: what its guard cells found changed in the check machinery (a fail)."""
    failed = any(o.output_type == "error" for o in outputs)
    message = _failure_lines(outputs) if failed else ""
    if changed:  # whatever the check printed, it was not the genuine machinery's verdict
        message = "\n".join([*changed, message]).strip()
    elif not failed and not same_output:
        message = "the check's output differs from the reference's (warnings?)"
    text = "\n".join(
        o.get("text", "") + f"{o.get('ename', '')}: {o.get('evalue', '')}" for o in outputs
    )
    verdict = "pass" if not failed and same_output and not changed else "fail"
    return CheckReport(exercise, verdict, message, tuple(hints_for(text)))


def self_check(path: Path, *, timeout: int = 60, root: Path = PROJECT_ROOT) -> list[CheckReport]:
    """Run a learner's exercise notebook as the grader would, and report each exercise with
    its failure message and hints. The notebook itself is never modified."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    from course.execute import comparable, execute, sanitizer

    refs = references(root)
    nb, problem = _read(path)
    if nb is None:
        raise NotebookError(f"{path}: {problem}")
    module, notes = identify(nb, path.name, refs)
    if not module:
        raise NotebookError(f"{path}: {notes[0]}")
    prepared, _ = prepare(nb, refs[module])
    try:
        executed = execute(prepared, path.parent.resolve(), allow_errors=True, timeout=timeout)
    except (CellTimeoutError, DeadKernelError) as error:
        reason = "a cell ran too long" if isinstance(error, CellTimeoutError) else "kernel died"
        return [CheckReport(e, "error", reason) for e in build.exercises_of(refs[module])]
    expected = {build.check_id(c): c.outputs for c in refs[module].cells if build.check_id(c)}
    patterns = sanitizer()
    changed = {}  # exercise -> what its guard cells found changed
    for cell in executed.cells:
        for output in cell.outputs if guard_of(cell) else []:
            if output.output_type == "error":
                changed.setdefault(guard_of(cell), []).append(f"{output.ename}: {output.evalue}")
    reports = []
    for cell in executed.cells:
        if not (exercise := build.check_id(cell)):
            continue
        same = comparable(cell.outputs, patterns) == comparable(expected[exercise], patterns)
        reports.append(
            check_report(exercise, cell.outputs, same_output=same, changed=changed.get(exercise))
        )
    return reports


def saved_progress(root: Path = PROJECT_ROOT) -> dict[str, dict[str, str]]:
    """Each module's exercises with their state as last saved in exercises/: pass, fail or
    not run, read from the check cells' stored outputs (JupyterLab saves them)."""
    progress = {}
    for name, reference in references(root).items():
        states = dict.fromkeys(build.exercises_of(reference), "not run")
        path = root / build.EXERCISES / f"{name}.ipynb"
        nb, _ = _read(path) if path.exists() else (None, "")
        for cell in nb.cells if nb else []:
            if (exercise := build.check_id(cell)) in states and cell.get("outputs"):
                failed = any(o.output_type == "error" for o in cell.outputs)
                states[exercise] = "fail" if failed else "pass"
        progress[name] = states
    return progress
