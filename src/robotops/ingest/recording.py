"""Open a recording with rosbags and describe its topics."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.interfaces import Connection
from rosbags.rosbag1 import ReaderError as Ros1ReaderError
from rosbags.rosbag2 import ReaderError as Ros2ReaderError
from rosbags.typesys import Stores, get_typestore

from robotops.config import Topics
from robotops.errors import DataError, one_line

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED = "sensor_msgs/msg/CompressedImage"
CLOUD = "sensor_msgs/msg/PointCloud2"
INFO = "sensor_msgs/msg/CameraInfo"
TF_TYPES = ("tf2_msgs/msg/TFMessage", "tf/msg/tfMessage")

READ_ERRORS = (AnyReaderError, Ros1ReaderError, Ros2ReaderError)


@dataclass(frozen=True)
class TopicInfo:
    """One topic of a recording."""

    topic: str
    msgtype: str
    count: int  # as the recording's own index or metadata says
    read: int  # messages actually read from storage


@contextmanager
def open_recording(path: Path) -> Iterator[AnyReader]:
    """Open a ROS 1 ``.bag`` or a ROS 2 bag folder (sqlite3 or MCAP, split, compressed).

    Raises:
        DataError: The path is missing, not a bag, or the bag is corrupt.
    """
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_dir() and not (path / "metadata.yaml").is_file():
        raise DataError(
            f"{path}: no metadata.yaml in this ROS 2 bag folder "
            "(recreate it with `ros2 bag reindex`)"
        )
    try:
        reader = AnyReader([path], default_typestore=get_typestore(Stores.ROS2_HUMBLE))
        reader.open()
    except READ_ERRORS as err:
        raise DataError(f"{path}: cannot read recording: {_reason(err)}") from err
    try:
        yield reader
    finally:
        reader.close()


def topics(reader: AnyReader) -> list[TopicInfo]:
    """Topics of an open recording, merged across connections, with their messages counted.

    Every message is read (not deserialised), so a recording whose metadata promises messages its
    storage does not yield shows it here.

    Raises:
        DataError: The recording's storage cannot be read.
    """
    read: dict[str, int] = {}
    try:
        for conn, _, _ in reader.messages():
            read[conn.topic] = read.get(conn.topic, 0) + 1
    except READ_ERRORS as err:
        raise DataError(f"{reader.paths[0]}: cannot read recording: {one_line(err)}") from err
    merged: dict[str, TopicInfo] = {}
    for conn in reader.connections:
        prev = merged.get(conn.topic)
        count = conn.msgcount + (prev.count if prev else 0)
        merged[conn.topic] = TopicInfo(conn.topic, conn.msgtype, count, read.get(conn.topic, 0))
    return sorted(merged.values(), key=lambda t: t.topic)


@dataclass(frozen=True)
class Roles:
    """The connections that play each sensor role (empty where the recording has none)."""

    rgb: list[Connection]
    depth: list[Connection]
    camera_info: list[Connection]
    lidar: list[Connection]
    tf: list[Connection]

    @property
    def sensors(self) -> bool:
        """Whether any sensor topic was found."""
        return bool(self.rgb or self.depth or self.lidar)


def _is_depth(topic: str) -> bool:
    return "depth" in topic.lower()


def assign_roles(path: Path, reader: AnyReader, configured: Topics) -> Roles:
    """Match topics to roles: configured names first, else by message type when unambiguous.

    Raises:
        DataError: A configured topic is missing, or a role is ambiguous.
    """
    by_topic: dict[str, list[Connection]] = {}
    for conn in reader.connections:
        by_topic.setdefault(conn.topic, []).append(conn)

    def pick(role: str, wanted: str | None, accept: tuple[str, ...], depth: bool | None) -> list:
        if wanted is not None:
            if wanted not in by_topic:
                raise DataError(f"{path}: configured {role} topic {wanted} is not in the recording")
            return by_topic[wanted]
        found = [
            t
            for t, conns in by_topic.items()
            if conns[0].msgtype in accept and (depth is None or _is_depth(t) == depth)
        ]
        if len(found) > 1:
            raise DataError(
                f"{path}: several {role} topics ({', '.join(sorted(found))}); "
                f"name one as topics.{role} in robotops.yaml"
            )
        return by_topic[found[0]] if found else []

    return Roles(
        rgb=pick("rgb", configured.rgb, (IMAGE, COMPRESSED), depth=False),
        depth=pick("depth", configured.depth, (IMAGE, COMPRESSED), depth=True),
        camera_info=pick("camera_info", configured.camera_info, (INFO,), depth=False),
        lidar=pick("lidar", configured.lidar, (CLOUD,), depth=None),
        tf=[c for c in reader.connections if c.msgtype in TF_TYPES and c.topic == "/tf_static"],
    )


def _reason(err: BaseException) -> str:
    """Why rosbags could not open a recording, short enough for one line."""
    text = one_line(err)
    unparsable = re.search(r"Could not parse: '?MSG: ([\w/]+)", text)
    if unparsable:
        return f"rosbags cannot parse the message definition of {unparsable.group(1)}"
    return text if len(text) <= 300 else text[:297] + "..."
