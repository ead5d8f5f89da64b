"""The model registry: versions, aliases, lineage, promotion history; the gate that guards it."""

from robotops.registry.gating import (
    EvaluationOutcome,
    GateOutcome,
    evaluate_named,
    gate_named,
    report_dir,
)
from robotops.registry.registry import (
    CHALLENGER,
    CHAMPION,
    ModelVersion,
    Promotion,
    Registry,
    current_user,
    parse_version,
)
from robotops.registry.resolve import ResolvedModel, resolve_model

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "EvaluationOutcome",
    "GateOutcome",
    "ModelVersion",
    "Promotion",
    "Registry",
    "ResolvedModel",
    "current_user",
    "evaluate_named",
    "gate_named",
    "parse_version",
    "report_dir",
    "resolve_model",
]
