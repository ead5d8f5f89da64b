"""Image resizing in pure NumPy: antialiased bilinear for colour, nearest neighbour for depth.

Written here rather than taken from Pillow or OpenCV because the robot runtime may import only
NumPy, and preprocessing must be bit-for-bit the same code in training and on the robot.

Both resizers use half-pixel centres (output pixel ``i`` sits at input coordinate
``(i + 0.5) * in / out - 0.5``), the convention of Pillow, OpenCV and ``align_corners=False``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=32)
def _bilinear_weights(in_size: int, out_size: int) -> np.ndarray:
    """(out_size, in_size) float32 matrix whose rows are normalised triangle-filter weights.

    When shrinking, the triangle is widened by the scale factor so that every input pixel
    contributes (antialiasing, as Pillow's BILINEAR does); when enlarging it is plain bilinear
    interpolation. Edge rows are renormalised, which equals clamping at the border.
    """
    scale = in_size / out_size
    support = max(scale, 1.0)
    centres = (np.arange(out_size, dtype=np.float64) + 0.5) * scale  # in input pixel units
    sources = np.arange(in_size, dtype=np.float64) + 0.5
    weights = np.clip(1.0 - np.abs(sources[None, :] - centres[:, None]) / support, 0.0, None)
    weights /= weights.sum(axis=1, keepdims=True)
    out = weights.astype(np.float32)
    out.flags.writeable = False  # shared by the cache
    return out


def resize_bilinear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize a channels-first float image (C, H, W) to (C, height, width), antialiased.

    A constant image stays constant and a monotone ramp stays monotone: the weights are
    non-negative and sum to one per output pixel.
    """
    rows = _bilinear_weights(image.shape[-2], height)  # (height, H)
    cols = _bilinear_weights(image.shape[-1], width)  # (width, W)
    image = np.asarray(image, dtype=np.float32)
    return (rows @ image @ cols.T).astype(np.float32, copy=False)  # (C, height, width)


def nearest_indices(in_size: int, out_size: int) -> np.ndarray:
    """Source index of each output pixel under nearest-neighbour sampling, in exact integers."""
    # floor((i + 0.5) * in / out), computed without floating point.
    return ((2 * np.arange(out_size, dtype=np.int64) + 1) * in_size) // (2 * out_size)


def resize_nearest(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize the last two axes of ``image`` to (height, width) by nearest neighbour.

    Every output pixel is a copy of one input pixel, so an invalid depth pixel (0) never blends
    into its valid neighbours, and values keep their dtype.
    """
    rows = nearest_indices(image.shape[-2], height)
    cols = nearest_indices(image.shape[-1], width)
    return image[..., rows[:, None], cols[None, :]]
