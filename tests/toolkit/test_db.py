"""The database ladder, and the role and database of each process."""

import asyncio
import os
import subprocess
import sys
import time

import asyncpg
import nbformat
import pytest
from sqlalchemy.engine import make_url

from course import containers, db, sql
from course.execute import execute
from course.postgres import PostgresUnavailable, find_bin_dir

needs_local_postgres = pytest.mark.skipif(find_bin_dir() is None, reason="no PostgreSQL here")


def tables(url: str) -> list[str]:
    (rows,) = sql.run(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return [row["tablename"] for row in rows]


def databases(server: db.Server) -> set[str]:
    (rows,) = sql.run(server.admin_url, "SELECT datname FROM pg_database")
    return {row["datname"] for row in rows}


def roles(server: db.Server) -> set[str]:
    (rows,) = sql.run(server.admin_url, "SELECT rolname FROM pg_roles")
    return {row["rolname"] for row in rows}


def on_database(url: str, database: str) -> str:
    """The same role's URL for another database."""
    return make_url(url).set(database=database).render_as_string(hide_password=False)


@pytest.fixture
def other_kernel():
    """The URL of another process's role and database, as a kernel's; released afterwards."""
    name = f"course_otherkernel_{os.getpid()}"
    url = db.provision(name)
    sql.run(url, "CREATE TABLE work (id int)", "INSERT INTO work VALUES (1)")
    yield url
    db.release(name)


@needs_local_postgres
def test_a_fresh_private_database_per_process_and_purpose():
    url = db.database_for_this_process("unit")
    assert url.endswith(f"/course_unit_{os.getpid()}")
    sql.run(url, "CREATE TABLE leftover (id int)")
    assert tables(url) == ["leftover"]
    # Asking again (a re-run notebook set-up) makes them afresh: empty, with a new password.
    again = db.database_for_this_process("unit")
    assert make_url(again).database == make_url(url).database
    assert tables(again) == []
    with pytest.raises(asyncpg.InvalidPasswordError):
        tables(url)


@needs_local_postgres
def test_another_process_gets_another_role_and_database_and_drops_them_at_exit():
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
    assert child_database not in roles(server)


@needs_local_postgres
def test_roles_and_databases_of_killed_processes_are_dropped_by_the_next_call():
    server = db.start()
    victim = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from course import db, sql;"
            "url = db.database_for_this_process('victim', create_databases=True);"
            "sql.run(url, 'CREATE DATABASE ' + db.database_name('victim') + '_gw0');"
            "print('ok', flush=True); import time; time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert victim.stdout.readline().strip() == "ok"
    role = f"course_victim_{victim.pid}"
    older = f"course_kernel_{victim.pid}_template"  # named after it by an older toolkit
    sql.run(server.admin_url, f'CREATE DATABASE "{older}"')
    assert {role, f"{role}_gw0", older} <= databases(server)
    assert role in roles(server)
    victim.kill()  # SIGKILL: no atexit clean-up
    victim.wait()

    db.database_for_this_process("unit")
    assert not {role, f"{role}_gw0", older} & databases(server)
    assert role not in roles(server)


@needs_local_postgres
def test_an_explicit_url_comes_first(monkeypatch):
    local = db.start()
    monkeypatch.setenv(db.EXPLICIT_URL_VARIABLE, local.admin_url.replace("+asyncpg", ""))
    server = db.start()
    assert server.kind == "explicit"
    assert server.admin_url == local.admin_url  # normalized to the asyncpg driver
    assert db.status()["source"] == "explicit"
    assert "that server is yours" in db.stop()


@needs_local_postgres
def test_a_kernel_role_reaches_its_own_database_only(other_kernel):
    url = db.database_for_this_process("unit")
    (rows,) = sql.run(url, "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles"
                      " WHERE rolname = current_user")  # fmt: skip
    assert tuple(rows[0]) == (False, False, False)
    for database in ("postgres", "template1", make_url(other_kernel).database):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied for"):
            sql.run(on_database(url, database), "SELECT 1")
    other = make_url(other_kernel).database
    with pytest.raises(
        asyncpg.InsufficientPrivilegeError, match=f"must be owner of database {other}"
    ):
        sql.run(url, f'DROP DATABASE "{other}" WITH (FORCE)')
    with pytest.raises(
        asyncpg.InsufficientPrivilegeError, match="permission denied to create database"
    ):
        sql.run(url, f'CREATE DATABASE "{make_url(url).database}_gw0"')
    assert sql.run(other_kernel, "SELECT id FROM work") == [[(1,)]]  # untouched


@needs_local_postgres
def test_a_role_provisioned_to_create_databases_creates_and_drops_its_own(other_kernel):
    url = db.database_for_this_process("unit", create_databases=True)
    own = f"{make_url(url).database}_gw0"
    sql.run(url, f'CREATE DATABASE "{own}"')
    sql.run(on_database(url, own), "CREATE TABLE t (id int)")
    sql.run(url, f'DROP DATABASE "{own}"')
    assert own not in databases(db.start())
    other = make_url(other_kernel).database
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="must be owner"):
        sql.run(url, f'DROP DATABASE "{other}" WITH (FORCE)')
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied to copy"):
        sql.run(url, f'CREATE DATABASE "{own}" TEMPLATE "{other}"')


