"""Ingest of folders of images and PCD files, written here or copied from real PCL files."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from robotops.config import Config
from robotops.dataset.store import Store
from robotops.errors import DataError
from robotops.ingest.folder import read_folder
from robotops.ingest.ingest import ingest

PCD = Path(__file__).resolve().parents[3] / "shared" / "data" / "pcd"
S = 1_700_000_000 * 1_000_000_000  # a stamp in nanoseconds, the seconds 1700000000


def write_image(path: Path, array: np.ndarray, **save: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **save)
    return path


def colour(seed: int, height: int = 6, width: int = 8) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def depth_mm(seed: int, height: int = 6, width: int = 8) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 65536, (height, width), dtype=np.uint16)


def write_pcd(path: Path, xyz: list[tuple[float, float, float]], points: int | None = None) -> Path:
    n = len(xyz) if points is None else points
    header = [
        "# .PCD v0.7 - Point Cloud Data file format",
        "VERSION 0.7",
        "FIELDS x y z",
        "SIZE 4 4 4",
        "TYPE F F F",
        "COUNT 1 1 1",
        f"WIDTH {n}",
        "HEIGHT 1",
        "VIEWPOINT 0 0 0 1 0 0 0",
        f"POINTS {n}",
        "DATA ascii",
    ]
    body = [" ".join(str(v) for v in point) for point in xyz]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(header + body) + "\n")
    return path


def pcd_points(path: Path) -> int:
    """WIDTH x HEIGHT from the file's header, read independently of the reader."""
    entries = {}
    for raw in path.read_bytes().split(b"\n"):
        key, *values = raw.decode("latin-1").split() or [""]
        entries[key] = values
        if key == "DATA":
            break
    assert int(entries["POINTS"][0]) == int(entries["WIDTH"][0]) * int(entries["HEIGHT"][0])
    return int(entries["POINTS"][0])


def decoded(data: bytes) -> np.ndarray:
    return np.array(Image.open(io.BytesIO(data)))


def test_subfolders_with_timestamp_stems_are_synchronised(tmp_path: Path) -> None:
    rec = tmp_path / "hall_01"
    images = [colour(i) for i in range(3)]
    for i, image in enumerate(images):  # decimal seconds, 100 ms apart
        write_image(rec / "rgb" / f"1700000000.{i}00000.png", image)
    depth = depth_mm(7)
    write_image(rec / "depth" / f"{S + 5_000_000}.png", depth)  # 5 ms after frame 0
    write_image(rec / "depth" / f"{S + 400_000_000}.png", depth_mm(8))  # 200 ms past the last
    write_pcd(rec / "lidar" / "1700000000.11.pcd", [(1.0, 2.0, 3.0), (4.0, 5.0, 6.0)])
    (rec / "lidar" / "calibration.yaml").write_text("ignored: true\n")
    frames: list[None] = []

    table, summary = read_folder(rec, Config(), on_frame=lambda: frames.append(None))

    assert len(frames) == summary.frames == table.num_rows == 3
    assert summary.recording_id == "hall_01"
    assert summary.coverage == {"rgb": 3, "depth": 1, "lidar": 1, "camera_info": 0}
    assert summary.lidar_frame_kept and summary.dropped_nonfinite == 0
    rows = table.to_pylist()
    assert [r["stamp_ns"] for r in rows] == [S, S + 100_000_000, S + 200_000_000]
    assert rows[0]["depth_stamp_ns"] == S + 5_000_000
    assert np.frombuffer(rows[0]["depth_mm"], dtype="<u2").reshape(6, 8).tolist() == depth.tolist()
    assert rows[1]["lidar_stamp_ns"] == S + 110_000_000 and rows[1]["lidar_points"] == 2
    xyz = np.frombuffer(rows[1]["lidar_xyz"], dtype="<f4").reshape(-1, 3)
    assert xyz.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert rows[2]["depth_mm"] is None and rows[2]["lidar_xyz"] is None
    for row, image in zip(rows, images, strict=True):
        assert row["rgb_format"] == "png" and decoded(row["rgb"]).tolist() == image.tolist()
        assert (row["width"], row["height"]) == (8, 6)


