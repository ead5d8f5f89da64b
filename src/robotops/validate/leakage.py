"""Leakage between splits: a recording in two splits, and identical or near-identical frames."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from robotops.validate.context import Context, result, share, share_result
from robotops.validate.report import CheckResult
from robotops.validate.rules import Rule

_CHUNK = 512  # frames compared at once for near-duplicates


def _no_splits(ctx: Context, rule: Rule) -> CheckResult:
    return result(
        rule, passed=True, value=0.0, threshold=rule.max_fraction, summary="no splits assigned"
    )


def recording(ctx: Context, rule: Rule) -> CheckResult:
    """Recordings whose frames sit in more than one split."""
    if not ctx.has_splits:
        return _no_splits(ctx, rule)
    splits_of: dict[str, set[str]] = defaultdict(set)
    for rec, split in zip(ctx.column("recording_id"), ctx.column("split"), strict=True):
        if split is not None:
            splits_of[rec].add(split)
    leaking = sorted(rec for rec, found in splits_of.items() if len(found) > 1)
    value = share(len(leaking), len(splits_of))
    return result(
        rule,
        passed=value <= rule.max_fraction,
        value=value,
        threshold=rule.max_fraction,
        summary=f"{len(leaking)} of {len(splits_of)} recordings are in more than one split",
        details=[f"{rec}: {', '.join(sorted(splits_of[rec]))}" for rec in leaking[:20]],
    )


def exact_duplicates(ctx: Context, rule: Rule) -> CheckResult:
    """Frames whose sensor bytes are identical to a frame's in another split."""
    if not ctx.has_splits:
        return _no_splits(ctx, rule)
    splits = ctx.column("split")
    splits_of: dict[str, set[str]] = defaultdict(set)
    digests = ctx.column("digest")
    for digest, split in zip(digests, splits, strict=True):
        if split is not None:
            splits_of[digest].add(split)
    pairs = zip(digests, splits, strict=True)
    flagged = np.array([split is not None and len(splits_of[d]) > 1 for d, split in pairs])
    with_split = sum(split is not None for split in splits)
    return share_result(
        rule, ctx, flagged, with_split, "frames have an identical twin in another split"
    )


def near_duplicates(ctx: Context, rule: Rule) -> CheckResult:
    """Frames of val/test whose image is within ``limit`` bits (difference hash) of another split's.

    Only frames in a different split count, so the near-identical consecutive frames of one
    recording, which always share a split, are never flagged.
    """
    if not ctx.has_splits:
        return _no_splits(ctx, rule)
    splits = np.array([s or "" for s in ctx.column("split")])
    hashes = ctx.array("dhash", np.uint64)
    has_hash = np.array([h is not None for h in ctx.column("dhash")])
    limit = int(rule.limit or 0)
    flagged = np.zeros(ctx.frames, dtype=bool)
    held = has_hash & np.isin(splits, ["val", "test"])
    for split in ("val", "test"):
        mine = np.flatnonzero(held & (splits == split))
        others = np.flatnonzero(has_hash & (splits != split) & (splits != ""))
        if not mine.size or not others.size:
            continue
        theirs = hashes[others]
        for start in range(0, mine.size, _CHUNK):
            rows = mine[start : start + _CHUNK]
            distance = np.bitwise_count(hashes[rows][:, None] ^ theirs[None, :])
            flagged[rows] = (distance <= limit).any(axis=1)
    return share_result(
        rule,
        ctx,
        flagged,
        int(held.sum()),
        f"val/test images are within {limit} bits of another split's",
    )


CHECKS = {
    "leakage.recording": recording,
    "leakage.exact_duplicates": exact_duplicates,
    "leakage.near_duplicates": near_duplicates,
}
