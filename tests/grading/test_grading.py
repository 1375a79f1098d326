"""The instructor's grader and the learner's self-check, on synthetic submissions for every
module that has exercises, graded in real kernels by nbval."""

import contextlib
import copy
import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import hostile
import nbformat
import pytest
from alternatives import alternative_notebook
from rich.console import Console

from course import build, db, grading, grading_progress, sandbox, sql
from course.paths import PROJECT_ROOT

TIMEOUT = 20  # seconds a cell may run: the infinite loop and the dead kernel each cost this
# (module 05's checks start pytest-xdist runs: up to 8 s each while the whole course is graded)
REFERENCES = grading.references()


def _cells_with_solution(nb):
    return [cell for cell in nb.cells if build.has_solution(cell)]


def _stub(name, solution):
    return build.exercise_from_solution(solution, Path(f"solutions/{name}.ipynb"))


def _checks(nb):
    return [cell for cell in nb.cells if build.check_id(cell)]


def _tampered(name, solution):
    """Unsolved, with the first check rewritten to pass and the others' stored outputs
    copied from the reference without running them, and the set-up line changed too."""
    nb = _stub(name, solution)
    first, *others = _checks(nb)
    first.source = "%%ipytest\ndef test_nothing():\n    pass"
    reference_outputs = {build.check_id(c): c.outputs for c in _checks(solution)}
    for cell in others:
        cell.outputs = copy.deepcopy(reference_outputs[build.check_id(cell)])
    nb.cells[1].source += "; import ipytest; ipytest.config(raise_on_error=False)"
    return nb


def _without_first_check(name, solution):
    nb = copy.deepcopy(solution)
    nb.cells.remove(_checks(nb)[0])
    return nb


VARIANTS = {
    "reference": lambda name, solution: solution,
    "stub": _stub,
    "alternative": alternative_notebook,
    "tampered": _tampered,
    "deleted-check": _without_first_check,
    "infinite-loop": lambda name, s: hostile.with_code_before_exercise(
        s, 0, "while True:\n    pass"
    ),
    "kernel-dies": lambda name, s: hostile.with_code_before_exercise(
        s, 1, "import os\nos._exit(1)"
    ),
}


# Learner code that attacks the grader, one module each: graded in the same run as the rest.
MACHINE_HOSTILE_MODULE = "00_start_here"  # the quickest to grade
# A fork bomb only where a cgroup holds it: RLIMIT_NPROC, a user's fallback, counts all the
# user's processes, so a bomb at its limit would also fail the other kernels' threads.
PROCESS_LIMIT = sandbox.Cgroup.can_create()
FILE_ISOLATION = not sandbox.bwrap_problem()
HOSTILE = {
    "memory-hog": (MACHINE_HOSTILE_MODULE, hostile.memory_hog),
    "forged-magic": ("01_event_loops", hostile.forged_magic),
    "patched-entry-point": ("00_start_here", hostile.patched_entry_point),
    "database-saboteur": ("00_start_here", hostile.database_saboteur),
}


