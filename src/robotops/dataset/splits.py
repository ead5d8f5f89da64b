"""Assign train/val/test splits by group, never by frame, and commit them as one version.

Neighbouring frames of one recording are near-duplicates, so a frame-level split leaks: the model
is tested on frames it has all but seen. Every frame of a group (a recording, or a site) therefore
gets the same split.

How groups are assigned:

1. Groups are sorted by name (so the result does not depend on the order frames were ingested)
   and shuffled with ``numpy.random.default_rng(seed)``.
2. Groups at a held-out site go to ``test`` first and take no further part (a recording counts
   as at a held-out site when any of its frames is).
3. When frames are labelled, the remaining groups are stratified: each group counts as its most
   common label, and the shuffled groups are dealt out round robin by that label (classes in
   order of first appearance), so every split gets its share of every class, not whatever the
   shuffle left over. Unlabelled groups form one more class.
4. The remaining groups are laid end to end in that order and cut into train, val and test
   by **cumulative frame share**: each cut sits at the group boundary whose cumulative frame count
   is closest to the asked cumulative fraction (ties: the earlier boundary), while leaving at
   least one group to every later split with a non-zero fraction. A zero fraction gets no group.
   Frame shares therefore approach the asked fractions as groups get smaller and more numerous;
   with a handful of recordings they are as close as whole groups allow.

Held-out sites come on top of the fractions: ``fractions=(0.7, 0.15, 0.15)`` with a held-out site
puts that site plus about 15 % of the remaining frames in ``test``. To test on the held-out sites
only, ask for ``(0.8, 0.2, 0.0)``.

Frames without a site, when splitting by site, are grouped by their recording instead (a group
named ``"<recording_id> (no site)"``): that still keeps recordings whole, and such groups are never
held out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pyarrow as pa

from robotops.dataset.refs import DatasetRef
from robotops.dataset.schema import SPLIT_SCHEMA
from robotops.dataset.store import Snapshot, Store
from robotops.errors import ConflictError, UsageError

SPLITS = ("train", "val", "test")
"""The split names, in the order fractions are given."""

DEFAULT_FRACTIONS = (0.7, 0.15, 0.15)

_TOLERANCE = 1e-6


class SplitBy(StrEnum):
    """What frames are grouped by; a group never straddles two splits."""

    RECORDING = "recording"
    SITE = "site"


@dataclass(frozen=True)
class SplitCount:
    """Frames and groups in one split."""

    frames: int
    groups: int


@dataclass(frozen=True)
class SplitResult:
    """The result of :func:`split_dataset`.

    Attributes:
        snapshot: The dataset's head after the call.
        new_version: Whether a version was made (False when the splits were already so).
        by: What frames were grouped by.
        counts: Frames and groups per split, for ``train``, ``val`` and ``test`` in that order.
        groups: The group names in each split, sorted.
    """

    snapshot: Snapshot
    new_version: bool
    by: SplitBy
    counts: dict[str, SplitCount]
    groups: dict[str, tuple[str, ...]]


def split_dataset(
    store: Store,
    ref: DatasetRef | str,
    *,
    by: SplitBy | str = SplitBy.RECORDING,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    holdout_sites: Sequence[str] = (),
    message: str | None = None,
) -> SplitResult:
    """Assign every frame of ``ref`` to train, val or test by group, as one new version.

    The split replaces the dataset's split table; splitting again with the same arguments (and
    the same frames) makes no new version. The split is committed on top of the dataset's head,
    so ``ref`` must name the head: splitting an older version would silently drop the frames
    added since.

    Args:
        store: The dataset store.
        ref: The dataset (``NAME``, or ``NAME@VERSION``/``NAME@TAG`` naming its head).
        by: Group frames by ``recording`` or by ``site``.
        fractions: Shares of train, val and test; non-negative, summing to 1.
        seed: Seed of the group shuffle; the same seed gives the same split.
        holdout_sites: Sites whose frames all go to ``test``, outside the fractions.
        message: Commit message (default: one describing the arguments).

    Returns:
        The new head, whether a version was made, and what went where.

    Raises:
        UsageError: Bad ``by``, fractions or seed; an unknown held-out site; no frames; or fewer
            groups than splits with a non-zero fraction.
        ConflictError: ``ref`` names an older version than the dataset's head.
        NotFoundError: No such dataset, version or tag.
    """
    by = _split_by(by)
    shares = _check_fractions(fractions)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UsageError(f"seed must be a non-negative integer, got {seed!r}")

    snap = store.snapshot(ref)
    head = store.snapshot(snap.name)
    if head.version != snap.version:
        raise ConflictError(
            f"{snap} is not the head of {snap.name} (the head is {head}): splits are committed "
            f"on top of the head, so split {snap.name} itself"
        )
    frames = snap.index(("frame_id", "recording_id", "site", "stamp_ns"))
    if frames.num_rows == 0:
        raise UsageError(f"{snap} has no frames to split; ingest recordings first")

    rows = frames.to_pylist()
    keys = [_group(row, by) for row in rows]
    sizes: dict[str, int] = {}
    sites_of: dict[str, set[str]] = {}
    for row, key in zip(rows, keys, strict=True):
        sizes[key] = sizes.get(key, 0) + 1
        if row["site"] is not None:
            sites_of.setdefault(key, set()).add(row["site"])

    held = _check_holdout(holdout_sites, {s for ss in sites_of.values() for s in ss})
    names = sorted(sizes)
    rng = np.random.default_rng(seed)
    shuffled = [names[i] for i in rng.permutation(len(names))]
    held_out = [g for g in shuffled if sites_of.get(g, set()) & held]
    pool = _stratified(
        [g for g in shuffled if not sites_of.get(g, set()) & held],
        _majority_labels(keys, frames.column("label").to_pylist()),
    )

    assignment = dict.fromkeys(held_out, "test")
    assignment |= _assign(pool, [sizes[g] for g in pool], shares, by, bool(held_out))

    split_rows = {"frame_id": frames.column("frame_id"), "split": [assignment[k] for k in keys]}
    table = pa.table(split_rows, schema=SPLIT_SCHEMA)
    snapshot, new_version = store.commit(
        snap.name,
        kind="split",
        message=message or _describe(by, shares, seed, sorted(held)),
        splits=table,
    )
    groups = {s: tuple(sorted(g for g, a in assignment.items() if a == s)) for s in SPLITS}
    counts = {
        s: SplitCount(frames=sum(sizes[g] for g in groups[s]), groups=len(groups[s]))
        for s in SPLITS
    }
    return SplitResult(snapshot, new_version, by, counts, groups)


def _split_by(by: SplitBy | str) -> SplitBy:
    try:
        return SplitBy(by)
    except ValueError:
        allowed = ", ".join(b.value for b in SplitBy)
        raise UsageError(f"cannot split by {by!r}: expected one of {allowed}") from None


def _check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    shown = ", ".join(str(f) for f in fractions)
    if len(fractions) != len(SPLITS):
        raise UsageError(f"fractions must be three numbers (train, val, test), got {shown!r}")
    values = tuple(float(f) for f in fractions)
    if any(not math.isfinite(f) or f < 0 for f in values):
        raise UsageError(f"fractions must be non-negative, got {shown}")
    if abs(sum(values) - 1.0) > _TOLERANCE:
        raise UsageError(f"fractions must sum to 1, got {shown} (sum {sum(values):g})")
    train, val, test = values
    return train, val, test


def _group(row: dict[str, str | None], by: SplitBy) -> str:
    if by is SplitBy.RECORDING:
        return str(row["recording_id"])
    return row["site"] if row["site"] is not None else f"{row['recording_id']} (no site)"


def _check_holdout(holdout_sites: Sequence[str], known: set[str]) -> set[str]:
    if isinstance(holdout_sites, str):  # one site given as a bare string
        holdout_sites = [holdout_sites]
    unknown = sorted(set(holdout_sites) - known)
    if unknown:
        listed = ", ".join(sorted(known)) or "none"
        raise UsageError(
            f"held-out site(s) {', '.join(unknown)} not in the dataset (its sites: {listed})"
        )
    return set(holdout_sites)


def _majority_labels(keys: list[str], labels: list[str | None]) -> dict[str, str | None]:
    """Each group's most common label (ties: the first in sorted order; None if unlabelled)."""
    counts: dict[str, dict[str | None, int]] = {}
    for key, label in zip(keys, labels, strict=True):
        counts.setdefault(key, {})
        if label is not None:
            counts[key][label] = counts[key].get(label, 0) + 1
    return {
        key: min(c, key=lambda label: (-c[label], label)) if c else None
        for key, c in counts.items()
    }


