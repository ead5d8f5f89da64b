"""Ingest of simulated and real recordings into a real Lance store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore

from robotops import DataError
from robotops.config import Config
from robotops.dataset.store import Store
from robotops.ingest.ingest import Engine, ingest
from robotops.ingest.recording import open_recording, topics
from robotops.ingest.sync import pair_nearest
from robotops.sim import TOPICS, BagFormat, SimConfig, simulate

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def sim(out: Path, fmt: BagFormat, compressed: bool = False, seed: int = 0) -> Path:
    rec = simulate(
        SimConfig(
            out_dir=out,
            recordings=1,
            frames=6,
            width=48,
            height=32,
            fmt=fmt,
            compressed=compressed,
            seed=seed,
        )
    )[0]
    return rec.bag


def test_all_three_formats_ingest_into_one_version(tmp_path: Path) -> None:
    bags = [
        sim(tmp_path / "mcap", BagFormat.MCAP, seed=1),
        sim(tmp_path / "sqlite", BagFormat.SQLITE3, seed=2),
        sim(tmp_path / "ros1", BagFormat.ROS1, compressed=True, seed=3),
    ]
    store = Store(tmp_path / "store")
    report = ingest(bags, store, "doors", Config())
    assert report.new_version and str(report.snapshot) == "doors@1"
    assert report.added_frames == 18
    for rec in report.recordings:
        assert rec.coverage["rgb"] == rec.coverage["depth"] == rec.coverage["camera_info"] == 6
        assert rec.coverage["lidar"] >= 5 and not rec.rejected and not rec.count_mismatches
    frames = report.snapshot.frames().to_pylist()
    assert {f["rgb_format"] for f in frames} == {"png", "jpeg"}
    assert {f["site"] for f in frames} == {"atrium"}

    # Depth is stored exactly as recorded.
    with AnyReader([bags[0]], default_typestore=get_typestore(Stores.ROS2_HUMBLE)) as reader:
        conns = [c for c in reader.connections if c.topic == TOPICS["depth"]]
        first = next(reader.messages(connections=conns))
        recorded = reader.deserialize(first[2], conns[0].msgtype).data.view(np.uint16)
    mine = min(
        (f for f in frames if f["recording_id"] == "atrium-1-000"), key=lambda f: f["stamp_ns"]
    )
    assert np.array_equal(np.frombuffer(mine["depth_mm"], "<u2"), recorded)

    # LiDAR is moved into the base frame by the static TF: the floor is at z = 0 there,
    # 0.45 m below the sensor.
    with_lidar = next(f for f in frames if f["lidar_xyz"] is not None)
    xyz = np.frombuffer(with_lidar["lidar_xyz"], "<f4").reshape(-1, 3)
    assert xyz.shape[0] == with_lidar["lidar_points"]
    assert abs(np.percentile(xyz[:, 2], 1)) < 0.05


def test_ingesting_the_same_recording_twice_adds_nothing(tmp_path: Path) -> None:
    bag = sim(tmp_path / "rec", BagFormat.MCAP)
    store = Store(tmp_path / "store")
    first = ingest([bag], store, "doors", Config())
    again = ingest([bag], store, "doors", Config())
    assert not again.new_version and again.added_frames == 0
    assert again.snapshot.version == first.snapshot.version == 1
    assert len(store.log("doors")) == 1


def test_one_recording_named_twice_in_a_call_is_ingested_once(tmp_path: Path) -> None:
    bag = sim(tmp_path / "rec", BagFormat.MCAP)
    report = ingest([bag, bag], Store(tmp_path / "store"), "doors", Config())
    ids = report.snapshot.frames(["frame_id"]).column("frame_id").to_pylist()
    assert report.added_frames == len(ids) == len(set(ids)) == 6


def test_a_bad_recording_in_a_batch_commits_nothing(tmp_path: Path) -> None:
    good = sim(tmp_path / "a", BagFormat.ROS1, seed=1)
    store = Store(tmp_path / "store")
    ingest([good], store, "doors", Config())
    other = sim(tmp_path / "b", BagFormat.MCAP, seed=2)
    truncated = tmp_path / "truncated.bag"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DataError, match=r"truncated\.bag"):
        ingest([other, truncated], store, "doors", Config())
    assert [c.version for c in store.log("doors")] == [1]
    assert store.snapshot("doors").frame_count() == 6


@pytest.mark.slow
def test_ray_engine_commits_the_same_frames_as_one_version(
    small_recordings: Path, tmp_path: Path
) -> None:
    bags = sorted(p for p in small_recordings.iterdir() if p.is_dir())
    local = ingest(bags, Store(tmp_path / "local"), "doors", Config())
    parallel = ingest(bags, Store(tmp_path / "ray"), "doors", Config(), engine=Engine.RAY)
    assert str(parallel.snapshot) == "doors@1" and parallel.added_frames == 18
    assert parallel.snapshot.frames().equals(local.snapshot.frames())
    assert [r.recording_id for r in parallel.recordings] == [
        r.recording_id for r in local.recordings
    ]

    truncated = tmp_path / "truncated.bag"
    truncated.write_bytes(b"#ROSBAG V2.0\n" + bytes(64))
    store = Store(tmp_path / "ray")
    with pytest.raises(DataError, match=r"truncated\.bag: cannot read recording"):
        ingest([*bags, truncated], store, "doors", Config(), engine=Engine.RAY)
    assert [c.version for c in store.log("doors")] == [1]


def test_real_lidar_recording_with_other_clocks(tmp_path: Path) -> None:
    report = ingest([SHARED / "ros1" / "embag_test.bag"], Store(tmp_path), "cars", Config())
    rec = report.recordings[0]
    assert rec.frames == 5 and rec.coverage["lidar"] == 5 and rec.coverage["rgb"] == 0
    frames = report.snapshot.frames(["lidar_points", "lidar_xyz"]).to_pylist()
    for f in frames:
        xyz = np.frombuffer(f["lidar_xyz"], "<f4").reshape(-1, 3)
        assert xyz.shape == (f["lidar_points"], 3) and np.isfinite(xyz).all()
        assert f["lidar_points"] > 30_000


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("ros1/embag_test_2.bag", "no sensor topics"),
        ("ros2/rosbag2_empty_bag_sqlite3", "recording is empty"),
        ("ros2/rosbag2_wrong_rmw_test_mcap", "cannot read recording"),
        ("ros2/no-such-bag", "no such file"),
        ("ros2/rosbag2_multiple_files_sqlite3", "no metadata.yaml"),
        (
            "ros2/rosbag2_bag_with_topics_and_service_events_mcap",
            "cannot parse the message definition of test_msgs/srv/BasicTypes_Event",
        ),
        ("ros2/rosbag2_talker_mcap", "no sensor topics"),
        ("ros2/rosbag2_cdr_test_sqlite3", "no sensor topics"),
        ("ros1/embag_array_test.bag", "no sensor topics"),
    ],
)
def test_real_recordings_that_cannot_be_ingested_say_why(
    tmp_path: Path, path: str, message: str
) -> None:
    with pytest.raises(DataError, match=message) as err:
        ingest([SHARED / path], Store(tmp_path), "x", Config())
    assert str(SHARED / path) in str(err.value) and "\n" not in str(err.value)
    assert Store(tmp_path).names() == []


@pytest.mark.parametrize(
    ("path", "messages"),
    [
        ("ros2/rosbag2_reindex_file_compression_assembled", 775),
        ("ros2/rosbag2_reindex_message_compression_assembled", 1127),
        ("ros2/rosbag2_cdr_test_sqlite3", 7),
        ("ros1/embag_array_test.bag", 20),
        ("ros2/rosbags-rs_test_bag_sqlite3", 188),
    ],
)
def test_real_recordings_are_read_whole(path: str, messages: int) -> None:
    with open_recording(SHARED / path) as reader:
        found = topics(reader)
    assert sum(t.read for t in found) == messages
    assert all(t.read == t.count for t in found)


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_talker_bags_read_fewer_messages_than_their_metadata_says(storage: str) -> None:
    with open_recording(SHARED / "ros2" / f"rosbag2_talker_{storage}") as reader:
        found = {t.topic: t for t in topics(reader)}
    assert found["/topic"].count == 10 and found["/topic"].read == 0


def test_malformed_real_images_are_rejected_per_frame_and_clouds_kept(tmp_path: Path) -> None:
    bag = SHARED / "ros2" / "rosbags-rs_test_bag_mcap"
    with pytest.raises(DataError, match="several rgb topics"):
        ingest([bag], Store(tmp_path), "rs", Config())  # two image topics: the user must choose
    config = Config.model_validate({"topics": {"rgb": "/test/sensor_msgs/image"}})
    report = ingest([bag], Store(tmp_path), "rs", config)
    rec = report.recordings[0]
    assert rec.frames > 0
    assert rec.coverage["lidar"] > 0
    assert any("expected" in reason or "data" in reason for reason in rec.rejected)


def test_pairing_within_the_gap_and_never_across_clocks() -> None:
    anchor = np.array([0, 100, 200, 300]) * 1_000_000
    other = np.array([10, 180, 290]) * 1_000_000
    pairing = pair_nearest(anchor, other, max_gap_ns=30_000_000)
    assert pairing.index.tolist() == [0, -1, 1, 2]
    far = pair_nearest(anchor, other + 10**15, max_gap_ns=30_000_000)
    assert not far.overlapping and (far.index == -1).all()
