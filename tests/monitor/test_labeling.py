"""--to-labeling: drifted and low-confidence logged frames into one dataset version and tasks."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from robotops.dataset.frames import SENSOR_COLUMNS, decode_row
from robotops.errors import ConflictError, DataError
from robotops.monitor import MonitorReport, Status, run_monitor, to_labeling
from robotops.monitor.labeling import select_rows
from robotops.serve.predlog import read_log
from tests.monitor.world import REFERENCE, SETTINGS, World, fill_log


@pytest.fixture(scope="module")
def sampled(monitor_world: World, tmp_path_factory: pytest.TempPathFactory) -> MonitorReport:
    """Night frames, no low-confidence threshold: a seeded half of the inputs is kept."""
    log = tmp_path_factory.mktemp("sampled") / "predictions"
    fill_log(log, monitor_world, monitor_world.night, site="unseen-1", low_confidence=0.0)
    return run_monitor(log, monitor_world.store, SETTINGS)


def test_drifted_frames_with_their_input_become_one_unlabelled_version_and_tasks(
    monitor_world: World, sampled: MonitorReport, tmp_path: Path
) -> None:
    assert 0 < sampled.inputs_kept < sampled.rows and sampled.low_confidence == 0
    versions = len(monitor_world.store.log("doors"))
    result = to_labeling(sampled, monitor_world.store, tmp_path / "tasks", image_url_prefix="")

    assert result.selected == result.added == sampled.inputs_kept
    assert result.reasons["drift:brightness"] == result.selected
    assert "low_confidence" not in result.reasons
    assert result.new_version and result.snapshot is not None
    log = monitor_world.store.log("doors")
    assert len(log) == versions + 1 and log[-1].kind == "monitor"
    assert result.snapshot.version == log[-1].version
    assert result.snapshot.classes == monitor_world.store.snapshot(REFERENCE).classes

    new_ids = set(_frame_ids(result.snapshot)) - set(
        _frame_ids(monitor_world.store.snapshot(REFERENCE))
    )
    assert len(new_ids) == result.added
    assert not new_ids & set(result.snapshot.labels().column("frame_id").to_pylist())
    rows = [
        row
        for batch in result.snapshot.scan_frames(
            [*SENSOR_COLUMNS, "recording_id", "site", "robot", "rgb_format", "tags"],
            frame_ids=sorted(new_ids),
        )
        for row in batch.to_pylist()
    ]
    for row in rows:
        rgb, depth, xyz = decode_row(row)
        assert rgb.shape == (32, 48, 3) and depth.shape == (32, 48)
        assert xyz is None or xyz.shape[1] == 3
        assert row["recording_id"].startswith("serve-unseen-1-")
        assert (row["site"], row["robot"], row["rgb_format"]) == ("unseen-1", "r2d2", "png")
        tags = json.loads(row["tags"])
        assert tags["source"] == "serve" and "drift:brightness" in tags["reason"].split(",")
        assert tags["model_version"] == "7" and float(tags["confidence"]) > 0

    tasks = json.loads((tmp_path / "tasks" / "tasks.json").read_text())
    assert len(tasks) == result.export.tasks == result.selected
    assert {t["data"]["frame_id"] for t in tasks} == new_ids
    for task in tasks:
        [prediction] = task["predictions"]
        assert prediction["result"][0]["value"]["choices"][0] in result.snapshot.classes
        assert 0 < prediction["score"] < 1
        assert (tmp_path / "tasks" / task["data"]["image"]).is_file()

    again = to_labeling(sampled, monitor_world.store, tmp_path / "again", image_url_prefix="")
    assert (again.new_version, again.added, again.selected) == (False, 0, result.selected)
    assert len(monitor_world.store.log("doors")) == versions + 1  # nothing duplicated
    assert again.export.tasks == result.selected  # still unlabelled: the tasks again


def test_only_low_confidence_frames_go_when_nothing_drifted(
    monitor_world: World, sampled: MonitorReport, night_log: Path, tmp_path: Path
) -> None:
    quiet = replace(sampled, features=tuple(replace(f, status=Status.OK) for f in sampled.features))
    rows, reasons = select_rows(quiet)
    assert rows.num_rows == 0 and reasons == []  # no frame below the threshold of 0
    versions = len(monitor_world.store.log("doors"))
    result = to_labeling(quiet, monitor_world.store, tmp_path / "tasks")
    assert (result.selected, result.snapshot, result.export) == (0, None, None)
    assert len(monitor_world.store.log("doors")) == versions
    assert not (tmp_path / "tasks").exists()

    everything_low = run_monitor(night_log, monitor_world.store, SETTINGS)
    quiet_but_low = replace(
        everything_low,
        features=tuple(replace(f, status=Status.OK) for f in everything_low.features),
    )
    rows, reasons = select_rows(quiet_but_low)
    assert rows.num_rows == 30 and set(reasons) == {"low_confidence"}


def test_a_new_dataset_takes_the_model_s_classes(
    monitor_world: World, sampled: MonitorReport, tmp_path: Path
) -> None:
    result = to_labeling(sampled, monitor_world.store, tmp_path / "tasks", dataset="night-queue")
    assert str(result.snapshot) == "night-queue@1"
    assert result.snapshot.classes == sampled.classes
    assert result.snapshot.frame_count() == result.added == result.selected


def test_bad_input_loses_nothing(
    monitor_world: World, sampled: MonitorReport, tmp_path: Path
) -> None:
    versions = len(monitor_world.store.log("doors"))
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    with pytest.raises(ConflictError, match="exists and is not empty"):
        to_labeling(sampled, monitor_world.store, taken)
    assert (taken / "keep.txt").read_text() == "mine"

    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    table = read_log(Path(sampled.log))
    kept = np.flatnonzero(table.column("input_kept").to_numpy(zero_copy_only=False))
    rgb = table.column("rgb").to_pylist()
    rgb[int(kept[0])] = b"\x89PNG\r\n\x1a\n broken"
    table = table.set_column(table.schema.get_field_index("rgb"), "rgb", [rgb])
    pq.write_table(table, corrupt / "predictions-0.parquet")
    (corrupt / "bundles.json").write_text((Path(sampled.log) / "bundles.json").read_text())
    report = run_monitor(corrupt, monitor_world.store, SETTINGS)
    with pytest.raises(DataError, match=r"log row .* input does not decode"):
        to_labeling(report, monitor_world.store, tmp_path / "tasks")
    assert not (tmp_path / "tasks").exists()
    assert len(monitor_world.store.log("doors")) == versions


def _frame_ids(snapshot) -> list[str]:
    return snapshot.frames(["frame_id"]).column("frame_id").to_pylist()