def _fingerprints(folder: Path) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*.ipynb")}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Every variant of every module, one folder per 'learner', graded in one run."""
    root = tmp_path_factory.mktemp("grading")
    submissions = root / "submissions"
    for name, solution in REFERENCES.items():
        for variant, make in VARIANTS.items():
            path = submissions / variant / f"{name}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(make(name, copy.deepcopy(solution)), path)
        for variant, text in {"malformed": '{"cells": [', "empty": ""}.items():
            (submissions / variant).mkdir(exist_ok=True)
            (submissions / variant / f"{name}.ipynb").write_text(text)
    others = list(REFERENCES)
    wrong = submissions / "wrong-module" / f"{others[-1]}.ipynb"  # holds the first module
    wrong.parent.mkdir()
    nbformat.write(REFERENCES[others[0]], wrong)
    # The references come from a copy of solutions/, which the file saboteur aims at.
    course = root / "course"
    shutil.copytree(PROJECT_ROOT / build.SOLUTIONS, course / build.SOLUTIONS)
    out = root / "out"
    hostile_ones = dict(HOSTILE)
    if PROCESS_LIMIT:  # never a fork bomb without a process limit
        hostile_ones["fork-bomb"] = (MACHINE_HOSTILE_MODULE, hostile.fork_bomb)
    if FILE_ISOLATION:  # without it, what the saboteur writes does change others' verdicts
        (course / "course").mkdir()
        (course / "course" / "grading.py").write_text("# the course's own code\n")
        saboteur_targets = [
            _prepared_copy(out, submissions, "reference", MACHINE_HOSTILE_MODULE),
            out / "gradebook.csv",
            sandbox.kernelspec_path(out),
            course / build.SOLUTIONS / f"{MACHINE_HOSTILE_MODULE}.ipynb",
            course / "course" / "grading.py",
            submissions / "reference" / f"{MACHINE_HOSTILE_MODULE}.ipynb",
        ]
        hostile_ones["file-saboteur"] = (
            MACHINE_HOSTILE_MODULE,
            hostile.file_saboteur(saboteur_targets),
        )
    for variant, (name, make) in hostile_ones.items():
        path = submissions / variant / f"{name}.ipynb"
        path.parent.mkdir()
        nbformat.write(make(name, copy.deepcopy(REFERENCES[name])), path)

    before = _fingerprints(submissions)
    printed = io.StringIO()  # not a terminal: the progress is one plain line per notebook
    with pytest.MonkeyPatch.context() as env, contextlib.redirect_stdout(printed):
        for variable in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):  # rich obeys them
            env.delenv(variable, raising=False)
        results = grading.grade([str(submissions)], out, timeout=TIMEOUT, root=course)
    assert _fingerprints(submissions) == before, "the grader must never modify a submission"
    with open(out / "gradebook.csv") as file:
        rows = {(row["submission"].split("/")[-2], Path(row["submission"]).stem): row
                for row in csv.DictReader(file)}  # fmt: skip
    return {
        "results": results, "rows": rows, "out": out, "printed": printed.getvalue(), "root": root
    }  # fmt: skip


def _prepared_copy(out: Path, submissions: Path, variant: str, module: str) -> Path:
    """Where the grader will put a submission's prepared copy (numbered in the order found)."""
    found = [path for _, path in grading.find_notebooks([str(submissions)])]
    index = found.index(submissions / variant / f"{module}.ipynb") + 1
    return out / "prepared" / f"{index:03d}" / f"{module}.ipynb"


def verdicts(graded, variant, module):
    row = graded["rows"][(variant, module)]
    exercises = build.exercises_of(REFERENCES[row["module"] or module])
    return [row[exercise] for exercise in exercises], row["notes"]


@pytest.fixture(params=list(REFERENCES), ids=str)
def module(request):
    return request.param


def test_reference_passes(graded, module):
    result, notes = verdicts(graded, "reference", module)
    assert set(result) == {"pass"}
    assert notes == ""
    row = graded["rows"][("reference", module)]
    assert row["score"] == f"{len(result)}/{len(result)}"


def test_stub_fails(graded, module):
    result, notes = verdicts(graded, "stub", module)
    assert set(result) == {"fail"}
    assert notes == ""


def test_a_correct_solution_written_differently_passes_unflagged(graded, module):
    result, notes = verdicts(graded, "alternative", module)
    assert set(result) == {"pass"}
    assert notes == ""


def test_tampering_gains_nothing_and_is_flagged(graded, module):
    result, notes = verdicts(graded, "tampered", module)
    assert set(result) == {"fail"}
    checks = list(build.exercises_of(REFERENCES[module]))
    assert f"check {checks[0]} was edited (restored)" in notes
    for exercise in checks[1:]:
        assert f"check {exercise} had outputs without being run (ignored)" in notes
    assert "given cell setup was edited (restored)" in notes


def test_a_deleted_check_is_put_back(graded, module):
    result, notes = verdicts(graded, "deleted-check", module)
    assert set(result) == {"pass"}
    first = next(iter(build.exercises_of(REFERENCES[module])))
    assert notes == f"check {first} was missing (restored)"


def test_an_infinite_loop_times_out_and_the_rest_is_graded(graded, module):
    (first, *rest), notes = verdicts(graded, "infinite-loop", module)
    assert first == "fail"
    assert set(rest) == {"pass"}
    assert "timed out" in notes


def test_a_dying_kernel_is_an_error_for_what_follows(graded, module):
    (first, *rest), notes = verdicts(graded, "kernel-dies", module)
    assert first == "pass"
    assert set(rest) == {"error"}
    assert "kernel died" in notes


