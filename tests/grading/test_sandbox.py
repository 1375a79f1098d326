"""The grader's kernel sandbox (course.sandbox): its decisions on this machine, and hostile
submissions graded with an honest one in one `course grade` run."""

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
from hostile import file_saboteur, fork_bomb, memory_hog
from sqlalchemy import make_url

from course import db, grading, sandbox
from course.build import SOLUTIONS
from course.paths import PROJECT_ROOT, state_dir

MODULE = "00_start_here"  # the quickest module to grade
REFERENCE = grading.references()[MODULE]
BWRAP_WORKS = not sandbox.bwrap_problem()
CGROUPS = sandbox.Cgroup.can_create()
needs_bwrap = pytest.mark.skipif(not BWRAP_WORKS, reason=sandbox.bwrap_problem())
needs_cgroups = pytest.mark.skipif(not CGROUPS, reason="no cgroup can be created here")


@pytest.fixture
def scratch():
    """A folder outside /tmp, which the sandbox would hide behind its private /tmp anyway."""
    folder = Path(tempfile.mkdtemp(prefix="course-sandbox-", dir="/var/tmp"))
    yield folder
    shutil.rmtree(folder)


@pytest.fixture
def without_bwrap(monkeypatch, tmp_path):
    """A PATH on which bwrap is not installed (only `env`, which the nbval command uses)."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "env").symlink_to(shutil.which("env"))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))


# --- decisions --------------------------------------------------------------------------------


def test_sizes_and_how_limits_read():
    assert sandbox.parse_size("4G") == sandbox.parse_size("4GiB") == 4 * 1024**3
    assert sandbox.parse_size("512m") == 512 * 1024**2
    assert sandbox.parse_size("1000") == 1000
    with pytest.raises(ValueError, match="not a size"):
        sandbox.parse_size("lots")
    assert sandbox.Limits(memory=sandbox.parse_size("1.5G")).memory_text == "1.5 GiB"
    assert sandbox.DEFAULT_LIMITS.memory_text == "4 GiB"


def test_the_hidden_paths_are_the_output_the_state_and_jupyters_runtime(tmp_path):
    from jupyter_core.paths import jupyter_runtime_dir

    Path(jupyter_runtime_dir()).mkdir(parents=True, exist_ok=True)
    hidden = sandbox.hidden_paths(tmp_path)
    assert set(hidden) == {tmp_path.resolve(), state_dir().resolve(), Path(jupyter_runtime_dir())}


PROBE = """\
import json, os, sys
from pathlib import Path

def attempt(action):
    try:
        action()
        return "ok"
    except OSError as error:
        return error.__class__.__name__

own, sibling, outside, state, connection = map(Path, sys.argv[1:])
print(json.dumps({
    "own": attempt(lambda: (own / "new.txt").write_text("x")),
    "sibling": attempt(lambda: sibling.write_text("x")),
    "outside": attempt(lambda: outside.write_text("x")),
    "output folder": attempt(lambda: (own.parent / "new.txt").write_text("x")),
    "state": sorted(os.listdir(state)),
    "connection file": connection.read_text(),
    "tmp": attempt(lambda: Path("/tmp/new.txt").write_text("x")),
    "home": os.environ["HOME"],
    "pid": os.getpid(),
    "processes": len([p for p in os.listdir("/proc") if p.isdigit()]),
}))
"""


@needs_bwrap
def test_bwrap_lets_a_kernel_write_its_own_folder_only(scratch):
    out, state = scratch / "out", scratch / "state"
    own, other = out / "prepared" / "001", out / "prepared" / "002"
    for folder in (own, other, state):
        folder.mkdir(parents=True)
    (state / "secret").write_text("superuser password")
    sibling, outside = other / "notebook.ipynb", scratch / "solutions.ipynb"
    sibling.write_text("{}")
    outside.write_text("{}")
    connection = scratch / "kernel-1.json"
    connection.write_text('{"key": "k"}')
    probe = scratch / "probe.py"
    probe.write_text(PROBE)
    command = sandbox.bwrap_command(
        [sys.executable, str(probe), str(own), str(sibling), str(outside), str(state),
         str(connection)],
        own=own, hidden=[out, state], connection_file=connection,
    )  # fmt: skip
    seen = json.loads(subprocess.run(command, capture_output=True, check=True, text=True).stdout)
    assert seen == {
        "own": "ok",
        "sibling": "FileNotFoundError",  # the output folder is hidden, bar its own folder
        "outside": "OSError",  # read-only file system
        "output folder": "OSError",
        "state": [],
        "connection file": '{"key": "k"}',
        "tmp": "ok",
        "home": sandbox.SANDBOX_HOME,
        "pid": 2,  # its own pid namespace: the grader's processes are out of reach
        "processes": 2,
    }
    assert (own / "new.txt").exists() and sibling.read_text() == outside.read_text() == "{}"
    assert not (out / "new.txt").exists() and not Path("/tmp/new.txt").exists()


@needs_cgroups
def test_a_cgroup_stops_forks_at_its_limit_and_goes_away():
    cgroup = sandbox.Cgroup.create("course-kernel-test", sandbox.Limits(processes=16))
    forks = (
        "import os, time\n"
        "children = 0\n"
        "try:\n"
        "    for _ in range(100):\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(60)\n"
        "        children += 1\n"
        "except BlockingIOError:\n"
        "    print(children, flush=True)\n"
        "time.sleep(60)\n"
    )
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", forks],
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: cgroup.enter(os.getpid()),
        )
        assert 0 < int(process.stdout.readline()) < 16
        assert len(cgroup.processes()) == 16
        assert cgroup.limits_hit() == ["processes"]
        cgroup.kill_all()
        assert cgroup.processes() == set()
        process.wait()
        process.stdout.close()
    finally:
        cgroup.kill_all()
        cgroup.remove()
    assert not any(directory.exists() for directory in cgroup.directories)


@needs_cgroups
def test_a_cgroup_kills_what_outgrows_its_memory_and_says_so():
    cgroup = sandbox.Cgroup.create("course-kernel-test", sandbox.Limits(memory=64 * 1024**2))
    try:
        grow = subprocess.run(
            [sys.executable, "-c", "blocks = [bytearray(10**7) for _ in range(30)]"],
            preexec_fn=lambda: cgroup.enter(os.getpid()),
        )
        assert grow.returncode == -signal.SIGKILL  # the OOM killer, at 64 MiB
        assert cgroup.limits_hit() == ["memory"]
    finally:
        cgroup.remove()


def _as_a_normal_user():
    """In a child process of root: become nobody (65534)."""
    os.setgid(65534)
    os.setuid(65534)


FORKS_UNDER_LIMITS = """import os, sys, time
from course import sandbox
sandbox._limit_resources(None, sandbox.Limits(processes=16))
children = 0
try:
    for _ in range(100):
        if os.fork() == 0:
            time.sleep(60)
        children += 1
