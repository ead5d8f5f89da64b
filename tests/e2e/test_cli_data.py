"""`robotops ingest`, `labels import` and `data …` through the real entry point."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.e2e.test_cli_sim import robotops


def test_ingest_label_inspect_and_tag(small_recordings: Path, tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    bags = sorted(str(p) for p in small_recordings.iterdir() if p.is_dir())
    listed = robotops("ingest", "--list-topics", bags[0])
    assert listed.returncode == 0 and "/lidar/points" in listed.stdout

    result = robotops("ingest", *bags, "--store", store)
    assert result.returncode == 0, result.stderr
    assert "added 18 frames: doors@1" in result.stdout and "6/6" in result.stdout
    again = robotops("ingest", *bags, "--store", store)
    assert "nothing new" in again.stdout

    labels = sorted(str(p) for p in small_recordings.glob("*.labels.json"))
    result = robotops("labels", "import", *labels, "--store", store)
    assert result.returncode == 0 and "18 labels changed: doors@2" in result.stdout

    assert robotops("data", "tag", "doors@1", "raw", "--store", store).returncode == 0
    log = robotops("data", "log", "doors", "--store", store)
    assert "raw" in log.stdout and "labels" in log.stdout
    diff = json.loads(
        robotops("data", "diff", "doors@raw", "doors", "--json", "--store", store).stdout
    )
    assert diff["a"] == "doors@1" and diff["b"] == "doors@2"
    md = robotops("data", "diff", "doors@1", "doors@2", "--format", "markdown", "--store", store)
    assert md.stdout.startswith("### Dataset diff `doors@1` → `doors@2`")
    listing = robotops("data", "list", "--store", store)
    assert "doors" in listing.stdout and "18" in listing.stdout

    split = robotops("data", "split", "--fractions", "0.34,0.33,0.33", "--store", store)
    assert split.returncode == 0 and "split: doors@3" in split.stdout
    show = robotops("data", "show", "doors@3", "--store", store)
    assert all(name in show.stdout for name in ("train", "val", "test"))
    bad = robotops("data", "split", "--fractions", "0.5,0.6,0", "--store", store)
    assert bad.returncode == 2 and "sum to 1" in bad.stderr

    out = tmp_path / "tasks"
    exported = robotops("labels", "export", str(out), "--store", store)
    assert exported.returncode == 0 and "0 tasks written" in exported.stdout
    assert "18 labelled frames left out" in exported.stdout
    relabel = robotops("labels", "export", str(tmp_path / "again"), "--all", "--store", store)
    assert "18 tasks written" in relabel.stdout
    assert len(json.loads((tmp_path / "again" / "tasks.json").read_text())) == 18
    assert len(list((tmp_path / "again" / "images").iterdir())) == 18


def test_bad_input_is_one_line_and_leaves_the_dataset_alone(
    small_recordings: Path, tmp_path: Path
) -> None:
    store = str(tmp_path / "store")
    bag = sorted(str(p) for p in small_recordings.iterdir() if p.is_dir())[0]
    assert robotops("ingest", bag, "--store", store).returncode == 0
    broken = tmp_path / "broken.bag"
    broken.write_bytes(b"#ROSBAG V2.0\n" + b"\x00" * 64)
    result = robotops("ingest", bag, str(broken), "--store", store)
    assert result.returncode == 3
    assert str(broken) in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    bad_labels = tmp_path / "labels.csv"
    bad_labels.write_text("frame_id,label\nnot-a-frame,glass_door\n")
    result = robotops("labels", "import", str(bad_labels), "--store", store)
    assert result.returncode == 3 and "nothing was written" in result.stderr
    log = robotops("data", "log", "doors", "--store", store)
    assert "│ 2" not in log.stdout  # still one version
    missing = robotops("data", "show", "doors@7", "--store", store)
    assert missing.returncode == 4 and "has no version 7" in missing.stderr


def test_list_topics_tells_when_a_recording_reads_short_of_its_metadata(tmp_path: Path) -> None:
    talker = Path(__file__).resolve().parents[3] / "shared/data/ros2/rosbag2_talker_sqlite3"
    result = robotops("ingest", "--list-topics", str(talker))
    assert result.returncode == 0
    assert "/topic: read 0 messages, the recording's metadata says 10" in result.stdout
    result = robotops("ingest", str(talker), "--store", str(tmp_path / "store"))
    assert result.returncode == 3 and "no sensor topics" in result.stderr
    assert not (tmp_path / "store").exists()

    clouds = tmp_path / "clouds"
    clouds.mkdir()
    shutil.copy(talker.parents[1] / "pcd" / "pcl_bunny.pcd", clouds)
    listed = robotops("ingest", "--list-topics", str(clouds))
    assert "folder of files" in listed.stdout and "lidar" in listed.stdout
    result = robotops("ingest", str(clouds), "--store", str(tmp_path / "store"))
    assert result.returncode == 0 and "added 1 frames" in result.stdout