def test_a_forged_ipytest_magic_is_put_back_and_named(graded):
    result, notes = verdicts(graded, "forged-magic", "01_event_loops")
    assert set(result) == {"fail"}
    assert notes == (
        "cell forge reaches into the grading machinery: reads solutions/ (line 6); "
        "registers a magic (line 19); learner code had changed the %%ipytest magic, "
        "found before check 01.1 (put back)"
    )


def test_without_the_guard_cells_the_forged_magic_gets_full_marks(monkeypatch, tmp_path):
    """What the guard cells are for: the same forgery, graded without them, passes."""
    path = tmp_path / "01_event_loops.ipynb"
    nbformat.write(hostile.forged_magic("01_event_loops", REFERENCES["01_event_loops"]), path)
    monkeypatch.setattr(grading, "_guard_checks", lambda nb: None)
    assert {r.verdict for r in grading.self_check(path, timeout=TIMEOUT)} == {"pass"}


def test_a_patched_pytest_entry_point_is_put_back_and_named(graded):
    result, notes = verdicts(graded, "patched-entry-point", "00_start_here")
    assert set(result) == {"fail"}
    assert notes == (
        "cell patch reaches into the grading machinery: patches pytest.main (line 8); "
        "learner code had changed pytest.main, found before check 00.1 (put back)"
    )


def test_a_memory_hog_fails_with_a_note(graded):
    (first, *_), notes = verdicts(graded, "memory-hog", MACHINE_HOSTILE_MODULE)
    assert first in ("fail", "error")  # what follows may find no memory left either
    assert "cell exercise-1-solution ran out of memory (limit 4 GiB)" in notes


@pytest.mark.skipif(not PROCESS_LIMIT, reason="no cgroup can be made here")
def test_a_fork_bomb_fails_with_a_note(graded):
    (first, *_), notes = verdicts(graded, "fork-bomb", MACHINE_HOSTILE_MODULE)
    assert first in ("fail", "error")
    assert "hit the process limit (256 processes and threads)" in notes


@pytest.mark.skipif(not FILE_ISOLATION, reason=sandbox.bwrap_problem() or "-")
def test_a_file_saboteur_changes_nothing_outside_its_own_folder(graded):
    """Its six targets: another submission's prepared copy and original, the gradebook, the
    grading kernel's spec, solutions/ and the course's code (copies). Every honest verdict in
    the run is asserted by the other tests."""
    result, notes = verdicts(graded, "file-saboteur", MACHINE_HOSTILE_MODULE)
    assert set(result) == {"pass"}  # its own exercises are solved
    assert "cell exercise-1-solution reaches into the grading machinery: reads solutions/" in notes
    saboteur = next(s for s in graded["results"] if "file-saboteur" in s.given)
    own = saboteur.prepared.parent
    log = (own / "sabotage.log").read_text().splitlines()
    assert len(log) == 6 and not [line for line in log if line.endswith(": written")]
    changed = [
        path
        for path in graded["root"].rglob("*")
        if path.is_file()
        and not path.is_relative_to(own)
        and "file-saboteur" not in path.parts
        and b"sabotaged" in path.read_bytes()
    ]
    assert changed == []


def test_no_kernel_process_cgroup_or_database_is_left(graded):
    root = graded["root"]
    left = []
    for process in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if Path(os.readlink(process / "cwd")).is_relative_to(root):
                left.append(process.name)
    assert left == []
    assert _abandoned_cgroups() == []
    (rows,) = sql.run(db.start().admin_url, "SELECT datname FROM pg_database")
    kernels = {row["datname"] for row in rows if row["datname"].startswith("course_kernel_")}
    graded_here = {s.prepared.parent for s in graded["results"] if s.prepared}
    assert not [name for name in kernels if _ran_in(name, graded_here)]


def _abandoned_cgroups(*, patience: float = 5) -> list[Path]:
    """Kernel cgroups with no process left that stay past the patience. The other xdist
    workers' lesson kernels have cgroups of their own while they run, and their keepers need a
    moment to remove them once their kernel is gone; the processes of this run's kernels are
    checked above."""
    own = {directory for directory, _ in sandbox._own_cgroups().values()}
    deadline = time.monotonic() + patience
    while True:
        empty = []
        for cgroup in (p for d in own for p in d.glob(f"{sandbox.CGROUP_PREFIX}*")):
            with contextlib.suppress(FileNotFoundError):
                if not (cgroup / "cgroup.procs").read_text().split():
                    empty.append(cgroup)
        if not empty or time.monotonic() > deadline:
            return empty
        time.sleep(0.1)


