"""Each validation check finds the problem it is for, on deliberately bad datasets; a clean one
passes. Real simulated bags, a real Lance store."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

from robotops.config import Config
from robotops.dataset.labels import import_labels
from robotops.dataset.schema import SPLIT_SCHEMA, frame_id
from robotops.dataset.splits import split_dataset
from robotops.dataset.store import Store
from robotops.errors import UsageError
from robotops.ingest.ingest import ingest
from robotops.sim import LabelFaults, SimConfig, simulate
from robotops.validate import validate

SITES = ("atrium", "loft", "clinic")


def simulated(out: Path, faults: LabelFaults | None = None) -> list:
    config = SimConfig(
        out_dir=out,
        sites=SITES,
        recordings=3,
        frames=8,
        width=48,
        height=32,
        seed=4,
        faults=faults or LabelFaults(),
    )
    return simulate(config)


def labelled_store(root: Path, recordings: list, split: bool = True) -> Store:
    store = Store(root)
    ingest([r.bag for r in recordings], store, "doors", Config())
    import_labels(store, "doors", [r.labels for r in recordings])
    if split:
        split_dataset(store, "doors", fractions=(0.6, 0.2, 0.2), seed=1)
    return store


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> list:
    return simulated(tmp_path_factory.mktemp("clean"))


def statuses(store: Store, config: Config | None = None) -> dict[str, str]:
    report = validate(store, "doors", config or Config(), recompute=True).report
    return {check.id: check.status for check in report.checks}


def test_a_clean_dataset_passes(clean: list, tmp_path: Path) -> None:
    result = validate(labelled_store(tmp_path, clean), "doors", Config())
    assert not result.report.failed
    assert all(c.passed for c in result.report.checks if c.severity == "error")
    assert result.report.frames == 72 and not result.reused
    overall = result.report.distribution["overall"]
    assert sum(overall.values()) == 72 and set(overall) == {"glass_door", "wooden_door", "no_door"}


def test_label_noise_and_missing_labels_are_found(tmp_path: Path) -> None:
    noisy = simulated(tmp_path / "rec", LabelFaults(noise=0.2, missing=0.15))
    report = validate(labelled_store(tmp_path / "st", noisy), "doors", Config()).report
    found = {c.id: c for c in report.checks}
    assert report.failed
    assert found["labels.missing"].status == "FAIL" and found["labels.missing"].frames
    assert found["labels.conflicting"].status == "FAIL"
    assert "lone flips" in found["labels.conflicting"].details[0]


def test_a_recording_duplicated_into_two_splits_is_leakage(clean: list, tmp_path: Path) -> None:
    copy = tmp_path / "copied-recording"
    shutil.copytree(clean[0].bag, copy)  # same bytes under another recording id
    store = labelled_store(tmp_path / "st", clean, split=False)
    ingest([copy], store, "doors", Config())
    index = store.snapshot("doors").index().to_pylist()
    original = clean[0].recording_id
    splits = []
    for row in index:
        if row["recording_id"] == original:
            split = "train"
        elif row["recording_id"] == copy.name:
            split = "test"
        elif row["recording_id"] == clean[1].recording_id:  # one recording split frame by frame
            split = "val" if row["stamp_ns"] % 2 else "train"
        else:
            split = "train"
        splits.append({"frame_id": row["frame_id"], "split": split})
    store.commit(
        "doors", kind="split", message="by hand", splits=pa.Table.from_pylist(splits, SPLIT_SCHEMA)
    )
    found = statuses(store)
    assert found["leakage.exact_duplicates"] == "FAIL"
    assert found["leakage.near_duplicates"] == "warn"
    assert found["leakage.recording"] == "FAIL"


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((height, width, 3), 90, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_corrupted_frames_are_found(clean: list, tmp_path: Path) -> None:
    store = labelled_store(tmp_path, clean)
    good = store.snapshot("doors").frames().slice(0, 5).to_pylist()
    broken = []
    for i, row in enumerate(good):
        stamp = 10**9 * (5 - i)  # stored newest first: out of time order
        row.update(recording_id="corrupt", frame_id=frame_id("corrupt", stamp), stamp_ns=stamp)
        broken.append(row)
    broken[0]["rgb"] = broken[0]["rgb"][:40]  # truncated PNG
    broken[1]["depth_mm"] = broken[1]["depth_mm"][:-2]  # one pixel short
    broken[2]["lidar_xyz"] = np.full((4, 3), np.nan, "<f4").tobytes()
    broken[2]["lidar_points"] = 4
    broken[3]["rgb"] = _png(20, 10)  # decodes, but not to its stored size
    broken[4]["rgb"], broken[4]["width"], broken[4]["height"] = _png(20, 10), 20, 10
    store.commit("doors", kind="ingest", message="corrupt", frames=pa.Table.from_pylist(broken))
    report = validate(store, "doors", Config()).report
    found = {c.id: c for c in report.checks}
    assert found["sensors.undecodable"].status == "FAIL"
    assert any("rgb: " in d for d in found["sensors.undecodable"].details)
    assert any("depth: " in d for d in found["sensors.undecodable"].details)
    assert found["sensors.lidar_empty"].status == "FAIL"
    assert (
        found["sensors.image_size"].status == "FAIL"
        and "20x10: 2 frames" in found["sensors.image_size"].details
    )
    assert found["sensors.timestamps"].status == "FAIL"
    assert found["labels.missing"].status == "FAIL"  # the five new frames have no label


def test_rules_come_from_the_config(tmp_path: Path) -> None:
    noisy = simulated(tmp_path / "rec", LabelFaults(missing=0.2))
    store = labelled_store(tmp_path / "st", noisy)
    assert statuses(store)["labels.missing"] == "FAIL"
    relaxed = Config.model_validate({"checks": {"labels.missing": {"severity": "warning"}}})
    assert statuses(store, relaxed)["labels.missing"] == "warn"
    allowed = Config.model_validate({"checks": {"labels.missing": {"max_fraction": 0.5}}})
    assert statuses(store, allowed)["labels.missing"] == "pass"
    off = Config.model_validate({"checks": {"labels.missing": {"severity": "off"}}})
    assert "labels.missing" not in statuses(store, off)
    with pytest.raises(UsageError, match=r"checks\.labels\.nope: no such check"):
        statuses(store, Config.model_validate({"checks": {"labels.nope": {}}}))


def test_the_report_is_kept_with_the_version(clean: list, tmp_path: Path) -> None:
    store = labelled_store(tmp_path, clean)
    first = validate(store, "doors", Config())
    assert not first.reused and Path(first.html_uri).is_file() and Path(first.json_uri).is_file()
    again = validate(store, "doors", Config())
    assert again.reused and again.report == first.report
    other_rules = Config.model_validate({"checks": {"balance.slices": {"limit": 1}}})
    assert not validate(store, "doors", other_rules).reused
    assert not validate(store, "doors", Config(), recompute=True).reused
    older = validate(store, "doors@2", Config())
    assert older.report.dataset == "doors@2" and not older.report.distribution.get("split")
