"""Running notebooks in real kernels: refreshing stored outputs, and proving that every
exercise's checks fail on its stub and pass on the reference solution."""

import copy
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import nbclient
import nbformat
from nbval.plugin import get_sanitize_patterns
from traitlets.config import Config

from course import build, lab
from course.outputs import clean
from course.paths import SANITIZER

CELL_TIMEOUT = 120  # seconds; a cell that runs longer is stuck


def execute(nb, cwd: Path, *, allow_errors: bool, timeout: int = CELL_TIMEOUT):
    """Execute a copy of nb in a fresh kernel of this environment; returns the copy.

    Cells tagged raises-exception may raise even when allow_errors is False (as under nbval).
    """
    nb = copy.deepcopy(nb)
    client = nbclient.NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(cwd)}},
        config=Config(KernelManager=lab.kernel_manager_config()),
    )
    # The kernel's own log (its TCP warning where pyzmq lacks CurveZMQ, for one) is not the
    # notebook's output, and would run into what `course check` prints.
    client.execute(stderr=subprocess.DEVNULL)
    return nb


# --- stored outputs ------------------------------------------------------------------------


def sanitizer():
    return [
        (re.compile(regex), replace)
        for regex, replace in get_sanitize_patterns(SANITIZER.read_text())
    ]


# What nbval leaves out of its comparison (nbval.plugin.IPyNbFile.skip_compare).
NOT_COMPARED = {"execution_count", "metadata", "traceback"}
IMAGES = {"image/png", "image/jpeg"}


def comparable(outputs, patterns) -> str:
    """Outputs as nbval compares them: sanitized text, without what it skips (counts,
    metadata, tracebacks, bitmap images)."""
    kept = []
    for output in build.merge_streams(outputs):
        output = {k: v for k, v in output.items() if k not in NOT_COMPARED}
        if "data" in output:
            output["data"] = {k: v for k, v in output["data"].items() if k not in IMAGES}
        kept.append(_sanitized(output, patterns))
    return json.dumps(kept, sort_keys=True)


def _sanitized(value, patterns):
    """Every string in an output sanitized on its own, as nbval does: after `json.dumps` a
    pattern's `\\b` would no longer match at a line start (the newline becomes `\\n`)."""
    if isinstance(value, str):
        for pattern, replace in patterns:
            value = pattern.sub(replace, value)
        return value
    if isinstance(value, list):
        return [_sanitized(item, patterns) for item in value]
    if isinstance(value, dict):
        return {key: _sanitized(item, patterns) for key, item in value.items()}
    return value


def _tracebacks(outputs) -> list[list[str]]:
    """The tracebacks as they are stored: nbval does not compare them, but a learner reads them."""
    errors = [copy.deepcopy(o) for o in outputs if o.output_type == "error"]
    return [clean(error).traceback for error in errors]


def refresh_outputs(path: Path) -> bool:
    """Re-execute a lesson or solution notebook and store its outputs.

    A cell whose new outputs equal the stored ones under the sanitizer, tracebacks included,
    keeps the stored ones, so re-running changes nothing when nothing has changed. Returns
    whether the file changed.
    """
    stored = nbformat.read(path, as_version=4)
    fresh = execute(stored, path.parent, allow_errors=False)
    patterns = sanitizer()
    for old, new in zip(stored.cells, fresh.cells, strict=True):
        if new.cell_type != "code":
            continue
        if "nbval-ignore-output" in old.metadata.get("tags", []) and old.outputs:
            continue  # its output varies by design (a benchmark): keep the stored one
        if comparable(old.outputs, patterns) != comparable(new.outputs, patterns) or (
            _tracebacks(old.outputs) != _tracebacks(new.outputs)
        ):
            old.outputs, old.execution_count = new.outputs, new.execution_count
        elif old.execution_count is None:
            old.execution_count = new.execution_count
    text = build.dumps(build.normalize(stored))
    if text == path.read_text():
        return False
    path.write_text(text)
    return True


# --- checks fail on the stub, pass on the reference ------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    exercise: str
    passed: bool
    error: str = ""


def check_results(nb, cwd: Path) -> list[CheckResult]:
    """Run every cell (errors allowed) and report each check cell's verdict."""
    executed = execute(nb, cwd, allow_errors=True)
    results = []
    for cell in executed.cells:
        if exercise := build.check_id(cell):
            errors = [o for o in cell.outputs if o.output_type == "error"]
            message = f"{errors[0].ename}: {errors[0].evalue}" if errors else ""
            results.append(CheckResult(exercise, not errors, message))
    return results


def verify_module(module: build.Module) -> list[str]:
    """Problems with a module's exercises, each naming the exercise; empty when sound.

    Three kinds of run, each in a fresh kernel: the solution notebook (every check passes);
    the exercise notebook as generated (every check fails); and, for each exercise, the
    solution with only that exercise stubbed (its check fails), which proves that a check
    fails on its own stub and not merely because an earlier exercise is unsolved.
    """
    path = module.path(build.SOLUTIONS)
    solution = nbformat.read(path, as_version=4)
    problems = []

    for result in check_results(solution, path.parent):
        if not result.passed:
            problems.append(
                f"exercise {result.exercise}: its check fails on the reference solution "
                f"({result.error})"
            )
    generated = build.exercise_from_solution(solution, path)
    for result in check_results(generated, module.path(build.EXERCISES).parent):
        if result.passed:
            problems.append(
                f"exercise {result.exercise}: its check passes on the generated exercise "
                "notebook, so it cannot tell a solved exercise from an unsolved one"
            )
    for exercise in build.exercises_of(solution):
        alone = build.exercise_from_solution(solution, path, only=exercise)
        last = max(i for i, cell in enumerate(alone.cells) if build.check_id(cell) == exercise)
        alone.cells = alone.cells[: last + 1]  # nothing after its check matters here
        verdict = {r.exercise: r for r in check_results(alone, path.parent)}
        if verdict[exercise].passed:
            problems.append(
                f"exercise {exercise}: its check passes when only its own solution is "
                "replaced by the stub"
            )
    return problems
