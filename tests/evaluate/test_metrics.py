"""Metrics against hand-computed figures: accuracy, precision/recall/F1, confusion, calibration."""

from __future__ import annotations

import numpy as np
import pytest

from robotops.evaluate.metrics import (
    Metrics,
    compute_metrics,
    expected_calibration_error,
    reliability,
)

CLASSES = ("glass_door", "wooden_door", "no_door")


def one_hot_probs(predicted: list[int], confidence: float) -> np.ndarray:
    probs = np.full((len(predicted), 3), (1 - confidence) / 2)
    probs[np.arange(len(predicted)), predicted] = confidence
    return probs


def test_per_class_figures_match_a_hand_count() -> None:
    labels = np.array([0, 0, 0, 1, 1, 2])
    predicted = [0, 0, 1, 1, 2, 2]
    m = compute_metrics(labels, one_hot_probs(predicted, 0.8), CLASSES)
    assert m.frames == 6
    assert m.accuracy == pytest.approx(4 / 6)
    assert m.confusion == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    glass, wood, none = (m.per_class[c] for c in CLASSES)
    assert (glass.precision, glass.recall, glass.support) == (1.0, pytest.approx(2 / 3), 3)
    assert wood.precision == pytest.approx(0.5) and wood.recall == pytest.approx(0.5)
    assert none.precision == pytest.approx(0.5) and none.recall == 1.0
    assert glass.f1 == pytest.approx(0.8)
    assert m.macro_f1 == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)


def test_a_class_without_frames_does_not_drag_macro_f1() -> None:
    labels = np.array([0, 0, 1])
    m = compute_metrics(labels, one_hot_probs([0, 0, 1], 0.9), CLASSES)
    assert m.per_class["no_door"].support == 0
    assert m.macro_f1 == 1.0


def test_ece_is_the_gap_between_confidence_and_accuracy() -> None:
    # Always 90% sure, right half the time: ECE 0.4. Always right at 100%: 0.
    confidence = np.full(10, 0.9)
    correct = np.array([True, False] * 5)
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.4)
    assert expected_calibration_error(np.ones(4), np.ones(4, bool)) == pytest.approx(0.0)
    mean_conf, accuracy, counts = reliability(confidence, correct, bins=10)
    assert counts[9] == 10 and counts[:9].sum() == 0
    assert mean_conf[9] == pytest.approx(0.9)
    assert accuracy[9] == pytest.approx(0.5) and np.isnan(accuracy[0])


def test_round_trip_through_json_types() -> None:
    m = compute_metrics(np.array([0, 1, 2]), one_hot_probs([0, 1, 1], 0.7), CLASSES)
    assert Metrics.from_dict(m.to_dict()) == m
