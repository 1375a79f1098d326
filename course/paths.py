"""Where the course lives on disk and where the toolkit keeps its state."""

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The one nbval sanitizer: CI, grading and the build compare (and store) outputs under it.
SANITIZER = PROJECT_ROOT / "nbval_sanitize.cfg"


def state_dir() -> Path:
    """The toolkit's working directory: database server, SQLite files, locks.

    It sits in the project (ignored by git) so that it survives kernel restarts and is
    shared by every notebook and test run of this checkout. COURSE_STATE_DIR moves it.
    """
    path = Path(os.environ.get("COURSE_STATE_DIR") or PROJECT_ROOT / ".course")
    path.mkdir(parents=True, exist_ok=True)
    return path
