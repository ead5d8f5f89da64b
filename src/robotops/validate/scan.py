"""One pass over a dataset version's sensor bytes: the per-frame statistics every check reads.

Each frame's colour image is decoded once (validity, size, brightness, a 64-bit difference hash
for near-duplicates, a digest for exact duplicates), its depth counted for valid pixels and its
cloud for finite points. Batches are decoded on a thread pool: Pillow and NumPy release the GIL
while decoding, which pays off for larger images; for small ones the per-frame Python work
dominates (see BENCHMARKS.md: 20,000 64x48 frames take about 6 s either way).
"""

from __future__ import annotations

import hashlib
import io
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import pyarrow as pa
from PIL import Image

from robotops.dataset.store import Snapshot
from robotops.ingest.decode import IMAGE_ERRORS

SENSOR_COLUMNS = (
    "frame_id",
    "rgb",
    "width",
    "height",
    "depth_mm",
    "depth_width",
    "depth_height",
    "lidar_xyz",
    "lidar_points",
)

STATS_SCHEMA = pa.schema(
    [
        pa.field("frame_id", pa.string(), nullable=False),
        pa.field("has_rgb", pa.bool_(), nullable=False),
        pa.field("rgb_error", pa.string()),  # why the colour image does not decode; null if it does
        pa.field("rgb_width", pa.int32()),  # decoded size
        pa.field("rgb_height", pa.int32()),
        pa.field("brightness", pa.float32()),  # mean grey level, 0-255
        pa.field("dhash", pa.uint64()),  # 64-bit difference hash of the grey image
        pa.field("digest", pa.string()),  # SHA-256 of colour, depth and LiDAR bytes together
        pa.field("has_depth", pa.bool_(), nullable=False),
        pa.field("depth_error", pa.string()),
        pa.field("depth_valid", pa.float32()),  # share of non-zero depth pixels
        pa.field("has_lidar", pa.bool_(), nullable=False),
        pa.field("lidar_error", pa.string()),
        pa.field("lidar_points", pa.int32()),  # points in the cloud
        pa.field("lidar_finite", pa.int32()),  # of them, with finite x, y, z
    ]
)


def dhash(grey: Image.Image) -> int:
    """64-bit difference hash: is each pixel of a 9x8 thumbnail brighter than its left neighbour."""
    small = np.asarray(grey.resize((9, 8), Image.Resampling.BILINEAR), dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).ravel()
    return int(np.packbits(bits).view(">u8")[0])


def _rgb(data: bytes | None, row: dict[str, Any]) -> dict[str, Any]:
    if data is None:
        return {"has_rgb": False}
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            grey = image.convert("L")
    except IMAGE_ERRORS as err:
        return {"has_rgb": True, "rgb_error": f"{err.__class__.__name__}: {err}"[:200]}
    out = {
        "has_rgb": True,
        "rgb_width": grey.width,
        "rgb_height": grey.height,
        "brightness": float(np.asarray(grey).mean()),
        "dhash": dhash(grey),
    }
    if (grey.width, grey.height) != (row["width"], row["height"]):
        out["rgb_error"] = (
            f"decodes to {grey.width}x{grey.height}, stored as {row['width']}x{row['height']}"
        )
    return out


def _depth(data: bytes | None, row: dict[str, Any]) -> dict[str, Any]:
    if data is None:
        return {"has_depth": False}
    width, height = row["depth_width"] or 0, row["depth_height"] or 0
    if len(data) != width * height * 2 or not data:
        return {
            "has_depth": True,
            "depth_error": f"{len(data)} bytes for {width}x{height} uint16 pixels",
        }
    depth = np.frombuffer(data, dtype="<u2")
    return {"has_depth": True, "depth_valid": float(np.count_nonzero(depth)) / depth.size}


def _lidar(data: bytes | None, row: dict[str, Any]) -> dict[str, Any]:
    if data is None:
        return {"has_lidar": False}
    if len(data) % 12 or len(data) // 12 != (row["lidar_points"] or 0):
        return {
            "has_lidar": True,
            "lidar_error": f"{len(data)} bytes for {row['lidar_points']} float32 xyz points",
        }
    xyz = np.frombuffer(data, dtype="<f4").reshape(-1, 3)
    finite = int(np.isfinite(xyz).all(axis=1).sum())
    return {"has_lidar": True, "lidar_points": xyz.shape[0], "lidar_finite": finite}


def _frame_stats(row: dict[str, Any]) -> dict[str, Any]:
    digest = hashlib.sha256()
    for column in ("rgb", "depth_mm", "lidar_xyz"):
        digest.update(row[column] or b"")
        digest.update(b"\x00")  # keep modality boundaries apart
    return {
        "frame_id": row["frame_id"],
        "digest": digest.hexdigest(),
        **_rgb(row["rgb"], row),
        **_depth(row["depth_mm"], row),
        **_lidar(row["lidar_xyz"], row),
    }


def _batch_stats(batch: pa.RecordBatch) -> list[dict[str, Any]]:
    return [_frame_stats(row) for row in batch.to_pylist()]


def scan(
    snapshot: Snapshot,
    *,
    workers: int | None = None,
    on_frames: Callable[[int], None] | None = None,
) -> pa.Table:
    """Per-frame statistics of every frame of ``snapshot`` (schema :data:`STATS_SCHEMA`).

    Args:
        snapshot: The dataset version.
        workers: Decoding threads (default: one per core).
        on_frames: Called with the number of frames done after each batch.
    """
    workers = workers or os.cpu_count() or 1
    batches = snapshot.scan_frames(SENSOR_COLUMNS, batch_size=256)
    rows: list[dict[str, Any]] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        # At most two batches per thread in flight, so memory stays flat on large datasets.
        pending: deque[Future[list[dict[str, Any]]]] = deque()
        for batch in batches:
            pending.append(pool.submit(_batch_stats, batch))
            if len(pending) >= 2 * workers:
                _collect(pending.popleft(), rows, on_frames)
        while pending:
            _collect(pending.popleft(), rows, on_frames)
    return pa.Table.from_pylist(rows, schema=STATS_SCHEMA)


def _collect(
    future: Future[list[dict[str, Any]]],
    rows: list[dict[str, Any]],
    on_frames: Callable[[int], None] | None,
) -> None:
    stats = future.result()
    rows.extend(stats)
    if on_frames is not None:
        on_frames(len(stats))
