"""Other Pythons on this machine, for CI's second-Python check and the tests of bootstrap.py.

Nothing is hard-coded: `pythonX.Y` on PATH when it runs (a pyenv shim for a version that is
not selected does not), else pyenv's own copy. Standard library only, so that CI can ask
before any set-up:

    python3 -m course.pythons 3.14 3.13 3.12    # prints the first one found, or exits 1
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path


def _reports(executable: Path | str, version: str) -> bool:
    try:
        result = subprocess.run(
            [str(executable), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except OSError:
        return False
    return result.returncode == 0 and result.stdout.strip() == version


def _pyenv_pythons(version: str) -> list[Path]:
    if not (pyenv := shutil.which("pyenv")):
        return []
    root = subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip()
    listed = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True).stdout
    release = re.compile(rf"{re.escape(version)}\.\d+")
    releases = [name for name in listed.split() if release.fullmatch(name)]
    releases.sort(key=lambda name: int(name.rsplit(".", 1)[1]), reverse=True)
    return [Path(root) / "versions" / name / "bin" / f"python{version}" for name in releases]


def find(version: str) -> Path | None:
    """An interpreter of Python `version` (such as "3.13") that runs, or None."""
    on_path = shutil.which(f"python{version}")
    for candidate in [*([on_path] if on_path else []), *_pyenv_pythons(version)]:
        if _reports(candidate, version):
            return Path(candidate)
    return None


def main(versions: list[str]) -> int:
    for version in versions:
        if found := find(version):
            print(found)
            return 0
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
