"""``robotops ingest``: recordings in, one new dataset version out.

Each recording is read once, its sensor streams synchronised onto the colour stream (or depth, or
LiDAR, whichever comes first), and turned into frame rows. All recordings of one call are
committed together as one version; if any recording fails, nothing is committed.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from PIL import Image

from robotops.config import Config
from robotops.dataset.schema import FRAME_SCHEMA, frame_id
from robotops.dataset.store import Snapshot, Store, tags_json
from robotops.errors import DataError
from robotops.ingest.decode import DecodeError, decode_compressed, decode_image, decode_pointcloud2
from robotops.ingest.recording import (
    COMPRESSED,
    READ_ERRORS,
    assign_roles,
    one_line,
    open_recording,
)
from robotops.ingest.sync import pair_nearest
from robotops.ingest.tf import StaticTransforms
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


@dataclass(frozen=True)
class IngestReport:
    """The result of :func:`ingest`."""

    snapshot: Snapshot
    new_version: bool
    added_frames: int
    recordings: list[RecordingSummary]


@dataclass
class _Stream:
    stamps: list[int] = field(default_factory=list)
    messages: list[Any] = field(default_factory=list)
    topic: str = ""
    msgtype: str = ""

    def array(self) -> np.ndarray:
        return np.asarray(self.stamps, dtype=np.int64)


def _stamp(msg: Any) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


def _sidecar(path: Path) -> dict[str, Any]:
    """Recording metadata from a simulator annotation file beside the bag, if there is one."""
    stem = path.name[: -len(".bag")] if path.name.endswith(".bag") else path.name
    sidecar = path.with_name(stem + SIDECAR_SUFFIX)
    if not sidecar.is_file():
        return {"recording_id": stem}
    try:
        doc = json.loads(sidecar.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"{sidecar}: cannot read recording metadata: {one_line(err)}") from err
    return {
        "recording_id": doc.get("recording_id", stem),
        "site": doc.get("site"),
        "robot": doc.get("robot"),
        "tags": doc.get("tags", {}),
    }


def read_recording(
    path: Path, config: Config, on_frame: Callable[[], None] | None = None
) -> tuple[pa.Table, RecordingSummary]:
    """Read one recording into frame rows (not committed).

    Raises:
        DataError: The recording cannot be read, is empty, or has no sensor topics.
    """
    meta = _sidecar(path)
    summary = RecordingSummary(path=path, recording_id=meta["recording_id"])
    with open_recording(path) as reader:
        if reader.message_count == 0:
            raise DataError(f"{path}: recording is empty (no messages)")
        roles = assign_roles(path, reader, config.topics)
        if not roles.sensors:
            found = ", ".join(f"{c.topic} ({c.msgtype})" for c in reader.connections) or "none"
            raise DataError(f"{path}: no sensor topics (image, depth or point cloud); has {found}")
        streams: dict[str, _Stream] = {}
        role_of = {}
        for role in MODALITIES:
            for conn in getattr(roles, role):
                role_of[conn.id] = role
                streams.setdefault(role, _Stream(topic=conn.topic, msgtype=conn.msgtype))
        tf = StaticTransforms()
        wanted = [c for c in reader.connections if c.id in role_of] + roles.tf
        read: Counter[int] = Counter()
        try:
            for conn, _, raw in reader.messages(connections=wanted):
                read[conn.id] += 1
                try:
                    msg = reader.deserialize(raw, conn.msgtype)
                except Exception as err:  # any broken message is rejected, not fatal
                    summary.rejected[f"{conn.topic}: undecodable message ({one_line(err)})"] += 1
                    continue
                if conn.id not in role_of:
                    tf.add(msg)
                    continue
                stream = streams[role_of[conn.id]]
                stream.stamps.append(_stamp(msg))
                stream.messages.append(msg)
        except READ_ERRORS as err:
            raise DataError(f"{path}: cannot read recording: {one_line(err)}") from err
        for conn in wanted:
            if read[conn.id] != conn.msgcount:
                summary.count_mismatches.append(
                    f"{conn.topic}: read {read[conn.id]} messages, the recording's metadata says "
                    f"{conn.msgcount}"
                )

    anchor_role = next(
        (r for r in ("rgb", "depth", "lidar") if streams.get(r, _Stream()).stamps), None
    )
    if anchor_role is None:
        raise DataError(f"{path}: recording is empty (no messages on its sensor topics)")
    anchor = streams[anchor_role]
    anchor_ns = anchor.array()
    gap_ns = int(config.sync.max_gap_ms * 1e6)
    pairs: dict[str, np.ndarray] = {anchor_role: np.arange(anchor_ns.size)}
    for role, stream in streams.items():
        if role == anchor_role:
            continue
        pairing = pair_nearest(anchor_ns, stream.array(), gap_ns)
        if not pairing.overlapping:
            summary.unpaired_clocks.append(
                f"{stream.topic}: its stamps never overlap {anchor.topic}'s (another clock?)"
            )
        pairs[role] = pairing.index

    rows = []
    for i, stamp in enumerate(anchor_ns.tolist()):
        row: dict[str, Any] = {
            "frame_id": frame_id(summary.recording_id, stamp),
            "recording_id": summary.recording_id,
            "site": meta.get("site"),
            "robot": meta.get("robot"),
            "stamp_ns": stamp,
            "source": str(path),
            "tags": tags_json(meta.get("tags") or {}),
        }
        for role, index in pairs.items():
            j = int(index[i])
            if j < 0:
                continue
            stream = streams[role]
            try:
                row.update(_decode(role, stream, j, tf, config.base_frame, summary))
            except DecodeError as err:
                summary.rejected[f"{stream.topic}: {err}"] += 1
        rows.append(row)
        if on_frame is not None:
            on_frame()
    table = pa.Table.from_pylist(rows, schema=FRAME_SCHEMA)
    summary.frames = table.num_rows
    summary.coverage = {
        "rgb": table.num_rows - table.column("rgb").null_count,
        "depth": table.num_rows - table.column("depth_mm").null_count,
        "lidar": table.num_rows - table.column("lidar_xyz").null_count,
        "camera_info": table.num_rows - table.column("fx").null_count,
    }
    return table, summary


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _decode(
    role: str, stream: _Stream, j: int, tf: StaticTransforms, base: str, summary: RecordingSummary
) -> dict[str, Any]:
    """Frame columns of message ``j`` of a stream, decoded and checked."""
    msg = stream.messages[j]
    stamp = stream.stamps[j]
    if role == "rgb":
        if stream.msgtype == COMPRESSED:
            image = decode_compressed(msg)  # decoded only to prove it is sound; bytes kept as is
            kind = "png" if "png" in msg.format.lower() else "jpeg"
            data = bytes(msg.data)
        else:
            image = decode_image(msg)
            kind, data = "png", _png(image)
        if image.ndim == 2:
            image = np.stack([image] * 3, axis=-1)
        height, width = image.shape[:2]
        return {
            "rgb": data,
            "rgb_format": kind,
            "rgb_stamp_ns": stamp,
            "width": width,
            "height": height,
        }
    if role == "depth":
        depth = decode_compressed(msg) if stream.msgtype == COMPRESSED else decode_image(msg)
        if depth.ndim != 2:
            raise DecodeError("depth image is not single-channel")
        if depth.dtype == np.float32:  # metres -> millimetres, NaN/Inf -> invalid
            finite = np.isfinite(depth)
            depth = np.where(finite, np.clip(depth * 1000.0, 0, 65535), 0).astype(np.uint16)
        depth = depth.astype("<u2", copy=False)
        return {
            "depth_mm": depth.tobytes(),
            "depth_width": depth.shape[1],
            "depth_height": depth.shape[0],
            "depth_stamp_ns": stamp,
        }
    if role == "lidar":
        cloud = decode_pointcloud2(msg)
        xyz, moved = tf.apply(base, msg.header.frame_id, cloud.xyz)
        summary.lidar_frame_kept = summary.lidar_frame_kept or not moved
        return {
            "lidar_xyz": np.ascontiguousarray(xyz, dtype="<f4").tobytes(),
            "lidar_points": int(xyz.shape[0]),
            "lidar_stamp_ns": stamp,
        }
    k = getattr(msg, "k", None)
    k = getattr(msg, "K", None) if k is None else k
    return {"fx": float(k[0]), "fy": float(k[4]), "cx": float(k[2]), "cy": float(k[5])}


def ingest(
    paths: Sequence[Path],
    store: Store,
    name: str,
    config: Config,
    *,
    on_frame: Callable[[], None] | None = None,
) -> IngestReport:
    """Ingest recordings into dataset ``name`` as one new version.

    Frames the dataset has already (same recording, same stamp) are not added again; if no frame
    is new, no version is made.

    Raises:
        DataError: A recording cannot be ingested; nothing is committed then.
    """
    tables, summaries = [], []
    for path in paths:
        table, summary = read_recording(Path(path), config, on_frame)
        tables.append(table)
        summaries.append(summary)
    frames = pa.concat_tables(tables)
    before = store.head(name)
    count_before = before.frame_count() if before else 0
    message = f"ingest {len(paths)} recording(s): " + ", ".join(s.recording_id for s in summaries)
    snapshot, new_version = store.commit(
        name,
        kind="ingest",
        message=message,
        frames=frames,
        classes=None if before else config.classes,
    )
    return IngestReport(
        snapshot=snapshot,
        new_version=new_version,
        added_frames=snapshot.frame_count() - count_before,
        recordings=summaries,
    )
