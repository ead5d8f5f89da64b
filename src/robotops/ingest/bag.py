"""Read one ROS bag into frame rows: every sensor stream synchronised onto an anchor stream.

The anchor is the colour stream (or depth, or LiDAR, whichever the recording has first); every
other stream is paired with it by nearest stamp within the configured gap. A frame lacking a
modality keeps it null and is counted; a stream on another clock is reported, not paired.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from robotops.config import Config
from robotops.errors import DataError, one_line
from robotops.ingest.decode import DecodeError, decode_compressed, decode_image, decode_pointcloud2
from robotops.ingest.frames import (
    MODALITIES,
    RecordingSummary,
    base_row,
    camera_columns,
    depth_columns,
    frames_table,
    lidar_columns,
    recording_meta,
    rgb_columns,
)
from robotops.ingest.recording import (
    COMPRESSED,
    READ_ERRORS,
    assign_roles,
    open_recording,
)
from robotops.ingest.sync import pair_nearest
from robotops.ingest.tf import StaticTransforms


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


def read_bag(
    path: Path, config: Config, on_frame: Callable[[], None] | None = None
) -> tuple[pa.Table, RecordingSummary]:
    """Read one bag into frame rows (not committed).

    Raises:
        DataError: The recording cannot be read, is empty, or has no sensor topics.
    """
    meta = recording_meta(path)
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
        detail = "; ".join(summary.count_mismatches)
        raise DataError(
            f"{path}: recording is empty (no messages on its sensor topics"
            + (f"; {detail})" if detail else ")")
        )
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
        row = base_row(meta, stamp, path)
        for role, index in pairs.items():
            j = int(index[i])
            if j < 0:
                continue
            stream = streams[role]
            try:
                row.update(_columns(role, stream, j, tf, config.base_frame, summary))
            except DecodeError as err:
                summary.rejected[f"{stream.topic}: {err}"] += 1
        rows.append(row)
        if on_frame is not None:
            on_frame()
    return frames_table(rows, summary), summary


def _columns(
    role: str, stream: _Stream, j: int, tf: StaticTransforms, base: str, summary: RecordingSummary
) -> dict[str, Any]:
    """Frame columns of message ``j`` of a stream, decoded and checked."""
    msg = stream.messages[j]
    stamp = stream.stamps[j]
    if role == "rgb":
        if stream.msgtype == COMPRESSED:
            image = decode_compressed(msg)  # decoded only to prove it is sound; bytes kept as is
            kind = "png" if "png" in msg.format.lower() else "jpeg"
            return rgb_columns(image, stamp, (kind, bytes(msg.data)))
        return rgb_columns(decode_image(msg), stamp)
    if role == "depth":
        depth = decode_compressed(msg) if stream.msgtype == COMPRESSED else decode_image(msg)
        return depth_columns(depth, stamp)
    if role == "lidar":
        cloud = decode_pointcloud2(msg)
        summary.dropped_nonfinite += cloud.dropped_nonfinite
        xyz, moved = tf.apply(base, msg.header.frame_id, cloud.xyz)
        summary.lidar_frame_kept = summary.lidar_frame_kept or not moved
        return lidar_columns(xyz, stamp)
    k = getattr(msg, "k", None)
    return camera_columns(getattr(msg, "K", None) if k is None else k)
