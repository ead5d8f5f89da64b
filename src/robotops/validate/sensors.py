"""Sensor checks: undecodable bytes, odd sizes, poor depth, empty clouds, missing modalities, time.

Timestamps are checked within each recording: frames stored out of time order, and gaps.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from robotops.validate.context import Context, result, share, share_result
from robotops.validate.report import CheckResult
from robotops.validate.rules import Rule

_MODALITIES = ("rgb", "depth", "lidar")


def undecodable(ctx: Context, rule: Rule) -> CheckResult:
    """Colour that does not decode (or not to its stored size); depth or clouds of wrong length."""
    flagged = np.zeros(ctx.frames, dtype=bool)
    reasons: Counter[str] = Counter()
    for modality in _MODALITIES:
        for i, error in enumerate(ctx.column(f"{modality}_error")):
            if error is not None:
                flagged[i] = True
                reasons[f"{modality}: {error}"] += 1
    details = [f"{n} frames: {reason}" for reason, n in reasons.most_common(5)]
    return share_result(rule, ctx, flagged, ctx.frames, "frames hold undecodable data", details)


def image_size(ctx: Context, rule: Rule) -> CheckResult:
    """Colour images whose size differs from the dataset's most common size."""
    sizes = [
        (w, h) if w is not None else None
        for w, h in zip(ctx.column("rgb_width"), ctx.column("rgb_height"), strict=True)
    ]
    counts = Counter(s for s in sizes if s is not None)
    if not counts:
        return share_result(rule, ctx, np.zeros(ctx.frames, bool), 0, "colour images")
    usual = counts.most_common(1)[0][0]
    flagged = np.array([s is not None and s != usual for s in sizes])
    details = [f"usual size {usual[0]}x{usual[1]}"] + [
        f"{w}x{h}: {n} frames" for (w, h), n in counts.most_common() if (w, h) != usual
    ]
    return share_result(
        rule, ctx, flagged, sum(counts.values()), "colour images have an unusual size", details
    )


def depth_validity(ctx: Context, rule: Rule) -> CheckResult:
    """Depth images with fewer valid pixels than ``limit``."""
    valid = ctx.array("depth_valid")
    present = ~np.isnan(valid)
    limit = rule.limit or 0.0
    flagged = present & (np.nan_to_num(valid, nan=1.0) < limit)
    details = []
    if present.any():
        details.append(f"median valid share {np.median(valid[present]):.1%}")
    return share_result(
        rule,
        ctx,
        flagged,
        int(present.sum()),
        f"depth images have under {limit:.0%} valid pixels",
        details,
    )


def lidar_empty(ctx: Context, rule: Rule) -> CheckResult:
    """Clouds with no point, or with points whose coordinates are NaN or infinite."""
    has = np.array(ctx.column("has_lidar"))
    points = ctx.array("lidar_points", np.int64)
    finite = ctx.array("lidar_finite", np.int64)
    decoded = has & np.array([e is None for e in ctx.column("lidar_error")])
    empty = decoded & (points == 0)
    nonfinite = decoded & (finite < points)
    details = [f"{int(empty.sum())} empty", f"{int(nonfinite.sum())} with NaN/Inf points"]
    return share_result(
        rule, ctx, empty | nonfinite, int(has.sum()), "clouds are empty or not finite", details
    )


def missing_modality(ctx: Context, rule: Rule) -> CheckResult:
    """Frames lacking colour, depth or LiDAR (kept at ingest, marked missing)."""
    lacking = {m: ~np.array(ctx.column(f"has_{m}")) for m in _MODALITIES}
    flagged = lacking["rgb"] | lacking["depth"] | lacking["lidar"]
    details = [f"no {m}: {int(lack.sum())} frames" for m, lack in lacking.items()]
    return share_result(rule, ctx, flagged, ctx.frames, "frames lack a modality", details)


def timestamps(ctx: Context, rule: Rule) -> CheckResult:
    """Frames stored out of time order, repeated stamps, and gaps over ``limit`` milliseconds."""
    limit_ns = int((rule.limit or 0.0) * 1e6)
    rows_of: dict[str, list[int]] = defaultdict(list)
    for i, rec in enumerate(ctx.column("recording_id")):
        rows_of[rec].append(i)
    stamps = ctx.array("stamp_ns", np.int64)
    order = ctx.array("row", np.int64)
    flagged = np.zeros(ctx.frames, dtype=bool)
    disorder = gaps = 0
    worst_gap_ms = 0.0
    for rows in rows_of.values():
        stored = np.array(sorted(rows, key=lambda i: order[i]))
        back = np.diff(stamps[stored]) <= 0  # later in storage, not later in time
        flagged[stored[1:][back]] = True
        disorder += int(back.sum())
        timed = np.sort(stamps[stored])
        step = np.diff(timed)
        if step.size:
            worst_gap_ms = max(worst_gap_ms, float(step.max()) / 1e6)
        wide = np.flatnonzero(step > limit_ns)
        gaps += wide.size
        in_time = stored[np.argsort(stamps[stored], kind="stable")]
        flagged[in_time[wide + 1]] = True
    count = int(flagged.sum())
    return result(
        rule,
        passed=count == 0,
        value=share(count, ctx.frames),
        threshold=0.0,
        summary=f"{disorder} frames out of order or repeated, {gaps} gaps over "
        f"{rule.limit:.0f} ms (widest {worst_gap_ms:.0f} ms)",
        frames=[f for f, bad in zip(ctx.column("frame_id"), flagged, strict=True) if bad],
    )


CHECKS = {
    "sensors.undecodable": undecodable,
    "sensors.image_size": image_size,
    "sensors.depth_validity": depth_validity,
    "sensors.lidar_empty": lidar_empty,
    "sensors.missing_modality": missing_modality,
    "sensors.timestamps": timestamps,
}
