"""`robotops monitor` as a user runs it, through the real entry point, on real logs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.e2e.test_cli_sim import robotops
from tests.monitor.world import World


def test_night_frames_alert_with_exit_10_after_the_report(
    monitor_world: World, night_log: Path, tmp_path: Path
) -> None:
    log = tmp_path / "predictions"
    shutil.copytree(night_log, log)
    config = monitor_world.config(tmp_path)
    result = robotops("monitor", str(log), "--config", str(config), cwd=tmp_path)
    assert result.returncode == 10, result.stderr
    assert result.stderr.startswith("error: drift alert: brightness PSI ")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "brightness" in result.stdout and "ALERT" in result.stdout
    assert f"report: {log / 'monitor.html'}" in result.stdout
    assert 'class="verdict failed"' in (log / "monitor.html").read_text()


def test_frames_like_the_reference_exit_0_and_json_is_the_report(
    monitor_world: World, day_log: Path, tmp_path: Path
) -> None:
    config = monitor_world.config(tmp_path)
    html = tmp_path / "reports" / "day.html"
    result = robotops(
        "monitor", str(day_log), "--json", "--html", str(html), "--config", str(config),
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] in ("ok", "warn")
    assert report["reference"] == "doors@3" and report["rows"] == 40
    assert [f["name"] for f in report["features"]] == [
        "class_mix", "confidence", "brightness", "depth_valid", "lidar_returns"
    ]  # fmt: skip
    assert report["html"] == str(html) and html.is_file()
    assert not (day_log / "monitor.html").exists()


def test_to_labeling_commits_one_version_and_writes_tasks_even_on_alert(
    monitor_world: World, night_log: Path, tmp_path: Path
) -> None:
    config = monitor_world.config(tmp_path)
    out = tmp_path / "to-label"
    result = robotops(
        "monitor", str(night_log), "--html", str(tmp_path / "m.html"), "--to-labeling", str(out),
        "--dataset", "cli-queue", "--config", str(config), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 10, result.stderr
    assert "to labelling: 30 frames (low_confidence 30, drift:brightness 30" in result.stdout
    assert "committed as cli-queue@1" in result.stdout
    assert "30 tasks written to" in result.stdout
    assert len(json.loads((out / "tasks.json").read_text())) == 30
    assert len(monitor_world.store.log("cli-queue")) == 1

    taken = robotops(
        "monitor", str(night_log), "--to-labeling", str(out), "--config", str(config),
        cwd=tmp_path,
    )  # fmt: skip
    assert taken.returncode == 5
    assert taken.stderr.count("\n") == 1 and "exists and is not empty" in taken.stderr
    assert len(monitor_world.store.log("cli-queue")) == 1


def test_bad_input_is_one_line_with_its_exit_code(
    monitor_world: World, night_log: Path, tmp_path: Path
) -> None:
    config = str(monitor_world.config(tmp_path))
    missing = robotops("monitor", str(tmp_path / "nowhere"), "--config", config, cwd=tmp_path)
    no_reference = robotops(
        "monitor", str(night_log), "--reference", "doors@99", "--html", str(tmp_path / "x.html"),
        "--config", config, cwd=tmp_path,
    )  # fmt: skip
    unrecorded = tmp_path / "unrecorded"
    shutil.copytree(night_log, unrecorded)
    (unrecorded / "bundles.json").unlink()
    no_bundle = robotops("monitor", str(unrecorded), "--config", config, cwd=tmp_path)
    for result, code, message in (
        (missing, 4, "no such prediction log folder"),
        (no_reference, 4, "has no version 99"),
        (no_bundle, 2, "give --bundle PATH"),
    ):
        assert result.returncode == code, result.stderr
        assert result.stderr.startswith("error: ") and message in result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
