"""The simulated robot's sensor rig: where each sensor sits and how it sees.

Frames follow ROS REP 103/105: ``base_link`` is x forward, y left, z up on the floor; the camera's
optical frame is z forward, x right, y down; the LiDAR frame is x forward, y left, z up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

BASE_FRAME = "base_link"
CAMERA_FRAME = "camera_link"
OPTICAL_FRAME = "camera_color_optical_frame"
LIDAR_FRAME = "lidar_link"

CAMERA_XYZ_M = (0.10, 0.0, 1.00)
LIDAR_XYZ_M = (0.15, 0.0, 0.45)
# camera_link -> optical frame: the usual ROS rotation (x, y, z, w).
OPTICAL_QUAT_XYZW = (-0.5, 0.5, -0.5, 0.5)

CAMERA_HFOV_DEG = 70.0
CAMERA_HZ = 15.0
LIDAR_HZ = 10.0
LIDAR_BEAMS = 16
LIDAR_COLUMNS = 1024
LIDAR_VFOV_DEG = (-15.0, 15.0)
LIDAR_RANGE_M = (0.3, 40.0)
DEPTH_RANGE_M = (0.2, 8.0)


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def for_size(cls, width: int, height: int) -> Intrinsics:
        """Intrinsics of the rig's camera at a given resolution (square pixels)."""
        fx = width / (2.0 * math.tan(math.radians(CAMERA_HFOV_DEG) / 2.0))
        return cls(width, height, fx, fx, (width - 1) / 2.0, (height - 1) / 2.0)

    @property
    def k(self) -> list[float]:
        """Row-major 3x3 camera matrix, as in ``sensor_msgs/CameraInfo``."""
        return [self.fx, 0.0, self.cx, 0.0, self.fy, self.cy, 0.0, 0.0, 1.0]

    @property
    def p(self) -> list[float]:
        """Row-major 3x4 projection matrix."""
        return [self.fx, 0.0, self.cx, 0.0, 0.0, self.fy, self.cy, 0.0, 0.0, 0.0, 1.0, 0.0]


def lidar_to_optical(points_xyz: np.ndarray) -> np.ndarray:
    """Move LiDAR-frame points (N, 3) into the camera optical frame, as the static TF says."""
    body = points_xyz + np.asarray(LIDAR_XYZ_M)
    rel = body - np.asarray(CAMERA_XYZ_M)
    # body (forward, left, up) -> optical (right, down, forward)
    return np.stack([-rel[:, 1], -rel[:, 2], rel[:, 0]], axis=1)


def project(points_optical: np.ndarray, intr: Intrinsics) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (N, 2) of optical-frame points, and a mask of those in view."""
    z = points_optical[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = intr.fx * points_optical[:, 0] / z + intr.cx
        v = intr.fy * points_optical[:, 1] / z + intr.cy
    ok = (z > 0.05) & (u >= 0) & (u <= intr.width - 1) & (v >= 0) & (v <= intr.height - 1)
    return np.stack([u, v], axis=1), ok
