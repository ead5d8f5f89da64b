"""Label Studio export: images as stored, tasks and config, selection, no partial output."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from PIL import Image

from robotops import ConflictError, DataError, UsageError
from robotops.config import Config
from robotops.dataset.export import export_tasks
from robotops.dataset.labelfiles import label_studio_config
from robotops.dataset.labels import import_labels
from robotops.dataset.schema import FRAME_SCHEMA, frame_id
from robotops.dataset.store import Snapshot, Store
from robotops.ingest.ingest import ingest

CLASSES = ("glass_door", "wooden_door", "no_door")


@pytest.fixture
def partly_labelled(small_recordings: Path, tmp_path: Path) -> Store:
    """Three recordings of six frames; the first two labelled, the third not."""
    store = Store(tmp_path / "store")
    ingest(sorted(p for p in small_recordings.iterdir() if p.is_dir()), store, "doors", Config())
    import_labels(store, "doors", sorted(small_recordings.glob("*.labels.json"))[:2])
    return store


def unlabelled_rows(snap: Snapshot) -> list[dict[str, Any]]:
    return [r for r in snap.index().to_pylist() if r["label"] is None]


def leftovers(folder: Path) -> list[str]:
    """Temporary folders an export left beside its output."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def encoded(fmt: str, rgb: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), rgb).save(buffer, format=fmt)
    return buffer.getvalue()


def test_exports_exactly_the_unlabelled_frames_with_their_bytes(
    partly_labelled: Store, tmp_path: Path
) -> None:
    snap = partly_labelled.snapshot("doors")
    out = tmp_path / "batch"
    result = export_tasks(snap, out)
    expected = unlabelled_rows(snap)
    assert len(expected) == 6 and {r["recording_id"] for r in expected} == {"atrium-0-002"}
    assert (result.tasks, result.images, result.skipped_labelled) == (6, 6, 12)
    assert result.skipped_no_image == 0 and result.tasks_path == out / "tasks.json"

    stored = {r["frame_id"]: r["rgb"] for r in snap.frames(["frame_id", "rgb"]).to_pylist()}
    written = {p.name: p.read_bytes() for p in (out / "images").iterdir()}
    assert written == {f"{r['frame_id']}.png": stored[r["frame_id"]] for r in expected}

    tasks = json.loads((out / "tasks.json").read_text())
    assert [t["data"] for t in tasks] == [
        {
            "image": f"/data/local-files/?d=images/{r['frame_id']}.png",
            "frame_id": r["frame_id"],
            "recording_id": "atrium-0-002",
            "stamp_ns": str(r["stamp_ns"]),  # a string: JavaScript numbers lose nanoseconds
            "site": "atrium",
        }
        for r in expected  # in recording and time order
    ]
    assert (out / "label_config.xml").read_text() == label_studio_config(CLASSES)
    assert sorted(p.name for p in out.iterdir()) == ["images", "label_config.xml", "tasks.json"]
    assert leftovers(tmp_path) == []


def ls_export(tasks: list[dict[str, Any]], labels: list[str]) -> list[dict[str, Any]]:
    """What Label Studio's JSON export holds after annotators chose ``labels`` for ``tasks``."""
    return [
        {
            "id": 40 + i,
            "data": task["data"],
            "annotations": [
                {
                    "id": 70 + i,
                    "completed_by": {"id": 3, "email": "ann@example.com"},
                    "result": [
                        {
                            "id": f"r{i}",
                            "from_name": "door",
                            "to_name": "image",
                            "type": "choices",
                            "origin": "manual",
                            "value": {"choices": [label]},
                        }
                    ],
                    "was_cancelled": False,
                    "created_at": "2026-05-04T09:30:00.000000Z",
                    "updated_at": "2026-05-04T09:31:00.000000Z",
                    "task": 40 + i,
                }
            ],
            "predictions": [],
        }
        for i, (task, label) in enumerate(zip(tasks, labels, strict=True))
    ]


def test_label_studio_round_trip_lands_labels_on_their_frames(
    partly_labelled: Store, tmp_path: Path
) -> None:
    before = partly_labelled.snapshot("doors")
    result = export_tasks(before, tmp_path / "batch", image_url_prefix="")
    tasks = json.loads(result.tasks_path.read_text())
    assert tasks[0]["data"]["image"] == f"images/{tasks[0]['data']['frame_id']}.png"
    chosen = [CLASSES[i % 3] for i in range(len(tasks))]
    export = tmp_path / "project-1-at-2026-05-04.json"
    export.write_text(json.dumps(ls_export(tasks, chosen)))

    imported = import_labels(partly_labelled, "doors", [export])
    assert imported.new_version and imported.changed == 6
    after = {r["frame_id"]: r for r in imported.snapshot.labels().to_pylist()}
    for task, label in zip(tasks, chosen, strict=True):
        row = after[task["data"]["frame_id"]]
        assert (row["label"], row["annotator"]) == (label, "ann@example.com")
    old = before.labels().to_pylist()
    assert all(after[r["frame_id"]] == r for r in old)  # earlier labels untouched
    assert unlabelled_rows(imported.snapshot) == []
    # Nothing left to label: the next export is empty.
    empty = export_tasks(imported.snapshot, tmp_path / "next")
    assert empty.tasks == 0 and json.loads(empty.tasks_path.read_text()) == []


