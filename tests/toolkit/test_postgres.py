"""The toolkit's local PostgreSQL, for real: each test gets its own state directory and server."""

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from course import db, sql
from course.postgres import (
    RUN_AS_WHEN_ROOT,
    TRUST_RULE,
    LocalPostgres,
    PostgresUnavailable,
    find_bin_dir,
    major_version,
    pypi_bin_dir,
)

pytestmark = pytest.mark.skipif(find_bin_dir() is None, reason="no PostgreSQL programs here")


@pytest.fixture
def state(monkeypatch):
    """A private state directory; any server started in it is stopped afterwards.

    Not under pytest's tmp_path: as root the server runs as another user, who must traverse
    the path, and every pytest session that starts (tests here start some) resets
    /tmp/pytest-of-root to mode 0700.
    """
    path = Path(tempfile.mkdtemp(prefix="course-test-state-"))
    monkeypatch.setenv("COURSE_STATE_DIR", str(path))
    monkeypatch.delenv(db.EXPLICIT_URL_VARIABLE, raising=False)
    yield path
    LocalPostgres().stop()
    shutil.rmtree(path, ignore_errors=True)


def course_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "course.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def test_start_reuses_a_running_server(state):
    first = LocalPostgres().start()
    second = LocalPostgres().start()
    assert first.running
    assert second.pid == first.pid
    assert second.port == first.port


def test_two_starts_at_once_start_one_server(state):
    starts = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from course import postgres; print(postgres.LocalPostgres().start().pid)",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    pids = {int(process.communicate(timeout=60)[0]) for process in starts}
    assert all(process.returncode == 0 for process in starts)
    assert pids == {LocalPostgres().state().pid}


def test_stop_then_stop_again(state):
    server = LocalPostgres()
    server.start()
    assert server.stop() is True
    assert not server.state().running
    assert server.stop() is False


