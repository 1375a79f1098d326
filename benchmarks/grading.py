"""How fast `course grade` checks a class: N synthetic submissions (half solved, half not,
over every module), graded by `course grade`, against plain `pytest --nbval-lax` over the
same files. Prints notebooks per minute for each and their ratio.

Run: .venv/bin/python benchmarks/grading.py [N]
"""

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from course import build, grading


def make_submissions(folder: Path, count: int) -> None:
    refs = list(grading.references().items())
    for index in range(count):
        name, solution = refs[index % len(refs)]
        solved = index % 2 == 0
        nb = solution if solved else build.exercise_from_solution(solution, Path(name))
        learner = folder / f"learner{index:03d}"
        learner.mkdir(parents=True)
        nbformat.write(nb, learner / f"{name}.ipynb")


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    with tempfile.TemporaryDirectory() as scratch:
        submissions = Path(scratch) / "submissions"
        make_submissions(submissions, count)
        ours = timed(lambda: grading.grade([str(submissions)], Path(scratch) / "out"))
        plain_command = [
            sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
            "-p", "no:cacheprovider", "-q", str(submissions),
        ]  # fmt: skip
        plain = timed(lambda: subprocess.run(plain_command, capture_output=True, cwd=scratch))
    rows = [("course grade (parallel, prepared)", ours), ("pytest --nbval-lax (plain)", plain)]
    print(f"{count} notebooks")
    print(f"{'run':<36} {'seconds':>8} {'notebooks/min':>14}")
    for name, seconds in rows:
        print(f"{name:<36} {seconds:8.1f} {60 * count / seconds:14.1f}")
    print(f"ratio (plain time / course grade time): {plain / ours:.2f}")


if __name__ == "__main__":
    main()
