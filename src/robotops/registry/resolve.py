"""Name a model the way people do, get its checkpoint: registry versions, aliases, runs, files.

========================  ===========================================================
``door-classifier@champion``  the version holding an alias
``door-classifier/3``     a version
``champion``, ``3``       an alias or version of the workspace's registered model
``runs:/RUN_ID``, RUN_ID  a training run's best checkpoint
``path/best.safetensors``  a checkpoint file
========================  ===========================================================

Registered checkpoints are fetched from MLflow's artifact store once and kept under
``.robotops/models/NAME/VERSION/``; a run's own checkpoint is read from the workspace when it is
there, and fetched otherwise.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from mlflow.exceptions import MlflowException

from robotops.errors import NotFoundError, OutputError
from robotops.registry.registry import ModelVersion, Registry
from robotops.train.checkpoint import load_checkpoint
from robotops.train.run import BEST, run_dir

MODELS_DIR = Path(".robotops") / "models"
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class ResolvedModel:
    """A model found from its reference.

    Attributes:
        ref: How to call it in reports (``door-classifier/3``, a run id or a path).
        checkpoint: Its local checkpoint file.
        name: Registered model name, for registry versions.
        version: Registered version, for registry versions.
        run_id: The training run, when known.
        dataset: The dataset version it was trained on.
        architecture: ``camera``, ``rgbd``, ``lidar`` or ``fusion``.
    """

    ref: str
    checkpoint: Path
    name: str | None
    version: str | None
    run_id: str | None
    dataset: str
    architecture: str


def _download(tracking_uri: str, run_id: str, folder: Path) -> Path:
    from mlflow.artifacts import download_artifacts

    target = folder / BEST
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        path = download_artifacts(
            run_id=run_id,
            artifact_path=f"checkpoint/{BEST}",
            tracking_uri=tracking_uri,
            dst_path=str(folder),
        )
    except MlflowException as err:
        raise NotFoundError(f"run {run_id}: no checkpoint/{BEST} in its artifacts") from err
    except OSError as err:
        raise OutputError(f"{folder}: cannot store the model's checkpoint: {err}") from err
    return Path(path)


def _from_checkpoint(
    ref: str, path: Path, name: str | None = None, version: str | None = None
) -> ResolvedModel:
    meta = load_checkpoint(path).meta
    dataset = meta.get("dataset", {}).get("ref", "")
    return ResolvedModel(ref, path, name, version, meta.get("run_id"), dataset, meta["model"])


def _from_version(found: ModelVersion, workspace: Path, tracking_uri: str) -> ResolvedModel:
    if found.run_id is None:
        raise NotFoundError(f"{found.ref} names no training run")
    folder = workspace / MODELS_DIR / found.name / found.version
    return _from_checkpoint(
        found.ref, _download(tracking_uri, found.run_id, folder), found.name, found.version
    )


def resolve_model(ref: str, workspace: Path, tracking_uri: str, default_name: str) -> ResolvedModel:
    """Find the model ``ref`` names and its checkpoint (see the module docstring for forms).

    Raises:
        NotFoundError: No such file, run, version or alias.
        DataError: The checkpoint is not a robotops checkpoint.
    """
    path = Path(ref)
    if path.suffix == ".safetensors" or path.is_file():
        if not path.is_file():
            raise NotFoundError(f"{ref}: no such checkpoint file")
        return _from_checkpoint(ref, path)
    run_id = ref.removeprefix("runs:/").strip("/")
    if _RUN_ID.match(run_id):
        local = run_dir(workspace, run_id) / BEST
        if local.is_file():
            return _from_checkpoint(run_id, local)
        folder = workspace / MODELS_DIR / "runs" / run_id
        return _from_checkpoint(run_id, _download(tracking_uri, run_id, folder))
    name, alias, version = default_name, None, None
    if "@" in ref:
        name, alias = ref.split("@", 1)
        name = name or default_name
    elif "/" in ref:
        name, version = ref.rsplit("/", 1)
    elif ref.isdigit():
        version = ref
    else:
        alias = ref
    registry = Registry(tracking_uri, name)
    if alias is not None:
        found = registry.alias(alias)
        if found is None:
            raise NotFoundError(f"model {name} has no version with alias {alias!r}")
    else:
        found = registry.version(str(version))
    return _from_version(found, workspace, tracking_uri)
