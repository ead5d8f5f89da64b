"""Vectorised ray casting against the axis-aligned rectangles of a scene."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from robotops.sim.scene import TRANSPARENT, Rect

_OTHER_AXES = {0: (1, 2), 1: (0, 2), 2: (0, 1)}


def cast(
    origin: np.ndarray,
    dirs: np.ndarray,
    rects: Sequence[Rect],
    *,
    skip_transparent: bool = False,
    max_t: float = 100.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest hit of each ray.

    Args:
        origin: Ray origin, shape (3,).
        dirs: Ray directions, shape (N, 3); not necessarily unit length, ``t`` is in their units.
        rects: Scene rectangles.
        skip_transparent: Let rays pass through glass, to see what lies behind it.
        max_t: Rays that hit nothing nearer report ``max_t``.

    Returns:
        ``t`` (N,) distance along each ray and ``index`` (N,) of the rectangle hit, -1 for none.
    """
    n = dirs.shape[0]
    best_t = np.full(n, max_t)
    best_i = np.full(n, -1, dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        for i, rect in enumerate(rects):
            if skip_transparent and rect.material in TRANSPARENT:
                continue
            b, c = _OTHER_AXES[rect.axis]
            t = (rect.coord - origin[rect.axis]) / dirs[:, rect.axis]
            hit = (t > 1e-4) & (t < best_t)
            pb = origin[b] + t * dirs[:, b]
            pc = origin[c] + t * dirs[:, c]
            hit &= (pb >= rect.lo[0]) & (pb <= rect.hi[0]) & (pc >= rect.lo[1]) & (pc <= rect.hi[1])
            if rect.hole is not None:
                hb0, hc0, hb1, hc1 = rect.hole
                hit &= ~((pb > hb0) & (pb < hb1) & (pc > hc0) & (pc < hc1))
            best_t = np.where(hit, t, best_t)
            best_i = np.where(hit, i, best_i)
    return best_t, best_i
