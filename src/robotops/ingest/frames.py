"""Frame rows: one definition of how decoded sensor data becomes dataset columns.

Bag and folder readers both build their rows here, so a frame looks the same whichever way it
came in: colour as PNG (or the recorded JPEG/PNG bytes), depth as little-endian uint16
millimetres with 0 for invalid, LiDAR as little-endian float32 xyz in the base frame.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from PIL import Image

from robotops.dataset.schema import FRAME_SCHEMA, frame_id, tags_json
from robotops.errors import DataError
from robotops.ingest.decode import DecodeError
from robotops.sim.annotations import SUFFIX as SIDECAR_SUFFIX

MODALITIES = ("rgb", "depth", "lidar", "camera_info")


@dataclass
class RecordingSummary:
    """What ingest made of one recording."""

    path: Path
    recording_id: str
    frames: int = 0
    coverage: dict[str, int] = field(default_factory=dict)  # modality -> frames that have it
    rejected: Counter[str] = field(default_factory=Counter)  # "topic: reason" -> messages
    count_mismatches: list[str] = field(default_factory=list)
    unpaired_clocks: list[str] = field(default_factory=list)
    lidar_frame_kept: bool = False  # True when no TF reached the base frame
    dropped_nonfinite: int = 0  # LiDAR points dropped for NaN/Inf coordinates


def recording_meta(path: Path) -> dict[str, Any]:
    """Recording id, site, robot and tags from ``<recording>.labels.json`` beside it, if any.

    Raises:
        DataError: The file is there but unreadable.
    """
    stem = path.name[: -len(".bag")] if path.name.endswith(".bag") else path.name
    sidecar = path.with_name(stem + SIDECAR_SUFFIX)
    if not sidecar.is_file():
        return {"recording_id": stem}
    try:
        doc = json.loads(sidecar.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"{sidecar}: cannot read recording metadata: {err}") from err
    return {
        "recording_id": doc.get("recording_id", stem),
        "site": doc.get("site"),
        "robot": doc.get("robot"),
        "tags": doc.get("tags", {}),
    }


def base_row(meta: dict[str, Any], stamp_ns: int, source: Path) -> dict[str, Any]:
    """The columns every frame has, whatever its modalities."""
    return {
        "frame_id": frame_id(meta["recording_id"], stamp_ns),
        "recording_id": meta["recording_id"],
        "site": meta.get("site"),
        "robot": meta.get("robot"),
        "stamp_ns": stamp_ns,
        "source": str(source),
        "tags": tags_json(meta.get("tags") or {}),
    }


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def rgb_columns(
    image: np.ndarray, stamp_ns: int, encoded: tuple[str, bytes] | None = None
) -> dict[str, Any]:
    """Colour columns; ``encoded`` (format, bytes) keeps recorded JPEG/PNG bytes as they were."""
    kind, data = encoded if encoded is not None else ("png", _png(image))
    return {
        "rgb": data,
        "rgb_format": kind,
        "rgb_stamp_ns": stamp_ns,
        "width": int(image.shape[1]),
        "height": int(image.shape[0]),
    }


def depth_columns(depth: np.ndarray, stamp_ns: int) -> dict[str, Any]:
    """Depth columns from uint16 millimetres or float metres (NaN/Inf become invalid, 0).

    Raises:
        DecodeError: The image is not single-channel depth.
    """
    if depth.ndim != 2:
        raise DecodeError("depth image is not single-channel")
    if depth.dtype.kind == "f":
        finite = np.isfinite(depth)
        depth = np.where(finite, np.clip(depth * 1000.0, 0, 65535), 0).astype(np.uint16)
    elif depth.dtype != np.uint16:
        raise DecodeError(f"depth must be 16-bit millimetres or float metres, not {depth.dtype}")
    depth = depth.astype("<u2", copy=False)
    return {
        "depth_mm": depth.tobytes(),
        "depth_width": int(depth.shape[1]),
        "depth_height": int(depth.shape[0]),
        "depth_stamp_ns": stamp_ns,
    }


def lidar_columns(xyz: np.ndarray, stamp_ns: int) -> dict[str, Any]:
    """LiDAR columns from (N, 3) coordinates already in the base frame."""
    return {
        "lidar_xyz": np.ascontiguousarray(xyz, dtype="<f4").tobytes(),
        "lidar_points": int(xyz.shape[0]),
        "lidar_stamp_ns": stamp_ns,
    }


def camera_columns(k: Any) -> dict[str, Any]:
    """Intrinsics columns from a row-major 3x3 camera matrix."""
    return {"fx": float(k[0]), "fy": float(k[4]), "cx": float(k[2]), "cy": float(k[5])}


def frames_table(rows: list[dict[str, Any]], summary: RecordingSummary) -> pa.Table:
    """The rows as a frame table; fills in the summary's frame count and coverage."""
    table = pa.Table.from_pylist(rows, schema=FRAME_SCHEMA)
    summary.frames = table.num_rows
    summary.coverage = {
        "rgb": table.num_rows - table.column("rgb").null_count,
        "depth": table.num_rows - table.column("depth_mm").null_count,
        "lidar": table.num_rows - table.column("lidar_xyz").null_count,
        "camera_info": table.num_rows - table.column("fx").null_count,
    }
    return table
