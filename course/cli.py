"""The `course` command."""

import argparse
import json
import os
import sys
from pathlib import Path

from course import db
from course.errors import NotebookError
from course.paths import PROJECT_ROOT
from course.postgres import PostgresUnavailable
from course.sandbox import DEFAULT_LIMITS, Limits, parse_size


def _db(args) -> int:
    if args.action == "start":
        server = db.start()
        print(f"PostgreSQL is up: {server.description}\n{db.shown(server.admin_url)}")
    elif args.action == "stop":
        print(db.stop())
    elif args.action == "status":
        print(json.dumps(db.status(), indent=2))
    elif args.action == "url":
        server = db.start()
        print(server.url(args.database) if args.database else server.admin_url)
    return 0


def _build(args) -> int:
    from course import build  # nbformat takes a second to import: only for these commands

    if args.check:
        if stale := build.stale_files():
            print("Stale or unnormalized notebooks (run `course build`):")
            for path in stale:
                print(f"  {path.relative_to(PROJECT_ROOT)}")
        if unclean := build.machine_specific_outputs():
            print("Stored outputs that show the machine that ran them (print stable text there):")
            for line in unclean:
                print(f"  {line}")
        if stale or unclean:
            return 1
        print("All notebooks are normalized, exercises/ is up to date, no output shows a machine.")
        return 0
    only = args.modules
    if args.execute is not None:
        from course.execute import refresh_outputs

        paths = [Path(p).resolve() for p in args.execute] or [
            module.path(kind)
            for module in build.modules()
            if not only or module.number in only
            for kind in (build.LESSONS, build.SOLUTIONS)
            if module.path(kind).exists()
        ]
        for path in paths:
            changed = refresh_outputs(path)
            print(f"{'updated' if changed else 'unchanged'}: {path.relative_to(PROJECT_ROOT)}")
        only = only or sorted({path.name.split("_", 1)[0] for path in paths})
    for path in build.build(only=only):
        print(f"wrote {path.relative_to(PROJECT_ROOT)}")
    return 0


def _verify(args) -> int:
    from course import build
    from course.execute import verify_module

    chosen = [m for m in build.modules() if not args.modules or m.number in args.modules]
    failed = False
    for module in chosen:
        if not module.path(build.SOLUTIONS).exists():
            continue
        problems = verify_module(module)
        failed |= bool(problems)
        print(f"{module.name}: {'ok' if not problems else 'PROBLEMS'}")
        for problem in problems:
            print(f"  {problem}")
    return 1 if failed else 0


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _grade(args) -> int:
    from course.grading import grade

    limits = Limits(memory=args.memory, processes=args.processes)
    submissions = grade(
        args.submissions, args.out, timeout=args.timeout, workers=args.workers, limits=limits
    )
    print(f"Graded {len(submissions)} notebooks: {args.out / 'gradebook.csv'}")
    print(f"Feedback to hand back, one file per notebook: {args.out / 'feedback'}")
    print((args.out / "summary.md").read_text())
    return 0


def _check(args) -> int:
    from course.grading import self_check

    reports = self_check(args.notebook, timeout=args.timeout)
    for report in reports:
        print(f"{report.exercise}  {report.verdict.upper()}")
        for line in report.message.splitlines():
            print(f"    {line}")
        for hint in report.hints:
            print(f"    Hint: {hint}")
    passed = sum(report.verdict == "pass" for report in reports)
    print(f"{passed} of {len(reports)} exercises pass.")
    return 0 if passed == len(reports) else 1


def _progress(args) -> int:
    from course.grading import saved_progress

    print(f"{'module':<20} {'exercise':<9} state (as saved in exercises/)")
    for module, states in saved_progress().items():
        for exercise, state in states.items():
            print(f"{module:<20} {exercise:<9} {state}")
    return 0


def _verdict(args) -> int:
    import csv

    with open(args.gradebook, newline="") as file:
        rows = [row for row in csv.DictReader(file) if row.get(args.exercise)]
    for row in rows:
        print(f"{row['submission']}: {args.exercise} {row[args.exercise]}  {row['notes']}".strip())
    if not rows:
        print(f"No submission in {args.gradebook} has exercise {args.exercise}.")
    return 0 if rows and all(row[args.exercise] == "pass" for row in rows) else 1


