"""The data contracts of a dataset: frame, label and split rows as Arrow schemas.

A frame row holds one time-synchronised moment of a recording. Each modality may be missing: its
columns are then null, never zero-filled. Sensor bytes live in the frames table only; labels and
splits live in tables of their own, so relabelling never rewrites sensor data.
"""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa

FRAME_SCHEMA = pa.schema(
    [
        pa.field("frame_id", pa.string(), nullable=False),
        pa.field("recording_id", pa.string(), nullable=False),
        pa.field("site", pa.string()),
        pa.field("robot", pa.string()),
        pa.field("stamp_ns", pa.int64(), nullable=False),  # the anchor (colour) stamp
        pa.field("source", pa.string()),  # the recording's path when ingested
        # Colour: encoded bytes as recorded (JPEG), PNG for raw images.
        pa.field("rgb", pa.large_binary()),
        pa.field("rgb_format", pa.string()),
        pa.field("rgb_stamp_ns", pa.int64()),
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        # Depth: little-endian uint16 millimetres, 0 = invalid, row-major height x width.
        pa.field("depth_mm", pa.large_binary()),
        pa.field("depth_width", pa.int32()),
        pa.field("depth_height", pa.int32()),
        pa.field("depth_stamp_ns", pa.int64()),
        # LiDAR: little-endian float32 x, y, z per point, in the robot (base) frame.
        pa.field("lidar_xyz", pa.large_binary()),
        pa.field("lidar_points", pa.int32()),
        pa.field("lidar_stamp_ns", pa.int64()),
        # Pinhole intrinsics of the colour camera.
        pa.field("fx", pa.float64()),
        pa.field("fy", pa.float64()),
        pa.field("cx", pa.float64()),
        pa.field("cy", pa.float64()),
        pa.field("tags", pa.string()),  # JSON object of string tags: lighting, weather, ...
    ]
)

LABEL_SCHEMA = pa.schema(
    [
        pa.field("frame_id", pa.string(), nullable=False),
        pa.field("label", pa.string(), nullable=False),
        pa.field("box", pa.list_(pa.int32(), 4)),
        pa.field("annotator", pa.string()),
        pa.field("reviewer", pa.string()),
        pa.field("review_status", pa.string(), nullable=False),
        pa.field("labelled_at_ns", pa.int64()),
    ]
)

SPLIT_SCHEMA = pa.schema(
    [
        pa.field("frame_id", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
    ]
)

COMMIT_SCHEMA = pa.schema(
    [
        pa.field("version", pa.int64(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # ingest, labels, split, ...
        pa.field("message", pa.string(), nullable=False),
        pa.field("created_at_ns", pa.int64(), nullable=False),
        pa.field("frames_version", pa.int64()),
        pa.field("labels_version", pa.int64()),
        pa.field("splits_version", pa.int64()),
        pa.field("classes", pa.list_(pa.string())),
    ]
)


def frame_id(recording_id: str, stamp_ns: int) -> str:
    """Stable id of the frame anchored at ``stamp_ns`` in ``recording_id``.

    The same recording ingested twice yields the same ids, which is how re-ingest adds nothing.
    """
    return hashlib.sha256(f"{recording_id}\x00{stamp_ns}".encode()).hexdigest()[:20]


def tags_json(tags: dict[str, str]) -> str:
    """Frame tags as stored: a JSON object with sorted keys."""
    return json.dumps({k: str(v) for k, v in sorted(tags.items())}, separators=(",", ":"))
