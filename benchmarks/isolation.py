"""What each way of isolating database tests costs per test, on PostgreSQL and SQLite.

Prints a table (median milliseconds per test, set-up and cleanup included). The strategies and
the workload are in course/isolation.py; module 02 runs a shorter version and plots it.
Run: .venv/bin/python benchmarks/isolation.py [--tests N]
"""

import argparse
import tempfile
from pathlib import Path

from course import isolation
from course.db import database_for_this_process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=100, help="timed tests per strategy")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        urls = [
            database_for_this_process("isolationbench", create_databases=True),
            f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}",
        ]
        print(isolation.table(isolation.run(urls, args.tests)))


if __name__ == "__main__":
    main()
