"""The checks ``robotops validate`` runs: ids, what each measures, and its default rule.

Every check measures one number per dataset version (a share of frames, a count) and fails when
that number crosses its limit. ``robotops.yaml`` can change any check's severity (``error`` fails
the pipeline, ``warning`` is reported only, ``off`` skips it) and its limits::

    checks:
      labels.missing: {severity: warning, max_fraction: 0.2}
      sensors.depth_validity: {limit: 0.05}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from robotops.config import RuleSettings
from robotops.errors import UsageError


class Severity(StrEnum):
    """What a failing check does to the pipeline."""

    ERROR = "error"  # fails validation: non-zero exit
    WARNING = "warning"  # reported, never fails
    OFF = "off"  # not run


@dataclass(frozen=True)
class Rule:
    """How one check is judged.

    Attributes:
        id: The check's id, ``group.name``.
        title: What the check looks for, in a few words.
        severity: What failing does.
        max_fraction: Share of frames (or groups) that may be affected before the check fails.
        limit: The check's own per-frame or per-slice limit, where it has one (see ``explains``).
        explains: What ``limit`` means for this check; empty when it has none.
    """

    id: str
    title: str
    severity: Severity
    max_fraction: float = 0.0
    limit: float | None = None
    explains: str = ""


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("labels.missing", "frames without a label", Severity.ERROR, max_fraction=0.02),
    Rule("labels.unreviewed", "labels not reviewed", Severity.WARNING, max_fraction=0.0),
    Rule("labels.unknown_class", "labels outside the class list", Severity.ERROR),
    Rule(
        "labels.conflicting",
        "frames whose label contradicts their neighbours or an identical frame",
        Severity.ERROR,
        max_fraction=0.01,
    ),
    Rule("sensors.undecodable", "colour, depth or LiDAR bytes that do not decode", Severity.ERROR),
    Rule(
        "sensors.image_size",
        "colour images of another size than the dataset's usual one",
        Severity.ERROR,
    ),
    Rule(
        "sensors.depth_validity",
        "depth images with too few valid pixels",
        Severity.WARNING,
        max_fraction=0.05,
        limit=0.1,
        explains="least share of valid (non-zero) depth pixels in a frame",
    ),
    Rule("sensors.lidar_empty", "LiDAR clouds that are empty or hold NaN/Inf", Severity.ERROR),
    Rule(
        "sensors.missing_modality",
        "frames lacking colour, depth or LiDAR",
        Severity.WARNING,
        max_fraction=0.4,
    ),
    Rule(
        "sensors.timestamps",
        "out-of-order frames and timestamp gaps within a recording",
        Severity.ERROR,
        limit=1000.0,
        explains="largest gap between consecutive frames of a recording, in milliseconds",
    ),
    Rule(
        "balance.classes",
        "class imbalance",
        Severity.WARNING,
        limit=0.1,
        explains="least share of labelled frames any class must have",
    ),
    Rule(
        "balance.slices",
        "slices with too few examples of a class to evaluate",
        Severity.WARNING,
        limit=5,
        explains="least frames of each class in each site and tag slice of the evaluation split",
    ),
    Rule("leakage.recording", "recordings in more than one split", Severity.ERROR),
    Rule("leakage.exact_duplicates", "identical frames in different splits", Severity.ERROR),
    Rule(
        "leakage.near_duplicates",
        "near-identical images in different splits",
        Severity.WARNING,
        limit=2,
        explains="largest Hamming distance between 64-bit difference hashes counted as near",
    ),
)
CHECK_IDS = tuple(rule.id for rule in DEFAULT_RULES)


def resolve_rules(overrides: Mapping[str, RuleSettings]) -> dict[str, Rule]:
    """The default rules with ``robotops.yaml``'s ``checks:`` applied.

    Raises:
        UsageError: ``checks:`` names a check that does not exist.
    """
    rules = {rule.id: rule for rule in DEFAULT_RULES}
    for check_id, settings in overrides.items():
        if check_id not in rules:
            raise UsageError(
                f"robotops.yaml: checks.{check_id}: no such check (checks: {', '.join(CHECK_IDS)})"
            )
        rule = rules[check_id]
        rules[check_id] = replace(
            rule,
            severity=Severity(settings.severity) if settings.severity else rule.severity,
            max_fraction=rule.max_fraction
            if settings.max_fraction is None
            else settings.max_fraction,
            limit=rule.limit if settings.limit is None else settings.limit,
        )
    return rules
