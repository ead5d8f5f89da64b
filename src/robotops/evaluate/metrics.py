"""Classification metrics from labels and predicted probabilities, in NumPy alone.

Accuracy, per-class precision, recall and F1, the confusion matrix, and calibration: the expected
calibration error (ECE) over equal-width confidence bins, the gap between how sure the model says
it is and how often it is right, weighted by the frames in each bin.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from robotops.train.confusion import confusion_matrix

CALIBRATION_BINS = 10


@dataclass(frozen=True)
class ClassMetrics:
    """One class's figures; ``support`` is its number of true frames."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Metrics:
    """The figures of one set of frames (a split, a slice, a modality subset).

    Attributes:
        frames: How many frames were scored.
        accuracy: Fraction predicted right.
        macro_f1: Mean F1 over the classes with true frames.
        ece: Expected calibration error of the top-class confidence.
        per_class: Precision, recall, F1 and support by class name, in class-list order.
        confusion: Counts, rows true class, columns predicted, in class-list order.
    """

    frames: int
    accuracy: float
    macro_f1: float
    ece: float
    per_class: dict[str, ClassMetrics]
    confusion: list[list[int]]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Metrics:
        """Read what :meth:`to_dict` wrote."""
        per_class = {k: ClassMetrics(**v) for k, v in data["per_class"].items()}
        return cls(**{**data, "per_class": per_class})


def reliability(
    confidence: np.ndarray, correct: np.ndarray, bins: int = CALIBRATION_BINS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per equal-width confidence bin: mean confidence, accuracy and frame count.

    Empty bins hold NaN confidence and accuracy and a count of 0.
    """
    index = np.clip((np.asarray(confidence) * bins).astype(np.int64), 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(index, weights=confidence, minlength=bins) / counts
        accuracy = np.bincount(index, weights=correct.astype(np.float64), minlength=bins) / counts
    return mean_conf, accuracy, counts


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, bins: int = CALIBRATION_BINS
) -> float:
    """Sum over bins of (bin frames / frames) * |bin accuracy - bin mean confidence|."""
    if len(confidence) == 0:
        return 0.0
    mean_conf, accuracy, counts = reliability(confidence, correct, bins)
    filled = counts > 0
    gaps = np.abs(accuracy[filled] - mean_conf[filled])
    return float((counts[filled] * gaps).sum() / counts.sum())


def compute_metrics(
    labels: np.ndarray,
    probs: np.ndarray,
    classes: tuple[str, ...],
    bins: int = CALIBRATION_BINS,
) -> Metrics:
    """Metrics of predicted class probabilities ``probs`` (N, K) against true ``labels`` (N,)."""
    labels = np.asarray(labels, dtype=np.int64)
    predicted = probs.argmax(1) if len(labels) else np.zeros(0, np.int64)
    confidence = probs.max(1) if len(labels) else np.zeros(0)
    correct = predicted == labels
    matrix = confusion_matrix(labels, predicted, len(classes))
    per_class = {}
    for k, name in enumerate(classes):
        tp = int(matrix[k, k])
        predicted_k, support = int(matrix[:, k].sum()), int(matrix[k].sum())
        precision = tp / predicted_k if predicted_k else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = ClassMetrics(precision, recall, f1, support)
    present = [m.f1 for m in per_class.values() if m.support]
    return Metrics(
        frames=len(labels),
        accuracy=float(correct.mean()) if len(labels) else 0.0,
        macro_f1=float(np.mean(present)) if present else 0.0,
        ece=expected_calibration_error(confidence, correct, bins),
        per_class=per_class,
        confusion=matrix.tolist(),
    )
