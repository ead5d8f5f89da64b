"""What a few frames looked like to the robot, for showing them in a report.

:func:`frame_views` reads the colour image, depth image and LiDAR cloud of chosen frames from a
dataset version; :func:`depth_colour` and :func:`bird_eye` turn depth and LiDAR into pictures a
person can read (false colour, and a top view with x forward and y to the left).

A view that a frame does not have, or whose bytes do not decode, is None: a report shows it as
missing rather than failing, since the frames were already scored.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from robotops.dataset.frames import SENSOR_COLUMNS
from robotops.dataset.store import Snapshot
from robotops.ingest.decode import IMAGE_ERRORS
from robotops.transforms import TransformError, depth_from_bytes, lidar_from_bytes

_BACKGROUND = 246  # grey level behind a bird's-eye view
_AXES = 215  # grey level of its axis lines
_POINT = (31, 58, 147)  # LiDAR returns
_ROBOT = (192, 57, 43)  # the sensor's position


@dataclass(frozen=True, eq=False)  # arrays: compared by identity
class FrameViews:
    """One frame's sensor data as arrays; None where the frame has no such view.

    Attributes:
        rgb: Colour image, uint8 (H, W, 3).
        depth_mm: Depth in millimetres, uint16 (H, W), 0 = invalid.
        lidar_xyz: LiDAR returns in the robot frame, float32 (N, 3): x forward, y left, z up.
    """

    rgb: np.ndarray | None = None
    depth_mm: np.ndarray | None = None
    lidar_xyz: np.ndarray | None = None


def frame_views(
    snapshot: Snapshot, frame_ids: Sequence[str], *, batch_size: int = 64
) -> dict[str, FrameViews]:
    """The views of ``frame_ids`` in a dataset version, by frame id.

    Only the chosen frames' rows are read. Frame ids the version does not hold are left out of
    the result.

    Args:
        snapshot: The dataset version.
        frame_ids: The frames to read.
        batch_size: Rows decoded at a time.

    Returns:
        Frame id -> its views, in the order of ``frame_ids``.
    """
    wanted = list(dict.fromkeys(frame_ids))
    found: dict[str, FrameViews] = {}
    for batch in snapshot.scan_frames(SENSOR_COLUMNS, frame_ids=wanted, batch_size=batch_size):
        for row in batch.to_pylist():
            found[row["frame_id"]] = FrameViews(
                rgb=_rgb(row["rgb"]),
                depth_mm=_depth(row["depth_mm"], row["depth_width"], row["depth_height"]),
                lidar_xyz=_lidar(row["lidar_xyz"], row["lidar_points"]),
            )
    return {f: found[f] for f in wanted if f in found}


def _rgb(data: bytes | None) -> np.ndarray | None:
    if data is None:
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("RGB"))
    except IMAGE_ERRORS:
        return None


def _depth(data: bytes | None, width: int | None, height: int | None) -> np.ndarray | None:
    if data is None or width is None or height is None:
        return None
    try:
        return depth_from_bytes(data, width, height)
    except TransformError:
        return None


def _lidar(data: bytes | None, points: int | None) -> np.ndarray | None:
    if data is None:
        return None
    try:
        return lidar_from_bytes(data, points)
    except TransformError:
        return None


def depth_colour(depth_mm: np.ndarray) -> np.ndarray:
    """A depth image in false colour, uint8 (H, W, 3): near blue, far red, invalid black.

    The colour scale spans the 2nd to 98th percentile of the valid depths, so one stray far
    return does not wash the picture out.
    """
    from matplotlib import colormaps

    depth = np.asarray(depth_mm, dtype=np.float64)
    valid = depth > 0
    out = np.zeros((*depth.shape, 3), dtype=np.uint8)
    if not valid.any():
        return out
    low, high = np.percentile(depth[valid], [2, 98])
    scaled = np.clip((depth - low) / max(high - low, 1.0), 0.0, 1.0)
    rgb = (colormaps["turbo"](scaled)[..., :3] * 255).astype(np.uint8)
    out[valid] = rgb[valid]
    return out


def bird_eye(lidar_xyz: np.ndarray, size_px: int = 128) -> tuple[np.ndarray, float]:
    """A LiDAR cloud seen from above, centred on the robot: x forward is up, y left is left.

    Args:
        lidar_xyz: Returns (N, 3) in the robot frame; non-finite ones are skipped.
        size_px: Width and height of the picture.

    Returns:
        The picture, uint8 (size_px, size_px, 3), and the range it shows: ``range_m`` metres
        from the robot to each edge (the 98th percentile of the horizontal distances, rounded up
        to a whole metre).
    """
    xy = np.asarray(lidar_xyz, dtype=np.float64).reshape(-1, 3)[:, :2]
    xy = xy[np.isfinite(xy).all(axis=1)]
    distance = np.hypot(xy[:, 0], xy[:, 1])
    range_m = float(max(1.0, np.ceil(np.percentile(distance, 98)))) if len(xy) else 1.0
    image = np.full((size_px, size_px, 3), _BACKGROUND, dtype=np.uint8)
    centre = (size_px - 1) / 2
    image[:, round(centre)] = _AXES
    image[round(centre), :] = _AXES
    scale = centre / range_m  # pixels per metre
    rows = np.round(centre - xy[:, 0] * scale).astype(np.int64)  # forward: up
    cols = np.round(centre - xy[:, 1] * scale).astype(np.int64)  # left: left
    inside = (rows >= 0) & (rows < size_px) & (cols >= 0) & (cols < size_px)
    image[rows[inside], cols[inside]] = _POINT
    c = round(centre)
    image[c - 2 : c + 3, c - 2 : c + 3] = _ROBOT
    return image, range_m
