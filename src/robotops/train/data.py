"""Model inputs straight from a Lance dataset version, decoded once and cached.

Every labelled frame of a split is decoded and preprocessed with :mod:`robotops.transforms`
(the same definition the robot runtime uses) into stacked float32 arrays. The arrays are cached
as an ``.npz`` file (no pickle) keyed by the dataset version's components, the split, the class
list and the preprocessing spec, so epochs after the first, and later runs on the same version,
never decode an image again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robotops.dataset.frames import SENSOR_COLUMNS, decode_row
from robotops.dataset.store import Snapshot
from robotops.errors import DataError
from robotops.transforms import PreprocessSpec, preprocess_frame, stack_samples

ARRAYS = ("rgb", "depth", "lidar", "lidar_mask", "present")


@dataclass(frozen=True)
class FrameArrays:
    """A split's model inputs, one row per labelled frame, in recording and time order.

    Attributes:
        arrays: ``rgb`` (N,3,H,W), ``depth`` (N,2,H,W), ``lidar`` (N,P,3), ``lidar_mask``
            (N,P) and ``present`` (N,3), all float32.
        labels: (N,) int64 indices into ``classes``.
        frame_ids: The frames, in row order.
        classes: The dataset's class list.
        cached: Whether the arrays came from the cache.
    """

    arrays: dict[str, np.ndarray]
    labels: np.ndarray
    frame_ids: tuple[str, ...]
    classes: tuple[str, ...]
    cached: bool

    def __len__(self) -> int:
        return len(self.frame_ids)


def cache_key(snapshot: Snapshot, split: str | None, spec: PreprocessSpec) -> str:
    """What the cached arrays depend on: the version's tables, split, classes and spec."""
    commit = snapshot.commit
    parts = [
        snapshot.store.uri(snapshot.name, "frames"),
        str(commit.frames_version),
        str(commit.labels_version),
        str(commit.splits_version),
        split or "*",
        ",".join(snapshot.classes),
        spec.digest(),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def _selected(snapshot: Snapshot, split: str | None) -> tuple[list[str], list[int]]:
    """Labelled frames of the split in recording/time order, and their class indices."""
    index = snapshot.index().to_pylist()
    position = {c: i for i, c in enumerate(snapshot.classes)}
    ids, labels = [], []
    for row in index:
        if row["label"] is None or (split is not None and row["split"] != split):
            continue
        if row["label"] not in position:
            raise DataError(
                f"{snapshot}: frame {row['frame_id']} is labelled {row['label']!r}, "
                "not in the class list"
            )
        ids.append(row["frame_id"])
        labels.append(position[row["label"]])
    return ids, labels


def load_frames(
    snapshot: Snapshot,
    split: str | None,
    spec: PreprocessSpec,
    cache_dir: Path,
    *,
    on_frames: Callable[[int], None] | None = None,
) -> FrameArrays:
    """The model inputs of a split's labelled frames (all labelled frames for ``None``).

    Raises:
        DataError: The split has no labelled frame, a label is outside the class list, or a
            frame's bytes do not decode.
    """
    ids, labels = _selected(snapshot, split)
    if not ids:
        where = f"split {split!r}" if split else "any split"
        raise DataError(f"{snapshot}: no labelled frames in {where}")
    path = Path(cache_dir) / f"{cache_key(snapshot, split, spec)}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as cached:
            arrays = {name: cached[name] for name in ARRAYS}
            if list(cached["frame_ids"]) == ids:
                return FrameArrays(
                    arrays, np.asarray(labels), tuple(ids), snapshot.classes, cached=True
                )
    samples = {}
    for batch in snapshot.scan_frames(SENSOR_COLUMNS, frame_ids=ids, batch_size=256):
        for row in batch.to_pylist():
            samples[row["frame_id"]] = preprocess_frame(*decode_row(row), spec)
        if on_frames is not None:
            on_frames(batch.num_rows)
    stacked = stack_samples([samples[f] for f in ids])
    arrays = {name: stacked[name] for name in ARRAYS}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial.npz")
    np.savez(partial, frame_ids=np.asarray(ids), **arrays)
    partial.replace(path)  # a crash never leaves a half-written cache entry
    return FrameArrays(arrays, np.asarray(labels), tuple(ids), snapshot.classes, cached=False)
