"""`course lab`, started as a learner starts it, and asked through Jupyter Server's own APIs
what the learner sees: the whole course in the file browser, the start notebook opened, no
news prompt, and kernels that run code without the unencrypted-TCP warning."""

import html
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import uuid
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import websocket

from course.lab import START_NOTEBOOK
from course.paths import PROJECT_ROOT


def wait_for(condition, what: str, process: subprocess.Popen, log, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        if process.poll() is not None:
            pytest.fail(f"course lab exited ({process.returncode}):\n{log.read_text()}")
        time.sleep(0.2)
    pytest.fail(f"no {what} after {timeout} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """`course lab` on a free port, with Jupyter's per-user folders kept out of the way."""
    home = tmp_path_factory.mktemp("jupyter")
    runtime = home / "runtime"
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "user-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    }
    token = secrets.token_hex(16)
    log = home / "lab.log"
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "course.cli", "lab", "--no-browser",
             "--ServerApp.port=0", f"--IdentityProvider.token={token}"],
            cwd=home, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        info_file = wait_for(
            lambda: next(runtime.glob("jpserver-*[0-9].json"), None), "server", process, log
        )
        info = json.loads(info_file.read_text())
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{info['port']}", params={"token": token}, timeout=30
        )
        yield {"client": client, "info": info, "log": log, "runtime": runtime, "process": process}
        client.close()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def contents(lab, path: str = "") -> list[str]:
    response = lab["client"].get(f"/api/contents/{path}")
    response.raise_for_status()
    return sorted(item["name"] for item in response.json()["content"])


def test_the_file_browser_shows_the_whole_course(lab):
    assert lab["info"]["root_dir"] == str(PROJECT_ROOT)
    assert {"notebooks", "exercises", "solutions"} <= set(contents(lab))
    for folder in ("notebooks", "exercises", "solutions"):
        on_disk = sorted(path.name for path in (PROJECT_ROOT / folder).glob("*.ipynb"))
        assert on_disk and set(on_disk) <= set(contents(lab, folder)), folder


def where_it_leads(url: str) -> tuple[str, dict]:
    """The path of a lab URL, and its query without the token."""
    parts = urlsplit(html.unescape(url))
    query = {key: value for key, value in parse_qsl(parts.query) if key != "token"}
    return parts.path, query


def test_it_opens_on_the_start_notebook(lab):
    start = (f"/lab/tree/{START_NOTEBOOK}", {})
    # Where / leads, what the browser is sent to, and the URL printed for copying.
    assert where_it_leads(lab["client"].get("/").headers["location"]) == start
    browser_file = next(lab["runtime"].glob("jpserver-*-open.html")).read_text()
    assert where_it_leads(re.search(r'href="([^"]+)"', browser_file)[1]) == start
    printed = re.findall(r"http://127\.0\.0\.1:\d+(\S+)", lab["log"].read_text())
    assert printed and all(where_it_leads(url) == start for url in printed)
    assert lab["client"].get(start[0]).status_code == 200
    assert lab["client"].get(f"/api/contents/{START_NOTEBOOK}").json()["type"] == "notebook"


def test_no_news_prompt(lab):
    # JupyterLab asks whether to fetch news while fetchNews is "none" (its default).
    response = lab["client"].get("/lab/api/settings/@jupyterlab/apputils-extension:notification")
    assert response.json()["schema"]["properties"]["fetchNews"]["default"] == "false"


def run_in_kernel(lab, kernel_id: str, code: str) -> str:
    url = f"ws://127.0.0.1:{lab['info']['port']}/api/kernels/{kernel_id}/channels"
    socket = websocket.create_connection(f"{url}?token={lab['client'].params['token']}")
    try:
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "msg_type": "execute_request", "session": uuid.uuid4().hex,
                  "username": "test", "version": "5.3"}  # fmt: skip
        socket.send(json.dumps({
            "channel": "shell", "header": header, "parent_header": {}, "metadata": {},
            "content": {"code": code, "silent": False, "store_history": False},
        }))  # fmt: skip
        printed = ""
        while True:
            message = json.loads(socket.recv())
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            if message["msg_type"] == "stream":
                printed += message["content"]["text"]
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                return printed
    finally:
        socket.close()


def test_kernels_run_encrypted_and_start_without_the_tcp_warning(lab):
    kernel = lab["client"].post("/api/kernels", json={"name": "python3"}).json()
    try:
        assert run_in_kernel(lab, kernel["id"], "print(6 * 7)") == "42\n"
        connection = json.loads((lab["runtime"] / f"kernel-{kernel['id']}.json").read_text())
        assert connection["curve_publickey"]  # CurveZMQ keys, provisioned by the server
    finally:
        lab["client"].delete(f"/api/kernels/{kernel['id']}")
    log = lab["log"].read_text()
    assert "Kernel started" in log
    assert "without encryption" not in log
