"""Point-cloud steps in pure NumPy: crop, voxel downsampling, outlier removal, fixed count.

Every step is deterministic and independent of the order of the input points: points are put into
one canonical order (by voxel, then by coordinates) before anything order-sensitive happens, and
the fixed-count subset is chosen by a hash of each voxel's integer coordinates rather than by a
random generator. The same cloud therefore gives bit-identical model input in training, in
evaluation and on the robot, however the driver happened to order the returns.
"""

from __future__ import annotations

import numpy as np

# 27 offsets of the 3x3x3 block of cells around (and including) a cell.
_BLOCK = np.stack(np.meshgrid([-1, 0, 1], [-1, 0, 1], [-1, 0, 1], indexing="ij"), axis=-1).reshape(
    -1, 3
)


def crop_points(
    xyz: np.ndarray,
    x_m: tuple[float, float],
    y_m: tuple[float, float],
    z_m: tuple[float, float],
    max_range_m: float,
) -> np.ndarray:
    """Points (N, 3) that are finite, inside the box (bounds inclusive) and within range."""
    x, y, z = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    with np.errstate(invalid="ignore"):  # NaN compares false: dropped with the out-of-range
        keep = (
            np.isfinite(xyz).all(axis=1)
            & (x >= x_m[0])
            & (x <= x_m[1])
            & (y >= y_m[0])
            & (y <= y_m[1])
            & (z >= z_m[0])
            & (z <= z_m[1])
            & (np.einsum("ij,ij->i", xyz, xyz) <= max_range_m * max_range_m)
        )
    return xyz[keep]


def _cells(xyz: np.ndarray, edge_m: float) -> np.ndarray:
    """Integer grid coordinates (N, 3) of each point on a grid of ``edge_m``."""
    return np.floor(xyz.astype(np.float64) / edge_m).astype(np.int64)


def _keys(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One int64 key per cell, ordered like (i, j, k) lexicographically, and the axis strides.

    Cells are shifted so the smallest is (1, 1, 1), which leaves room for a -1/+1 neighbour on
    every axis without the key of one cell aliasing another's.
    """
    shifted = cells - cells.min(axis=0) + 1
    dims = shifted.max(axis=0) + 2
    strides = np.array([dims[1] * dims[2], dims[2], 1], dtype=np.int64)
    return shifted @ strides, strides


def voxel_downsample(xyz: np.ndarray, voxel_m: float) -> tuple[np.ndarray, np.ndarray]:
    """One point per occupied voxel (the mean of its points), in canonical voxel order.

    Returns:
        The points (M, 3) float32, sorted by voxel (x-major, then y, then z), and the integer
        voxel coordinates (M, 3) of each.
    """
    if xyz.shape[0] == 0:
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int64)
    cells = _cells(xyz, voxel_m)
    keys, _ = _keys(cells)
    # Sort by voxel, ties by coordinates: the sums below then add the same numbers in the same
    # order whatever the input order was, so the means are bit-identical.
    order = np.lexsort((xyz[:, 2], xyz[:, 1], xyz[:, 0], keys))
    keys, cells, points = keys[order], cells[order], xyz[order].astype(np.float64)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    counts = np.diff(np.r_[starts, keys.shape[0]])
    means = np.add.reduceat(points, starts, axis=0) / counts[:, None]
    return means.astype(np.float32), cells[starts]


def outlier_mask(xyz: np.ndarray, cell_m: float, min_neighbours: int) -> np.ndarray:
    """Which points have at least ``min_neighbours`` other points in their 3x3x3 block of cells.

    A cheap stand-in for radius outlier removal: on a grid of ``cell_m``, count the points in the
    27 cells around each point's cell. Isolated returns (dust, multipath behind glass, a stray
    reflection) have no neighbours and go; a surface sampled by the scanner keeps every point.
    Costs one sort and 27 binary searches, with no k-d tree.
    """
    if min_neighbours <= 0 or xyz.shape[0] == 0:
        return np.ones(xyz.shape[0], dtype=bool)
    keys, strides = _keys(_cells(xyz, cell_m))
    occupied, counts = np.unique(keys, return_counts=True)
    total = np.zeros(xyz.shape[0], dtype=np.int64)
    for offset in _BLOCK @ strides:
        probe = keys + offset
        at = np.minimum(np.searchsorted(occupied, probe), occupied.shape[0] - 1)
        total += np.where(occupied[at] == probe, counts[at], 0)
    return (total - 1) >= min_neighbours  # the point itself is in its own cell


def _spatial_hash(cells: np.ndarray) -> np.ndarray:
    """A well-mixed uint64 per integer cell: a deterministic stand-in for a random draw."""
    h = cells.astype(np.uint64)  # two's complement wrap keeps negatives distinct
    h = (
        h[:, 0] * np.uint64(0x9E3779B97F4A7C15)
        ^ h[:, 1] * np.uint64(0xC2B2AE3D27D4EB4F)
        ^ h[:, 2] * np.uint64(0x165667B19E3779F9)
    )
    # splitmix64 finaliser: spreads the low bits of neighbouring cells across the word.
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return h


def fixed_count(xyz: np.ndarray, cells: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Exactly ``count`` points, and a mask of which rows are distinct real points.

    Args:
        xyz: Voxel points (M, 3) in canonical order, as :func:`voxel_downsample` returns them.
        cells: Their integer voxel coordinates (M, 3).
        count: Number of rows to return.

    Returns:
        ``(points, mask)``: float32 (count, 3) and float32 (count,).

        * More than ``count`` points: the ``count`` voxels with the smallest spatial hash are
          kept, in canonical order. This is a uniform pseudo-random subset of the occupied space
          (like random sampling, unlike a stride that favours one axis), yet deterministic and
          independent of input order. Mask all ones.
        * Fewer: the points are repeated cyclically (0, 1, ..., M-1, 0, 1, ...) up to ``count``.
          Duplicates leave a max-pooled point feature unchanged; the mask is 1 for the first
          copy and 0 for repeats, so a model can also tell how many real points there were.
        * None: zeros and an all-zero mask.
    """
    points = np.zeros((count, 3), np.float32)
    mask = np.zeros(count, np.float32)
    m = xyz.shape[0]
    if m == 0:
        return points, mask
    if m > count:
        # A stable sort breaks (astronomically rare) hash ties by canonical order.
        chosen = np.sort(np.argsort(_spatial_hash(cells), kind="stable")[:count])
        return xyz[chosen].astype(np.float32), np.ones(count, np.float32)
    return pad_cyclic(xyz, count)


def pad_cyclic(xyz: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Repeat ``M <= count`` real points cyclically to ``count`` rows, with the real-point mask.

    The padding rule of :func:`fixed_count`, shared with LiDAR augmentation so that a cloud thinned
    by point dropout looks exactly like a cloud that had fewer points to begin with.
    """
    m = xyz.shape[0]
    if m == 0:
        return np.zeros((count, 3), np.float32), np.zeros(count, np.float32)
    rows = np.arange(count) % m
    return xyz[rows].astype(np.float32), (np.arange(count) < m).astype(np.float32)
