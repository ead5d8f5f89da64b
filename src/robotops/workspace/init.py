"""``robotops init DIR``: a team's workspace, ready for ``dvc repro`` and pull requests.

The workspace holds configuration and pipeline, never data: the dataset store and MLflow live
where ``robotops.yaml`` and ``MLFLOW_TRACKING_URI`` point (local folders by default, S3 and a
tracking server for a team), and the dataset enters the pipeline as its pin in ``params.yaml``.

============================== ==========================================================
file                           what it is
============================== ==========================================================
``robotops.yaml``              store, topics, classes, checks, evaluation, gates (defaults)
``params.yaml``                the dataset pin, model, hyperparameters and seed of training
``dvc.yaml``                   validate -> train -> evaluate -> gate -> export
``requirements.txt``           the robotops version the pipeline runs (a stage dependency)
``.gitignore``                 the store, MLflow files and run folders stay out of git
``.dockerignore``              ... and out of the image
``Dockerfile``                 an image that runs the pipeline
``.github/workflows/*.yml``    pull request: validate, train small, evaluate, gate, comment;
                               main: export and register
============================== ==========================================================
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from robotops import __version__
from robotops.config import CONFIG_FILE, Config
from robotops.dataset.refs import DatasetRef
from robotops.errors import ConflictError, OutputError, UsageError
from robotops.train.params import PARAMS_FILE

TEMPLATES = resources.files("robotops.workspace") / "templates"

PARAMS = """\
# Training parameters: one run is named by these and the dataset version (see README).
# Bump train.dataset after each ingest or label import; `dvc repro` retrains what it changes.
train:
  dataset: {dataset}
  model: fusion
  seed: 0
  epochs: 20
  batch_size: 32
  lr: 0.003
  weight_decay: 0.0
  early_stopping: {{patience: 6, min_delta: 0.0}}
  hyper: {{width: 8, point_width: 16, hidden: 32}}
  preprocess: {{image_height: 48, image_width: 48, lidar_points: 256}}
  augment:
    flip_prob: 0.5
    modality_drop_prob: 0.3
    brightness: 0.15
    contrast: 0.2
    rgb_noise_std: 0.02
    lidar_dropout_prob: 0.1
"""

GITIGNORE = """\
# Data and tracking live in the store and MLflow, not in git.
/datasets/
/mlflow.db
/mlruns/
/runs/
/.robotops/
/predictions/
/demo-workspace/
__pycache__/
"""

# Template file -> where it goes in the workspace.
COPIED = {
    "dvc.yaml": "dvc.yaml",
    "Dockerfile": "Dockerfile",
    "dockerignore": ".dockerignore",
    "requirements.txt": "requirements.txt",
    "github/workflows/pull-request.yml": ".github/workflows/pull-request.yml",
    "github/workflows/main.yml": ".github/workflows/main.yml",
}


@dataclass(frozen=True)
class InitResult:
    """What :func:`init_workspace` made.

    Attributes:
        folder: The workspace.
        files: The files written, relative to it.
        git: Whether a git repository was created.
        dvc: Whether DVC was initialised (False when ``dvc`` is not installed).
    """

    folder: Path
    files: tuple[str, ...]
    git: bool
    dvc: bool


def init_workspace(
    folder: Path, *, dataset: str = "doors@1", store: str = "datasets", dvc: bool = True
) -> InitResult:
    """Create a workspace in ``folder`` (which must not exist or be empty).

    Args:
        folder: The workspace folder.
        dataset: The dataset pin for ``params.yaml`` (``NAME@VERSION`` or ``NAME@TAG``).
        store: The store root for ``robotops.yaml`` (a folder or ``s3://bucket/prefix``).
        dvc: Run ``dvc init`` when DVC is installed.

    Raises:
        UsageError: ``dataset`` is not a pinned reference, or git is not installed.
        ConflictError: ``folder`` exists and is not empty.
        OutputError: The folder cannot be written.
    """
    ref = DatasetRef.parse(dataset)
    if ref.version is None and ref.tag is None:
        raise UsageError(f"--dataset {dataset!r}: pin a version or tag, e.g. {ref.name}@1")
    if shutil.which("git") is None:
        raise UsageError("git is not installed: a workspace is a git repository")
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ConflictError(f"{folder} exists and is not an empty folder; choose a new one")
    config = Config(store=store, dataset=ref.name).model_dump(mode="json")
    texts = {
        CONFIG_FILE: "# robotops configuration: every value shown is the default (see README).\n"
        + yaml.safe_dump(config, sort_keys=False),
        PARAMS_FILE: PARAMS.format(dataset=dataset),
        ".gitignore": GITIGNORE,
    }
    for source, target in COPIED.items():
        text = (TEMPLATES / source).read_text(encoding="utf-8")
        texts[target] = text.replace("{robotops_version}", __version__)
    made = not folder.exists()
    try:
        for name, text in texts.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        _run(["git", "init", "-q"], folder)
        dvc_ready = dvc and _dvc() is not None
        if dvc_ready:
            _run([_dvc(), "init", "-q"], folder)
            _run([_dvc(), "config", "core.analytics", "false"], folder)
    except BaseException:
        if made:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return InitResult(folder, tuple(texts), True, dvc_ready)


def _dvc() -> str | None:
    """The ``dvc`` command beside this Python (a virtual environment's), else on PATH."""
    beside = Path(sys.executable).with_name("dvc")
    return str(beside) if beside.exists() else shutil.which("dvc")


def _run(command: list[str], cwd: Path) -> None:
    try:
        subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as err:
        last = (err.stderr or err.stdout or "").strip().splitlines()[-1:] or ["failed"]
        raise OutputError(f"{cwd}: {' '.join(command[:2])}: {last[0]}") from err
    except OSError as err:
        raise OutputError(f"{cwd}: cannot run {command[0]}: {err}") from err
