"""Module 06's Docker path, tested where no Docker daemon runs: what is decided, and what is
passed to testcontainers (bound to its real signature), without pretending a container ran."""

import pytest
from testcontainers.community.postgres import PostgresContainer

from course.containers import POSTGRES_IMAGE
from course.lessons.parity import (
    ContainerRecorder,
    postgres_container_arguments,
    postgres_url_for_tests,
)

LOCAL_URL = "postgresql+asyncpg://kernel:secret@127.0.0.1:5432/kernel"


@pytest.fixture
def no_daemon(monkeypatch):
    """No Docker daemon, on any machine: the socket does not exist."""
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setenv("DATABASE_URL", LOCAL_URL)


def test_without_a_daemon_the_real_defaults_give_the_local_server_in_one_line(no_daemon, capsys):
    # Not mocked: the real ping, and the real PostgresContainer, which is never made.
    with postgres_url_for_tests() as url:
        assert url == LOCAL_URL
    printed = capsys.readouterr().out.splitlines()
    assert printed == [
        "No Docker daemon answers: the tests use the local PostgreSQL (DATABASE_URL)."
    ]


def test_without_a_daemon_nothing_is_passed_to_testcontainers(no_daemon):
    recorder = ContainerRecorder()
    with postgres_url_for_tests(docker_answers=lambda: False, postgres_container=recorder):
        pass
    assert recorder.containers == []


def test_with_a_daemon_the_pinned_image_and_asyncpg_are_passed(no_daemon, capsys):
    recorder = ContainerRecorder()
    with postgres_url_for_tests(docker_answers=lambda: True, postgres_container=recorder) as url:
        (container,) = recorder.containers
        assert container.started and not container.stopped
    assert container.arguments["image"] == POSTGRES_IMAGE != "postgres:latest"
    assert container.arguments["driver"] == "asyncpg"
    assert url == container.get_connection_url()
    assert url.startswith("postgresql+asyncpg://")
    assert container.stopped
    assert capsys.readouterr().out == ""


def test_the_container_is_removed_when_the_tests_fail(no_daemon):
    recorder = ContainerRecorder()
    with (
        pytest.raises(RuntimeError),
        postgres_url_for_tests(docker_answers=lambda: True, postgres_container=recorder),
    ):
        raise RuntimeError("a test failed")
    assert recorder.containers[0].stopped


def test_the_recorder_binds_calls_to_the_real_signature():
    defaults = postgres_container_arguments()
    assert (defaults["image"], defaults["driver"]) == ("postgres:latest", "psycopg2")
    assert postgres_container_arguments(POSTGRES_IMAGE, driver="asyncpg")["image"] == POSTGRES_IMAGE
    assert postgres_container_arguments(mem_limit="1g")["mem_limit"] == "1g"  # on to Docker
    with pytest.raises(TypeError):  # one positional argument too many
        ContainerRecorder()(POSTGRES_IMAGE, 5432, "user", "password", "db", "asyncpg", "extra")


@pytest.mark.parametrize("driver", ["asyncpg", None])
def test_the_recorded_url_has_the_form_testcontainers_gives(driver, monkeypatch):
    # The real get_connection_url, on a PostgresContainer made without its constructor (which
    # needs a daemon), its host and port answered as a started container would answer them.
    real = object.__new__(PostgresContainer)
    vars(real).update(username="test", password="test", dbname="test", port=5432)
    vars(real).update(driver=f"+{driver}" if driver else "", _container=object())
    monkeypatch.setattr(real, "get_container_host_ip", lambda: "docker.invalid", raising=False)
    monkeypatch.setattr(real, "get_exposed_port", lambda port: port, raising=False)
    recorded = ContainerRecorder()(image=POSTGRES_IMAGE, driver=driver)
    assert recorded.get_connection_url() == real.get_connection_url()
