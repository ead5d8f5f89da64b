"""A stored frame row back into its sensor arrays: the one decoder of ``FRAME_SCHEMA`` bytes.

Training, the serving tools (``robotops replay``) and the monitor read frames the same way:
colour from its encoded image, depth from little-endian uint16, LiDAR from little-endian float32
triples (see :mod:`robotops.dataset.schema`). A missing modality stays ``None``.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from robotops.errors import DataError
from robotops.ingest.decode import IMAGE_ERRORS
from robotops.transforms import depth_from_bytes, lidar_from_bytes
from robotops.transforms.errors import TransformError

SENSOR_COLUMNS = (
    "frame_id",
    "rgb",
    "depth_mm",
    "depth_width",
    "depth_height",
    "lidar_xyz",
    "lidar_points",
)
"""The frame columns :func:`decode_row` reads."""

Arrays = tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]
"""``(rgb, depth_mm, xyz)``, as :class:`robotops.runtime.Frame` orders them."""


def decode_rgb(frame_id: str, data: bytes | None) -> np.ndarray | None:
    """A frame's encoded colour image as uint8 (H, W, 3) RGB.

    Raises:
        DataError: The bytes are not a readable image.
    """
    if data is None:
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("RGB"))
    except IMAGE_ERRORS as err:
        raise DataError(f"frame {frame_id}: colour image does not decode: {err}") from err


def decode_row(row: dict[str, Any]) -> Arrays:
    """The sensor arrays of a frame row holding :data:`SENSOR_COLUMNS`.

    Raises:
        DataError: A modality's bytes do not decode.
    """
    try:
        depth = (
            None
            if row["depth_mm"] is None
            else depth_from_bytes(row["depth_mm"], row["depth_width"], row["depth_height"])
        )
        xyz = (
            None
            if row["lidar_xyz"] is None
            else lidar_from_bytes(row["lidar_xyz"], row["lidar_points"])
        )
    except TransformError as err:
        raise DataError(f"frame {row['frame_id']}: {err}") from err
    return decode_rgb(row["frame_id"], row["rgb"]), depth, xyz
