"""Label checks: missing, unreviewed, unknown classes, and labels that contradict each other."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from robotops.validate.context import Context, share_result
from robotops.validate.report import CheckResult
from robotops.validate.rules import Rule


def missing(ctx: Context, rule: Rule) -> CheckResult:
    """Frames without a label, per site in the details."""
    labels = ctx.column("label")
    flagged = np.array([label is None for label in labels])
    sites = ctx.column("site")
    per_site = Counter(site or "-" for site, bad in zip(sites, flagged, strict=True) if bad)
    details = [f"{site}: {n} unlabelled" for site, n in sorted(per_site.items())]
    return share_result(rule, ctx, flagged, ctx.frames, "frames have no label", details)


def unreviewed(ctx: Context, rule: Rule) -> CheckResult:
    """Labels whose review status is not ``reviewed``."""
    status = ctx.column("review_status")
    labelled = np.array([label is not None for label in ctx.column("label")])
    flagged = labelled & np.array([s != "reviewed" for s in status])
    counts = Counter(s for s, bad in zip(status, flagged, strict=True) if bad)
    details = [f"{s}: {n}" for s, n in sorted(counts.items())]
    return share_result(rule, ctx, flagged, int(labelled.sum()), "labels not reviewed", details)


def unknown_class(ctx: Context, rule: Rule) -> CheckResult:
    """Labels outside the dataset's class list."""
    labels = ctx.column("label")
    known = set(ctx.classes)
    flagged = np.array([label is not None and label not in known for label in labels])
    counts = Counter(label for label, bad in zip(labels, flagged, strict=True) if bad)
    details = [f"{label!r}: {n}" for label, n in sorted(counts.items())]
    labelled = sum(label is not None for label in labels)
    return share_result(rule, ctx, flagged, labelled, "labels name unknown classes", details)


def conflicting(ctx: Context, rule: Rule) -> CheckResult:
    """Labels that contradict their neighbours in time, or an identical frame's label.

    Within a recording, a frame labelled B between labelled neighbours that agree on A (A, B, A)
    is a lone flip: a door does not change class for one frame. Frames with identical sensor
    bytes but different labels conflict outright.
    """
    labels = ctx.column("label")
    flagged = np.zeros(ctx.frames, dtype=bool)
    by_recording: dict[str, list[int]] = defaultdict(list)
    stamps = ctx.column("stamp_ns")
    for i, rec in enumerate(ctx.column("recording_id")):
        if labels[i] is not None:
            by_recording[rec].append(i)
    flips = 0
    for rows in by_recording.values():
        rows.sort(key=lambda i: stamps[i])
        for before, here, after in zip(rows, rows[1:], rows[2:], strict=False):
            if labels[before] == labels[after] != labels[here]:
                flagged[here] = True
                flips += 1
    by_digest: dict[str, set[str]] = defaultdict(set)
    digests = ctx.column("digest")
    for digest, label in zip(digests, labels, strict=True):
        if label is not None:
            by_digest[digest].add(label)
    clashing = {d for d, found in by_digest.items() if len(found) > 1}
    twins = 0
    for i, digest in enumerate(digests):
        if digest in clashing and labels[i] is not None:
            flagged[i] = True
            twins += 1
    details = [
        f"{flips} lone flips within a recording (A, B, A in time)",
        f"{twins} identical frames with different labels",
    ]
    labelled = sum(label is not None for label in labels)
    return share_result(rule, ctx, flagged, labelled, "labels conflict", details)


CHECKS = {
    "labels.missing": missing,
    "labels.unreviewed": unreviewed,
    "labels.unknown_class": unknown_class,
    "labels.conflicting": conflicting,
}
