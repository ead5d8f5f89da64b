"""The Lance store: versions, tags, relabelling without touching sensor bytes, atomic commits."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pytest

from robotops import DataError, NotFoundError, UsageError
from robotops.config import Config
from robotops.dataset.diff import diff
from robotops.dataset.labels import import_labels
from robotops.dataset.refs import DatasetRef
from robotops.dataset.schema import FRAME_SCHEMA, frame_id
from robotops.dataset.store import Store
from robotops.ingest.ingest import ingest


def files_of(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def labelled(small_recordings: Path, tmp_path: Path) -> Store:
    store = Store(tmp_path / "store")
    ingest(sorted(p for p in small_recordings.iterdir() if p.is_dir()), store, "doors", Config())
    import_labels(store, "doors", sorted(small_recordings.glob("*.labels.json")))
    return store


def test_refs_parse_and_reject() -> None:
    assert DatasetRef.parse("doors") == DatasetRef("doors")
    assert DatasetRef.parse("doors@7") == DatasetRef("doors", version=7)
    assert DatasetRef.parse("doors@release-2026-11") == DatasetRef("doors", tag="release-2026-11")
    for bad in ("", "@3", "doors@", "do ors", "doors@a b"):
        with pytest.raises(UsageError):
            DatasetRef.parse(bad)


def test_relabelling_ten_percent_writes_no_sensor_bytes(labelled: Store, tmp_path: Path) -> None:
    frames_dir = tmp_path / "store" / "doors" / "frames.lance"
    before = files_of(frames_dir)
    index = labelled.snapshot("doors").index().to_pylist()
    chosen = index[::10]
    relabel = tmp_path / "fix.csv"
    with relabel.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["frame_id", "label", "annotator", "review_status"])
        for row in chosen:
            new = "no_door" if row["label"] != "no_door" else "glass_door"
            writer.writerow([row["frame_id"], new, "alice", "reviewed"])
    result = import_labels(labelled, "doors", [relabel])
    assert result.new_version and result.snapshot.version == 3
    assert result.changed == len(chosen)
    assert files_of(frames_dir) == before  # not one sensor byte rewritten
    changes = diff(labelled.snapshot("doors@2"), labelled.snapshot("doors@3"))
    assert sum(changes.label_changes.values()) == len(chosen)
    assert changes.frames_added == changes.frames_removed == 0
    # Time travel: version 2 still has the old labels.
    old = {r["frame_id"]: r["label"] for r in labelled.snapshot("doors@2").labels().to_pylist()}
    assert all(old[row["frame_id"]] == row["label"] for row in chosen)


def test_unknown_frames_or_classes_write_nothing(labelled: Store, tmp_path: Path) -> None:
    fid = labelled.snapshot("doors").index().to_pylist()[0]["frame_id"]
    for rows, message in (
        ([["nope", "glass_door"]], "for frames not in doors@2"),
        ([[fid, "revolving_door"]], "classes not in doors@2's class list"),
    ):
        bad = tmp_path / "bad.csv"
        bad.write_text("frame_id,label\n" + "\n".join(",".join(r) for r in rows) + "\n")
        with pytest.raises(DataError, match=message):
            import_labels(labelled, "doors", [bad])
        assert [c.version for c in labelled.log("doors")] == [1, 2]


def test_tags_name_versions_and_never_move(labelled: Store) -> None:
    labelled.tag("doors@1", "raw")
    assert labelled.snapshot("doors@raw").version == 1
    assert labelled.snapshot("doors@raw").labels().num_rows == 0
    assert labelled.log("doors")[0].tags == ("raw",)
    with pytest.raises(Exception, match="exists already"):
        labelled.tag("doors@2", "raw")
    with pytest.raises(NotFoundError):
        labelled.snapshot("doors@nope")
    with pytest.raises(NotFoundError):
        labelled.snapshot("doors@99")


def test_diff_reports_class_counts_per_site(labelled: Store) -> None:
    result = diff(labelled.snapshot("doors@1"), labelled.snapshot("doors@2"))
    data = json.loads(json.dumps(result.to_json()))
    total = sum(v["b"] for v in data["class_counts"]["atrium"].values())
    assert total == 18 and data["frames_added"] == 0
    assert {c["to"] for c in data["label_changes"]} == {"glass_door", "wooden_door", "no_door"}
    assert "| atrium | glass_door | 0 | 6 | +6 |" in result.to_markdown()


def test_a_write_that_never_committed_is_invisible_and_dropped(tmp_path: Path) -> None:
    store = Store(tmp_path)
    rows = [{"frame_id": frame_id("r", i), "recording_id": "r", "stamp_ns": i} for i in range(3)]
    store.commit(
        "d", kind="ingest", message="m", frames=pa.Table.from_pylist(rows, schema=FRAME_SCHEMA)
    )
    # A crash between writing frames and committing leaves an orphan frames version behind.
    import lance

    orphan = [{"frame_id": frame_id("r", 99), "recording_id": "r", "stamp_ns": 99}]
    lance.write_dataset(
        pa.Table.from_pylist(orphan, schema=FRAME_SCHEMA), store.uri("d", "frames"), mode="append"
    )
    assert store.snapshot("d").frame_count() == 3  # readers see only committed data
    more = [{"frame_id": frame_id("r", 5), "recording_id": "r", "stamp_ns": 5}]
    snap, _ = store.commit(
        "d", kind="ingest", message="m", frames=pa.Table.from_pylist(more, schema=FRAME_SCHEMA)
    )
    ids = set(snap.frames(["frame_id"]).column("frame_id").to_pylist())
    assert frame_id("r", 99) not in ids and len(ids) == 4
