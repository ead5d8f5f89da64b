"""`robotops init`: what it writes, and what it refuses without leaving anything behind."""

from __future__ import annotations

from pathlib import Path

import yaml

from robotops import __version__
from robotops.config import Config
from robotops.train.params import load_params
from robotops.workspace.init import init_workspace
from tests.e2e.test_cli_sim import robotops


def test_init_writes_a_valid_config_params_and_pipeline(tmp_path: Path) -> None:
    result = init_workspace(tmp_path / "ws", dataset="doors@7", store="s3://bucket/datasets")
    ws = result.folder
    config = Config.model_validate(yaml.safe_load((ws / "robotops.yaml").read_text()))
    assert config.store == "s3://bucket/datasets" and config.dataset == "doors"
    assert config == Config(store="s3://bucket/datasets")  # every other setting at its default
    assert load_params(ws / "params.yaml").dataset == "doors@7"
    stages = yaml.safe_load((ws / "dvc.yaml").read_text())["stages"]
    assert list(stages) == ["validate", "train", "evaluate", "gate", "export"]
    assert all("requirements.txt" in s["deps"] for s in stages.values())
    assert f"robotops[train,serve]=={__version__}" in (ws / "requirements.txt").read_text()
    assert "{robotops_version}" not in (ws / "requirements.txt").read_text()
    assert (ws / ".git").is_dir() and (ws / ".dvc").is_dir() and result.dvc
    assert (ws / ".dockerignore").is_file() and (ws / "Dockerfile").is_file()
    assert sorted(p.name for p in (ws / ".github/workflows").iterdir()) == [
        "main.yml", "pull-request.yml"
    ]  # fmt: skip
    assert "/datasets/" in (ws / ".gitignore").read_text()


def test_init_refuses_a_used_folder_or_an_unpinned_dataset(tmp_path: Path) -> None:
    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("mine")
    busy = robotops("init", str(used), cwd=tmp_path)
    assert busy.returncode == 5 and "is not an empty folder" in busy.stderr
    assert sorted(p.name for p in used.iterdir()) == ["notes.txt"]  # untouched
    unpinned = robotops("init", str(tmp_path / "new"), "--dataset", "doors", cwd=tmp_path)
    assert unpinned.returncode == 2 and "pin a version or tag" in unpinned.stderr
    assert not (tmp_path / "new").exists()
    assert "Traceback" not in busy.stderr + unpinned.stderr
