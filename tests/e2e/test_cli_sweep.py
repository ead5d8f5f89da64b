"""`robotops sweep` as a user runs it, through the real entry point."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from robotops.dataset.store import Store
from robotops.train.tracking import tracking_uri
from tests.e2e.test_cli_sim import robotops
from tests.train.test_sweep import tiny_params


def write_params(tmp_path: Path, dataset: str) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"train": tiny_params(dataset).model_dump(mode="json")}))
    return path


def test_help_and_a_bad_sweep_file_is_one_line_before_ray(tmp_path: Path) -> None:
    result = robotops("sweep", "--help")
    assert result.returncode == 0
    for word in ("loguniform", "--trials", "--address", "--params", "robotops.sweep"):
        assert word in result.stdout

    params = write_params(tmp_path, "doors@3")
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text("sweep:\n  space:\n    hyper.depth: {choice: [2, 3]}\n")
    result = robotops("sweep", str(sweep_file), "--params", str(params), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"{sweep_file}: sweep.space.hyper.depth" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / ".robotops").exists()


@pytest.mark.slow
def test_a_sweep_prints_its_trials_and_the_best_run(
    split_store: tuple[Store, str], tmp_path: Path
) -> None:
    store, ref = split_store
    params = write_params(tmp_path, ref)
    sweep_file = tmp_path / "lr.yaml"
    sweep_file.write_text(
        "sweep:\n  metric: best_val_loss\n  trials: 5\n  max_concurrent: 2\n"
        "  space:\n    lr: {loguniform: [0.0001, 0.01]}\n    hyper.width: {choice: [8, 12]}\n"
    )
    result = robotops(
        "sweep", str(sweep_file), "-p", str(params), "--trials", "2", "--store", store.root,
        "--workspace", "ws", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "sweeping 2 trials of lidar" in out and "best is the min best_val_loss" in out
    assert "trial 1 done" in out and "trial 2 done" in out
    best_id = re.search(r"best: trial \d, best_val_loss [\d.]+, MLflow run (\w+)", out)
    assert best_id is not None, out
    uri = tracking_uri(tmp_path / "ws")
    assert f"mlflow ui --backend-store-uri {uri}" in out

    client = MlflowClient(uri)
    sweep_id = re.search(r"sweep run (\w+) in", out).group(1)
    trials = client.search_runs(
        [client.get_experiment_by_name("robotops-train").experiment_id],
        f"tags.mlflow.parentRunId = '{sweep_id}'",
    )
    assert len(trials) == 2 and all(r.info.status == "FINISHED" for r in trials)
    best = min(trials, key=lambda r: r.data.metrics["best_val_loss"])
    assert best.info.run_id == best_id.group(1)
    assert client.get_run(sweep_id).info.run_name == "sweep-lr"
    assert (tmp_path / "ws" / ".robotops" / "sweeps" / sweep_id).is_dir()