def test_flat_folder_pairs_by_stem_and_keeps_jpeg_bytes(tmp_path: Path) -> None:
    rec = tmp_path / "flat"
    jpeg = write_image(rec / "front.jpg", colour(1), quality=80)
    write_image(rec / "front.png", depth_mm(2))  # 16-bit single channel: depth
    write_pcd(rec / "front.pcd", [(0.5, 0.5, 0.5)])
    grey = np.arange(48, dtype=np.uint8).reshape(6, 8)
    write_image(rec / "side.png", grey)  # 8-bit grey: colour
    write_pcd(rec / "side.pcd", [(1.0, 1.0, 1.0), (2.0, 2.0, 2.0)])
    write_pcd(rec / "unpaired.pcd", [(3.0, 3.0, 3.0)])  # no colour file of that name
    write_image(rec / "123.png", colour(3))  # a timestamp-like stem among names: a name too
    write_pcd(rec / "123.pcd", [(4.0, 4.0, 4.0)])
    (rec / "notes.txt").write_text("not a sensor file")

    table, summary = read_folder(rec, Config())

    rows = table.to_pylist()
    assert [r["stamp_ns"] for r in rows] == [0, 1, 2]  # position of the anchor (colour) files
    assert summary.coverage == {"rgb": 3, "depth": 1, "lidar": 3, "camera_info": 0}
    numbered, front, side = rows
    assert numbered["lidar_stamp_ns"] == 0 and numbered["lidar_points"] == 1
    assert front["rgb_format"] == "jpeg" and front["rgb"] == jpeg.read_bytes()
    assert front["depth_stamp_ns"] == front["lidar_stamp_ns"] == 1
    assert side["rgb_format"] == "png" and decoded(side["rgb"]).tolist() == grey.tolist()
    assert side["depth_mm"] is None and side["lidar_points"] == 2


def test_real_pcl_files_as_a_flat_folder(tmp_path: Path) -> None:
    rec = tmp_path / "pcl"
    rec.mkdir()
    names = ["pcl_bunny", "pcl_colored_cloud", "pcl_milk", "pcl_pcl_logo"]
    names.append("pcl_table_scene_mug_stereo_textured")
    for name in names:
        shutil.copy(PCD / f"{name}.pcd", rec)

    table, summary = read_folder(rec, Config())

    rows = table.to_pylist()
    assert [r["stamp_ns"] for r in rows] == list(range(len(names)))
    assert summary.coverage["lidar"] == len(names) and summary.coverage["rgb"] == 0
    assert summary.lidar_frame_kept
    kept = dict(zip(names, (r["lidar_points"] for r in rows), strict=True))
    declared = {name: pcd_points(rec / f"{name}.pcd") for name in names}
    table_scene = "pcl_table_scene_mug_stereo_textured"
    assert declared[table_scene] == 640 * 480
    assert {n: kept[n] for n in names if n != table_scene} == {
        n: declared[n] for n in names if n != table_scene
    }
    assert 0 < kept[table_scene] < declared[table_scene]
    assert summary.dropped_nonfinite == declared[table_scene] - kept[table_scene]
    for row in rows:
        xyz = np.frombuffer(row["lidar_xyz"], dtype="<f4")
        assert xyz.size == 3 * row["lidar_points"] and np.isfinite(xyz).all()


def test_pcd_without_xyz_fails_the_folder(tmp_path: Path) -> None:
    rec = tmp_path / "descriptors"
    rec.mkdir()
    shutil.copy(PCD / "pcl_bunny.pcd", rec)
    shutil.copy(PCD / "pcl_brisk_descriptors_gt.pcd", rec)
    with pytest.raises(DataError, match=r"pcl_brisk_descriptors_gt\.pcd: .*no x, y, z fields"):
        read_folder(rec, Config())


