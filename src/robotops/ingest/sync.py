"""Approximate-time synchronisation of sensor streams onto an anchor stream."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Pairing:
    """For each anchor stamp, the index of the paired message of one stream, or -1."""

    index: np.ndarray
    overlapping: bool  # False when the stream's clock never overlaps the anchor's


def pair_nearest(anchor_ns: np.ndarray, other_ns: np.ndarray, max_gap_ns: int) -> Pairing:
    """Pair each anchor stamp with the nearest stamp of another stream within ``max_gap_ns``.

    Streams whose stamp ranges do not overlap the anchor's (different clock domains, such as
    one sensor on ROS time and another on its own boot clock) are not paired at all.
    """
    none = np.full(anchor_ns.shape[0], -1, dtype=np.int64)
    if other_ns.size == 0 or anchor_ns.size == 0:
        return Pairing(none, overlapping=other_ns.size > 0 and anchor_ns.size == 0)
    lo, hi = max(anchor_ns.min(), other_ns.min()), min(anchor_ns.max(), other_ns.max())
    if lo > hi + max_gap_ns:
        return Pairing(none, overlapping=False)
    order = np.argsort(other_ns, kind="stable")
    sorted_ns = other_ns[order]
    right = np.clip(np.searchsorted(sorted_ns, anchor_ns), 0, sorted_ns.size - 1)
    left = np.clip(right - 1, 0, sorted_ns.size - 1)
    use_left = np.abs(anchor_ns - sorted_ns[left]) <= np.abs(sorted_ns[right] - anchor_ns)
    nearest = np.where(use_left, left, right)
    gap = np.abs(sorted_ns[nearest] - anchor_ns)
    return Pairing(np.where(gap <= max_gap_ns, order[nearest], -1), overlapping=True)
