"""One training run: tracked in MLflow, checkpointed every epoch, resumable, repeatable.

Everything that can be wrong with the request (parameters, dataset version, the run to resume) is
checked before any frame is decoded. The run's files live in the workspace under
``.robotops/runs/RUN_ID/``: ``last.safetensors`` (weights, optimizer and training state, rewritten
after each epoch: the resume point) and ``best.safetensors`` (the weights of the epoch with the
lowest validation loss: the run's model, also logged to MLflow).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from robotops.dataset.store import Snapshot, Store
from robotops.errors import ConflictError, Interrupted, NotFoundError, UsageError
from robotops.models import DoorClassifier, build_model
from robotops.train.checkpoint import load_checkpoint, model_meta, save_checkpoint
from robotops.train.confusion import confusion_figure, confusion_matrix
from robotops.train.data import FrameArrays, load_frames
from robotops.train.loop import EpochMetrics, TrainState, fit, make_optimizer, predict
from robotops.train.params import TrainParams
from robotops.train.tracking import (
    EXPERIMENT,
    Tracker,
    flatten,
    git_commit,
    package_versions,
    tracking_uri,
)

RUNS_DIR = Path(".robotops") / "runs"
CACHE_DIR = Path(".robotops") / "cache"
LAST = "last.safetensors"
BEST = "best.safetensors"


@dataclass(frozen=True)
class TrainResult:
    """What a finished run produced.

    Attributes:
        run_id: The MLflow run.
        tracking_uri: Where it is tracked.
        snapshot: The dataset version trained on, e.g. ``doors@3``.
        state: Final training state, with every epoch's metrics.
        confusion: Validation confusion matrix of the best epoch's weights.
        classes: The class list (rows and columns of ``confusion``).
        checkpoint: The best weights (``best.safetensors``).
        resumed_after: Epochs done before this invocation (0 for a fresh run).
    """

    run_id: str
    tracking_uri: str
    snapshot: str
    state: TrainState
    confusion: np.ndarray
    classes: tuple[str, ...]
    checkpoint: Path
    resumed_after: int

    @property
    def best(self) -> EpochMetrics:
        """The best epoch's metrics."""
        return self.state.best()


class RunProgress(Protocol):
    """What a run reports while it works (:class:`robotops.progress.TrainBars` draws it)."""

    def frames(self, count: int) -> None:
        """Frames decoded and preprocessed (only when the input cache is cold)."""

    def start(self, samples: int, first_epoch: int, epochs: int) -> None:
        """Training begins at ``first_epoch`` of ``epochs``, ``samples`` per epoch."""

    def batch(self, samples: int, loss: float, accuracy: float) -> None:
        """A batch is done; ``loss`` and ``accuracy`` are the epoch's running figures."""

    def epoch(self, metrics: EpochMetrics, improved: bool) -> None:
        """An epoch is done."""


def run_dir(workspace: Path, run_id: str) -> Path:
    """Where a run keeps its checkpoints."""
    return workspace / RUNS_DIR / run_id


@dataclass(frozen=True)
class RecorderSpec:
    """What a :class:`Recorder` is made from: plain values that can travel to a Ray worker."""

    folder: Path
    tracking_uri: str
    workspace: Path
    experiment: str
    meta: dict[str, Any]

    def build(self) -> Recorder:
        """A recorder logging to the run named in ``meta``."""
        tracker = Tracker(self.tracking_uri, self.workspace, self.experiment)
        tracker.attach(self.meta["run_id"])
        return Recorder(self.folder, tracker, self.meta)


class Recorder:
    """After each epoch: log its metrics and write the resume (and, if better, best) checkpoint."""

    def __init__(self, folder: Path, tracker: Tracker, meta: dict[str, Any]) -> None:
        self.folder, self.tracker, self.meta = folder, tracker, meta

    def epoch(
        self,
        state: TrainState,
        improved: bool,
        model: DoorClassifier,
        optimizer: torch.optim.Optimizer,
    ) -> None:
        """Record the epoch ``state`` has just completed."""
        self.tracker.log_epoch(state.history[-1])
        meta = {**self.meta, "state": state.to_dict()}
        if improved:
            save_checkpoint(self.folder / BEST, model, meta)
        save_checkpoint(self.folder / LAST, model, meta, optimizer)


def _resume_point(workspace: Path, run_id: str, params: TrainParams) -> tuple[Any, TrainState]:
    """The checkpoint and state to resume ``run_id`` from, after checking it may be resumed."""
    path = run_dir(workspace, run_id) / LAST
    if not path.is_file():
        raise NotFoundError(f"run {run_id}: no checkpoint at {path} to resume from")
    checkpoint = load_checkpoint(path)
    before = flatten(checkpoint.meta["params"])
    now = flatten(params.model_dump(mode="json"))
    changed = sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))
    if changed:
        key = changed[0]
        raise UsageError(
            f"run {run_id} was started with train.{key} = {before.get(key)}, the parameters now "
            f"say {now.get(key)}: resume with the run's own parameters, or start a new run"
        )
    state = TrainState.from_dict(checkpoint.meta["state"])
    if state.finished(params):
        raise ConflictError(f"run {run_id} has finished ({state.epoch} epochs): nothing to resume")
    return checkpoint, state


def _start_tags(workspace: Path, snapshot: Snapshot) -> dict[str, str]:
    tags = {"robotops.dataset": str(snapshot)}
    tags.update({f"version.{k}": v for k, v in package_versions().items()})
    commit = git_commit(workspace)
    if commit is not None:
        tags["mlflow.source.git.commit"] = commit[0]
        tags["robotops.git_dirty"] = str(commit[1]).lower()
    return tags


