"""A real prediction log against a real dataset version, scored with a real bundle."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from robotops.config import Config
from robotops.dataset.splits import split_dataset
from robotops.errors import DataError, NotFoundError, UsageError
from robotops.ingest.ingest import ingest
from robotops.monitor import (
    FEATURES,
    MonitorReport,
    Status,
    Verdict,
    render_monitor_html,
    run_monitor,
)
from robotops.monitor.reference import held_out_split
from robotops.runtime.manifest import MANIFEST
from tests.monitor.world import REFERENCE, SETTINGS, T0_NS, World, fill_log


@pytest.fixture(scope="module")
def night(monitor_world: World, night_log: Path) -> MonitorReport:
    return run_monitor(night_log, monitor_world.store, SETTINGS)


@pytest.fixture(scope="module")
def day(monitor_world: World, day_log: Path) -> MonitorReport:
    return run_monitor(day_log, monitor_world.store, SETTINGS)


def test_night_frames_from_an_unseen_office_raise_an_alert(night: MonitorReport) -> None:
    assert night.verdict is Verdict.ALERT
    brightness = night.feature("brightness")
    assert brightness.status is Status.ALERT
    assert brightness.log_mean < brightness.reference_mean / 2  # night is dark
    assert brightness.psi > 1.0 and brightness.ks_statistic > 0.9
    assert night.summary().startswith("drift alert: brightness PSI ")
    assert [f.name for f in night.alerts] == [
        f.name for f in night.features if f.status is Status.ALERT
    ]
    assert night.rows == 30 and night.sites == {"unseen-1": 30}


def test_frames_like_the_reference_raise_no_alert(day: MonitorReport) -> None:
    assert day.alerts == ()
    assert day.verdict in (Verdict.OK, Verdict.WARN)
    assert not day.summary().startswith("drift alert")
    assert day.rows == 40 and day.sites == {"atrium": 40}


def test_the_reference_is_the_bundle_s_training_version_scored_by_the_bundle(
    monitor_world: World, night: MonitorReport
) -> None:
    assert night.reference == REFERENCE  # from the bundle's manifest
    assert night.reference_split is None  # the bundle names no held-out split of it
    assert night.reference_frames == night.reference_available == 72
    assert night.bundle == str(monitor_world.bundle) and night.bundle_digest == monitor_world.digest
    assert (night.model, night.version) == ("door-classifier", "7")
    assert [f.name for f in night.features] == list(FEATURES)
    class_mix = night.feature("class_mix")
    assert class_mix.reference_rows == 72 and class_mix.log_rows == 30
    assert class_mix.histogram is not None
    assert sum(class_mix.histogram.reference) == pytest.approx(1.0)
    assert night.low_confidence <= night.inputs_kept <= night.rows
    assert night.last_ns > night.first_ns > T0_NS  # served now, after the fixed test epoch
    assert night.settings["bins"] == 5


def test_the_report_survives_json(night: MonitorReport) -> None:
    data = json.loads(json.dumps(night.to_dict()))
    assert data["verdict"] == "alert" and data["summary"] == night.summary()
    assert {f["name"]: f["status"] for f in data["features"]}["brightness"] == "alert"
    assert MonitorReport.from_dict(data) == night


def test_the_html_report_is_self_contained_and_plots_every_feature(night: MonitorReport) -> None:
    page = render_monitor_html(night)
    assert 'class="verdict failed"' in page and "Drift ALERT" in page
    assert re.search(r'<tr class="alert" id="feature-brightness">', page)
    images = re.findall(r'<img class="plot" src="([^"]+)"', page)
    assert len(images) == len(FEATURES)
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert "http://" not in page and "https://" not in page
    assert "unseen-1 (30)" in page and REFERENCE in page
    quiet = render_monitor_html(replace(night, features=(), notes=("<b>note</b>",)))
    assert 'class="verdict passed"' in quiet and "&lt;b&gt;note&lt;/b&gt;" in quiet


def test_fewer_rows_than_min_rows_give_no_verdict(monitor_world: World, tmp_path: Path) -> None:
    log = fill_log(tmp_path / "log", monitor_world, monitor_world.night[:8], site="unseen-1")
    report = run_monitor(log, monitor_world.store, SETTINGS)
    assert report.verdict is Verdict.NO_VERDICT
    assert report.summary() == "no verdict: 8 logged frames, fewer than monitor.min_rows (20)"
    assert all(f.status is Status.SKIPPED for f in report.features)
    assert report.alerts == ()


def test_the_reference_is_sampled_down_to_max_reference_frames(
    monitor_world: World, night_log: Path
) -> None:
    settings = SETTINGS.model_copy(update={"max_reference_frames": 25})
    report = run_monitor(night_log, monitor_world.store, settings)
    assert (report.reference_frames, report.reference_available) == (25, 72)
    assert any("seeded sample of 25 of 72" in note for note in report.notes)
    again = run_monitor(night_log, monitor_world.store, settings)
    assert again.feature("brightness") == report.feature("brightness")  # the same sample


def test_a_log_of_two_bundles_monitors_the_newest_unless_told(
    monitor_world: World, tmp_path: Path
) -> None:
    other = tmp_path / "bundle-8"
    shutil.copytree(monitor_world.bundle, other)
    manifest = json.loads((other / MANIFEST).read_text())
    manifest["model"]["version"] = "8"  # another digest, the same files
    (other / MANIFEST).write_text(json.dumps(manifest))
    log = tmp_path / "log"
    fill_log(log, monitor_world, monitor_world.day, site="atrium")
    fill_log(
        log,
        monitor_world,
        monitor_world.night,
        site="unseen-1",
        start_ns=T0_NS + 10**12,
        bundle=other,
    )

    newest = run_monitor(log, monitor_world.store, SETTINGS)
    assert (newest.version, newest.rows, newest.verdict) == ("8", 30, Verdict.ALERT)
    assert newest.notes[0].startswith(
        f"40 rows of other bundles left out ({monitor_world.digest[:12]}"
    )
    told = run_monitor(log, monitor_world.store, SETTINGS, bundle=monitor_world.bundle)
    assert (told.version, told.rows) == ("7", 40) and told.alerts == ()


def test_the_reference_split_is_the_bundle_s_held_out_split_when_the_reference_has_it(
    monitor_world: World,
) -> None:
    bags = sorted(p for p in (monitor_world.root / "reference").iterdir() if p.is_dir())[:6]
    ingest(bags, monitor_world.store, "splits", Config())
    snapshot = split_dataset(
        monitor_world.store, "splits", fractions=(0.5, 0.5, 0.0), seed=0
    ).snapshot
    assert held_out_split(snapshot, {"held_out": {"ref": f"{snapshot}:val"}}) == "val"
    assert held_out_split(snapshot, {"held_out": {"ref": f"{snapshot}:test"}}) is None  # empty
    assert held_out_split(snapshot, {"held_out": {"ref": "splits@1:val"}}) is None
    assert held_out_split(snapshot, {"held_out": {"ref": None}}) is None


def test_bad_input_is_refused_in_one_line(
    monitor_world: World, night_log: Path, tmp_path: Path
) -> None:
    with pytest.raises(NotFoundError, match="no such prediction log folder"):
        run_monitor(tmp_path / "nowhere", monitor_world.store, SETTINGS)
    with pytest.raises(NotFoundError, match="has no version 99"):
        run_monitor(night_log, monitor_world.store, SETTINGS, reference="doors@99")
    with pytest.raises(NotFoundError, match="no logged rows from the bundle"):
        run_monitor(
            night_log, monitor_world.store, SETTINGS, bundle=_other_bundle(monitor_world, tmp_path)
        )

    unrecorded = fill_log(
        tmp_path / "unrecorded", monitor_world, monitor_world.night, site="x", note=False
    )
    with pytest.raises(UsageError, match=r"no bundle recorded .*; give --bundle PATH"):
        run_monitor(unrecorded, monitor_world.store, SETTINGS)
    assert (
        run_monitor(unrecorded, monitor_world.store, SETTINGS, bundle=monitor_world.bundle).rows
        == 30
    )

    moved = tmp_path / "moved"
    shutil.copytree(night_log, moved)
    bundles = json.loads((moved / "bundles.json").read_text())
    bundles[monitor_world.digest]["path"] = str(tmp_path / "gone")
    (moved / "bundles.json").write_text(json.dumps(bundles))
    with pytest.raises(NotFoundError, match="give --bundle PATH"):
        run_monitor(moved, monitor_world.store, SETTINGS)

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "predictions-0.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError, match="not a readable prediction log part"):
        run_monitor(broken, monitor_world.store, SETTINGS)


def _other_bundle(monitor_world: World, tmp_path: Path) -> Path:
    other = tmp_path / "other-bundle"
    shutil.copytree(monitor_world.bundle, other)
    manifest = json.loads((other / MANIFEST).read_text())
    manifest["model"]["version"] = "9"
    (other / MANIFEST).write_text(json.dumps(manifest))
    return other
