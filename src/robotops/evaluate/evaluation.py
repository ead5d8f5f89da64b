"""Score a trained model on one split of a dataset version: overall, per slice, per modality subset.

A *slice* is the frames sharing one value of a key: the site, or a frame tag (lighting, variant,
...). A *modality subset* withholds sensors the way a robot loses them (zeros and a ``present``
flag of 0, exactly as preprocessing writes a missing modality), so a fusion model is scored as if
its LiDAR had failed. The model is rebuilt from its checkpoint and fed the same preprocessed,
cached arrays training used (:func:`robotops.train.data.load_frames`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from torch import nn

from robotops.config import BehaviourSettings, EvaluateSettings
from robotops.dataset.store import Snapshot
from robotops.errors import DataError
from robotops.evaluate.behaviour import LatencyProbe, run_behaviour
from robotops.evaluate.metrics import Metrics, compute_metrics
from robotops.evaluate.results import ALL_MODALITIES, Evaluation, FramePrediction
from robotops.train.checkpoint import load_checkpoint, model_from_checkpoint
from robotops.train.data import FrameArrays, load_frames
from robotops.train.loop import predict
from robotops.transforms import MODALITIES, PreprocessSpec

MODALITY_SUBSETS: dict[str, tuple[str, ...]] = {
    ALL_MODALITIES: (),
    "rgb+depth": ("lidar",),
    "rgb+lidar": ("depth",),
    "rgb": ("depth", "lidar"),
    "depth+lidar": ("rgb",),
}
"""Subset name -> the modalities withheld."""


def withhold(arrays: dict[str, np.ndarray], modalities: Sequence[str]) -> dict[str, np.ndarray]:
    """A copy of stacked model inputs with ``modalities`` missing from every frame."""
    out = dict(arrays)
    present = arrays["present"].copy()
    for name in modalities:
        out[name] = np.zeros_like(arrays[name])
        if name == "lidar":
            out["lidar_mask"] = np.zeros_like(arrays["lidar_mask"])
        present[:, MODALITIES.index(name)] = 0.0
    out["present"] = present
    return out


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for large logits."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def probabilities(model: nn.Module, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Class probabilities (N, K) of ``model`` on stacked inputs."""
    return softmax(predict(model, arrays).astype(np.float64))


def _frame_rows(snapshot: Snapshot, frame_ids: Sequence[str]) -> list[dict]:
    """recording_id, site and tags of each frame, in ``frame_ids`` order."""
    index = snapshot.index(("frame_id", "recording_id", "site", "stamp_ns", "tags"))
    by_id = {row["frame_id"]: row for row in index.to_pylist()}
    rows = []
    for frame in frame_ids:
        row = by_id[frame]
        try:
            tags = json.loads(row["tags"]) if row["tags"] else {}
        except json.JSONDecodeError as err:
            raise DataError(f"{snapshot}: frame {frame} has tags that are not JSON") from err
        rows.append({**row, "tags": {str(k): str(v) for k, v in tags.items()}})
    return rows


def slice_groups(
    rows: Sequence[dict], keys: Sequence[str] | None, max_values: int
) -> dict[str, dict[str, np.ndarray]]:
    """Row indices per slice: key -> value -> indices.

    ``keys`` None means ``site`` and every tag key with at most ``max_values`` distinct values
    (a tag unique to each frame, such as a sequence number, is not a slice).
    """

    def value(row: dict, key: str) -> str | None:
        return row["site"] if key == "site" else row["tags"].get(key)

    if keys is None:
        tag_keys = sorted({k for row in rows for k in row["tags"]} - {"site"})
        keys = ["site", *tag_keys]
    groups: dict[str, dict[str, np.ndarray]] = {}
    for key in keys:
        members: dict[str, list[int]] = {}
        for i, row in enumerate(rows):
            found = value(row, key)
            if found is not None:
                members.setdefault(found, []).append(i)
        if members and (len(members) <= max_values or key == "site"):
            groups[key] = {v: np.asarray(ix) for v, ix in sorted(members.items())}
    return groups


