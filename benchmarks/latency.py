"""How fast the course feels: `course db start` from cold and warm, with each PostgreSQL the
ladder can use here (the first it finds, and the build from PyPI), kernel set-up, and the
first and later check cells. Prints a table (seconds). Run: .venv/bin/python benchmarks/latency.py
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client.manager import KernelManager
from traitlets.config import Config

from course.lab import kernel_manager_config
from course.paths import PROJECT_ROOT
from course.postgres import PROGRAMS_VARIABLE, find_bin_dir, major_version, pypi_bin_dir

CHECK_CELL = """%%ipytest
import pytest

@pytest.mark.asyncio
async def test_add():
    assert 1 + 1 == 2
"""
WARM_RUNS = 7


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def course_db(action: str, state: Path, programs: Path) -> None:
    env = {**os.environ, "COURSE_STATE_DIR": str(state), PROGRAMS_VARIABLE: str(programs)}
    command = [sys.executable, "-m", "course.cli", "db", action]
    subprocess.run(command, env=env, check=True, capture_output=True)


def database_rows(programs: Path) -> list[tuple[str, float]]:
    version = f"PostgreSQL {major_version(programs)}"
    with tempfile.TemporaryDirectory() as state:
        cold = timed(lambda: course_db("start", Path(state), programs))
        warm = timed(lambda: course_db("start", Path(state), programs))
        course_db("stop", Path(state), programs)
        restart = timed(lambda: course_db("start", Path(state), programs))
        course_db("stop", Path(state), programs)
    return [
        (f"{version}: course db start, cold (initdb + start)", cold),
        (f"{version}: course db start, already running", warm),
        (f"{version}: course db start, initialized but stopped", restart),
    ]


def kernel_rows() -> list[tuple[str, float]]:
    rows = []
    started = time.perf_counter()
    # Configured as the course's lab and checks configure theirs (encrypted, course.lab).
    manager = KernelManager(
        kernel_name="python3", config=Config(KernelManager=kernel_manager_config())
    )
    manager.start_kernel(cwd=str(PROJECT_ROOT / "notebooks"))
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    rows.append(("kernel start", time.perf_counter() - started))

    def run(code: str) -> None:
        reply = client.execute_interactive(code, timeout=120, output_hook=lambda message: None)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"cell failed: {reply['content']}")

    try:
        rows.append(
            (
                "setup cell: import course; course.setup()",
                timed(lambda: run("import course; course.setup()")),
            )
        )
        rows.append(("first check cell", timed(lambda: run(CHECK_CELL))))
        warm = [timed(lambda: run(CHECK_CELL)) for _ in range(WARM_RUNS)]
        rows.append((f"later check cells (median of {WARM_RUNS})", statistics.median(warm)))
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return rows


def main() -> None:
    ladder = {programs for programs in (find_bin_dir(), pypi_bin_dir()) if programs}
    rows = [row for programs in sorted(ladder) for row in database_rows(programs)]
    rows += kernel_rows()
    width = max(len(name) for name, _ in rows)
    print(f"{'what':<{width}}  seconds")
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds:7.3f}")


if __name__ == "__main__":
    main()
