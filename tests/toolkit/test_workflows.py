"""Every GitHub workflow: its actions pinned, no checkout token left behind, nothing for zizmor;
and the website workflow's own steps (the Classroom one has tests/grading/test_classroom.py)."""

import json
import re
import subprocess
import sysconfig
from pathlib import Path

import pytest
import yaml

from course.paths import PROJECT_ROOT

WORKFLOWS = sorted((PROJECT_ROOT / ".github" / "workflows").glob("*.yml"))
PAGES = PROJECT_ROOT / ".github" / "workflows" / "pages.yml"


def steps(workflow: Path) -> list[dict]:
    jobs = yaml.safe_load(workflow.read_text())["jobs"].values()
    return [step for job in jobs for step in job["steps"]]


def test_the_workflows():
    assert [path.name for path in WORKFLOWS] == ["classroom.yml", "pages.yml"]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_every_action_is_pinned_to_the_commit_of_a_release(workflow):
    # YAML drops comments, so the version comment is read from the text.
    uses_lines = [line for line in workflow.read_text().splitlines() if "uses:" in line]
    assert len(uses_lines) == len([s for s in steps(workflow) if "uses" in s]) > 0
    pinned = re.compile(r"^\s*(- )?uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")
    assert [line for line in uses_lines if not pinned.match(line)] == []


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_no_checkout_leaves_its_token_in_the_working_copy(workflow):
    checkouts = [s for s in steps(workflow) if s.get("uses", "").startswith("actions/checkout@")]
    assert checkouts
    assert all(step["with"]["persist-credentials"] is False for step in checkouts)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_zizmor_finds_nothing_even_pedantic(workflow):
    zizmor = Path(sysconfig.get_path("scripts")) / "zizmor"
    if not zizmor.exists():
        pytest.skip(f"zizmor is not installed in {zizmor.parent} (requirements.txt pins it)")
    command = [zizmor, "--offline", "--persona=pedantic", "--format=json", workflow]
    result = subprocess.run(command, capture_output=True, text=True)
    findings = [(f["ident"], f["desc"]) for f in json.loads(result.stdout)]
    assert (findings, result.returncode) == ([], 0)


def test_the_website_is_built_as_the_readme_says_and_published_from_main():
    workflow = yaml.safe_load(PAGES.read_text())
    assert workflow["on"]["push"] == {"branches": ["main"]}
    (build,) = [s for s in steps(PAGES) if "bootstrap.py" in s.get("run", "")]
    assert build["run"] == "python3 bootstrap.py site"
    assert "python3 bootstrap.py site" in (PROJECT_ROOT / "README.md").read_text()
    (upload,) = [s for s in steps(PAGES) if "upload-pages-artifact" in s.get("uses", "")]
    assert upload["with"]["path"] == "_site"


def run_repository_check(repository: str, pyproject: Path) -> subprocess.CompletedProcess:
    """The step that refuses to publish launch buttons naming another repository, run as
    Actions runs it, in a folder holding `pyproject`."""
    (check,) = [s for s in steps(PAGES) if "EXPECTED" in s.get("env", {})]
    assert check["env"] == {"EXPECTED": "https://github.com/${{ github.repository }}"}
    env = {"PATH": "/usr/bin:/bin", "EXPECTED": f"https://github.com/{repository}"}
    command = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", check["run"]]
    return subprocess.run(command, cwd=pyproject.parent, env=env, capture_output=True, text=True)


def test_the_site_is_published_only_where_pyproject_names_the_repository(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    text = (PROJECT_ROOT / "pyproject.toml").read_text()
    pyproject.write_text(text.replace("OWNER/REPO", "learn-async/course"))
    assert run_repository_check("learn-async/course", pyproject).returncode == 0
    refused = run_repository_check("someone/fork", pyproject)
    assert refused.returncode == 1
    assert 'Set Repository = "https://github.com/someone/fork"' in refused.stdout