def test_start_after_kill_9_keeps_the_data(state):
    url = db.database_for_this_process("survivor")
    before = LocalPostgres().state()
    os.kill(before.pid, signal.SIGKILL)
    time.sleep(0.2)
    assert not LocalPostgres().state().running

    after = LocalPostgres().start()
    assert after.running and after.pid != before.pid
    assert after.port == before.port  # kernels holding the old URL reconnect
    name = url.rsplit("/", 1)[1]
    (rows,) = sql.run(LocalPostgres().url(), f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
    assert len(rows) == 1


def test_stale_pid_file_owned_by_an_unrelated_process(state):
    server = LocalPostgres()
    old = server.start()
    os.kill(old.pid, signal.SIGKILL)
    time.sleep(0.2)
    # The dead server's pid now belongs to a live process that is not PostgreSQL.
    impostor = subprocess.Popen(["sleep", "60"])
    try:
        pid_file = server.data_dir / "postmaster.pid"
        lines = pid_file.read_text().splitlines()
        pid_file.write_text("\n".join([str(impostor.pid), *lines[1:]]) + "\n")
        assert server.state().stale_pid_file
        assert server.start().running
    finally:
        impostor.kill()


def test_a_taken_port_is_skipped(state):
    server = LocalPostgres()
    port = server.start().port
    server.stop()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        restarted = server.start()
    assert restarted.running and restarted.port != port


def test_cli_start_status_stop(state):
    started = course_cli("db", "start")
    assert started.returncode == 0, started.stderr
    assert "postgresql+asyncpg://postgres:***@127.0.0.1:" in started.stdout  # no password shown
    assert '"running": true' in course_cli("db", "status").stdout
    assert course_cli("db", "stop").stdout.strip() == "Stopped: local PostgreSQL."
    assert course_cli("db", "stop").stdout.strip() == "Nothing was running."


def as_superuser(server: LocalPostgres, password: str | None) -> str:
    """The superuser's URL with this password (None: none at all)."""
    credentials = f"postgres:{password}" if password else "postgres"
    return f"postgresql+asyncpg://{credentials}@127.0.0.1:{server.state().port}/postgres"


def test_every_connection_needs_a_password(state):
    server = LocalPostgres()
    server.start()
    for password in (None, "guessed"):
        with pytest.raises(asyncpg.InvalidPasswordError):
            sql.run(as_superuser(server, password), "SELECT 1")
    assert sql.run(server.url(), "SELECT current_user") == [[("postgres",)]]
    assert not TRUST_RULE.search((server.data_dir / "pg_hba.conf").read_text())
    owner_only = server.password_file.stat()
    assert owner_only.st_mode & 0o777 == 0o600
    if os.geteuid() == 0:  # the server's user, who reads it at initdb
        assert pwd.getpwuid(owner_only.st_uid).pw_name == RUN_AS_WHEN_ROOT


def make_it_trust_everyone(server: LocalPostgres) -> None:
    """Make the cluster as the toolkit made them before passwords: `trust` for every rule, and
    no password file."""
    rules = server.data_dir / "pg_hba.conf"
    rules.write_text(rules.read_text().replace("scram-sha-256", "trust"))
    if server.state().running:
        sql.run(server.url(), "SELECT pg_reload_conf()")
        trusting = as_superuser(server, None)
        for _ in range(100):  # until the server has reread its rules: it does so in a moment
            with contextlib.suppress(asyncpg.InvalidPasswordError):
                sql.run(trusting, "SELECT 1")
                break
            time.sleep(0.05)
    server.password_file.unlink()


@pytest.mark.parametrize("running", [False, True], ids=["stopped", "running"])
def test_a_cluster_made_with_trust_moves_to_passwords_at_the_next_start(state, running):
    server = LocalPostgres()
    server.start()
    database = db.database_for_this_process("before")  # kept, as a learner's checkout keeps its
    if not running:
        server.stop()
    make_it_trust_everyone(server)
    if running:
        sql.run(as_superuser(server, None), "SELECT 1")  # anyone is let in, as anyone

    started = course_cli("db", "start")
    assert started.returncode == 0, started.stderr
    assert started.stderr.strip().splitlines() == [
        "The course's PostgreSQL now asks every connection for a password, and each kernel gets "
        "a role of its own: restart the notebooks' kernels that were open."
    ]
    with pytest.raises(asyncpg.InvalidPasswordError):
        sql.run(as_superuser(server, None), "SELECT 1")
    assert sql.run(database, "SELECT current_database()") == [[(make_url(database).database,)]]
    assert sql.run(db.database_for_this_process("after"), "SELECT 1") == [[(1,)]]
    assert course_cli("db", "start").stderr == ""  # once


def test_a_lost_password_file_is_named_in_one_message(state):
    server = LocalPostgres()
    server.start()
    server.password_file.unlink()
    result = course_cli("db", "url")
    assert result.returncode == 2
    assert f"{server.password_file}, which held it, is gone" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_postgresql_build_from_pypi(state, monkeypatch):
    monkeypatch.setenv("COURSE_PG_BIN", "pypi")
    server = LocalPostgres()
    assert server.bin_dir == pypi_bin_dir()
    started = server.start()
    assert started.running
    assert server.version == major_version(pypi_bin_dir()) >= 18
    if os.geteuid() == 0:  # PostgreSQL refuses root: it runs as the unprivileged user
        owner = Path(f"/proc/{started.pid}").stat().st_uid
        assert pwd.getpwuid(owner).pw_name == RUN_AS_WHEN_ROOT


def test_no_postgresql_anywhere_gives_one_actionable_message(state):
    env = {"COURSE_PG_BIN": str(state / "nowhere"), "DOCKER_HOST": "unix:///nonexistent.sock"}
    result = course_cli("db", "start", env=env)
    assert result.returncode == 2
    assert f"COURSE_PG_BIN={state / 'nowhere'} gives no initdb" in result.stderr
    assert "No PostgreSQL server could be had" in result.stderr
    assert "pip install -r requirements.txt" in result.stderr
    assert "Traceback" not in result.stderr


def two_major_versions():
    """Programs of two PostgreSQL major versions: the ladder's first, and the PyPI build."""
    first, pypi = find_bin_dir(), pypi_bin_dir()
    if pypi is None or major_version(first) == major_version(pypi):
        pytest.skip("needs PostgreSQL programs of two major versions")
    return first, pypi


def test_a_running_server_of_another_version_is_not_switched_under_kernels(state, monkeypatch):
    two_major_versions()
    LocalPostgres().start()
    monkeypatch.setenv("COURSE_PG_BIN", "pypi")
    with pytest.raises(PostgresUnavailable, match=r"run `course db stop`, then start again"):
        LocalPostgres().start()
    assert LocalPostgres().state().running


def test_other_programs_move_the_old_cluster_aside_and_make_a_new_one(state, monkeypatch, capfd):
    first, pypi = two_major_versions()
    old = LocalPostgres()
    old.start()
    old.stop()
    monkeypatch.setenv("COURSE_PG_BIN", "pypi")
    new = LocalPostgres()
    assert new.start().running
    assert new.version == major_version(pypi)
    aside = state / f"postgres-{major_version(first)}"
    assert (aside / "data" / "PG_VERSION").read_text().strip() == str(major_version(first))
    assert f"moved it to {aside}" in capfd.readouterr().err


def test_a_cluster_keeps_to_programs_of_its_own_version(state, monkeypatch):
    # Made by the PyPI build; the ladder puts other programs first.
    _, pypi = two_major_versions()
    monkeypatch.setenv("COURSE_PG_BIN", "pypi")
    LocalPostgres().start()
    LocalPostgres().stop()
    monkeypatch.delenv("COURSE_PG_BIN")
    assert LocalPostgres().bin_dir == pypi  # the programs that made it are remembered
    record = state / "postgres" / "server.json"
    record.write_text(record.read_text().replace(str(pypi), str(state / "gone")))
    assert LocalPostgres().bin_dir == pypi  # and found again by version when they move
