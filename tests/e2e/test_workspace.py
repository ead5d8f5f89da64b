"""`robotops init` and the DVC pipeline it writes: repro, a no-op repro, the same metrics again,
an experiment with a changed hyperparameter, and `dvc metrics diff`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from robotops.config import Config
from robotops.dataset.labels import import_labels
from robotops.dataset.splits import split_dataset
from robotops.dataset.store import Store
from robotops.ingest.ingest import ingest
from robotops.sim import SimConfig, simulate
from tests.e2e.test_cli_sim import robotops

BIN = str(Path(sys.executable).parent)
ENV = {
    "PATH": f"{BIN}:/usr/bin:/bin",
    "HOME": os.environ.get("HOME", "/root"),
    "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "DVC_NO_ANALYTICS": "1",
}  # fmt: skip
TINY = {
    "epochs": 2,
    "batch_size": 16,
    "lr": 0.003,
    "hyper": {"width": 4, "point_width": 8, "hidden": 8},
    "preprocess": {"image_height": 24, "image_width": 24, "lidar_points": 64},
    "augment": {},
}


def run(*command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(command), cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"{command}: {result.stdout}\n{result.stderr}"
    return result


def numbers(path: Path) -> dict[str, float]:
    return {k: v for k, v in json.loads(path.read_text()).items() if isinstance(v, int | float)}


@pytest.mark.slow
def test_init_then_dvc_repro_is_repeatable(tmp_path: Path) -> None:
    recordings = simulate(
        SimConfig(out_dir=tmp_path / "rec", sites=("atrium", "loft"), recordings=3, frames=5,
                  width=48, height=32)
    )  # fmt: skip
    store = Store(tmp_path / "datasets")
    ingest([r.bag for r in recordings], store, "doors", Config())
    import_labels(store, "doors", [r.labels for r in recordings])
    ref = str(split_dataset(store, "doors", fractions=(0.5, 0.25, 0.25), seed=0).snapshot)

    ws = tmp_path / "ws"
    made = robotops("init", str(ws), "--dataset", ref, "--store", str(store.root), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    for name in ("robotops.yaml", "params.yaml", "dvc.yaml", ".gitignore", "Dockerfile",
                 "requirements.txt", ".dockerignore", ".github/workflows/pull-request.yml",
                 ".github/workflows/main.yml", ".git", ".dvc"):  # fmt: skip
        assert (ws / name).exists(), name
    config = yaml.safe_load((ws / "robotops.yaml").read_text())
    assert Config.model_validate(config).store == str(store.root)
    # A tiny model and lenient checks: the pipeline, not the model, is under test.
    config["gate"]["min_metric"] = 0.0
    config["behaviour"] = dict.fromkeys(config["behaviour"])
    (ws / "robotops.yaml").write_text(yaml.safe_dump(config))
    params = yaml.safe_load((ws / "params.yaml").read_text())
    assert params["train"]["dataset"] == ref
    params["train"].update(TINY)
    (ws / "params.yaml").write_text(yaml.safe_dump(params))
    run("git", "add", "-A", cwd=ws)
    run("git", "commit", "-qm", "workspace", cwd=ws)

    first = run("dvc", "repro", cwd=ws)
    for stage in ("validate", "train", "evaluate", "gate", "export"):
        assert f"Running stage '{stage}'" in first.stdout
    assert (ws / "bundle/manifest.json").is_file()
    assert (ws / "reports/gate/gate.md").is_file()
    train_metrics = numbers(ws / "model/metrics.json")
    eval_metrics = numbers(ws / "metrics/evaluate.json")
    assert "test.accuracy" in eval_metrics

    again = run("dvc", "repro", cwd=ws)
    assert "Running stage" not in again.stdout
    assert "up to date" in again.stdout

    # Forced (and past DVC's run cache): validate, train and evaluate run again.
    forced = run("dvc", "repro", "--force", "--no-run-cache", "evaluate", cwd=ws)
    assert "Running stage 'train'" in forced.stdout
    assert numbers(ws / "model/metrics.json") == train_metrics  # same version, params, seed
    assert numbers(ws / "metrics/evaluate.json") == eval_metrics

    run("git", "add", "-A", cwd=ws)
    run("git", "commit", "-qm", "pipeline ran", cwd=ws)
    experiment = run("dvc", "exp", "run", "-S", "train.lr=0.01", "train", cwd=ws)
    assert "Running stage 'train'" in experiment.stdout
    assert "Running stage 'validate'" not in experiment.stdout  # the pin did not change
    diff = run("dvc", "metrics", "diff", "--json", cwd=ws)
    assert "model/metrics.json" in json.loads(diff.stdout)
    shown = run("dvc", "params", "diff", cwd=ws)
    assert "train.lr" in shown.stdout
