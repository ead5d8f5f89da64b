"""The simulator writes real bags that other readers open, with the topics of a real robot."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from mcap.reader import make_reader
from PIL import Image
from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore

from robotops.sim import CLASSES, TOPICS, BagFormat, SimConfig, simulate

FRAMES = 9


def read_bag(bag: Path) -> dict[str, list[tuple[int, int, object]]]:
    """topic -> [(log time, header stamp, message)] read with rosbags."""
    out: dict[str, list[tuple[int, int, object]]] = {}
    with AnyReader([bag], default_typestore=get_typestore(Stores.ROS2_HUMBLE)) as reader:
        for conn, log_ns, raw in reader.messages():
            msg = reader.deserialize(raw, conn.msgtype)
            header = msg.transforms[0].header if conn.topic == TOPICS["tf_static"] else msg.header
            stamp = header.stamp.sec * 1_000_000_000 + header.stamp.nanosec
            out.setdefault(conn.topic, []).append((log_ns, stamp, msg))
    return out


@pytest.mark.parametrize("fmt", list(BagFormat))
def test_every_format_opens_with_rosbags_and_holds_the_robot_topics(
    tmp_path: Path, fmt: BagFormat
) -> None:
    written = simulate(
        SimConfig(out_dir=tmp_path, recordings=1, frames=FRAMES, width=64, height=48, fmt=fmt)
    )
    bag = written[0].bag
    assert bag.name == fmt.bag_name(written[0].recording_id)
    topics = read_bag(bag)

    sweeps = math.ceil(FRAMES / 15 * 10)
    counts = {topic: len(msgs) for topic, msgs in topics.items()}
    assert counts == {
        TOPICS["rgb"]: FRAMES,
        TOPICS["depth"]: FRAMES,
        TOPICS["camera_info"]: FRAMES,
        TOPICS["lidar"]: sweeps,
        TOPICS["tf_static"]: 1,
    }
    rgb = topics[TOPICS["rgb"]][0][2]
    assert (rgb.encoding, rgb.height, rgb.width, rgb.step) == ("rgb8", 48, 64, 64 * 3)
    depth = topics[TOPICS["depth"]][0][2]
    assert (depth.encoding, depth.step) == ("16UC1", 64 * 2)
    depth_mm = depth.data.view(np.uint16)
    assert depth_mm.max() > 500 and (depth_mm == 0).any()  # millimetres, 0 = invalid

    cloud = topics[TOPICS["lidar"]][0][2]
    fields = [(f.name, f.offset, f.datatype, f.count) for f in cloud.fields]
    assert fields == [("x", 0, 7, 1), ("y", 4, 7, 1), ("z", 8, 7, 1), ("intensity", 12, 7, 1)]
    assert cloud.point_step == 16 and cloud.width * 16 == len(cloud.data) and cloud.width > 1000
    xyz = cloud.data.view(np.float32).reshape(-1, 4)[:, :3]
    assert np.isfinite(xyz).all()

    tf = topics[TOPICS["tf_static"]][0][2]
    assert {t.child_frame_id for t in tf.transforms} == {
        "camera_link",
        "camera_color_optical_frame",
        "lidar_link",
    }
    info = topics[TOPICS["camera_info"]][0][2]
    k = info.K if fmt is BagFormat.ROS1 else info.k
    assert k[0] > 0 and k[2] == pytest.approx(31.5)


def test_sensors_run_on_their_own_jittered_clocks(small_recordings: Path) -> None:
    topics = read_bag(next(p for p in small_recordings.iterdir() if p.is_dir()))
    colour = np.array([stamp for _, stamp, _ in topics[TOPICS["rgb"]]])
    depth = np.array([stamp for _, stamp, _ in topics[TOPICS["depth"]]])
    lidar = np.array([stamp for _, stamp, _ in topics[TOPICS["lidar"]]])
    periods = np.diff(colour) / 1e9
    assert periods.mean() == pytest.approx(1 / 15, abs=0.004)
    assert len(set(np.diff(colour))) > 1  # jitter: not a perfect clock
    assert not set(lidar) & set(colour)  # not pre-synchronised
    assert not np.array_equal(depth, colour)  # depth stamped apart from colour
    for _, msgs in topics.items():
        for log_ns, stamp, _ in msgs:
            assert log_ns >= stamp  # logged after it was stamped


def test_mcap_bags_also_open_with_the_mcap_reader(small_recordings: Path) -> None:
    bag = next(p for p in small_recordings.iterdir() if p.is_dir())
    mcap_file = next(bag.glob("*.mcap"))
    with mcap_file.open("rb") as stream:
        reader = make_reader(stream)
        summary = reader.get_summary()
        counts: dict[str, int] = {}
        for _schema, channel, message in reader.iter_messages():
            counts[channel.topic] = counts.get(channel.topic, 0) + 1
            assert message.data
    assert counts[TOPICS["rgb"]] == 6 and counts[TOPICS["depth"]] == 6
    assert {s.name for s in summary.schemas.values()} >= {
        "sensor_msgs/msg/Image",
        "sensor_msgs/msg/PointCloud2",
        "sensor_msgs/msg/CameraInfo",
        "tf2_msgs/msg/TFMessage",
    }
    assert all(c.message_encoding == "cdr" for c in summary.channels.values())


def test_compressed_colour_is_jpeg_of_the_right_size(tmp_path: Path) -> None:
    written = simulate(
        SimConfig(out_dir=tmp_path, recordings=1, frames=3, width=80, height=60, compressed=True)
    )
    topics = read_bag(written[0].bag)
    assert TOPICS["rgb"] not in topics
    msg = topics[TOPICS["rgb_compressed"]][0][2]
    assert "jpeg" in msg.format
    image = Image.open(io.BytesIO(msg.data.tobytes()))
    assert (image.format, image.size, image.mode) == ("JPEG", (80, 60), "RGB")
    labels = json.loads(written[0].labels.read_text())
    assert labels["topics"]["rgb"] == TOPICS["rgb_compressed"]


def test_labels_beside_the_bag_are_keyed_by_colour_stamps(small_recordings: Path) -> None:
    for labels in small_recordings.glob("*.labels.json"):
        doc = json.loads(labels.read_text())
        bag = small_recordings / doc["bag"]
        assert bag.exists()
        stamps = [stamp for _, stamp, _ in read_bag(bag)[doc["topics"]["rgb"]]]
        assert [f["stamp_ns"] for f in doc["frames"]] == stamps
        assert doc["classes"] == list(CLASSES)
        assert {f["label"] for f in doc["frames"]} == {doc["simulation"]["door_class"]}
        assert doc["tags"]["site"] == "atrium" and doc["tags"]["lighting"] in {
            "day",
            "dim",
            "night",
        }
    classes = {
        json.loads(p.read_text())["simulation"]["door_class"]
        for p in small_recordings.glob("*.json")
    }
    assert classes == set(CLASSES)  # three recordings, one per class