def _ran_in(database: str, folders: set[Path]) -> bool:
    """Whether the kernel whose database this is ran in one of the folders (it is alive)."""
    pid = database.removeprefix("course_kernel_").split("_")[0]
    with contextlib.suppress(OSError):
        return Path(os.readlink(f"/proc/{pid}/cwd")) in folders
    return False


def test_the_grader_prints_what_it_cannot_defend_once(graded):
    for line in sandbox.unprotected(sandbox.bwrap_problem()):
        assert graded["printed"].count(line) == 1
    assert "env JUPYTER_PATH=" in graded["printed"]


def test_a_database_saboteur_reaches_no_other_database(graded):
    """It ran while the others were graded (their verdicts are asserted by the other tests)."""
    result, notes = verdicts(graded, "database-saboteur", "00_start_here")
    assert set(result) == {"pass"} and notes == ""
    submission = next(s for s in graded["results"] if "database-saboteur" in s.given)
    answers = (submission.prepared.parent / "answers.log").read_text()
    assert "connect postgres: permission denied for database" in answers
    assert "connect template1: permission denied for database" in answers
    assert "dropped" not in answers and "connected" not in answers
    assert "must be owner of database" in answers


@pytest.mark.parametrize("variant", ["malformed", "empty"])
def test_unreadable_files_are_rows_with_a_reason(graded, module, variant):
    result, notes = verdicts(graded, variant, module)
    assert set(result) == {"error"}
    assert notes.startswith({"malformed": "malformed notebook", "empty": "empty file"}[variant])


def test_a_notebook_of_another_module_is_graded_as_what_it_is(graded):
    first, *_, last = REFERENCES
    row = graded["rows"][("wrong-module", last)]
    assert row["module"] == first
    assert f"it is module {first}" in row["notes"]
    assert row["score"].split("/")[0] == row["score"].split("/")[1]


def test_summary_has_pass_rates_and_the_nbval_command(graded):
    summary = (graded["out"] / "summary.md").read_text()
    for exercise in {e for ref in REFERENCES.values() for e in build.exercises_of(ref)}:
        assert f"| {exercise} |" in summary
    assert "--nbval-lax" in summary and "--nbval-sanitize-with" in summary


def test_the_printed_nbval_command_gives_the_same_verdicts(graded, tmp_path):
    """The printed command, run by hand on the prepared copies of one module's every variant
    (each kind of verdict and note: pass, fail, timeout, dead kernel, a tripped guard, the
    memory limit), gives the grader's verdicts. One module rather than all: the whole run costs as
    much as grading."""
    kinds = {*VARIANTS, "patched-entry-point", "memory-hog"}
    first = next(iter(REFERENCES))
    replayed = [
        s
        for s in graded["results"]
        if s.prepared and s.module == first and Path(s.given).parent.name in kinds
    ]
    assert len(replayed) == len(kinds)
    prepared = (graded["out"] / "prepared").resolve()
    junit = tmp_path / "again.xml"
    command = grading.nbval_command(prepared, junit, timeout=TIMEOUT, workers="auto")
    where = command.index(str(prepared))  # the folder of copies: here, some of them
    command[where : where + 1] = [str(s.prepared) for s in replayed]
    subprocess.run(command, cwd=prepared, capture_output=True)
    again = grading.nbval_results(junit, prepared)
    for submission in replayed:
        replay = grading.Submission(submission.given, submission.path)
        replay.checks, replay.guards = submission.checks, submission.guards
        grading.judge(replay, again.get(submission.prepared.resolve(), {}), submission.cell_ids)
        assert replay.verdicts == submission.verdicts, submission.given


PROGRESS_LINE = re.compile(
    r"^\[(\d+)/(\d+) \d+:\d\d:\d\d\] (.+): (\d+) of (\d+) checks passed; "
    r"failed so far: (\d+) checks? in (\d+) notebooks?$",
    re.M,
)


