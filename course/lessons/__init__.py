"""What lessons and exercises import: each recipe here is taught in full in one lesson, and
later lessons import it from here instead of retyping it.

Everything else in `course/` is infrastructure (the database ladder, the build, grading, the
command line); nothing there is lesson material.

- `reports`: failures printed short and stable (`brief_errors`, `trim`, `first_line`) and
  `collect_garbage_quietly` (module 01 explains why they exist).
- `loops`: `LoopBook`, which names the event loops a run used (module 01).
- `terminal`: `run_in_a_terminal`, pytest in a new process on a folder of files, for what
  cannot happen inside a notebook's pytest run (modules 01, 04 and 05).
- `databases`: `admin` for CREATE/DROP DATABASE, `rows_seen_elsewhere` (modules 02 and 05).
- `shop_fixtures`: the savepoint fixtures (taught in module 02), the lifespan client (taught in
  module 03), the exchange-rate fake and `place_widget_order`, used from module 03 on.
- `parity`: module 06's testcontainers recipe and `ContainerRecorder`, the `database` fixture
  (PostgreSQL and SQLite side by side), the shop's migrations on a test's connection and the
  seeded drifts (`migrated_schema`, `DRIFTS`).
- `concurrency`: tests that commit (`committing_sessionmaker`), a driven race
  (`hold_and_race`, `finished_or_blocked`), `sqlstate`, `run_transaction` and `OrderDesk`
  (module 07).
- `hygiene`: what the loop and the collector report (`loop_reports`, `what_collection_reports`),
  the leak planted in the shop's lifespan and the settings that make leaks fail, the old
  pytest-asyncio suite and its loop witness, and the checks of exercises 08.1-08.3 (module 08).
- `capstone`: module 09's exercises on the lending app: `check_setup` (the reference suite on a
  learner's conftest.py, serially and on 2 workers) and `hunt_lending_suite` (a learner's
  suite against lending's seeded bugs, under xdist).
"""

from course.lessons.databases import admin, rows_seen_elsewhere
from course.lessons.loops import LoopBook
from course.lessons.reports import brief_errors, collect_garbage_quietly, first_line, trim
from course.lessons.terminal import run_in_a_terminal

__all__ = [
    "LoopBook",
    "admin",
    "brief_errors",
    "collect_garbage_quietly",
    "first_line",
    "rows_seen_elsewhere",
    "run_in_a_terminal",
    "trim",
]
