"""The gate's decisions from hand-made evaluations: overall, per slice, behaviour, no champion."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from robotops.config import GateSettings
from robotops.errors import UsageError
from robotops.evaluate.gate import gate
from robotops.evaluate.metrics import Metrics, compute_metrics
from robotops.evaluate.results import BehaviourResult, Evaluation, GateResult

CLASSES = ("glass_door", "wooden_door", "no_door")


def metrics(right: int, frames: int) -> Metrics:
    labels = np.zeros(frames, dtype=np.int64)
    probs = np.tile([0.1, 0.8, 0.1], (frames, 1))
    probs[:right] = [0.8, 0.1, 0.1]
    return compute_metrics(labels, probs, CLASSES)


def evaluation(
    name: str, overall: tuple[int, int], night: tuple[int, int], **kw: object
) -> Evaluation:
    return Evaluation(
        model=name,
        architecture="fusion",
        run_id=None,
        dataset="doors@4",
        split="test",
        classes=CLASSES,
        overall=metrics(*overall),
        slices={"lighting": {"night": metrics(*night), "day": metrics(10, 10)}},
        modalities={},
        behaviour=kw.get("behaviour", ()),
        predictions=(),
        created_at="2026-11-26T00:00:00+00:00",
    )


SETTINGS = GateSettings(tolerance=0.01, slice_tolerance=0.05, min_slice_frames=8, min_metric=0.7)


def test_a_challenger_as_good_overall_but_worse_at_night_is_refused_naming_the_slice() -> None:
    champion = evaluation("m/1", (18, 20), (8, 10))
    challenger = evaluation("m/2", (18, 20), (6, 10))
    result = gate(challenger, champion, SETTINGS)
    assert not result.passed
    assert [c.id for c in result.failures] == ["slice:lighting=night"]
    assert "down 20.0%" in result.failures[0].detail
    # The other way round it passes: night improves, nothing else moves.
    assert gate(champion, challenger, SETTINGS).passed


def test_overall_tolerance_and_the_small_slice_rule() -> None:
    champion = evaluation("m/1", (90, 100), (8, 10))
    slightly_worse = evaluation("m/2", (89, 100), (8, 10))
    assert gate(slightly_worse, champion, SETTINGS).passed  # within 1 point
    worse = evaluation("m/3", (85, 100), (8, 10))
    assert [c.id for c in gate(worse, champion, SETTINGS).failures] == ["overall"]
    # A slice smaller than min_slice_frames is not compared, however it moves.
    tiny = SETTINGS.model_copy(update={"min_slice_frames": 11})
    night_collapse = evaluation("m/4", (90, 100), (0, 10))
    assert gate(night_collapse, champion, tiny).passed


def test_without_a_champion_the_absolute_floor_applies() -> None:
    good, poor = evaluation("m/1", (8, 10), (8, 10)), evaluation("m/2", (6, 10), (8, 10))
    assert gate(good, None, SETTINGS).passed
    result = gate(poor, None, SETTINGS)
    assert [c.id for c in result.failures] == ["absolute:accuracy"]
    assert result.champion is None


def test_a_failed_behavioural_test_fails_the_gate_and_one_that_could_not_run_does_not() -> None:
    failed = BehaviourResult("flip", "mirror", False, 0.5, 0.9, "50% unchanged")
    skipped = BehaviourResult("latency", "fast", None, None, 20.0, "not exported")
    challenger = evaluation("m/2", (9, 10), (9, 10), behaviour=(failed, skipped))
    result = gate(challenger, None, SETTINGS)
    assert [c.id for c in result.failures] == ["behaviour:flip"]
    assert GateResult.from_dict(result.to_dict()) == result


def test_evaluations_of_different_dataset_versions_cannot_be_compared() -> None:
    a = evaluation("m/1", (9, 10), (9, 10))
    b = replace(evaluation("m/2", (9, 10), (9, 10)), dataset="doors@5")
    with pytest.raises(UsageError, match="same dataset version"):
        gate(a, b, SETTINGS)
