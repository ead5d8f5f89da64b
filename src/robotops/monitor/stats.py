"""Input statistics of one frame: what ``robotops monitor`` compares between a log and a dataset.

Three numbers that move when the world a robot sees moves, cheap enough to compute for every
served frame (off the request path, in the prediction log's writer) and for every frame of a
reference dataset version:

* ``brightness``: mean luminance of the colour image, 0 (black) to 1 (white);
* ``depth_valid``: share of depth pixels with a reading (glass and range limits leave holes);
* ``lidar_returns``: LiDAR points with finite coordinates.

A missing modality gives ``None``, never a zero: a dropped sensor is not a dark room. NumPy only,
so the server's writer thread can import it without the monitor's plotting stack.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

STATS = ("brightness", "depth_valid", "lidar_returns")
"""The statistics' names, in :class:`InputStats` order."""

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


class InputStats(NamedTuple):
    """One frame's input statistics; ``None`` where the modality was missing."""

    brightness: float | None
    depth_valid: float | None
    lidar_returns: int | None


def input_stats(
    rgb: np.ndarray | None, depth_mm: np.ndarray | None, xyz: np.ndarray | None
) -> InputStats:
    """The statistics of one frame's raw arrays (any may be ``None``).

    Args:
        rgb: Colour image, uint8 (H, W, 3) RGB, or (H, W) grey.
        depth_mm: Depth image (H, W), 0 where invalid.
        xyz: LiDAR points (N, 3).
    """
    brightness = None
    if rgb is not None and rgb.size:
        grey = rgb[..., :3] @ _LUMA if rgb.ndim == 3 else rgb.astype(np.float32)
        brightness = float(grey.mean()) / 255.0
    depth_valid = None
    if depth_mm is not None and depth_mm.size:
        depth_valid = float(np.count_nonzero(depth_mm)) / depth_mm.size
    lidar_returns = None
    if xyz is not None:
        lidar_returns = int(np.isfinite(xyz).all(axis=-1).sum()) if xyz.size else 0
    return InputStats(brightness, depth_valid, lidar_returns)