def evaluate_model(
    model: nn.Module,
    architecture: str,
    data: FrameArrays,
    snapshot: Snapshot,
    split: str,
    *,
    name: str,
    run_id: str | None,
    spec: PreprocessSpec,
    settings: EvaluateSettings,
    behaviour: BehaviourSettings,
    latency_ms: LatencyProbe | None = None,
) -> Evaluation:
    """Score ``model`` on ``data`` (the ``split`` of ``snapshot``) and run its behavioural tests.

    Args:
        model: The model, in eval mode.
        architecture: Its architecture name.
        data: The split's preprocessed inputs and labels.
        snapshot: The dataset version the data came from (for sites and tags).
        split: The split's name.
        name: How to call the model in reports.
        run_id: The MLflow run that trained it.
        spec: The preprocessing it was trained with (the perturbation tests work in pixel units).
        settings: Slices and calibration bins.
        behaviour: Which behavioural tests, with which thresholds.
        latency_ms: Measures one frame's latency through the exported model, if there is one.
    """
    classes = data.classes
    bins = settings.calibration_bins
    probs = probabilities(model, data.arrays)
    overall = compute_metrics(data.labels, probs, classes, bins)
    rows = _frame_rows(snapshot, data.frame_ids)
    groups = slice_groups(rows, settings.slices, settings.max_slice_values)
    slices = {
        key: {
            value: compute_metrics(data.labels[ix], probs[ix], classes, bins)
            for value, ix in values.items()
        }
        for key, values in groups.items()
    }
    modalities: dict[str, Metrics] = {ALL_MODALITIES: overall}
    for subset, withheld in MODALITY_SUBSETS.items():
        if withheld:
            subset_probs = probabilities(model, withhold(data.arrays, withheld))
            modalities[subset] = compute_metrics(data.labels, subset_probs, classes, bins)
    predicted = probs.argmax(1)
    predictions = tuple(
        FramePrediction(
            frame_id=frame,
            recording_id=row["recording_id"],
            site=row["site"] or "",
            tags=row["tags"],
            label=classes[int(label)],
            predicted=classes[int(guess)],
            confidence=float(probs[i, guess]),
        )
        for i, (frame, row, label, guess) in enumerate(
            zip(data.frame_ids, rows, data.labels, predicted, strict=True)
        )
    )
    tests = run_behaviour(
        lambda arrays: probabilities(model, arrays),
        data.arrays,
        predicted,
        spec,
        behaviour,
        modalities=modalities,
        slices=slices,
        latency_ms=latency_ms,
    )
    return Evaluation(
        model=name,
        architecture=architecture,
        run_id=run_id,
        dataset=str(snapshot),
        split=split,
        classes=classes,
        overall=overall,
        slices=slices,
        modalities=modalities,
        behaviour=tests,
        predictions=predictions,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def evaluate_checkpoint(
    checkpoint: Path,
    snapshot: Snapshot,
    split: str,
    cache_dir: Path,
    *,
    name: str,
    settings: EvaluateSettings,
    behaviour: BehaviourSettings,
    latency_ms: LatencyProbe | None = None,
    on_frames: Callable[[int], None] | None = None,
) -> Evaluation:
    """Rebuild the model in ``checkpoint`` and score it on ``split`` of ``snapshot``.

    Raises:
        DataError: The checkpoint is unreadable, its class list differs from the dataset's, or
            the split has no labelled frames.
    """
    loaded = load_checkpoint(checkpoint)
    meta = loaded.meta
    if tuple(meta["classes"]) != snapshot.classes:
        raise DataError(
            f"{checkpoint}: the model knows classes {', '.join(meta['classes'])}; "
            f"{snapshot} has {', '.join(snapshot.classes)}"
        )
    model = model_from_checkpoint(loaded, checkpoint)
    spec = PreprocessSpec.from_dict(meta["spec"])
    data = load_frames(snapshot, split, spec, cache_dir, on_frames=on_frames)
    return evaluate_model(
        model,
        meta["model"],
        data,
        snapshot,
        split,
        name=name,
        run_id=meta.get("run_id"),
        spec=spec,
        settings=settings,
        behaviour=behaviour,
        latency_ms=latency_ms,
    )
