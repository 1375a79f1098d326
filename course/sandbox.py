"""The grader's kernel launcher: every graded notebook's kernel in a sandbox of its own.

`course grade` writes a kernelspec (see `write_kernelspec`) whose command is
`python -m course.sandbox [options] -f CONNECTION_FILE`, and nbval starts each kernel with it.
This trusted code runs before any learner code, in the notebook's own folder (nbval's cwd):

1. Database: the kernel gets a role and database of its own, `course_kernel_<pid>` with this
   launcher's pid, made here with the toolkit's administration rights (which the kernel cannot
   reach), in COURSE_KERNEL_DATABASE_URL.
2. Resource limits: address space (RLIMIT_AS) and no core dumps; a cgroup with `pids.max` and
   a memory limit where this process may create one (as root, or in a delegated cgroup v2),
   else RLIMIT_NPROC (never enforced for root, and shared by all the user's processes).
3. Files, where bubblewrap works: the whole filesystem read-only, the notebook's own folder
   writable, a private /tmp and HOME, its own /proc (pid namespace); the output folder (apart
   from its own folder), the toolkit's state folder (the database's administration) and
   Jupyter's runtime folder (other kernels' connection keys) hidden. The network is shared:
   kernels talk ZMQ on loopback and reach PostgreSQL over TCP.

Then this process becomes the kernel (exec), so that Jupyter's signals reach it as they reach a
plain kernel. nbval ends each kernel with SIGKILL to its whole process group
(`shutdown_kernel(now=True)`), so the cleanup is done by a keeper forked beforehand into a
session of its own: when the kernel is gone it kills what is left in the cgroup, removes the
cgroup and releases the database.
"""

import argparse
import contextlib
import errno
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

if os.name == "posix":  # the launcher is POSIX-only; `course check` imports this module anywhere
    import fcntl
    import resource

KERNEL_NAME = "course-grading"
CGROUP_PREFIX = "course-kernel-"
# in the kernel's private /tmp: IPython's history and caches; the toolkit's state
SANDBOX_HOME, SANDBOX_STATE = "/tmp/home", "/tmp/course-state"
# The kernel's temporary files: not /tmp itself, where the binds of its own folder (and of the
# connection file) may lie. pytest in the kernel (module 05) tidies old numbered folders in
# `$TMPDIR/pytest-of-<user>`, and without a lock file there a bound folder looks old to it.
SANDBOX_TEMP = "/tmp/temp"
GiB = 1024**3
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": GiB, "t": 1024**4}


@dataclass(frozen=True)
class Limits:
    memory: int = 4 * GiB  # bytes: each process's address space, and the cgroup's total
    processes: int = 256  # processes and threads in the kernel's cgroup (or more for the user)
    # CPUs' worth of time, where the cgroup has a cpu controller: a fork bomb spinning until
    # its cell times out must leave the other kernels (one per core) their share.
    cpus: int = 1

    @property
    def memory_text(self) -> str:
        for unit in ("TiB", "GiB", "MiB", "KiB"):
            size = _UNITS[unit[0].lower()]
            if self.memory >= size:
                return f"{self.memory / size:g} {unit}"
        return f"{self.memory} bytes"


DEFAULT_LIMITS = Limits()


def parse_size(text: str) -> int:
    """Bytes from "4G", "512MiB", "4096" (binary units)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", text.lower())
    if not match:
        raise ValueError(f"not a size: {text!r} (examples: 4G, 512M)")
    return int(float(match[1]) * _UNITS[match[2]])


# --- what the grader sets up -----------------------------------------------------------------


def jupyter_path(out: Path) -> Path:
    """The folder to put in JUPYTER_PATH for nbval to find the grading kernel; the keepers'
    reports go there too."""
    return out.resolve() / "sandbox"


def kernelspec_path(out: Path) -> Path:
    """Also the run's lock: each kernel's keeper holds a shared lock on it until it is done."""
    return jupyter_path(out) / "kernels" / KERNEL_NAME / "kernel.json"


def _reports(out: Path) -> Path:
    return jupyter_path(out) / "limits-hit"


def report_path(out: Path, own: Path) -> Path:
    """Where the keeper of the kernel that ran in folder `own` says which limits it hit."""
    return _reports(out) / f"{own.name}.json"


def limits_hit(out: Path, own: Path) -> list[str]:
    """What the kernel that ran in `own` ran into: "memory" and/or "processes"."""
    path = report_path(out, own)
    return json.loads(path.read_text()) if path.exists() else []


def write_kernelspec(
    out: Path, *, limits: Limits, isolate_files: bool, create_databases: list[str]
) -> None:
    """The grading kernel for the run that writes into `out` (and no report of an earlier run)."""
    shutil.rmtree(_reports(out), ignore_errors=True)
    argv = [
        sys.executable, "-m", "course.sandbox", "--out", str(out.resolve()),
        "--memory", str(limits.memory), "--processes", str(limits.processes),
        *(["--isolate-files"] if isolate_files else []),
        *(["--create-databases", *create_databases] if create_databases else []),
        "-f", "{connection_file}",
    ]  # fmt: skip
    spec = {"argv": argv, "display_name": "Python (graded, sandboxed)", "language": "python"}
    kernelspec_path(out).parent.mkdir(parents=True, exist_ok=True)
    kernelspec_path(out).write_text(json.dumps(spec, indent=1) + "\n")


def wait_for_cleanup(out: Path, *, most: float = 60) -> bool:
    """Wait until every kernel's keeper has cleaned up (at most `most` seconds)."""
    with open(kernelspec_path(out)) as lock:
        deadline = time.monotonic() + most
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.05)