except BlockingIOError:
    print(children, flush=True)
os.killpg(0, 9)
"""


def test_without_a_cgroup_a_normal_user_gets_rlimit_nproc():
    as_user = {} if os.geteuid() else {"preexec_fn": _as_a_normal_user}
    forks = subprocess.run(
        [sys.executable, "-c", FORKS_UNDER_LIMITS],
        capture_output=True, text=True, start_new_session=True, **as_user,
    )  # fmt: skip
    assert forks.returncode == -signal.SIGKILL, forks.stderr  # its own process group
    assert 0 < int(forks.stdout) <= 16


def test_without_bwrap_grading_says_that_file_isolation_is_off(without_bwrap):
    lines = sandbox.unprotected()
    assert lines[0] == (
        "file isolation is off: bwrap not installed: learner code can write anywhere the "
        "grader's user can; see README"
    )


def test_notes_name_the_cell_and_the_limit():
    def report(source, error):
        return f"Cell execution caused an exception\n\nInput:\n{source}\n\nTraceback:\n\n{error}\n"

    limits = sandbox.Limits(memory=2 * 1024**3, processes=64)
    cells = {
        0: ("passed", ""),
        1: ("failed", report("blocks = []", "MemoryError: ")),
        2: ("failed", report("os.fork()", "BlockingIOError: [Errno 11] Resource temporarily")),
        3: ("failed", report("except MemoryError: pass", "NameError: name 'x' is not defined")),
    }
    submission = grading.Submission("given", Path("given"))
    grading.judge(submission, cells, ["setup", "hog", "bomb", "honest"], limits)
    assert submission.notes == [
        "cell hog ran out of memory (limit 2 GiB)",
        "cell bomb hit the process limit (64 processes and threads)",
    ]


# --- hostile submissions, graded together with an honest one ---------------------------------


def _processes_under(folder: Path) -> list[int]:
    """Processes whose working folder is in `folder`."""
    found = []
    for process in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if Path(os.readlink(process / "cwd")).is_relative_to(folder):
                found.append(int(process.name))
    return found


def _databases() -> set[str]:
    server = db.start()
    (rows,) = db._run_coroutine(db._execute(server.admin_url, "SELECT datname FROM pg_database"))
    return {row["datname"] for row in rows}


@pytest.fixture(scope="module")
def hostile_run():
    """Honest, memory hog, fork bomb (where a process limit holds) and file saboteur, graded
    in one run against a copy of the course, all outside /tmp."""
    root = Path(tempfile.mkdtemp(prefix="course-sandbox-", dir="/var/tmp"))
    course = root / "course-copy"
    (course / SOLUTIONS).mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / SOLUTIONS / f"{MODULE}.ipynb", course / SOLUTIONS)
    (course / "course").mkdir()
    (course / "course" / "grading.py").write_text("# the course's own code\n")
    submissions, out = root / "submissions", root / "out"
    # submissions are prepared in sorted order: fork-bomb 001, honest 002, memory-hog 003, ...
    targets = [
        out / "prepared" / "002" / f"{MODULE}.ipynb",  # another submission's prepared copy
        out / "gradebook.csv",
        sandbox.kernelspec_path(out),
        course / SOLUTIONS / f"{MODULE}.ipynb",
        course / "course" / "grading.py",
        submissions / "honest" / f"{MODULE}.ipynb",
    ]
    variants = {
        "honest": lambda name, solution: solution,
        "memory-hog": memory_hog,
        "saboteur": file_saboteur(targets),
    }
    if CGROUPS or os.geteuid() != 0:  # never a fork bomb without a process limit
        variants["fork-bomb"] = fork_bomb
    for variant, make in variants.items():
        (submissions / variant).mkdir(parents=True)
        nbformat.write(make(MODULE, REFERENCE), submissions / variant / f"{MODULE}.ipynb")
    saboteur = out / "prepared" / f"{sorted(variants).index('saboteur') + 1:03d}"

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        results = grading.grade([str(submissions)], out, timeout=20, root=course)
    rows = {Path(s.given).parent.name: s for s in results}
    yield {"rows": rows, "root": root, "out": out, "saboteur": saboteur, "printed": printed}
    shutil.rmtree(root)


def test_the_honest_submission_passes(hostile_run):
    honest = hostile_run["rows"]["honest"]
    assert set(honest.verdicts.values()) == {"pass"}
    assert honest.notes == []


def test_a_memory_hog_fails_with_a_note(hostile_run):
    hog = hostile_run["rows"]["memory-hog"]
    assert hog.verdicts["00.1"] in ("fail", "error")
    assert "cell exercise-1-solution ran out of memory (limit 4 GiB)" in hog.notes


@pytest.mark.skipif(os.geteuid() == 0 and not CGROUPS, reason="no process limit for root here")
def test_a_fork_bomb_fails_with_a_note(hostile_run):
    bomb = hostile_run["rows"]["fork-bomb"]
    assert bomb.verdicts["00.1"] in ("fail", "error")
    assert any("hit the process limit (256 processes and threads)" in n for n in bomb.notes)


@needs_bwrap
def test_a_file_saboteur_changes_nothing_outside_its_own_folder(hostile_run):
    log = (hostile_run["saboteur"] / "sabotage.log").read_text().splitlines()
    assert len(log) == 6
    assert not [line for line in log if line.endswith(": written")]
    own = [hostile_run["saboteur"], hostile_run["root"] / "submissions" / "saboteur"]
    changed = [
        path
        for path in hostile_run["root"].rglob("*")
        if path.is_file()
        and not any(path.is_relative_to(folder) for folder in own)
        and "sabotaged" in path.read_text(errors="replace")
    ]
    assert changed == []


def test_nothing_is_left_running(hostile_run):
    assert _processes_under(hostile_run["root"]) == []
    own_cgroups = {directory for directory, _ in sandbox._own_cgroups().values()}
    assert [p for d in own_cgroups for p in d.glob(f"{sandbox.CGROUP_PREFIX}*")] == []
    database = make_url((hostile_run["saboteur"] / "database.txt").read_text()).database
    assert database.startswith("course_kernel_")
    assert database not in _databases()


def test_the_grader_prints_what_it_cannot_defend_and_its_command(hostile_run):
    printed = hostile_run["printed"].getvalue()
    for line in sandbox.unprotected():
        assert printed.count(line) == 1
    assert "env JUPYTER_PATH=" in printed and "--nbval-kernel-name course-grading" in printed


def test_without_bwrap_grading_still_works_and_says_so(without_bwrap, tmp_path, capsys):
    path = tmp_path / "learner" / f"{MODULE}.ipynb"
    path.parent.mkdir()
    nbformat.write(REFERENCE, path)
    (result,) = grading.grade([str(path.parent)], tmp_path / "out", timeout=20)
    assert set(result.verdicts.values()) == {"pass"}
    printed = capsys.readouterr().out
    assert printed.count("file isolation is off: bwrap not installed") == 1
    kernelspec = json.loads(sandbox.kernelspec_path(tmp_path / "out").read_text())
    assert "--isolate-files" not in kernelspec["argv"]


def test_a_new_run_forgets_the_limits_hit_in_the_last(tmp_path):
    own = tmp_path / "prepared" / "001"
    sandbox.report_path(tmp_path, own).parent.mkdir(parents=True)
    sandbox.report_path(tmp_path, own).write_text('["memory"]')
    assert sandbox.limits_hit(tmp_path, own) == ["memory"]
    sandbox.write_kernelspec(
        tmp_path, limits=sandbox.DEFAULT_LIMITS, isolate_files=True, create_databases=["05_x"]
    )
    assert sandbox.limits_hit(tmp_path, own) == []
    argv = json.loads(sandbox.kernelspec_path(tmp_path).read_text())["argv"]
    assert argv[argv.index("--create-databases") + 1] == "05_x"
    assert argv[-2:] == ["-f", "{connection_file}"]
