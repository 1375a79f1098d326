"""How long `course site` takes: the whole build (copying the notebooks, Sphinx, the move into
place), run N times into a temporary folder. Prints each run, the median, and what was built.

Run: .venv/bin/python benchmarks/site.py [N]
"""

import statistics
import sys
import tempfile
from pathlib import Path

from course import site


def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "site"
        seconds = [site.build(out) for _ in range(runs)]
        pages = [p for p in out.rglob("*.html") if not p.relative_to(out).parts[0].startswith("_")]
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"{'run':>4}  {'seconds':>8}")
    for number, taken in enumerate(seconds, 1):
        print(f"{number:>4}  {taken:>8.2f}")
    median = statistics.median(seconds)
    print(f"median {median:.2f} s for {len(pages)} pages, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
