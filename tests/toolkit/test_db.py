"""The database ladder and the per-process databases."""

import os
import subprocess
import sys
import time

import pytest

from course import containers, db
from course.postgres import PostgresUnavailable, find_bin_dir

needs_local_postgres = pytest.mark.skipif(find_bin_dir() is None, reason="no PostgreSQL here")


def tables(url: str) -> list[str]:
    (rows,) = db._run_coroutine(
        db._execute(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    )
    return [row["tablename"] for row in rows]


def databases(server: db.Server) -> set[str]:
    (rows,) = db._run_coroutine(db._execute(server.admin_url, "SELECT datname FROM pg_database"))
    return {row["datname"] for row in rows}


@needs_local_postgres
def test_a_fresh_private_database_per_process_and_purpose():
    url = db.database_for_this_process("unit")
    assert url.endswith(f"/course_unit_{os.getpid()}")
    db._run_coroutine(db._execute(url, "CREATE TABLE leftover (id int)"))
    assert tables(url) == ["leftover"]
    # Asking again (a re-run notebook set-up) empties it.
    assert db.database_for_this_process("unit") == url
    assert tables(url) == []


@needs_local_postgres
def test_another_process_gets_another_database_and_drops_it_at_exit():
    server = db.start()
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "from course import db; print(db.database_for_this_process('unit'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    child_database = child.stdout.strip().rsplit("/", 1)[1]
    assert child_database != db.database_name("unit")
    assert child_database not in databases(server)


@needs_local_postgres
def test_databases_of_killed_processes_are_dropped_by_the_next_call():
    server = db.start()
    victim = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from course import db; db.database_for_this_process('victim');"
            "print('ok', flush=True); import time; time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert victim.stdout.readline().strip() == "ok"
    named_after_it = f"course_victim_{victim.pid}_gw0"  # as module 05's worker databases are
    db._run_coroutine(db._execute(server.admin_url, f'CREATE DATABASE "{named_after_it}"'))
    abandoned = {f"course_victim_{victim.pid}", named_after_it}
    assert abandoned <= databases(server)
    victim.kill()  # SIGKILL: no atexit clean-up
    victim.wait()

    db.database_for_this_process("unit")
    assert not abandoned & databases(server)


@needs_local_postgres
def test_an_explicit_url_comes_first(monkeypatch):
    local = db.start()
    monkeypatch.setenv(db.EXPLICIT_URL_VARIABLE, local.admin_url.replace("+asyncpg", ""))
    server = db.start()
    assert server.kind == "explicit"
    assert server.admin_url == local.admin_url  # normalized to the asyncpg driver
    assert db.status()["source"] == "explicit"
    assert "that server is yours" in db.stop()


def test_docker_detection_is_cheap_and_honest_without_a_daemon(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    started = time.perf_counter()
    assert containers.docker_daemon_answers() is False
    # Cheap enough to ask on every start: a missing socket fails at once, not after a timeout.
    assert time.perf_counter() - started < 1


def test_docker_rung_really_fails_without_a_daemon(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    import docker

    # Not mocked: testcontainers' own constructor reaches for the daemon and fails.
    with pytest.raises(docker.errors.DockerException):
        containers.start()


def test_the_container_is_pinned():
    from testcontainers.community.postgres import PostgresContainer

    container_class_defaults = PostgresContainer.__init__.__defaults__
    assert "postgres:latest" in container_class_defaults  # why pinning matters
    assert containers.CONTAINER_SETTINGS["image"] != "postgres:latest"
    assert containers.CONTAINER_SETTINGS["image"].split(":")[1][0].isdigit()
    assert containers.CONTAINER_SETTINGS["driver"] == "asyncpg"


def test_ladder_without_local_programs_or_docker(monkeypatch, tmp_path):
    monkeypatch.delenv(db.EXPLICIT_URL_VARIABLE, raising=False)
    monkeypatch.setenv("COURSE_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("COURSE_PG_BIN", str(tmp_path / "nowhere"))
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(PostgresUnavailable, match="No PostgreSQL server could be had"):
        db.start()
    assert db.status()["source"] is None


def test_notebook_setup_falls_back_to_sqlite_or_stops_with_a_clear_message(tmp_path):
    env = {
        **os.environ,
        "COURSE_STATE_DIR": str(tmp_path),
        "COURSE_PG_BIN": str(tmp_path / "nowhere"),
        "DOCKER_HOST": "unix:///nonexistent/docker.sock",
    }
    env.pop(db.EXPLICIT_URL_VARIABLE, None)
    code = "import course, os; course.setup({}); print(os.environ['DATABASE_URL'])"
    lenient = subprocess.run(
        [sys.executable, "-c", code.format("")], env=env, capture_output=True, text=True
    )
    assert lenient.returncode == 0, lenient.stderr
    assert "this notebook runs on SQLite" in lenient.stdout
    assert lenient.stdout.strip().splitlines()[-1].startswith("sqlite+aiosqlite:///")

    strict = subprocess.run(
        [sys.executable, "-c", code.format("needs_postgres=True")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert strict.returncode != 0
    assert "This notebook needs PostgreSQL" in strict.stderr
