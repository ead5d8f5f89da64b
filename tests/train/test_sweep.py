"""Sweeps: the sweep file is checked before anything runs; trials run on a real local Ray."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient

from robotops.dataset.store import Store
from robotops.errors import DataError, NotFoundError, UsageError
from robotops.train.params import TrainParams
from robotops.train.sweep import (
    Metric,
    Mode,
    SweepResult,
    TrialResult,
    TrialStatus,
    apply_overrides,
    load_sweep,
    sweep,
)
from robotops.train.tracking import tracking_uri


def tiny_params(dataset: str = "doors@3") -> TrainParams:
    """Two epochs of the small LiDAR model on small inputs: seconds per run."""
    return TrainParams(
        dataset=dataset,
        model="lidar",
        epochs=2,
        batch_size=8,
        hyper={"width": 8, "point_width": 8, "hidden": 16},
        preprocess={"image_height": 32, "image_width": 32, "lidar_points": 64},
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    return path


def test_a_sweep_file_loads_and_its_values_reach_nested_params(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "sweep:\n  metric: best_val_acc\n  trials: 6\n  max_concurrent: 2\n  seed: 3\n"
        "  space:\n    lr: {loguniform: [0.0001, 0.01]}\n    batch_size: {choice: [8, 16]}\n"
        "    hyper.width: {randint: [8, 17]}\n    augment.flip_prob: {uniform: [0.0, 0.5]}\n",
    )
    config = load_sweep(path, tiny_params())
    assert config.goal is Mode.MAX and config.trials == 6 and config.seed == 3
    assert str(config.space["lr"]) == "loguniform(0.0001, 0.01)"
    assert config.space["hyper.width"].edges() == [8, 16]
    assert load_sweep(write(tmp_path, "sweep:\n  space: {lr: {choice: [0.1]}}\n"),
                      tiny_params()).goal is Mode.MIN  # fmt: skip

    params = apply_overrides(tiny_params(), {"hyper.width": 12, "augment.flip_prob": 0.25})
    assert params.hyper == {"width": 12, "point_width": 8, "hidden": 16}
    assert params.augmentation().flip_prob == 0.25 and params.lr == tiny_params().lr


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ("colour: {choice: [red]}", "sweep.space.colour: .*'colour' is not a train parameter"),
        ("hyper.depth: {choice: [2]}", r"sweep.space.hyper.depth: .*train.hyper"),
        ("preprocess.size: {choice: [2]}", "unknown preprocessing spec field"),
        ("lr.fast: {choice: [2]}", "train.lr has no parts"),
        ("hyper.a.b: {choice: [2]}", "nests too deep"),
        ("lr: {normal: [0, 1]}", "sweep.space.lr: .*unknown distribution 'normal'"),
        ("lr: 0.01", "sweep.space.lr: .*give one distribution"),
        ("lr: {uniform: [0.01, 0.001]}", "sweep.space.lr: .*low < high"),
        ("lr: {loguniform: [0, 0.1]}", "loguniform needs low > 0"),
        ("lr: {uniform: [0.001, 2]}", r"sweep.space.lr: uniform\(0.001, 2.0\) can give .*train.lr"),
        ("lr: {choice: []}", "sweep.space.lr.choice"),
        ("batch_size: {uniform: [8, 16]}", "sweep.space.batch_size: .*valid integer"),
        ("model: {choice: [lidar, resnet]}", "can give 'resnet': train.model: .*unknown model"),
        ("epochs: {randint: [1, 2000]}", r"randint\(1, 2000\) can give 1999"),
    ],
)
def test_space_mistakes_are_one_line_naming_the_file_and_key(
    tmp_path: Path, space: str, message: str
) -> None:
    path = write(tmp_path, f"sweep:\n  space:\n    {space}\n")
    with pytest.raises(UsageError, match=message) as err:
        load_sweep(path, tiny_params())
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sweep:\n  mode: maximum\n  space: {lr: {choice: [0.1]}}\n", "sweep.mode: .*'max'"),
        ("sweep:\n  metric: accuracy\n  space: {lr: {choice: [0.1]}}\n", "sweep.metric"),
        ("sweep:\n  trials: 0\n  space: {lr: {choice: [0.1]}}\n", "sweep.trials"),
        ("sweep:\n  trails: 3\n  space: {lr: {choice: [0.1]}}\n", "sweep.trails"),
        ("sweep:\n  trials: 3\n", "sweep.space: Field required"),
        ("sweep:\n  space: {}\n", "sweep.space: .*at least 1"),
        ("space: {lr: {choice: [0.1]}}\n", "needs a sweep: section"),
        ("sweep: [\n", "not valid YAML"),
    ],
)
def test_file_mistakes_are_one_line_naming_the_file(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(UsageError, match=message) as err:
        load_sweep(path, tiny_params())
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(UsageError, match="no such sweep file"):
        load_sweep(tmp_path / "missing.yaml", tiny_params())


def trial(number: int, loss: float | None, acc: float = 0.5) -> TrialResult:
    if loss is None:
        return TrialResult(number, {}, TrialStatus.FAILED, error="boom", error_type="DataError")
    metrics = {"best_val_loss": loss, "best_val_acc": acc, "best_epoch": 1.0, "epochs_run": 2.0}
    return TrialResult(number, {}, TrialStatus.DONE, f"run{number}", metrics)


def test_trials_rank_by_the_metric_failures_last_ties_by_number(tmp_path: Path) -> None:
    trials = (trial(1, None), trial(2, 0.9, 0.7), trial(3, 0.5, 0.7), trial(4, 0.7, 0.4))
    by_loss = SweepResult("s", "uri", "e", Metric.BEST_VAL_LOSS, Mode.MIN, trials, tmp_path)
    assert [t.number for t in by_loss.ranked()] == [3, 4, 2, 1]
    assert by_loss.best is trials[2] and not by_loss.interrupted
    by_acc = SweepResult("s", "uri", "e", Metric.BEST_VAL_ACC, Mode.MAX, trials, tmp_path)
    assert [t.number for t in by_acc.ranked()] == [2, 3, 4, 1]
    failed = SweepResult("s", "uri", "e", Metric.BEST_VAL_ACC, Mode.MAX, trials[:1], tmp_path)
    assert failed.best is None


@pytest.mark.usefixtures("no_tracking_env")
def test_a_missing_dataset_fails_before_anything_is_tracked(tmp_path: Path) -> None:
    path = write(tmp_path, "sweep:\n  space: {lr: {choice: [0.1]}}\n")
    with pytest.raises(NotFoundError):
        sweep(load_sweep(path, tiny_params()), tiny_params(), Store(tmp_path / "none"), tmp_path)
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / ".robotops").exists()


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray = pytest.importorskip("ray")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "lance is not fork-safe")  # Ray forks, then execs
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture()
def no_tracking_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.mark.slow
@pytest.mark.usefixtures("local_ray", "no_tracking_env")
def test_each_trial_is_a_tracked_run_and_the_best_is_reported(
    split_store: tuple[Store, str], tmp_path: Path
) -> None:
    store, ref = split_store
    base = tiny_params(ref)
    # val_split 'nope' has no frames: those trials fail, the others train.
    path = write(
        tmp_path,
        "sweep:\n  metric: best_val_loss\n  trials: 3\n  max_concurrent: 2\n  seed: 0\n"
        "  space:\n    lr: {loguniform: [0.0001, 0.01]}\n    hyper.hidden: {choice: [8, 16]}\n"
        "    val_split: {choice: [val, nope]}\n",
    )
    told: list[TrialResult] = []
    workspace = tmp_path / "ws"
    result = sweep(load_sweep(path, base), base, store, workspace, on_trial=told.append)

    assert sorted(t.number for t in told) == [1, 2, 3] and len(result.trials) == 3
    done = [t for t in result.trials if t.status is TrialStatus.DONE]
    failed = [t for t in result.trials if t.status is TrialStatus.FAILED]
    assert len(done) >= 2, result.trials  # seed 0 samples 'val' for two of the three
    for t in result.trials:
        assert (t in done) == (t.overrides["val_split"] == "val")
    for t in failed:
        assert t.error_type == "DataError" and "no labelled frames in split 'nope'" in t.error

    client = MlflowClient(tracking_uri(workspace))
    assert result.tracking_uri == tracking_uri(workspace)
    for t in done:
        run = client.get_run(t.run_id)
        assert run.info.status == "FINISHED"
        assert run.data.params["lr"] == str(t.overrides["lr"])
        assert run.data.params["hyper.hidden"] == str(t.overrides["hyper.hidden"])
        assert run.data.metrics["best_val_loss"] == pytest.approx(t.metrics["best_val_loss"])
        assert run.data.tags["robotops.sweep"] == result.sweep_id
        assert run.data.tags["mlflow.parentRunId"] == result.sweep_id
    assert len({t.run_id for t in done}) == len(done)

    best = min(done, key=lambda t: t.metrics["best_val_loss"])
    assert result.best is best and result.ranked()[0] is best
    parent = client.get_run(result.sweep_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["robotops.sweep.best_run"] == best.run_id
    assert parent.data.metrics["best_val_loss"] == pytest.approx(best.metrics["best_val_loss"])
    assert result.storage.is_dir() and result.storage.is_relative_to(workspace.resolve())


@pytest.mark.slow
@pytest.mark.usefixtures("local_ray", "no_tracking_env")
def test_a_sweep_whose_trials_all_fail_raises_the_first_failure(
    split_store: tuple[Store, str], tmp_path: Path
) -> None:
    store, ref = split_store
    base = tiny_params(ref)
    path = write(tmp_path, "sweep:\n  trials: 1\n  space: {val_split: {choice: [nope]}}\n")
    workspace = tmp_path / "ws"
    with pytest.raises(DataError, match=r"no trial of sweep \w+ finished .*trial 1: .*'nope'"):
        sweep(load_sweep(path, base), base, store, workspace)
    client = MlflowClient(tracking_uri(workspace))
    (parent,) = client.search_runs([client.get_experiment_by_name("robotops-train").experiment_id])
    assert parent.info.status == "FAILED" and parent.data.params["sweep.trials"] == "1"