@needs_local_postgres
def test_release_drops_the_role_and_every_database_it_owns():
    server = db.start()
    name = f"course_released_{os.getpid()}"
    url = db.provision(name, create_databases=True)
    sql.run(url, f'CREATE DATABASE "{name}_gw0"', f'CREATE DATABASE "{name}_gw1"')
    assert {name, f"{name}_gw0", f"{name}_gw1"} <= databases(server)
    db.release(name)
    assert not {name, f"{name}_gw0", f"{name}_gw1"} & databases(server)
    assert name not in roles(server)
    db.release(name)  # nothing left: nothing to do


@needs_local_postgres
def test_a_release_waits_while_another_process_tidies():
    """Two DROP ROLEs of one role at once fail ("tuple concurrently deleted"): a release that
    comes while another process tidies (and may drop that role too) waits for it."""
    server = db.start()
    name = f"course_waiting_{os.getpid()}"
    db.provision(name)

    async def release_during_a_tidy():
        async with sql.connect(server.admin_url) as tidier, sql.connect(server.admin_url) as other:
            await tidier.execute(f"SELECT pg_advisory_lock({db.TIDYING_LOCK})")
            release = asyncio.create_task(db._release(other, name))
            other_pid = other.get_server_pid()
            while not await tidier.fetchval("SELECT cardinality(pg_blocking_pids($1))", other_pid):
                assert not release.done(), "the release did not wait for the tidying lock"
                await asyncio.sleep(0.01)
            assert name in roles(server)
            await tidier.execute(f"SELECT pg_advisory_unlock({db.TIDYING_LOCK})")
            await release

    sql.run_coroutine(release_during_a_tidy())
    assert name not in roles(server)


def test_names_that_cannot_be_a_role_are_refused():
    with pytest.raises(ValueError, match="cannot name a role and a database"):
        db.provision('x"; DROP ROLE postgres; --')


@needs_local_postgres
def test_an_explicit_server_needs_a_role_that_may_create_roles_and_databases(monkeypatch):
    local = db.start()
    weak = f"course_weakadmin_{os.getpid()}"
    monkeypatch.setenv(db.EXPLICIT_URL_VARIABLE, db.provision(weak, create_databases=True))
    try:
        with pytest.raises(PostgresUnavailable, match="may not create roles and databases"):
            db.database_for_this_process("explicit")
        # A role with CREATEROLE and CREATEDB will do, superuser or not.
        sql.run(local.admin_url, f'ALTER ROLE "{weak}" CREATEROLE')
        url = db.database_for_this_process("explicit")
        assert sql.run(url, "SELECT current_user") == [[(db.database_name("explicit"),)]]
        db.release(db.database_name("explicit"))
    finally:
        monkeypatch.delenv(db.EXPLICIT_URL_VARIABLE)
        db.release(weak)
    assert db.database_name("explicit") not in roles(local)


