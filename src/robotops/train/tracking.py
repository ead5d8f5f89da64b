"""Experiment tracking in MLflow: one run per training, logged without slowing training down.

By default runs go to a SQLite file in the workspace (``mlflow.db``) with artifacts beside it
(``mlartifacts/``); ``MLFLOW_TRACKING_URI`` points them at any other store or server instead.
Per-epoch metrics are sent as one asynchronous batch per epoch, so the loop never waits on the
database; :meth:`Tracker.finish` waits for them all before the run is marked finished.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.data.dataset_source import DatasetSource
from mlflow.data.meta_dataset import MetaDataset
from mlflow.entities import DatasetInput, InputTag, Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from robotops.errors import NotFoundError, OutputError
from robotops.train.loop import EpochMetrics

DB_FILE = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"
EXPERIMENT = "robotops-train"
PACKAGES = ("robotops", "torch", "numpy", "pylance", "pyarrow", "mlflow", "safetensors")


def tracking_uri(workspace: Path) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the workspace's SQLite file."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(workspace / DB_FILE).resolve()}"


def ui_command(uri: str) -> str:
    """The command that opens the MLflow UI on ``uri``'s runs."""
    if uri.startswith(("http://", "https://")):
        return f"open {uri}"
    return f"mlflow ui --backend-store-uri {uri}"


def flatten(params: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested parameters as ``a.b`` keys with string values, as MLflow stores them."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


def git_commit(workspace: Path) -> tuple[str, bool] | None:
    """The workspace's git commit and whether the tree has changes, or None outside git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=workspace, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=workspace,
            capture_output=True,
            text=True,
        )
    except OSError:
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip(), bool(dirty.stdout.strip())


def package_versions() -> dict[str, str]:
    """Versions of the packages a run's result depends on, and Python's."""
    versions = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def _quiet_mlflow() -> None:
    # MLflow and alembic narrate database creation and migrations at INFO; a run prints its own.
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


class Tracker:
    """One MLflow run: created or reopened, logged to, finished.

    Args:
        uri: Tracking URI (see :func:`tracking_uri`).
        workspace: Where a local store keeps its artifacts.
        experiment: Experiment name, created on first use.
    """

    def __init__(self, uri: str, workspace: Path, experiment: str = EXPERIMENT) -> None:
        _quiet_mlflow()
        self.uri = uri
        self.client = MlflowClient(uri)
        self.run_id = ""
        self._pending: list[Any] = []
        try:
            found = self.client.get_experiment_by_name(experiment)
            if found is not None:
                self.experiment_id = found.experiment_id
            else:
                local = uri.startswith(("sqlite:", "file:")) or "://" not in uri
                location = (workspace / ARTIFACTS_DIR).resolve().as_uri() if local else None
                self.experiment_id = self.client.create_experiment(experiment, location)
        except MlflowException as err:
            raise OutputError(f"MLflow tracking store {uri}: {err.message}") from err

    def start(
        self,
        run_name: str,
        params: dict[str, Any],
        tags: dict[str, str],
        dataset: tuple[str, str, str, str],
    ) -> str:
        """Create the run with its parameters, tags and dataset input; returns the run id.

        ``dataset`` is (name, digest, source URI, version) of the dataset version trained on.
        """
        run = self.client.create_run(self.experiment_id, run_name=run_name)
        self.run_id = run.info.run_id
        name, digest, uri, version = dataset
        source = LanceSource(uri, version)
        entity = MetaDataset(source, name=name, digest=digest)._to_mlflow_entity()
        self.client.log_inputs(
            self.run_id,
            datasets=[DatasetInput(entity, [InputTag("mlflow.data.context", "training")])],
        )
        self.client.log_batch(
            self.run_id,
            params=[Param(k, v) for k, v in flatten(params).items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        return self.run_id

    def attach(self, run_id: str) -> None:
        """Log to an existing run, leaving its status alone (a worker of a running run).

        Raises:
            NotFoundError: The tracking store has no such run.
        """
        try:
            self.client.get_run(run_id)
        except MlflowException as err:
            raise NotFoundError(f"MLflow run {run_id} is not in {self.uri}") from err
        self.run_id = run_id

    def reopen(self, run_id: str) -> None:
        """Continue logging to an existing run and mark it running again (when resuming it).

        Raises:
            NotFoundError: The tracking store has no such run.
        """
        self.attach(run_id)
        self.client.update_run(run_id, status="RUNNING")

    def log_epoch(self, metrics: EpochMetrics) -> None:
        """One epoch's metrics as one asynchronous batch."""
        now = int(time.time() * 1000)
        batch = [Metric(k, v, now, metrics.epoch) for k, v in metrics.scalars().items()]
        self._pending.append(self.client.log_batch(self.run_id, metrics=batch, synchronous=False))

    def log_metrics(self, values: dict[str, float]) -> None:
        """Final metrics (no step)."""
        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, 0) for k, v in values.items()]
        self.client.log_batch(self.run_id, metrics=metrics)

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        """Copy a file into the run's artifacts."""
        self.client.log_artifact(self.run_id, str(path), folder)

    def log_dict(self, data: dict[str, Any], name: str) -> None:
        """A JSON artifact."""
        self.client.log_dict(self.run_id, data, name)

    def log_figure(self, figure: Any, name: str) -> None:
        """A matplotlib figure as an image artifact."""
        self.client.log_figure(self.run_id, figure, name)

    def flush(self) -> None:
        """Wait until every metric logged so far is stored."""
        for pending in self._pending:
            pending.wait()
        self._pending.clear()

    def finish(self, status: str = "FINISHED") -> None:
        """Wait for pending metrics, then mark the run FINISHED, FAILED or KILLED."""
        self.flush()
        self.client.set_terminated(self.run_id, status)


class LanceSource(DatasetSource):
    """Where an MLflow dataset input came from: a Lance dataset URI and version."""

    def __init__(self, uri: str, version: str) -> None:
        self.uri, self.version = uri, version

    @staticmethod
    def _get_source_type() -> str:
        return "lance"

    def load(self) -> str:
        """The dataset's URI; open it with :class:`robotops.dataset.store.Store`."""
        return self.uri

    @staticmethod
    def _can_resolve(raw_source: Any) -> bool:
        return False

    @classmethod
    def _resolve(cls, raw_source: Any) -> LanceSource:
        raise NotImplementedError("Lance sources are made by robotops, not resolved")

    def to_dict(self) -> dict[str, Any]:
        """The source as JSON: URI and version."""
        return {"uri": self.uri, "version": self.version}

    @classmethod
    def from_dict(cls, source_dict: dict[Any, Any]) -> LanceSource:
        """Read what :meth:`to_dict` wrote."""
        return cls(source_dict["uri"], source_dict["version"])
