"""`robotops train` from the real entry point: bad parameters fail first; a run says where it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from robotops.dataset.store import Store
from tests.e2e.test_cli_sim import robotops

TINY = """train:
  dataset: {ref}
  model: {model}
  epochs: 2
  batch_size: 8
  lr: {lr}
  hyper: {{width: 8, point_width: 8, hidden: 16}}
  preprocess: {{image_height: 32, image_width: 32, lidar_points: 64}}
"""


def write_params(folder: Path, ref: str, model: str = "lidar", lr: str = "0.001") -> Path:
    path = folder / "params.yaml"
    path.write_text(TINY.format(ref=ref, model=model, lr=lr))
    return path


def test_a_run_prints_its_result_and_where_to_find_it(
    split_store: tuple[Store, str], tmp_path: Path
) -> None:
    store, ref = split_store
    params = write_params(tmp_path, ref)
    result = robotops("train", "--params", str(params), "--store", str(store.root), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"trained on {ref}" in result.stdout
    assert "epoch 2/2" in result.stdout
    assert f"mlflow ui --backend-store-uri sqlite:///{tmp_path.resolve()}/mlflow.db" in (
        result.stdout.replace("\n", "")
    )
    assert (tmp_path / "mlflow.db").is_file()
    assert list((tmp_path / ".robotops" / "runs").glob("*/best.safetensors"))


@pytest.mark.parametrize(
    ("model", "lr", "ref", "code", "message"),
    [
        ("resnet", "0.001", None, 2, "train.model: Value error, unknown model 'resnet'"),
        ("lidar", "-0.1", None, 2, "train.lr: Input should be greater than 0"),
        ("lidar", "0.001", "doors@99", 4, "train.dataset: dataset 'doors' has no version 99"),
    ],
)
def test_bad_parameters_fail_before_any_work(
    split_store: tuple[Store, str],
    tmp_path: Path,
    model: str,
    lr: str,
    ref: str | None,
    code: int,
    message: str,
) -> None:
    store, good = split_store
    params = write_params(tmp_path, ref or good, model, lr)
    result = robotops("train", "--params", str(params), "--store", str(store.root), cwd=tmp_path)
    assert result.returncode == code
    assert message in result.stderr and str(params) in result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]  # nothing made