def _stratified(groups: list[str], label_of: dict[str, str | None]) -> list[str]:
    """``groups`` dealt out round robin by label, keeping their order within each label."""
    by_label: dict[str | None, list[str]] = {}
    for group in groups:
        by_label.setdefault(label_of[group], []).append(group)
    queues = list(by_label.values())
    dealt: list[str] = []
    for turn in range(max((len(q) for q in queues), default=0)):
        dealt.extend(q[turn] for q in queues if turn < len(q))
    return dealt


def _assign(
    groups: list[str], sizes: list[int], shares: Sequence[float], by: SplitBy, held: bool
) -> dict[str, str]:
    """Cut the shuffled ``groups`` into consecutive runs, one per split, by frame share."""
    active = [i for i, share in enumerate(shares) if share > 0]
    if len(groups) < len(active):
        asked = ", ".join(SPLITS[i] for i in active)
        rest = " outside the held-out sites" if held else ""
        raise UsageError(
            f"cannot split {len(groups)} {by.value}(s){rest} into {len(active)} non-empty "
            f"splits ({asked}): give every split at least one {by.value}, or set a fraction to 0"
        )
    if not groups:
        return {}
    prefix = np.concatenate([[0], np.cumsum(sizes)])  # frames before boundary b, b = 0..n
    total = prefix[-1]
    n = len(groups)
    cuts = [0]
    cumulative = 0.0
    for j, split in enumerate(active[:-1]):
        cumulative += shares[split]
        later = len(active) - 1 - j  # splits after this one, each needing a group
        low, high = cuts[-1] + 1, n - later
        boundaries = np.arange(low, high + 1)
        best = boundaries[np.argmin(np.abs(prefix[low : high + 1] - cumulative * total))]
        cuts.append(int(best))
    cuts.append(n)
    assignment = {}
    for j, split in enumerate(active):
        for group in groups[cuts[j] : cuts[j + 1]]:
            assignment[group] = SPLITS[split]
    return assignment


def _describe(by: SplitBy, shares: Sequence[float], seed: int, held: list[str]) -> str:
    parts = "/".join(f"{s:g}" for s in shares)
    text = f"split by {by.value} train/val/test {parts}, seed {seed}"
    return text + (f", held-out sites: {', '.join(held)}" if held else "")
