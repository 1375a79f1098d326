"""The course's own JupyterLab and kernels: what a learner opens, without the noise.

- The server's root is the repository, so the file browser reaches notebooks/, exercises/ and
  solutions/; it opens on the start notebook (given a file instead, Jupyter Server would make
  that file's folder its root, and nothing outside notebooks/ could be opened). JupyterLab's
  `?file-browser-path=/` would show the root first, but Jupyter Server prints a default URL
  with a query wrongly (`...?file-browser-path=/?token=...`), and learners copy that URL.
- JupyterLab does not ask whether to fetch Jupyter's news (`overrides.json` here).
- Kernels talk to their client over CurveZMQ, which jupyter_client provisions when asked to
  (`transport_encryption`): ipykernel then has no "running over TCP without encryption"
  warning to print at every start, and other local users cannot read the traffic.
"""

import os
import sys
from pathlib import Path

import zmq

from course.paths import PROJECT_ROOT

START_NOTEBOOK = "notebooks/00_start_here.ipynb"
LAB_SETTINGS = Path(__file__).with_name("jupyterlab")  # overrides.json


def kernel_manager_config() -> dict:
    """Settings for the kernel managers of the course's lab, checks and builds."""
    # "auto" encrypts kernels whose kernelspec declares CurveZMQ support (ipykernel's does);
    # a pyzmq without CurveZMQ refuses the setting, so it is left off there.
    return {"transport_encryption": "auto"} if zmq.has("curve") else {}


def command(jupyter_args: list[str]) -> list[str]:
    """The `jupyter lab` command line of `course lab`."""
    options = [
        f"--ServerApp.root_dir={PROJECT_ROOT}",
        f"--LabApp.default_url=/lab/tree/{START_NOTEBOOK}",
        f"--LabApp.app_settings_dir={LAB_SETTINGS}",
        *(f"--KernelManager.{name}={value}" for name, value in kernel_manager_config().items()),
    ]
    if os.geteuid() == 0:
        options.append("--allow-root")  # containers often run as root; Jupyter refuses without
    return [sys.executable, "-m", "jupyter", "lab", *options, *jupyter_args]