def test_frame_ids_choose_the_frames_and_unknown_ids_write_nothing(
    partly_labelled: Store, tmp_path: Path
) -> None:
    snap = partly_labelled.snapshot("doors")
    rows = snap.index().to_pylist()
    chosen = [rows[-1]["frame_id"], rows[0]["frame_id"], rows[1]["frame_id"]]  # 1 unlabelled
    relabel = export_tasks(snap, tmp_path / "relabel", frame_ids=chosen, unlabelled_only=False)
    tasks = json.loads(relabel.tasks_path.read_text())
    assert [t["data"]["frame_id"] for t in tasks] == chosen  # in the order asked
    only_new = export_tasks(snap, tmp_path / "new", frame_ids=chosen)
    assert (only_new.tasks, only_new.skipped_labelled) == (1, 2)

    out = tmp_path / "bad"
    with pytest.raises(DataError, match=r"2 frame id\(s\) not in doors@2 \(first: nope, gone\)"):
        export_tasks(snap, out, frame_ids=[chosen[0], "nope", "gone"])
    assert not out.exists() and leftovers(tmp_path) == []


def test_predictions_become_pre_annotations_of_their_frames_only(
    partly_labelled: Store, tmp_path: Path
) -> None:
    snap = partly_labelled.snapshot("doors")
    first, second = (r["frame_id"] for r in unlabelled_rows(snap)[:2])
    result = export_tasks(snap, tmp_path / "out", predictions={first: ("no_door", 0.41)})
    tasks = {t["data"]["frame_id"]: t for t in json.loads(result.tasks_path.read_text())}
    [prediction] = tasks[first]["predictions"]
    assert prediction["result"][0]["value"] == {"choices": ["no_door"]}
    assert prediction["score"] == 0.41
    assert "predictions" not in tasks[second]

    with pytest.raises(UsageError, match="prediction 'cat' is not one of the classes"):
        export_tasks(snap, tmp_path / "bad", predictions={first: ("cat", 0.9)})
    assert not (tmp_path / "bad").exists() and leftovers(tmp_path) == []


def test_frames_without_colour_are_skipped_and_jpeg_stays_jpeg(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    jpeg, png = encoded("JPEG", (200, 10, 10)), encoded("PNG", (10, 200, 10))
    rows = [
        {"recording_id": "r", "site": "lab", "stamp_ns": 1, "rgb": jpeg, "rgb_format": "jpeg"},
        {"recording_id": "r", "site": None, "stamp_ns": 2, "rgb": None, "rgb_format": None},
        {"recording_id": "r", "site": None, "stamp_ns": 3, "rgb": png, "rgb_format": "png"},
    ]
    for row in rows:
        row["frame_id"] = frame_id("r", row["stamp_ns"])
    table = pa.Table.from_pylist(rows, schema=FRAME_SCHEMA)
    store.commit("cams", kind="ingest", message="m", frames=table, classes=CLASSES)
    result = export_tasks(store.snapshot("cams"), tmp_path / "out")
    assert (result.tasks, result.skipped_no_image, result.skipped_labelled) == (2, 1, 0)
    images = tmp_path / "out" / "images"
    assert (images / f"{frame_id('r', 1)}.jpg").read_bytes() == jpeg
    assert (images / f"{frame_id('r', 3)}.png").read_bytes() == png
    tasks = json.loads(result.tasks_path.read_text())
    assert [t["data"]["site"] for t in tasks] == ["lab", ""]


def test_an_existing_folder_is_refused_and_a_failure_leaves_nothing(
    partly_labelled: Store, tmp_path: Path
) -> None:
    snap = partly_labelled.snapshot("doors")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    with pytest.raises(ConflictError, match="exists and is not empty"):
        export_tasks(snap, taken)
    assert [p.name for p in taken.iterdir()] == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert export_tasks(snap, empty).tasks == 6  # an empty folder is fine

    # A frame whose colour bytes are neither PNG nor JPEG fails after others were written.
    store = Store(tmp_path / "odd")
    rows = [
        {"recording_id": "r", "stamp_ns": 1, "rgb": encoded("PNG", (1, 2, 3)), "rgb_format": "png"},
        {"recording_id": "r", "stamp_ns": 2, "rgb": b"GIF89a....", "rgb_format": "gif"},
    ]
    for row in rows:
        row["frame_id"] = frame_id("r", row["stamp_ns"])
    table = pa.Table.from_pylist(rows, schema=FRAME_SCHEMA)
    store.commit("odd", kind="ingest", message="m", frames=table, classes=CLASSES)
    out = tmp_path / "deep" / "out"
    with pytest.raises(DataError, match="format 'gif' is neither PNG nor JPEG"):
        export_tasks(store.snapshot("odd"), out)
    assert not out.exists() and leftovers(tmp_path / "deep") == []
