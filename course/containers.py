"""The Docker rung of the database ladder: PostgreSQL in a container, through testcontainers.

Only used when a Docker daemon answers; detecting that costs a few milliseconds, so machines
without Docker (Binder, most CI) pay nothing. The container outlives the `course db start`
call that made it, like the local server does; `course db stop` removes it. Its superuser's
password is generated, and kept (in its URL) in a file that only its owner can read.
"""

import contextlib
import json
import os
import secrets

from course.paths import state_dir

# PostgresContainer defaults to postgres:latest and the psycopg2 driver: pin both. Its password
# is generated for each container (a known one would let any kernel in as the superuser).
POSTGRES_IMAGE = "postgres:16-alpine"
CONTAINER_SETTINGS = {
    "image": POSTGRES_IMAGE,
    "username": "postgres",
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
    container = PostgresContainer(**CONTAINER_SETTINGS, password=secrets.token_urlsafe(24)).start()
    url = container.get_connection_url()
    record = {"id": container.get_wrapped_container().id, "url": url}
    descriptor = os.open(_record_file(), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # one left by an older toolkit may be readable by all
    with open(descriptor, "w") as file:
        json.dump(record, file)
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