def bwrap_problem() -> str:
    """Why bubblewrap cannot isolate files here, or "" when it can."""
    if not shutil.which("bwrap"):
        return "bwrap not installed"
    probe = subprocess.run(
        ["bwrap", "--ro-bind", "/", "/", "--unshare-pid", "--proc", "/proc", "true"],
        capture_output=True,
        text=True,
    )
    if probe.returncode:
        return f"bwrap does not work here ({(probe.stderr.strip() or 'no message')[:120]})"
    return ""


def unprotected(problem: str) -> list[str]:
    """One line per protection this machine cannot give, for `course grade` to print, given
    `bwrap_problem()`."""
    lines = []
    if problem:
        lines.append(
            f"file isolation is off: {problem}: learner code can write anywhere the grader's "
            "user can; see README"
        )
    if not Cgroup.can_create():
        if os.geteuid() == 0:
            lines.append(
                "process limit is off: running as root, and no cgroup can be created here "
                "(RLIMIT_NPROC does not apply to root): a fork bomb can exhaust the machine; "
                "see README"
            )
        else:
            lines.append(
                "process limit is per user: no cgroup can be created here, and RLIMIT_NPROC "
                "counts all your processes: a fork bomb stops at it, but can keep the other "
                "kernels from starting threads meanwhile; see README"
            )
    return lines


# --- cgroups ---------------------------------------------------------------------------------


def _cgroup_mounts() -> dict[str, tuple[Path, str]]:
    """controller ("pids", "memory"; "" for cgroup v2) -> (mount point, its root)."""
    mounts = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        fstype, options = fields[fields.index("-") + 1], fields[-1].split(",")
        if fstype == "cgroup":
            known = CONTROLLERS + OPTIONAL_CONTROLLERS
            mounts.update({c: (Path(fields[4]), fields[3]) for c in options if c in known})
        elif fstype == "cgroup2":
            mounts.setdefault("", (Path(fields[4]), fields[3]))
    return mounts


CONTROLLERS = ("pids", "memory")  # required for a cgroup
OPTIONAL_CONTROLLERS = ("cpu",)
CPU_PERIOD = 100_000  # microseconds
# The limit files: cgroup v1 has one hierarchy per controller, v2 one for all.
_LIMIT_FILES = {
    "v1": {"pids": "pids.max", "memory": "memory.limit_in_bytes", "cpu": "cpu.cfs_quota_us"},
    "v2": {"pids": "pids.max", "memory": "memory.max", "cpu": "cpu.max"},
}


def _own_cgroups() -> dict[str, tuple[Path, str]]:
    """Where this process's cgroup is, per controller: (directory, "v1" or "v2"). A v2
    controller counts only when it is enabled for the children of that directory."""
    if not Path("/proc/self/cgroup").exists():
        return {}
    mounts = _cgroup_mounts()
    found = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        for name in names.split(",") if names else [""]:
            if name in mounts:
                mount, root = mounts[name]
                directory = mount / os.path.relpath(path, root)
                if name:
                    found[name] = (directory, "v1")
                else:
                    enabled = (directory / "cgroup.subtree_control").read_text().split()
                    for controller in set(CONTROLLERS + OPTIONAL_CONTROLLERS) & set(enabled):
                        found.setdefault(controller, (directory, "v2"))
    return found