def test_progress_off_a_terminal_is_a_line_per_notebook(graded):
    lines = PROGRESS_LINE.findall(graded["printed"])
    ran = {s.given: s for s in graded["results"] if s.prepared}
    assert [(int(done), int(total)) for done, total, *_ in lines] == [
        (done, len(ran)) for done in range(1, len(ran) + 1)
    ]
    assert sorted(line[2] for line in lines) == sorted(ran)
    for _, _, given, passed, checks, *_ in lines:
        verdicts = list(ran[given].verdicts.values())
        assert (int(passed), int(checks)) == (verdicts.count("pass"), len(verdicts)), given
    failed = [v for s in ran.values() for v in s.verdicts.values() if v != "pass"]
    failed_notebooks = [s for s in ran.values() if set(s.verdicts.values()) != {"pass"}]
    assert lines[-1][5:] == (str(len(failed)), str(len(failed_notebooks)))
    assert "\x1b[" not in graded["printed"]  # no terminal codes in a log


def test_progress_on_a_terminal_is_a_live_bar(tmp_path):
    """run() follows the events file while the command runs: here a stand-in for nbval that
    reports two notebooks' cells, one check failing."""
    events = tmp_path / "cells.jsonl"
    cells = [("001/a.ipynb", 0, "passed"), ("001/a.ipynb", 1, "failed")]
    cells += [("002/b.ipynb", 0, "passed"), ("002/b.ipynb", 1, "passed")]
    reports = [{"notebook": n, "cell": c, "outcome": o, "outputs": []} for n, c, o in cells]
    writer = (
        "import json, sys, time\n"
        "with open(sys.argv[1], 'w') as file:\n"
        "    for report in json.loads(sys.argv[2]):\n"
        "        file.write(json.dumps(report) + '\\n'); file.flush(); time.sleep(0.1)\n"
    )
    command = [sys.executable, "-c", writer, str(events), json.dumps(reports)]
    notebooks = {
        "001/a.ipynb": grading_progress.Notebook("ada/a.ipynb", cells=2, checks={1}),
        "002/b.ipynb": grading_progress.Notebook("bob/b.ipynb", cells=2, checks={1}),
    }
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, force_interactive=True, width=120)
    printed = grading_progress.run(command, events, notebooks, console=terminal)
    assert set(printed) == {(n, c) for n, c, _ in cells}
    assert "\x1b[" in screen.getvalue()  # drawn with terminal codes, redrawn in place
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())
    assert "Grading" in shown and "2/2 notebooks" in shown
    assert "failed so far: 1 check in 1 notebook" in shown
    assert not PROGRESS_LINE.search(shown) and "ada/a.ipynb" not in shown


def _feedback(graded, variant, module):
    return (graded["out"] / "feedback" / variant / f"{module}.ipynb.md").read_text()


def test_a_feedback_file_per_row(graded):
    written = list((graded["out"] / "feedback").rglob("*.md"))
    assert len(written) == len(graded["rows"])


def _sections(feedback):
    """Each exercise's (verdict, message, hints) as a feedback file shows them."""
    found = re.findall(r"^## Exercise (\S+): (\w+)\n(.*?)(?=^## |\Z)", feedback, re.M | re.S)
    return {
        exercise: (
            verdict,
            "\n".join(re.findall(r"^```text\n(.*?)\n```$", body, re.M | re.S)),
            re.findall(r"^Hint: (.+)$", body, re.M),
        )
        for exercise, verdict, body in found
    }


def test_feedback_explains_each_failure_with_a_hint(graded, module):
    text = _feedback(graded, "stub", module)
    assert text.startswith(f"# Feedback on stub/{module}.ipynb\n")
    sections = _sections(text)
    assert list(sections) == list(build.exercises_of(REFERENCES[module]))
    for verdict, message, hints in sections.values():
        assert verdict == "fail" and message and hints


def test_feedback_says_what_course_check_says(graded, tmp_path):
    """The same messages and hints, from what the learner's kernel printed under nbval (which
    keeps a cell's outputs up to its first error: a message may have fewer lines)."""
    module = list(REFERENCES)[1]  # its stub fails with several kinds of message
    path = tmp_path / f"{module}.ipynb"
    nbformat.write(_stub(module, REFERENCES[module]), path)
    sections = _sections(_feedback(graded, "stub", module))
    for report in grading.self_check(path, timeout=TIMEOUT):
        verdict, message, hints = sections[report.exercise]
        assert verdict == report.verdict
        assert message.splitlines()[0] == report.message.splitlines()[0]
        assert set(message.splitlines()) <= set(report.message.splitlines())
        assert hints == list(report.hints)


