"""Model inputs from a real Lance dataset version, and their cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robotops.config import Config
from robotops.dataset.labels import import_labels
from robotops.dataset.splits import split_dataset
from robotops.dataset.store import Store
from robotops.errors import DataError
from robotops.ingest.ingest import ingest
from robotops.train.data import load_frames
from robotops.transforms import PreprocessSpec


@pytest.fixture()
def store(small_recordings: Path, tmp_path: Path) -> Store:
    store = Store(tmp_path / "store")
    bags = sorted(p for p in small_recordings.iterdir() if p.is_dir())
    ingest(bags, store, "doors", Config())
    import_labels(store, "doors", sorted(small_recordings.glob("*.labels.json")))
    split_dataset(store, "doors", fractions=(0.34, 0.33, 0.33))
    return store


def test_a_split_becomes_stacked_inputs_and_is_cached(store: Store, tmp_path: Path) -> None:
    snapshot = store.snapshot("doors")
    spec = PreprocessSpec(image_height=32, image_width=32, lidar_points=64)
    first = load_frames(snapshot, "train", spec, tmp_path / "cache")
    assert not first.cached and len(first) == 6
    assert first.arrays["rgb"].shape == (6, 3, 32, 32)
    assert first.arrays["depth"].shape == (6, 2, 32, 32)
    assert first.arrays["lidar"].shape == (6, 64, 3)
    assert first.arrays["present"][:, :2].all()  # colour and depth in every frame
    labels = {r["frame_id"]: r["label"] for r in snapshot.index().to_pylist()}
    assert [snapshot.classes[i] for i in first.labels] == [labels[f] for f in first.frame_ids]

    again = load_frames(snapshot, "train", spec, tmp_path / "cache")
    assert again.cached and again.frame_ids == first.frame_ids
    for name, array in first.arrays.items():
        assert np.array_equal(array, again.arrays[name])
    other = load_frames(snapshot, "train", PreprocessSpec(image_height=16, image_width=16),
                        tmp_path / "cache")  # fmt: skip
    assert not other.cached and other.arrays["rgb"].shape[2:] == (16, 16)
    everything = load_frames(snapshot, None, spec, tmp_path / "cache")
    assert len(everything) == 18


def test_a_split_without_labelled_frames_is_an_error(store: Store, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no labelled frames in split 'nope'"):
        load_frames(store.snapshot("doors"), "nope", PreprocessSpec(), tmp_path / "cache")
    assert not (tmp_path / "cache").exists()
