"""What the grader's kernel sandbox costs per kernel: the time from starting a kernel to the
end of its set-up cell (`import course; course.setup(needs_postgres=True)`, which gets the
kernel's database), for nbval's plain kernel and for course.sandbox without and with
bubblewrap. Prints the median of N kernels of each, started one after another.

Run: .venv/bin/python benchmarks/sandbox.py [N]
"""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client.manager import KernelManager
from nbval.kernel import CURRENT_ENV_KERNEL_NAME, NbvalKernelspecManager

from course import db, sandbox

SETUP = "import course; course.setup(needs_postgres=True)"


def start_and_set_up(kernel_name: str, cwd: Path) -> tuple[float, float]:
    """Seconds to a ready kernel, and to the end of its set-up cell."""
    started = time.perf_counter()
    manager = KernelManager(kernel_name=kernel_name, kernel_spec_manager=NbvalKernelspecManager())
    manager.start_kernel(cwd=str(cwd))
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    ready = time.perf_counter() - started
    reply = client.execute_interactive(SETUP, timeout=60, output_hook=lambda message: None)
    assert reply["content"]["status"] == "ok", reply["content"]
    set_up = time.perf_counter() - started
    client.stop_channels()
    manager.shutdown_kernel(now=True)  # as nbval does
    return ready, set_up


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    db.start()
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        own = out / "prepared" / "001"
        own.mkdir(parents=True)
        kinds = {"plain ipykernel (--nbval-current-env)": (CURRENT_ENV_KERNEL_NAME, None)}
        kinds["course.sandbox, limits only"] = (sandbox.KERNEL_NAME, False)
        if not sandbox.bwrap_problem():
            kinds["course.sandbox, limits + bubblewrap"] = (sandbox.KERNEL_NAME, True)
        print(f"{'kernel':<42} {'ready':>7} {'set up':>7}  (median of {count}, seconds)")
        for kind, (name, isolate_files) in kinds.items():
            if isolate_files is not None:
                sandbox.write_kernelspec(
                    out, limits=sandbox.DEFAULT_LIMITS, isolate_files=isolate_files,
                    create_databases=[],
                )  # fmt: skip
                os.environ["JUPYTER_PATH"] = str(sandbox.jupyter_path(out))
            times = [start_and_set_up(name, own) for _ in range(count)]
            ready, set_up = (statistics.median(column) for column in zip(*times, strict=True))
            print(f"{kind:<42} {ready:7.2f} {set_up:7.2f}")
            if isolate_files is not None:
                sandbox.wait_for_cleanup(out)


if __name__ == "__main__":
    main()