@pytest.mark.parametrize("variant", ["stub", "infinite-loop", "kernel-dies", "tampered"])
def test_feedback_shows_nothing_of_the_reference(graded, module, variant):
    """Neither the solution's code nor what the reference's checks printed."""
    text = _feedback(graded, variant, module)
    reference = REFERENCES[module]
    solution = [line for cell in reference.cells for line in _solution_region(cell.source)]
    printed = [
        line
        for cell in _checks(reference)
        for output in cell.outputs
        for line in output.get("text", "").splitlines()
    ]
    for line in {line.strip() for line in solution + printed if len(line.strip()) >= 20}:
        assert line not in text


def _solution_region(source):
    inside = False
    for line in source.splitlines():
        if line.strip() in (build.BEGIN, build.END):
            inside = line.strip() == build.BEGIN
        elif inside:
            yield line


def test_feedback_on_an_ungradable_file_says_why(graded, module):
    text = _feedback(graded, "empty", module)
    assert "This notebook could not be graded: empty file." in text
    for exercise in build.exercises_of(REFERENCES[module]):
        assert f"## Exercise {exercise}: error\n" in text


# --- the learner's self-check -----------------------------------------------------------------


def test_self_check_on_the_stub_explains_and_hints(module, tmp_path):
    path = tmp_path / f"{module}.ipynb"
    nbformat.write(_stub(module, REFERENCES[module]), path)
    before = path.read_bytes()
    reports = grading.self_check(path, timeout=TIMEOUT)
    assert path.read_bytes() == before
    assert [r.exercise for r in reports] == list(build.exercises_of(REFERENCES[module]))
    assert {r.verdict for r in reports} == {"fail"}
    assert all(r.message and r.hints for r in reports)


def test_self_check_on_the_reference_passes(module, tmp_path):
    path = tmp_path / f"{module}.ipynb"
    nbformat.write(REFERENCES[module], path)
    assert {r.verdict for r in grading.self_check(path, timeout=TIMEOUT)} == {"pass"}


def test_progress_reads_saved_check_outputs(tmp_path):
    name, solution = next(iter(REFERENCES.items()))
    (tmp_path / "solutions").mkdir()
    (tmp_path / "exercises").mkdir()
    nbformat.write(solution, tmp_path / "solutions" / f"{name}.ipynb")
    saved = _stub(name, solution)
    first, second, *_ = _checks(saved)
    first.outputs = copy.deepcopy(_checks(solution)[0].outputs)  # ran and passed
    second.outputs = [nbformat.v4.new_output("error", ename="E", evalue="x", traceback=[])]
    nbformat.write(saved, tmp_path / "exercises" / f"{name}.ipynb")
    states = list(grading.saved_progress(tmp_path)[name].values())
    assert states[:2] == ["pass", "fail"]
    assert set(states[2:]) <= {"not run"}


def test_self_check_reports_a_checks_own_message_first():
    """What the notebook shows: a check's own `pytest.fail(..., pytrace=False)` text in full,
    and the `E` lines of an assertion, not pytest's summary lines cut to 80 columns."""
    printed = (
        "FF                                                                       [100%]\n"
        "=================================== FAILURES ===================================\n"
        "_______________________________ test_own_message _______________________________\n"
        "Requests went to `app`, not `manager.app`:\n"
        "the lifespan ran, but its state is on manager.app.\n"
        "----------------------------- Captured stdout call -----------------------------\n"
        "noise\n"
        "_________________________________ test_assert __________________________________\n"
        "\n"
        "    def test_assert():\n"
        '>       assert 1 == 2, "one is not two"\n'
        "E       AssertionError: one is not two\n"
        "E       assert 1 == 2\n"
        "\n"
        "<cell>.py:6: AssertionError\n"
        "=========================== short test summary info ============================\n"
        "FAILED t_<module>.py::test_own_message - Failed: Requests went to `app`, not `man...\n"
        "FAILED t_<module>.py::test_assert - AssertionError: one is not two\n"
        "2 failed in 0.08s\n"
    )
    outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=printed),
        nbformat.v4.new_output("error", ename="Error", evalue="ipytest failed with exit_code 1"),
    ]
    assert grading._failure_lines(outputs).splitlines() == [
        "Requests went to `app`, not `manager.app`:",
        "the lifespan ran, but its state is on manager.app.",
        "AssertionError: one is not two",
        "assert 1 == 2",
    ]
