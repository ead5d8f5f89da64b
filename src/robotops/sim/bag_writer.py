"""Write sensor messages to ROS 2 MCAP, ROS 2 sqlite3 or ROS 1 bags through ``rosbags``.

One small interface over the three formats, so the simulator builds each message once. Messages
are built as the ROS distribution of the format defines them (ROS 1 Noetic, ROS 2 Humble).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from rosbags.interfaces import (
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)
from rosbags.rosbag1 import Writer as Ros1Writer
from rosbags.rosbag2 import StoragePlugin
from rosbags.rosbag2 import Writer as Ros2Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore


class BagFormat(StrEnum):
    """Recording formats the simulator writes."""

    MCAP = "mcap"
    SQLITE3 = "sqlite3"
    ROS1 = "ros1"

    def bag_name(self, stem: str) -> str:
        """File or folder name of a bag called ``stem`` in this format."""
        return f"{stem}.bag" if self is BagFormat.ROS1 else stem


_TF_MESSAGE_ROS1 = "geometry_msgs/TransformStamped[] transforms"

_LATCHED_QOS = Qos(
    QosHistory.KEEP_LAST,
    1,
    QosReliability.RELIABLE,
    QosDurability.TRANSIENT_LOCAL,
    QosTime(0, 0),
    QosTime(0, 0),
    QosLiveliness.AUTOMATIC,
    QosTime(0, 0),
    avoid_ros_namespace_conventions=False,
)


class BagSink:
    """An open bag to which typed messages are written; use as a context manager."""

    def __init__(self, path: Path, fmt: BagFormat) -> None:
        self.format = fmt
        self.path = path
        if fmt is BagFormat.ROS1:
            self.typestore = get_typestore(Stores.ROS1_NOETIC)
            self.typestore.register(get_types_from_msg(_TF_MESSAGE_ROS1, "tf2_msgs/msg/TFMessage"))
            self._writer: Any = Ros1Writer(path)
        else:
            self.typestore = get_typestore(Stores.ROS2_HUMBLE)
            plugin = StoragePlugin.MCAP if fmt is BagFormat.MCAP else StoragePlugin.SQLITE3
            self._writer = Ros2Writer(path, version=9, storage_plugin=plugin)
        self._connections: dict[str, Any] = {}
        self._seq: dict[str, int] = {}

    def __enter__(self) -> BagSink:
        self._writer.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._writer.close()

    def add_topic(self, topic: str, msgtype: str, *, latched: bool = False) -> None:
        """Declare a topic; latched ones (``/tf_static``) get transient-local QoS or latching."""
        if self.format is BagFormat.ROS1:
            conn = self._writer.add_connection(
                topic, msgtype, typestore=self.typestore, latching=1 if latched else None
            )
        else:
            qos = [_LATCHED_QOS] if latched else []
            conn = self._writer.add_connection(
                topic, msgtype, typestore=self.typestore, offered_qos_profiles=qos
            )
        self._connections[topic] = conn
        self._seq[topic] = 0

    def header(self, topic: str, stamp_ns: int, frame_id: str) -> Any:
        """A ``std_msgs/Header`` for the next message on ``topic``."""
        types = self.typestore.types
        stamp = types["builtin_interfaces/msg/Time"](
            sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000
        )
        if self.format is BagFormat.ROS1:
            self._seq[topic] += 1
            return types["std_msgs/msg/Header"](
                seq=self._seq[topic], stamp=stamp, frame_id=frame_id
            )
        return types["std_msgs/msg/Header"](stamp=stamp, frame_id=frame_id)

    def msg(self, msgtype: str, **fields: Any) -> Any:
        """Build a message of ``msgtype`` from its fields."""
        return self.typestore.types[msgtype](**fields)

    def write(self, topic: str, log_time_ns: int, message: Any) -> None:
        """Serialise ``message`` in the bag's encoding and write it at ``log_time_ns``."""
        conn = self._connections[topic]
        if self.format is BagFormat.ROS1:
            data = self.typestore.serialize_ros1(message, conn.msgtype)
        else:
            data = self.typestore.serialize_cdr(message, conn.msgtype)
        self._writer.write(conn, log_time_ns, data)

    def camera_info_fields(self, k: list[float], p: list[float]) -> dict[str, Any]:
        """CameraInfo calibration fields, spelled as the format's distribution spells them."""
        arrays = {
            "d": np.zeros(5),
            "k": np.asarray(k),
            "r": np.eye(3).ravel(),
            "p": np.asarray(p),
        }
        if self.format is BagFormat.ROS1:
            return {name.upper(): value for name, value in arrays.items()}
        return arrays
