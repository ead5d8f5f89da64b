"""Evaluation: metrics overall, per slice and per modality subset; behavioural tests; the gate."""

from robotops.evaluate.gate import gate
from robotops.evaluate.metrics import ClassMetrics, Metrics, compute_metrics
from robotops.evaluate.results import (
    BehaviourResult,
    Evaluation,
    FramePrediction,
    GateCheck,
    GateResult,
)

__all__ = [
    "BehaviourResult",
    "ClassMetrics",
    "Evaluation",
    "FramePrediction",
    "GateCheck",
    "GateResult",
    "Metrics",
    "compute_metrics",
    "gate",
]