@dataclass(frozen=True)
class Cgroup:
    """The kernel's cgroup: one directory per hierarchy that has the pids or memory controller."""

    directories: tuple[Path, ...]

    @classmethod
    def create(cls, name: str, limits: Limits) -> "Cgroup | None":
        """A child of this process's cgroup with the limits, or None where it cannot be made
        (not root, no delegation, or a controller missing)."""
        own = _own_cgroups()
        if not set(CONTROLLERS) <= set(own):
            return None
        made = []
        try:
            for parent, version in dict(own.values()).items():
                _remove_abandoned(parent)
                directory = parent / name
                directory.mkdir()
                made.append(directory)
                for controller, (where, _) in own.items():
                    if where == parent:
                        limit = {
                            "pids": limits.processes,
                            "memory": limits.memory,
                            "cpu": limits.cpus * CPU_PERIOD,
                        }[controller]
                        (directory / _LIMIT_FILES[version][controller]).write_text(
                            f"{limit} {CPU_PERIOD}" if version == "v2" and controller == "cpu"
                            else str(limit)
                        )  # fmt: skip
        except OSError:
            for directory in made:
                directory.rmdir()
            return None
        return cls(tuple(made))

    @classmethod
    def can_create(cls) -> bool:
        cgroup = cls.create(f"course-probe-{os.getpid()}", Limits())
        if cgroup:
            cgroup.remove()
        return cgroup is not None

    def enter(self, pid: int) -> None:
        for directory in self.directories:
            (directory / "cgroup.procs").write_text(str(pid))

    def processes(self) -> set[int]:
        return {
            int(pid)
            for directory in self.directories
            for pid in (directory / "cgroup.procs").read_text().split()
        }

    def limits_hit(self) -> list[str]:
        """The limits hit: "processes" if a fork failed at pids.max, "memory" if the OOM
        killer struck."""
        hit = set()
        for directory in self.directories:
            for name, key, limit in _EVENTS:
                if (path := directory / name).exists():
                    counts = dict(line.split() for line in path.read_text().splitlines())
                    if int(counts.get(key, 0)):
                        hit.add(limit)
        return sorted(hit)

    def kill_all(self, *, most: float = 10) -> None:
        """SIGKILL every process in the cgroup until none is left (a fork bomb's processes
        keep forking while they are killed, within pids.max)."""
        deadline = time.monotonic() + most
        while (pids := self.processes()) and time.monotonic() < deadline:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)

    def remove(self) -> None:
        for directory in self.directories:
            for _ in range(100):  # EBUSY while the killed processes finish exiting
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as error:
                    if error.errno != errno.EBUSY:
                        raise
                    time.sleep(0.01)


# (file, counter, limit): the counters that say a limit was hit, in cgroup v1 and v2
_EVENTS = [
    ("pids.events", "max", "processes"),
    ("memory.oom_control", "oom_kill", "memory"),
    ("memory.events", "oom_kill", "memory"),
]


def _remove_abandoned(parent: Path) -> None:
    """Remove the empty cgroups of launchers that are gone (a keeper killed by hand)."""
    for directory in parent.glob(f"{CGROUP_PREFIX}*"):
        pid = directory.name.removeprefix(CGROUP_PREFIX)
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            with contextlib.suppress(OSError):
                directory.rmdir()


# --- the launcher ----------------------------------------------------------------------------


def kernel_command(connection_file: str) -> list[str]:
    return [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file]


def bwrap_command(kernel: list[str], *, own: Path, hidden: list[Path], connection_file: Path):
    """The kernel inside bubblewrap: everything read-only, `own` writable, `hidden` empty."""
    command = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    command += ["--tmpfs", "/tmp"]
    for path in hidden:
        command += ["--tmpfs", str(path)]  # empty, and read-only once the binds below are in
    command += [
        "--bind", str(own), str(own),
        "--ro-bind", str(connection_file), str(connection_file),
        *(argument for path in hidden for argument in ("--remount-ro", str(path))),
        "--dir", SANDBOX_HOME, "--setenv", "HOME", SANDBOX_HOME,
        "--dir", SANDBOX_TEMP, "--setenv", "TMPDIR", SANDBOX_TEMP,
        # the real state folder is hidden: SQLite files (without PostgreSQL) go to /tmp
        "--setenv", "COURSE_STATE_DIR", SANDBOX_STATE,
        # ipykernel exits when the parent named here looks gone, but that parent is outside the
        # pid namespace; 1 means none to watch: --die-with-parent ends the sandbox with it.
        "--setenv", "JPY_PARENT_PID", "1",
        "--unshare-pid", "--unshare-ipc", "--die-with-parent", "--chdir", str(own),
        "--", *kernel,
    ]  # fmt: skip
    return command


