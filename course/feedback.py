"""A feedback file per graded notebook, for the instructor to hand back to its learner.

Each exercise's verdict, as in the gradebook, and for one that did not pass what its check
printed in the learner's own kernel, with the hints for it, as `course check` shows them; then
the gradebook row's notes. Nothing comes from the reference solution: neither its code nor its
check cells' outputs.
"""

import os
import re
from pathlib import Path

from course.grading import Submission, check_report
from course.outputs import readable


def write(submissions: list[Submission], folder: Path) -> None:
    """One Markdown file per submission, at its path relative to the folder that holds them
    all, plus ".md": learners/ada/01_event_loops.ipynb -> folder/ada/01_event_loops.ipynb.md."""
    paths = [Path(os.path.abspath(s.path)) for s in submissions]  # as given, links kept
    common = os.path.commonpath([path.parent for path in paths]) if paths else ""
    for submission, path in zip(submissions, paths, strict=True):
        relative = path.relative_to(common)
        written = folder / relative.with_name(relative.name + ".md")
        written.parent.mkdir(parents=True, exist_ok=True)
        written.write_text(markdown(submission, relative.as_posix()))


def markdown(submission: Submission, name: str) -> str:
    passed = sum(verdict == "pass" for verdict in submission.verdicts.values())
    notes = [readable(note) for note in submission.notes]
    lines = [f"# Feedback on {name}", ""]
    if not submission.prepared:
        lines += [f"This notebook could not be graded: {notes[0] if notes else 'no reason'}.", ""]
    if submission.module:
        lines += [
            f"Module {submission.module}: {passed} of {len(submission.verdicts)} exercises pass.",
            "",
        ]
    for exercise, verdict in submission.verdicts.items():
        lines += [f"## Exercise {exercise}: {verdict}", ""]
        if verdict != "pass":
            lines += _explanation(submission, exercise)
    if notes:
        lines += ["## Notes from the grader", "", *[f"- {note}" for note in notes], ""]
    return "\n".join(lines)


def _explanation(submission: Submission, exercise: str) -> list[str]:
    outputs = submission.printed.get(exercise)
    if outputs is None:
        why = "the notebook could not be graded" if not submission.prepared else "see the notes"
        return [f"The check did not run to the end ({why}).", ""]
    # It failed (the gradebook says so): without an error, its output was not the reference's.
    changed = submission.changed.get(exercise)
    report = check_report(exercise, outputs, same_output=False, changed=changed)
    message = readable(report.message).replace(str(submission.prepared.parent), ".")
    fence = "`" * max([3, *(len(run) + 1 for run in re.findall("`+", message))])
    lines = ["What the check reported:", "", fence + "text", message, fence, ""]
    return lines + [line for hint in report.hints for line in (f"Hint: {hint}", "")]
