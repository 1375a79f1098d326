"""The grader's kernel sandbox (course.sandbox): its decisions on this machine. The hostile
submissions it stops are graded with the honest ones in test_grading.py's one run."""

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

from course import grading, sandbox
from course.paths import state_dir

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
import json, os, sys, tempfile
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
    "temporary files": tempfile.gettempdir(),
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
        # not /tmp, where its own folder may be bound: pytest tidies $TMPDIR/pytest-of-<user>
        "temporary files": sandbox.SANDBOX_TEMP,
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
    lines = sandbox.unprotected(sandbox.bwrap_problem())
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