def hidden_paths(out: Path) -> list[Path]:
    """What a sandboxed kernel must not see: the output folder, the toolkit's state folder
    (the database's administration) and Jupyter's runtime folder (every kernel's keys)."""
    from jupyter_core.paths import jupyter_runtime_dir

    from course.paths import state_dir

    paths = {out, state_dir(), Path(jupyter_runtime_dir())}
    return sorted(p.resolve() for p in paths if p.is_dir())


def _user_tasks() -> int:
    """Processes and threads that this user runs now (RLIMIT_NPROC counts them all)."""
    uid, tasks = os.getuid(), 0
    for process in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):  # gone meanwhile
            if process.stat().st_uid == uid:
                tasks += len(os.listdir(process / "task"))
    return tasks


def _limit_resources(cgroup: Cgroup | None, limits: Limits) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory, limits.memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if cgroup:
        cgroup.enter(os.getpid())
    elif os.geteuid() != 0 and Path("/proc").is_dir():
        allowed = _user_tasks() + limits.processes
        resource.setrlimit(resource.RLIMIT_NPROC, (allowed, allowed))


def _start_keeper(clean_up: Callable[[], None], lock: Path | None) -> None:
    """Fork the process that cleans up once this one (soon the kernel) is gone."""
    launcher = os.getpid()
    exited = os.pidfd_open(launcher) if hasattr(os, "pidfd_open") else None  # Linux
    held = open(lock) if lock and lock.exists() else None  # noqa: SIM115 (the keeper's to close)
    if held:
        fcntl.flock(held, fcntl.LOCK_SH)  # the keeper's copy holds it until it exits
    if os.fork():
        if exited is not None:
            os.close(exited)
        if held:
            held.close()
        return
    try:
        os.setsid()  # out of the kernel's process group, which nbval ends with SIGKILL
        with open(os.devnull, "r+") as devnull:
            os.dup2(devnull.fileno(), 0)
            os.dup2(devnull.fileno(), 1)
        if exited is not None:
            select.select([exited], [], [])  # readable once the launcher (the kernel) has exited
        while os.getppid() == launcher:
            time.sleep(0.1)
        clean_up()
    finally:
        os._exit(0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m course.sandbox", description=__doc__)
    parser.add_argument("-f", dest="connection_file", required=True, help="Jupyter's")
    parser.add_argument("--out", type=Path, help="the grading output folder (hidden)")
    parser.add_argument("--memory", type=int, default=Limits.memory, help="bytes")
    parser.add_argument("--processes", type=int, default=Limits.processes)
    parser.add_argument("--isolate-files", action="store_true", help="run in bubblewrap")
    parser.add_argument(
        "--create-databases", nargs="*", default=[], metavar="MODULE",
        help="modules whose kernel's role may CREATE DATABASE",
    )  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> None:
    from course import db
    from course.postgres import PostgresUnavailable

    options = _parser().parse_args(argv)
    limits = Limits(options.memory, options.processes)
    own = Path.cwd().resolve()  # nbval starts each kernel in its notebook's folder
    database = f"{db.DATABASE_PREFIX}_kernel_{os.getpid()}"
    may_create = any(own.glob(f"{m}.ipynb") for m in options.create_databases)
    try:
        os.environ[db.PROVISIONED_URL_VARIABLE] = db.provision(
            database, create_databases=may_create
        )
    except PostgresUnavailable:
        database = None  # course.setup() in the kernel says why, and uses SQLite where it can
    cgroup = Cgroup.create(f"{CGROUP_PREFIX}{os.getpid()}", limits)

    def clean_up() -> None:
        try:
            if cgroup:
                if options.out and (hit := cgroup.limits_hit()):
                    report_path(options.out, own).parent.mkdir(exist_ok=True)
                    report_path(options.out, own).write_text(json.dumps(hit))
                cgroup.kill_all()
                cgroup.remove()
        finally:
            if database:
                db.release(database)

    _start_keeper(clean_up, kernelspec_path(options.out) if options.out else None)

    command = kernel_command(options.connection_file)
    if options.isolate_files:
        hidden = hidden_paths(options.out) if options.out else []
        connection_file = Path(options.connection_file).resolve()
        command = bwrap_command(command, own=own, hidden=hidden, connection_file=connection_file)
    _limit_resources(cgroup, limits)
    # Jupyter interrupts a kernel with SIGINT to its process group: bubblewrap must ignore it
    # (ipykernel sets its own handler).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