@needs_local_postgres
def test_setup_uses_a_provisioned_database_without_admin_credentials(tmp_path):
    name = f"course_provided_{os.getpid()}"
    url = db.provision(name)
    sql.run(url, "CREATE TABLE leftover (id int)")
    env = {
        **os.environ,
        db.PROVISIONED_URL_VARIABLE: url,
        # No server, no superuser password, no Docker here: any use of admin credentials fails.
        "COURSE_STATE_DIR": str(tmp_path),
        "COURSE_PG_BIN": str(tmp_path / "nowhere"),
        "DOCKER_HOST": "unix:///nonexistent/docker.sock",
    }
    env.pop(db.EXPLICIT_URL_VARIABLE, None)
    code = """if True:
        import os, course
        from course import sql
        course.setup(needs_postgres=True{})
        sql.run(os.environ["DATABASE_URL"], "CREATE TABLE made_here (id int)")
        course.setup(needs_postgres=True{})  # a re-run set-up cell empties it again
        print(os.environ["DATABASE_URL"])
        print(os.environ.get("{}", "not inherited by child processes"))
    """
    # A session of the kernel's before its set-up is re-run, holding a lock on the table.
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = subprocess.run(
            [sys.executable, "-c", code.format("", "", db.PROVISIONED_URL_VARIABLE)],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == [url, "not inherited by child processes"]
        assert tables(url) == []
        assert not list(tmp_path.iterdir())  # no server was made

        asks_more = subprocess.run(
            [sys.executable, "-c", code.format(", create_databases=True", "", "")],
            env=env, capture_output=True, text=True,
        )  # fmt: skip
        assert asks_more.returncode != 0
        assert "may not create databases: provision it with create_databases=True" in (
            asks_more.stderr
        )
    finally:
        holder.kill()
        db.release(name)


LOCK_HOLDER = """if True:
    import asyncio, sys
    from course import sql

    async def hold():
        async with sql.connect(sys.argv[1]) as connection:
            await connection.execute("BEGIN; LOCK TABLE leftover")
            print("locked", flush=True)
            await asyncio.sleep(60)

    asyncio.run(hold())
"""


DATABASE_SABOTEUR = """\
import asyncpg, os
from sqlalchemy.engine import make_url

mine = make_url(os.environ["DATABASE_URL"])


async def connect(database):
    return await asyncpg.connect(
        user=mine.username, password=mine.password, host=mine.host, port=mine.port,
        database=database,
    )


connection = await connect(mine.database)
try:
    await connection.execute('DROP DATABASE "{victim}" WITH (FORCE)')
finally:
    await connection.close()
"""


@needs_local_postgres
def test_a_notebook_cell_cannot_drop_another_kernels_database(other_kernel, tmp_path):
    victim = make_url(other_kernel).database
    saboteur = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("import course; course.setup(needs_postgres=True)"),
            nbformat.v4.new_code_cell(DATABASE_SABOTEUR.format(victim=victim)),
            nbformat.v4.new_code_cell("await connect('postgres')"),
            nbformat.v4.new_code_cell("print('the notebook goes on')"),
        ]
    )
    executed = execute(saboteur, tmp_path, allow_errors=True)
    errors = [
        f"{output.ename}: {output.evalue}"
        for cell in executed.cells
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert errors == [
        f"InsufficientPrivilegeError: must be owner of database {victim}",
        'InsufficientPrivilegeError: permission denied for database "postgres"\n'
        "DETAIL:  User does not have CONNECT privilege.",
    ]
    assert executed.cells[-1].outputs[0].text == "the notebook goes on\n"
    assert sql.run(other_kernel, "SELECT id FROM work") == [[(1,)]]  # the other kernel's data


@needs_local_postgres
def test_the_docker_rung_gives_kernels_roles_of_their_own_too(monkeypatch, tmp_path):
    # No Docker here: the local server stands in for the container, on the same code path.
    stand_in = db.start().admin_url
    monkeypatch.setenv("COURSE_PG_BIN", str(tmp_path / "nowhere"))  # no local rung
    monkeypatch.setattr(containers, "docker_daemon_answers", lambda: True)
    monkeypatch.setattr(containers, "start", lambda: stand_in)
    assert db.start().kind == "docker"
    url = db.database_for_this_process("docker")
    assert sql.run(url, "SELECT current_user") == [[(db.database_name("docker"),)]]
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied for"):
        sql.run(on_database(url, "postgres"), "SELECT 1")


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
