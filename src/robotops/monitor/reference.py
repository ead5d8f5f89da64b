"""The reference side of a comparison: what the bundle's model saw in a dataset version.

The reference is a dataset version (by default the one the model was trained on). Its frames are
decoded by the one frame decoder (:func:`robotops.dataset.frames.decode_row`), their input
statistics computed by the very function the log's writer uses
(:func:`robotops.monitor.stats.input_stats`), and the bundle is run on them, so both sides of
every comparison are computed alike: class mix and confidence are the model's predictions on
the reference, not the dataset's labels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from robotops.dataset.frames import SENSOR_COLUMNS, decode_row
from robotops.dataset.store import Snapshot
from robotops.errors import DataError
from robotops.monitor.stats import STATS, input_stats
from robotops.runtime import Bundle, Frame

BATCH = 256
"""Reference frames decoded and predicted at a time."""


@dataclass(frozen=True, eq=False)  # arrays: compared by identity
class ReferenceSample:
    """The reference frames' statistics and the bundle's predictions on them.

    Attributes:
        ref: The dataset version, ``NAME@VERSION``.
        split: The split compared with, or None for every frame.
        available: Frames in the version (or split) before sampling.
        stats: Per statistic of :data:`~robotops.monitor.stats.STATS`, one value per frame scored
            (NaN where the frame lacks the modality).
        labels: The predicted class of each frame scored.
        confidence: The predicted class's probability, per frame scored.
    """

    ref: str
    split: str | None
    available: int
    stats: dict[str, np.ndarray]
    labels: tuple[str, ...]
    confidence: np.ndarray

    @property
    def frames(self) -> int:
        """Frames scored."""
        return len(self.labels)


def held_out_split(snapshot: Snapshot, manifest: dict) -> str | None:
    """The split a bundle was checked on at export, if ``snapshot`` is that version and has it.

    A model is more confident on the frames it trained on than on any new frame; comparing a log
    with its held-out frames keeps that from reading as drift.
    """
    held_out = (manifest.get("held_out") or {}).get("ref") or ""
    ref, _, split = held_out.rpartition(":")
    if not split or ref != str(snapshot):
        return None
    return split if split in set(snapshot.splits().column("split").to_pylist()) else None


def score_reference(
    snapshot: Snapshot,
    bundle: Bundle,
    *,
    split: str | None,
    max_frames: int,
    seed: int = 0,
    on_frames: Callable[[int], None] | None = None,
) -> ReferenceSample:
    """Decode the reference frames, compute their statistics and predict them with ``bundle``.

    Args:
        snapshot: The reference dataset version.
        bundle: The bundle whose logged predictions are compared.
        split: Only this split's frames (None: every frame, labelled or not).
        max_frames: At most this many frames, a seeded random sample above it.
        seed: Seeds the sample, so the same reference gives the same report.
        on_frames: Called with the number of frames done after each batch.

    Raises:
        DataError: The version (or split) has no frames, or a frame's bytes do not decode.
    """
    frame_ids, available = _chosen(snapshot, split, max_frames, seed)
    values: dict[str, list[float]] = {name: [] for name in STATS}
    labels: list[str] = []
    confidence: list[float] = []
    for batch in snapshot.scan_frames(SENSOR_COLUMNS, frame_ids=frame_ids, batch_size=BATCH):
        frames: list[Frame] = [Frame(*decode_row(row)) for row in batch.to_pylist()]
        for frame in frames:
            for name, value in zip(STATS, input_stats(*frame), strict=True):
                values[name].append(np.nan if value is None else float(value))
        for prediction in bundle.predict_frames(frames):
            labels.append(prediction.label)
            confidence.append(prediction.confidence)
        if on_frames is not None:
            on_frames(batch.num_rows)
    return ReferenceSample(
        ref=str(snapshot),
        split=split,
        available=available,
        stats={name: np.asarray(v, np.float64) for name, v in values.items()},
        labels=tuple(labels),
        confidence=np.asarray(confidence, np.float64),
    )


def _chosen(
    snapshot: Snapshot, split: str | None, max_frames: int, seed: int
) -> tuple[list[str] | None, int]:
    """The frame ids to read (None: all) and how many frames there were to choose from."""
    if split is None:
        total = snapshot.frame_count()
        if total == 0:
            raise DataError(f"reference {snapshot} has no frames")
        if total <= max_frames:
            return None, total
        ids = snapshot.frames(["frame_id"]).column("frame_id").to_pylist()
    else:
        index = snapshot.index(("frame_id", "recording_id", "stamp_ns"))
        rows = index.select(["frame_id", "split"]).to_pylist()
        ids = [r["frame_id"] for r in rows if r["split"] == split]
        if not ids:
            raise DataError(f"reference {snapshot} has no frames in split {split!r}")
    available = len(ids)
    if available > max_frames:
        rng = np.random.default_rng(seed)
        ids = [ids[i] for i in sorted(rng.choice(available, max_frames, replace=False))]
    return ids, available