def test_inconsistent_pcd_header_fails_and_commits_nothing(tmp_path: Path) -> None:
    good = tmp_path / "good"
    write_image(good / "rgb" / "a.png", colour(0))
    bad = tmp_path / "bad"
    write_image(bad / "rgb" / "a.png", colour(1))
    write_pcd(bad / "lidar" / "a.pcd", [(1.0, 2.0, 3.0)] * 3, points=10)
    store = Store(tmp_path / "store")

    with pytest.raises(DataError) as info:
        ingest([good, bad], store, "x", Config())

    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(bad / "lidar" / "a.pcd") + ": ")
    assert "ascii data has 9 values, expected 30" in message
    assert store.names() == []


def test_unpaired_corrupt_image_still_fails_the_folder(tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    write_image(rec / "rgb" / f"{S}.png", colour(0))
    corrupt = write_image(rec / "depth" / f"{S + 10**9}.png", depth_mm(0))  # pairs with no frame
    corrupt.write_bytes(corrupt.read_bytes()[:60])  # truncated
    with pytest.raises(DataError, match=rf"^{re.escape(str(corrupt))}: .* is corrupt"):
        read_folder(rec, Config())


def test_float_tiff_depth_in_metres(tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    write_image(rec / "rgb" / "0001.png", colour(0))
    metres = np.array([[0.5, np.nan], [1.25, 70.0]], dtype=np.float32)
    write_image(rec / "depth" / "0001.tiff", metres)

    table, _ = read_folder(rec, Config())

    stored = np.frombuffer(table.column("depth_mm")[0].as_py(), dtype="<u2")
    assert stored.tolist() == [500, 0, 1250, 65535]


def test_zero_padded_numbers_pair_by_name_not_time(tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    for stem in ("000001", "000002", "000010"):
        write_image(rec / "rgb" / f"{stem}.png", colour(int(stem)))
    write_image(rec / "depth" / "000002.png", depth_mm(0))  # would be 1 ns from the others
    table, summary = read_folder(rec, Config())
    assert table.column("depth_stamp_ns").to_pylist() == [None, 1, None]
    assert summary.coverage["depth"] == 1


def test_natural_order_and_duplicate_names(tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    for width in (10, 2, 1):
        write_image(rec / f"frame{width}.jpg", colour(0, width=width))
    table, _ = read_folder(rec, Config())
    assert table.column("width").to_pylist() == [1, 2, 10]
    assert table.column("stamp_ns").to_pylist() == [0, 1, 2]
    write_image(rec / "frame2.png", colour(1))
    with pytest.raises(DataError, match=r"frame2\.png: same name as frame2\.jpg"):
        read_folder(rec, Config())


def test_ingest_commits_a_folder(tmp_path: Path) -> None:
    rec = tmp_path / "dock_03"
    for i in range(2):
        write_image(rec / "rgb" / f"{S + i * 100_000_000}.jpg", colour(i))
        write_pcd(rec / "lidar" / f"{S + i * 100_000_000 + 1}.pcd", [(float(i), 0.0, 0.0)])
    store = Store(tmp_path / "store")

    report = ingest([rec], store, "x", Config())

    assert report.new_version and report.added_frames == 2
    assert store.names() == ["x"]
    assert report.recordings[0].recording_id == "dock_03"
    assert report.snapshot.frames().column("lidar_points").to_pylist() == [1, 1]


@pytest.mark.parametrize("content", ["empty", "other files", "empty subfolders"])
def test_folder_without_sensor_files_is_refused(tmp_path: Path, content: str) -> None:
    rec = tmp_path / "rec"
    rec.mkdir()
    if content == "other files":
        (rec / "readme.txt").write_text("hello")
        (rec / "meta.json").write_text("{}")
    elif content == "empty subfolders":
        (rec / "rgb").mkdir()
        (rec / "lidar").mkdir()
    with pytest.raises(DataError, match=rf"^{re.escape(str(rec))}: no images or PCD files"):
        read_folder(rec, Config())


def test_files_beside_subfolders_are_refused(tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    write_image(rec / "rgb" / "a.png", colour(0))
    write_pcd(rec / "a.pcd", [(1.0, 2.0, 3.0)])
    with pytest.raises(DataError, match=r"has both rgb/ and image or PCD files beside them"):
        read_folder(rec, Config())