def train(
    params: TrainParams,
    store: Store,
    workspace: Path,
    *,
    resume: str | None = None,
    experiment: str = EXPERIMENT,
    workers: int = 1,
    address: str | None = None,
    progress: RunProgress | None = None,
) -> TrainResult:
    """Train ``params.model`` on ``params.dataset``, tracked in MLflow.

    Args:
        params: The run's parameters.
        store: The dataset store.
        workspace: Where the run's checkpoints, the input cache and (by default) MLflow live.
        resume: An interrupted run's id: go on from its last completed epoch.
        experiment: The MLflow experiment.
        workers: Data-parallel workers; more than one trains with Ray Train (DDP, gloo).
        address: Ray cluster address for ``workers`` > 1 (default: a local Ray).
        progress: Told about decoding, batches and epochs (single-worker runs report batches).

    Raises:
        NotFoundError: The dataset version, or the run to resume, does not exist.
        UsageError: Resuming with parameters other than the run's.
        ConflictError: The run to resume has finished.
        DataError: A split has no labelled frames, or a frame does not decode.
    """
    if workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    snapshot = store.snapshot(params.dataset)
    resumed = _resume_point(workspace, resume, params) if resume else None
    spec = params.spec()
    cache = workspace / CACHE_DIR
    on_frames = progress.frames if progress is not None else None
    train_data = load_frames(snapshot, params.train_split, spec, cache, on_frames=on_frames)
    val_data = load_frames(snapshot, params.val_split, spec, cache, on_frames=on_frames)

    torch.manual_seed(params.seed)
    model = build_model(params.model, len(snapshot.classes), **params.hyper)
    optimizer = make_optimizer(model, params)
    tracker = Tracker(tracking_uri(workspace), workspace, experiment)
    digest = snapshot.digest()
    if resumed is None:
        state = TrainState()
        tracker.start(
            f"{params.model}-{snapshot}",
            {**params.model_dump(mode="json"), "dataset_version": snapshot.version},
            _start_tags(workspace, snapshot),
            (snapshot.name, digest, snapshot.store.uri(snapshot.name, "frames"), str(snapshot)),
        )
    else:
        checkpoint, state = resumed
        model.load_state_dict(checkpoint.weights)
        optimizer.load_state_dict(checkpoint.optimizer)
        tracker.reopen(resume)
    resumed_after = state.epoch
    folder = run_dir(workspace, tracker.run_id)
    meta = {
        **model_meta(model, snapshot.classes, spec.to_dict()),
        "params": params.model_dump(mode="json"),
        "run_id": tracker.run_id,
        "dataset": {"ref": str(snapshot), "digest": digest},
    }
    recorder = Recorder(folder, tracker, meta)

    def after_epoch(state: TrainState, improved: bool) -> None:
        recorder.epoch(state, improved, model, optimizer)
        if progress is not None:
            progress.epoch(state.history[-1], improved)

    if progress is not None:
        progress.start(len(train_data), state.epoch + 1, params.epochs)
    try:
        if workers == 1:
            on_batch = progress.batch if progress is not None else None
            fit(model, optimizer, train_data, val_data, params, state, on_batch=on_batch,
                on_epoch=after_epoch)  # fmt: skip
        else:
            from robotops.train.distributed import fit_distributed  # Ray: an optional extra

            state = fit_distributed(
                model,
                optimizer,
                train_data,
                val_data,
                params,
                state,
                recorder=RecorderSpec(folder, tracker.uri, workspace, experiment, meta),
                workers=workers,
                address=address,
                on_epoch=progress.epoch if progress is not None else None,
            )
        confusion = _finish(tracker, folder, model, val_data, state)
    except KeyboardInterrupt as err:
        tracker.finish("KILLED")
        raise Interrupted(
            f"run {tracker.run_id} stopped after epoch {state.epoch}; go on with: "
            f"robotops train --resume {tracker.run_id}"
        ) from err
    except BaseException:
        tracker.finish("FAILED")
        raise
    return TrainResult(
        tracker.run_id,
        tracker.uri,
        str(snapshot),
        state,
        confusion,
        snapshot.classes,
        folder / BEST,
        resumed_after,
    )


def _finish(
    tracker: Tracker, folder: Path, model: DoorClassifier, val: FrameArrays, state: TrainState
) -> np.ndarray:
    """Load the best weights, log the run's model, summary and confusion matrix; finish it."""
    best = load_checkpoint(folder / BEST)
    model.load_state_dict(best.weights)
    predicted = predict(model, val.arrays).argmax(1)
    matrix = confusion_matrix(val.labels, predicted, len(val.classes))
    title = f"validation, epoch {state.best_epoch} of {state.epoch}"
    tracker.log_figure(confusion_figure(matrix, val.classes, title), "confusion_matrix.png")
    tracker.log_dict(
        {"classes": list(val.classes), "matrix": matrix.tolist()}, "confusion_matrix.json"
    )
    tracker.log_artifact(folder / BEST, "checkpoint")
    tracker.log_dict(package_versions(), "environment.json")
    best_metrics = state.best()
    tracker.log_metrics(
        {
            "best_epoch": float(state.best_epoch),
            "best_val_loss": best_metrics.val_loss,
            "best_val_acc": best_metrics.val_acc,
            "epochs_run": float(state.epoch),
        }
    )
    tracker.finish()
    return matrix
