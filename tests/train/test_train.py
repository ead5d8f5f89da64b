"""Training runs on a real Lance version, tracked in a real MLflow SQLite store."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch
from mlflow import MlflowClient
from safetensors import safe_open

from robotops.dataset.store import Store
from robotops.errors import ConflictError, Interrupted, NotFoundError, UsageError
from robotops.train.checkpoint import load_checkpoint
from robotops.train.loop import EpochMetrics
from robotops.train.run import LAST, run_dir, train
from robotops.train.tracking import DB_FILE
from tests.train.conftest import tiny_params


def metrics_of(history: list[EpochMetrics]) -> list[tuple[float, ...]]:
    """Everything an epoch measured except its duration."""
    return [(m.train_loss, m.train_acc, m.val_loss, m.val_acc) for m in history]


class StopAfter:
    """Progress that presses Ctrl-C once ``epoch`` has been recorded."""

    def __init__(self, epoch: int) -> None:
        self.stop_at = epoch

    def frames(self, count: int) -> None: ...

    def start(self, samples: int, first_epoch: int, epochs: int) -> None: ...

    def batch(self, samples: int, loss: float, accuracy: float) -> None: ...

    def epoch(self, metrics: EpochMetrics, improved: bool) -> None:
        if metrics.epoch == self.stop_at:
            raise KeyboardInterrupt


def test_same_seed_and_version_give_identical_metrics_and_weights(
    split_store: tuple[Store, str], tmp_path: Path
) -> None:
    store, ref = split_store
    params = tiny_params(ref, augment={"flip_prob": 0.5, "modality_drop_prob": 0.3})
    first = train(params, store, tmp_path / "a")
    second = train(params, store, tmp_path / "b")
    assert len(first.state.history) == 3
    assert metrics_of(first.state.history) == metrics_of(second.state.history)
    a, b = load_checkpoint(first.checkpoint), load_checkpoint(second.checkpoint)
    assert all(torch.equal(a.weights[k], b.weights[k]) for k in a.weights)
    other_seed = train(tiny_params(ref, seed=1), store, tmp_path / "c")
    assert metrics_of(other_seed.state.history) != metrics_of(first.state.history)


def test_the_run_is_tracked_in_the_workspace_sqlite_store(
    split_store: tuple[Store, str], tmp_path: Path
) -> None:
    store, ref = split_store
    workspace = tmp_path / "ws"
    workspace.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], cwd=workspace, check=True)
    (workspace / "params.yaml").write_text("train: {}\n")
    subprocess.run([*git, "add", "."], cwd=workspace, check=True)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=workspace, check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=workspace, capture_output=True, text=True, check=True
    ).stdout.strip()

    result = train(tiny_params(ref, lr=0.002), store, workspace)

    assert result.tracking_uri == f"sqlite:///{(workspace / DB_FILE).resolve()}"
    client = MlflowClient(result.tracking_uri)
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["lr"] == "0.002"
    assert run.data.params["hyper.width"] == "8"
    assert run.data.params["preprocess.image_height"] == "32"
    assert run.data.params["dataset_version"] == ref.split("@")[1]
    assert run.data.tags["mlflow.source.git.commit"] == head
    assert run.data.tags["version.torch"] == torch.__version__
    (dataset,) = run.inputs.dataset_inputs
    assert dataset.dataset.digest == store.snapshot(ref).digest()
    assert dataset.dataset.source_type == "lance" and dataset.dataset.name == "doors"
    history = client.get_metric_history(result.run_id, "val_acc")
    assert [m.step for m in history] == [1, 2, 3]
    assert [m.value for m in history] == [m.val_acc for m in result.state.history]
    assert run.data.metrics["best_val_acc"] == result.best.val_acc
    artifacts = {a.path for a in client.list_artifacts(result.run_id)}
    assert {"checkpoint", "confusion_matrix.png", "confusion_matrix.json"} <= artifacts
    assert "environment.json" in artifacts
    logged = client.download_artifacts(result.run_id, "checkpoint/best.safetensors", tmp_path)
    with safe_open(logged, framework="pt") as handle:
        keys = list(handle.keys())
    assert keys and all(k.startswith("model.") for k in keys)
    splits = store.snapshot(ref).index().column("split").to_pylist()
    assert int(result.confusion.sum()) == splits.count("val")


def test_mlflow_tracking_uri_is_respected(
    split_store: tuple[Store, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, ref = split_store
    elsewhere = f"sqlite:///{tmp_path / 'team.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", elsewhere)
    result = train(tiny_params(ref, epochs=1), store, tmp_path / "ws")
    assert result.tracking_uri == elsewhere
    assert MlflowClient(elsewhere).get_run(result.run_id).info.status == "FINISHED"
    assert not (tmp_path / "ws" / DB_FILE).exists()


def test_an_interrupted_run_resumes_exactly_where_it_stopped(
    split_store: tuple[Store, str], tmp_path: Path
) -> None:
    store, ref = split_store
    params = tiny_params(ref, epochs=4, augment={"flip_prob": 0.5})
    straight = train(params, store, tmp_path / "straight")

    workspace = tmp_path / "stopped"
    with pytest.raises(Interrupted, match="--resume") as stopped:
        train(params, store, workspace, progress=StopAfter(2))
    run_id = str(stopped.value).split("--resume ")[1]
    client = MlflowClient(f"sqlite:///{workspace / DB_FILE}")
    assert client.get_run(run_id).info.status == "KILLED"
    assert load_checkpoint(run_dir(workspace, run_id) / LAST).meta["state"]["epoch"] == 2

    resumed = train(params, store, workspace, resume=run_id)
    assert resumed.run_id == run_id and resumed.resumed_after == 2
    assert metrics_of(resumed.state.history) == metrics_of(straight.state.history)
    assert client.get_run(run_id).info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(run_id, "val_loss")] == [1, 2, 3, 4]

    with pytest.raises(ConflictError, match="has finished"):
        train(params, store, workspace, resume=run_id)


def test_resume_refuses_other_parameters_and_unknown_runs(
    split_store: tuple[Store, str], tmp_path: Path
) -> None:
    store, ref = split_store
    params = tiny_params(ref, epochs=3)
    with pytest.raises(Interrupted) as stopped:
        train(params, store, tmp_path, progress=StopAfter(1))
    run_id = str(stopped.value).split("--resume ")[1]
    with pytest.raises(UsageError, match=r"train\.lr = 0\.001.*0\.01"):
        train(tiny_params(ref, epochs=3, lr=0.01), store, tmp_path, resume=run_id)
    with pytest.raises(NotFoundError, match="no checkpoint"):
        train(params, store, tmp_path, resume="0123abcd")


def test_early_stopping_ends_the_run_and_keeps_the_best_epoch(
    split_store: tuple[Store, str], tmp_path: Path
) -> None:
    store, ref = split_store
    # No epoch can lower the loss by 10 nats, so the second epoch is already one too many.
    params = tiny_params(ref, epochs=10, early_stopping={"patience": 1, "min_delta": 10.0})
    result = train(params, store, tmp_path)
    assert result.state.stopped_early and result.state.epoch == 2
    assert result.state.best_epoch == 1
    best = load_checkpoint(result.checkpoint)
    assert best.meta["state"]["epoch"] == 1  # best.safetensors holds epoch 1's weights


def test_a_missing_dataset_version_fails_before_any_run(
    split_store: tuple[Store, str], tmp_path: Path
) -> None:
    store, _ = split_store
    with pytest.raises(NotFoundError):
        train(tiny_params("doors@99"), store, tmp_path)
    assert not any(tmp_path.iterdir())  # no store, no cache, no checkpoint
