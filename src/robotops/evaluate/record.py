"""Log an evaluation (and a gate decision) to the MLflow run that trained the model.

Metric names are prefixed with the split (``test.accuracy``, ``test.slice.lighting.night.accuracy``,
``test.modality.rgb+depth.accuracy`` written with ``_`` for characters MLflow does not allow), and
the reports go under ``evaluation/DATASET-SPLIT/`` in the run's artifacts, so evaluations of one
model on several dataset versions sit side by side.
"""

from __future__ import annotations

import re
from pathlib import Path

from robotops.evaluate.results import Evaluation
from robotops.train.tracking import Tracker

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-/ ]")


def metric_name(*parts: str) -> str:
    """A dotted MLflow metric name, each part stripped of characters MLflow rejects."""
    return ".".join(_UNSAFE.sub("_", part) for part in parts)


def evaluation_metrics(ev: Evaluation) -> dict[str, float]:
    """The figures of an evaluation as flat MLflow metrics."""
    split = ev.split
    values = {
        metric_name(split, "accuracy"): ev.overall.accuracy,
        metric_name(split, "macro_f1"): ev.overall.macro_f1,
        metric_name(split, "ece"): ev.overall.ece,
    }
    for name, m in ev.overall.per_class.items():
        for figure in ("precision", "recall", "f1"):
            values[metric_name(split, name, figure)] = getattr(m, figure)
    for key, slices in ev.slices.items():
        for value, m in slices.items():
            values[metric_name(split, "slice", key, value, "accuracy")] = m.accuracy
    for subset, m in ev.modalities.items():
        values[metric_name(split, "modality", subset, "accuracy")] = m.accuracy
    for test in ev.behaviour:
        if test.measured is not None:
            values[metric_name(split, "behaviour", test.id)] = test.measured
    return values


def artifact_folder(ev: Evaluation) -> str:
    """Where an evaluation's reports go among the run's artifacts."""
    return f"evaluation/{metric_name(ev.dataset)}-{metric_name(ev.split)}"


def log_evaluation(tracker: Tracker, ev: Evaluation, files: list[Path]) -> None:
    """Log ``ev``'s metrics and report ``files`` to the run ``tracker`` is attached to."""
    tracker.log_metrics(evaluation_metrics(ev))
    for path in files:
        tracker.log_artifact(path, artifact_folder(ev))