def _site(args) -> int:
    from course import site  # Sphinx is imported only for this command

    try:
        seconds = site.build(args.out)
    except site.SiteError as error:
        print(f"course: {error}", file=sys.stderr)
        return 2
    print(f"Built the website in {seconds:.1f} s: open {args.out / 'index.html'}")
    return 0


def _lab(args) -> int:
    from course import lab

    server = db.start()
    print(f"PostgreSQL is up: {server.description}", flush=True)
    command = lab.command(args.jupyter_args)
    os.chdir(PROJECT_ROOT)
    os.execv(command[0], command)  # Jupyter takes over this process: Ctrl-C reaches it alone


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="course", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)

    p = commands.add_parser("db", help="the course's PostgreSQL: start, stop, status, url")
    p.add_argument("action", choices=["start", "stop", "status", "url"])
    p.add_argument("--database", help="with url: the URL of this database on the server")
    p.set_defaults(run=_db)

    p = commands.add_parser("build", help="regenerate exercises/ and normalize every notebook")
    p.add_argument("modules", nargs="*", metavar="NN", help="only these modules (default: all)")
    p.add_argument("--check", action="store_true", help="change nothing; fail if anything is stale")
    p.add_argument(
        "--execute",
        nargs="*",
        metavar="NOTEBOOK",
        help="first re-run these lessons/solutions (default: all) and store their outputs",
    )
    p.set_defaults(run=_build)

    p = commands.add_parser(
        "verify", help="prove each exercise's checks fail on the stub and pass on the solution"
    )
    p.add_argument("modules", nargs="*", metavar="NN", help="module numbers (default: all)")
    p.set_defaults(run=_verify)

    p = commands.add_parser("check", help="check your exercise notebook, exercise by exercise")
    p.add_argument("notebook", type=Path, help="e.g. exercises/01_event_loops.ipynb")
    p.add_argument("--timeout", type=int, default=60, help="seconds one cell may run")
    p.set_defaults(run=_check)

    p = commands.add_parser("progress", help="every module's exercises and their state")
    p.set_defaults(run=_progress)

    p = commands.add_parser("grade", help="grade learners' exercise notebooks with nbval")
    p.add_argument("submissions", nargs="+", help="notebooks, or folders (one per learner)")
    p.add_argument("--out", required=True, type=Path, help="where the gradebook goes")
    p.add_argument("--timeout", type=int, default=60, help="seconds one cell may run")
    p.add_argument("--workers", default="auto", help="kernels at once (xdist -n); 0: no xdist")
    p.add_argument(
        "--memory", type=_size, default=DEFAULT_LIMITS.memory,
        help=f"memory per kernel, e.g. 2G (default {DEFAULT_LIMITS.memory_text})",
    )  # fmt: skip
    p.add_argument(
        "--processes", type=int, default=DEFAULT_LIMITS.processes,
        help=f"processes and threads per kernel (default {DEFAULT_LIMITS.processes})",
    )  # fmt: skip
    p.set_defaults(run=_grade)

    p = commands.add_parser(
        "verdict", help="exit 0 when an exercise passes in a gradebook (for CI autograding)"
    )
    p.add_argument("gradebook", type=Path, help="a gradebook.csv written by `course grade`")
    p.add_argument("exercise", help="an exercise id, e.g. 01.2")
    p.set_defaults(run=_verdict)

    p = commands.add_parser("site", help="build the course's website from the stored outputs")
    p.add_argument("--out", type=Path, default=PROJECT_ROOT / "_site", help="default: _site/")
    p.set_defaults(run=_site)

    p = commands.add_parser(
        "lab", help="start PostgreSQL and open JupyterLab on the start notebook"
    )
    p.add_argument("jupyter_args", nargs=argparse.REMAINDER, help="passed on to jupyter lab")
    p.set_defaults(run=_lab)
    return top


def main(argv: list[str] | None = None) -> int:
    top = parser()
    args, extra = top.parse_known_args(argv)
    if extra and args.command != "lab":
        top.error(f"unrecognized arguments: {' '.join(extra)}")
    args.jupyter_args = extra
    try:
        return args.run(args)
    except (PostgresUnavailable, NotebookError) as error:
        print(f"course: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
