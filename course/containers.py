"""The Docker rung of the database ladder: PostgreSQL in a container, through testcontainers.

Only used when a Docker daemon answers; detecting that costs a few milliseconds, so machines
without Docker (Binder, most CI) pay nothing. The container outlives the `course db start`
call that made it, like the local server does; `course db stop` removes it.
"""

import contextlib
import json

from course.paths import state_dir

# PostgresContainer defaults to postgres:latest and the psycopg2 driver: pin both.
POSTGRES_IMAGE = "postgres:16-alpine"
CONTAINER_SETTINGS = {
    "image": POSTGRES_IMAGE,
    "username": "postgres",
    "password": "course",
    "dbname": "postgres",
    "driver": "asyncpg",
}


def _record_file():
    return state_dir() / "docker.json"


def docker_daemon_answers(timeout: float = 2) -> bool:
    """Whether a Docker daemon answers a ping. The docker CLI being installed proves nothing."""
    try:
        import docker

        return docker.from_env(timeout=timeout).ping()
    except Exception:  # no socket, refused, no permission, no docker package: all mean "no"
        return False


def _recorded() -> dict | None:
    with contextlib.suppress(OSError, ValueError):
        return json.loads(_record_file().read_text())
    return None


def running_url() -> str | None:
    """The URL of the container this checkout started, if it still runs."""
    record = _recorded()
    if not record or not docker_daemon_answers():
        return None
    import docker

    with contextlib.suppress(docker.errors.NotFound):
        if docker.from_env().containers.get(record["id"]).status == "running":
            return record["url"]
    return None


def start() -> str:
    """Start (or reuse) the PostgreSQL container; returns its asyncpg URL."""
    if url := running_url():
        return url
    from testcontainers.community.postgres import PostgresContainer
    from testcontainers.core.config import testcontainers_config

    # Ryuk would remove the container when this process exits; `course db stop` does instead.
    testcontainers_config.ryuk_disabled = True
    container = PostgresContainer(**CONTAINER_SETTINGS).start()
    url = container.get_connection_url()
    _record_file().write_text(json.dumps({"id": container.get_wrapped_container().id, "url": url}))
    return url


def stop() -> bool:
    """Remove the container this checkout started. Returns False when there was none."""
    record = _recorded()
    _record_file().unlink(missing_ok=True)
    if not record or not docker_daemon_answers():
        return False
    import docker

    with contextlib.suppress(docker.errors.NotFound):
        docker.from_env().containers.get(record["id"]).remove(force=True)
        return True
    return False
