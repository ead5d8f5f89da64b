"""`robotops ingest`, `labels import` and `data …` through the real entry point."""

from __future__ import annotations

import json
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
