"""Checkpoints are safetensors with a JSON header: rebuildable, never pickle, refused if foreign."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from robotops.errors import DataError
from robotops.models import build_model, example_inputs
from robotops.train.checkpoint import (
    load_checkpoint,
    model_from_checkpoint,
    model_meta,
    save_checkpoint,
)


def test_a_checkpoint_rebuilds_the_model_and_its_optimizer(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model("fusion", 3, width=8, point_width=8, hidden=16).eval()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01)
    inputs = example_inputs(batch=2, height=32, width=32, points=64)
    model.train()
    model(*inputs).sum().backward()
    optimizer.step()
    model.eval()
    meta = model_meta(model, ("glass_door", "wooden_door", "no_door"), {"image_height": 32})
    path = save_checkpoint(tmp_path / "c.safetensors", model, {**meta, "state": {"epoch": 1}},
                           optimizer)  # fmt: skip

    assert path.read_bytes()[8:9] == b"{"  # a safetensors header, not a pickle
    loaded = load_checkpoint(path)
    assert loaded.meta["state"] == {"epoch": 1} and loaded.meta["classes"][0] == "glass_door"
    rebuilt = model_from_checkpoint(loaded, path)
    with torch.no_grad():
        assert torch.equal(rebuilt(*inputs), model(*inputs))
    fresh = torch.optim.AdamW(rebuilt.parameters(), lr=0.01)
    fresh.load_state_dict(loaded.optimizer)
    before, after = optimizer.state_dict()["state"], fresh.state_dict()["state"]
    assert all(torch.equal(before[i]["exp_avg"], after[i]["exp_avg"]) for i in before)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left


def test_foreign_or_damaged_files_are_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(plain))
    with pytest.raises(DataError, match="without a robotops-checkpoint/1 header"):
        load_checkpoint(plain)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x80\x04not safetensors at all")
    with pytest.raises(DataError, match="not a safetensors checkpoint"):
        load_checkpoint(broken)
    with pytest.raises(DataError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.safetensors")


def test_weights_that_do_not_fit_the_named_model_are_refused(tmp_path: Path) -> None:
    model = build_model("camera", 3, width=8)
    meta = model_meta(model, ("a", "b", "c"), {})
    path = save_checkpoint(tmp_path / "c.safetensors", model, {**meta, "model": "lidar"})
    with pytest.raises(DataError, match="do not fit model 'lidar'"):
        model_from_checkpoint(load_checkpoint(path), path)
