"""Label files: the simulator's annotations, CSV and Label Studio, read and written."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from robotops.dataset.labelfiles import (
    LabelFileError,
    LabelFormat,
    ReviewStatus,
    TaskFrame,
    label_studio_config,
    label_studio_tasks,
    read_labels,
)
from robotops.errors import DataError, UsageError
from robotops.sim import CLASSES, LabelFaults, SimConfig, simulate

T0 = 1_767_241_043_000_037_446  # a real-looking stamp, beyond what a float holds exactly


def sim_labels(out: Path, **kwargs: Any) -> tuple[Path, dict[str, Any]]:
    config = {"recordings": 1, "frames": 4, "width": 32, "height": 24} | kwargs
    simulate(SimConfig(out_dir=out, **config))
    path = out / "atrium-0-000.labels.json"
    return path, json.loads(path.read_text())


def write(path: Path, content: str | list[Any] | dict[str, Any]) -> Path:
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


# --- simulator annotations ----------------------------------------------------------------------


def test_reads_the_simulators_annotation_file(tmp_path: Path) -> None:
    path, doc = sim_labels(tmp_path)
    labels = read_labels(path)
    assert labels.format == LabelFormat.SIM == "robotops-sim"
    assert labels.path == path
    assert labels.classes == CLASSES
    assert labels.skipped == 0
    assert [(r.key, r.label) for r in labels.records] == [
        (("atrium-0-000", f["stamp_ns"]), f["label"]) for f in doc["frames"]
    ]
    assert [r.box for r in labels.records] == [
        tuple(f["box"]) if f["box"] else None for f in doc["frames"]
    ]
    first = labels.records[0]
    assert first.annotator == "robotops-sim"
    assert first.review_status is ReviewStatus.REVIEWED
    assert first.reviewer is None and first.labelled_at_ns is None and first.frame_id is None


def test_missing_simulator_labels_are_skipped_and_counted(tmp_path: Path) -> None:
    path, doc = sim_labels(tmp_path, frames=8, faults=LabelFaults(missing=0.5))
    unlabelled = [f["stamp_ns"] for f in doc["frames"] if f["label"] is None]
    assert unlabelled  # the fault was injected
    labels = read_labels(path)
    assert labels.skipped == len(unlabelled)
    assert len(labels.records) + labels.skipped == 8
    assert not {r.stamp_ns for r in labels.records} & set(unlabelled)


# --- CSV ----------------------------------------------------------------------------------------


def test_csv_keyed_by_recording_and_stamp_with_boxes(tmp_path: Path) -> None:
    path = write(
        tmp_path / "labels.csv",
        "\ufeffrecording_id,stamp_ns,label,annotator,reviewer,review_status,x0,y0,x1,y1,labelled_at\n"
        f"rec-a,{T0},glass_door,ann,rev,reviewed,1,2,30,40,2024-05-01T12:00:00Z\n"
        f"rec-a,{T0 + 1},no_door,,,,,,,,\n"
        "\n"
        f"rec-b,{T0},,ann,,,,,,,\n",
    )
    labels = read_labels(path)
    assert labels.format == LabelFormat.CSV and labels.classes is None
    assert labels.skipped == 1  # the empty label cell
    first, second = labels.records
    assert first.key == ("rec-a", T0)
    assert (first.label, first.box, first.annotator, first.reviewer) == (
        "glass_door",
        (1, 2, 30, 40),
        "ann",
        "rev",
    )
    assert first.review_status is ReviewStatus.REVIEWED
    assert first.labelled_at_ns == 1_714_564_800 * 10**9
    assert second.key == ("rec-a", T0 + 1)
    assert (second.box, second.annotator, second.review_status) == (
        None,
        None,
        ReviewStatus.UNREVIEWED,
    )


def test_csv_keyed_by_frame_id(tmp_path: Path) -> None:
    path = write(
        tmp_path / "by_id.csv",
        "frame_id,label,labelled_at_ns\nf1,wooden_door,17\nf2,no_door,\n",
    )
    labels = read_labels(path)
    assert [(r.key, r.label, r.labelled_at_ns) for r in labels.records] == [
        ("f1", "wooden_door", 17),
        ("f2", "no_door", None),
    ]
    assert labels.records[0].recording_id == "" and labels.records[0].frame_id == "f1"


# --- Label Studio -------------------------------------------------------------------------------


def annotation(
    label: str | None = None,
    rect: tuple[float, float, float, float] | None = None,
    size: tuple[int, int] = (640, 480),
    at: str = "2024-05-01T12:00:00.000000Z",
    **extra: Any,
) -> dict[str, Any]:
    """An annotation as Label Studio exports it, for the config of ``label_studio_config``."""
    result: list[dict[str, Any]] = []
    if label is not None:
        result.append(
            {
                "id": "c1",
                "from_name": "door",
                "to_name": "image",
                "type": "choices",
                "origin": "manual",
                "value": {"choices": [label]},
            }
        )
    if rect is not None:
        x, y, w, h = rect
        result.append(
            {
                "id": "r1",
                "from_name": "box",
                "to_name": "image",
                "type": "rectanglelabels",
                "origin": "manual",
                "original_width": size[0],
                "original_height": size[1],
                "image_rotation": 0,
                "value": {
                    "x": x,
                    "y": y,
                    "width": w,
                    "height": h,
                    "rotation": 0,
                    "rectanglelabels": [label or "glass_door"],
                },
            }
        )
    return {
        "id": 1,
        "completed_by": 1,
        "result": result,
        "was_cancelled": False,
        "ground_truth": False,
        "created_at": at,
        "updated_at": at,
        "lead_time": 3.2,
        "task": 1,
    } | extra


def task(*annotations: dict[str, Any], task_id: int = 1, **data: Any) -> dict[str, Any]:
    data = {"image": "/data/x.png", "recording_id": "rec", "stamp_ns": T0} | data
    return {"id": task_id, "data": data, "annotations": list(annotations), "predictions": []}


def test_label_studio_round_trip_keeps_frame_keys(tmp_path: Path) -> None:
    _, doc = sim_labels(tmp_path / "sim")
    frames = [
        TaskFrame(
            f"fid{i}", "atrium-0-000", f["stamp_ns"], "atrium", f"/img/{i}.png", f["label"], 0.9
        )
        for i, f in enumerate(doc["frames"])
    ]
    tasks = label_studio_tasks(frames, CLASSES)
    assert tasks[0]["predictions"] == [
        {
            "result": [
                {
                    "from_name": "door",
                    "to_name": "image",
                    "type": "choices",
                    "value": {"choices": [frames[0].prediction]},
                }
            ],
            "score": 0.9,
        }
    ]
    # What Label Studio exports: the imported data untouched, ids, and the annotators' results.
    imported = json.loads(json.dumps(tasks))
    export = [
        {
            "id": 100 + i,
            "data": t["data"],
            "annotations": [
                annotation("wooden_door", rect=(25.0, 25.0, 50.0, 50.0), size=(32, 24))
            ],
            "predictions": t["predictions"],
        }
        for i, t in enumerate(imported)
    ]
    labels = read_labels(write(tmp_path / "export.json", export))
    assert labels.format == LabelFormat.LABEL_STUDIO and labels.skipped == 0
    assert [r.key for r in labels.records] == [("atrium-0-000", f.stamp_ns) for f in frames]
    assert [r.frame_id for r in labels.records] == [f.frame_id for f in frames]
    assert {(r.label, r.box) for r in labels.records} == {("wooden_door", (8, 6, 24, 18))}


def test_label_studio_choices_users_and_reviews(tmp_path: Path) -> None:
    export = [
        task(annotation("glass_door"), task_id=1, stamp_ns=T0),
        task(
            annotation(
                "no_door",
                completed_by={"id": 7, "email": "ann@example.com"},
                reviews=[
                    {"id": 1, "created_by": {"id": 3, "email": "a@x"}, "accepted": False},
                    {"id": 2, "created_by": {"id": 4, "email": "rev@x"}, "accepted": True},
                ],
            ),
            task_id=2,
            stamp_ns=str(T0 + 1),
        ),
        task(annotation("no_door", reviews=[{"accepted": False}]), task_id=3, stamp_ns=T0 + 2),
        task(task_id=4, stamp_ns=T0 + 3),  # not annotated yet
        task(annotation(), task_id=5, stamp_ns=T0 + 4),  # submitted empty
    ]
    labels = read_labels(write(tmp_path / "export.json", export))
    assert labels.skipped == 2
    one, two, three = labels.records
    assert (one.key, one.label, one.box) == (("rec", T0), "glass_door", None)
    assert (one.annotator, one.review_status) == ("label-studio-user-1", ReviewStatus.UNREVIEWED)
    assert one.labelled_at_ns == 1_714_564_800 * 10**9
    assert (two.key, two.annotator, two.reviewer) == (("rec", T0 + 1), "ann@example.com", "rev@x")
    assert two.review_status is ReviewStatus.REVIEWED
    assert three.review_status is ReviewStatus.REJECTED


def test_label_studio_rectangle_percent_becomes_pixels(tmp_path: Path) -> None:
    export = [task(annotation(rect=(10.0, 20.0, 30.0, 40.0), size=(640, 480)))]
    (record,) = read_labels(write(tmp_path / "export.json", export)).records
    # 10 % of 640 = 64, 40 % = 256; 20 % of 480 = 96, 60 % = 288. The label comes from the box.
    assert (record.label, record.box) == ("glass_door", (64, 96, 256, 288))


def test_label_studio_ignores_cancelled_annotations(tmp_path: Path) -> None:
    export = [
        task(
            annotation("glass_door", at="2024-05-01T10:00:00Z"),
            annotation("no_door", at="2024-05-01T11:00:00Z", was_cancelled=True),
            task_id=1,
        ),
        task(annotation("no_door", was_cancelled=True), task_id=2, stamp_ns=T0 + 1),
    ]
    labels = read_labels(write(tmp_path / "export.json", export))
    assert [r.label for r in labels.records] == ["glass_door"]
    assert labels.skipped == 1


def test_label_studio_latest_annotation_wins(tmp_path: Path) -> None:
    # Listed newest first, so list order alone would pick the wrong one.
    export = [
        task(
            annotation("wooden_door", at="2024-05-02T09:00:00+00:00"),
            annotation("glass_door", at="2024-05-01T09:00:00+00:00"),
        )
    ]
    (record,) = read_labels(write(tmp_path / "export.json", export)).records
    assert record.label == "wooden_door"
    assert record.labelled_at_ns == 1_714_640_400 * 10**9


def test_label_studio_config_names_the_tags_the_reader_expects() -> None:
    root = ET.fromstring(label_studio_config(["glass_door", "a&b"]))
    image = root.find("Image")
    assert image is not None and image.attrib == {"name": "image", "value": "$image"}
    choices = root.find("Choices")
    assert choices is not None
    assert (choices.get("name"), choices.get("toName"), choices.get("choice")) == (
        "door",
        "image",
        "single",
    )
    assert [c.get("value") for c in choices.iter("Choice")] == ["glass_door", "a&b"]
    boxes = root.find("RectangleLabels")
    assert boxes is not None and (boxes.get("name"), boxes.get("toName")) == ("box", "image")
    assert [c.get("value") for c in boxes.iter("Label")] == ["glass_door", "a&b"]


def test_label_studio_tasks_refuse_a_prediction_outside_the_classes() -> None:
    frame = TaskFrame("f", "rec", T0, "atrium", "/i.png", prediction="cat")
    with pytest.raises(UsageError, match="'cat'"):
        label_studio_tasks([frame], CLASSES)
    plain = label_studio_tasks([TaskFrame("f", "rec", T0, "atrium", "/i.png")], CLASSES)
    assert plain == [
        {
            "data": {
                "image": "/i.png",
                "frame_id": "f",
                "recording_id": "rec",
                "stamp_ns": str(T0),
                "site": "atrium",
            }
        }
    ]


# --- errors -------------------------------------------------------------------------------------

SIM = {"format": "robotops-sim-annotations/1", "recording_id": "r", "classes": ["a", "b"]}
CHOICE = annotation("glass_door")["result"][0]
RECT = annotation(rect=(1.0, 2.0, 30.0, 40.0))["result"][0]


def results(*items: dict[str, Any], **extra: Any) -> list[dict[str, Any]]:
    """An export of one task whose annotation has ``items`` as its result."""
    return [task(annotation(**extra) | {"result": list(items)})]


ERRORS: list[tuple[str, str | list[Any] | dict[str, Any], str]] = [
    (
        "labels.csv",
        "recording_id,stamp_ns,label\n" + "".join(f"r,{i},a\n" for i in range(5)) + "r,abc,a\n",
        "labels.csv line 7: stamp_ns 'abc' is not an integer",
    ),
    (
        "export.json",
        [task(annotation("a"), task_id=12, recording_id=None, stamp_ns=None)],
        "export.json task 12: has no frame_id or recording_id/stamp_ns",
    ),
    (
        "x.txt",
        "just some words\n",
        "x.txt: unknown label file format (expected robotops sim annotations, CSV or Label Studio "
        "JSON)",
    ),
    ("broken.json", '[{"id": 1,\n "data": }]', "broken.json: invalid JSON at line 2 column 10"),
    ("notjson.json", "frame_id,label\n", "notjson.json: invalid JSON at line 1 column 1"),
    ("empty.csv", " \n\n", "empty.csv: empty file"),
    ("nolabel.csv", "frame_id,class\nf,a\n", "nolabel.csv line 1: missing column 'label'"),
    (
        "newline.csv",
        'frame_id,"cl\nass"\nf,a\n',
        "newline.csv line 2: missing column 'label' (header: frame_id, cl ass)",
    ),
    ("nokey.csv", "recording_id,label\nr,a\n", "nokey.csv line 1: missing column 'frame_id'"),
    ("dup.csv", "frame_id,label,Label\nf,a,b\n", "dup.csv line 1: column 'label' appears twice"),
    ("box.csv", "frame_id,label,x0,y0,x1\nf,a,1,2,3\n", "box.csv line 1: box columns"),
    (
        "status.csv",
        'frame_id,label,review_status\nf,a,"approved\nby me"\n',
        "status.csv line 3: review_status 'approved\\nby me' is not one of unreviewed, reviewed",
    ),
    ("fields.csv", "frame_id,label\nf,a,extra\n", "fields.csv line 2: 3 fields"),
    ("half.csv", "frame_id,label,x0,y0,x1,y1\nf,a,1,2,,\n", "half.csv line 2: box needs all"),
    ("flat.csv", "frame_id,label,x0,y0,x1,y1\nf,a,5,2,5,9\n", "flat.csv line 2: box (5, 2, 5, 9)"),
    (
        "twice.csv",
        "frame_id,label\nf,a\nf,b\n",
        "twice.csv line 3: labels the same frame as line 2",
    ),
    ("pair.csv", "recording_id,stamp_ns,label\nr,,a\n", "pair.csv line 2: recording_id and"),
    ("when.csv", "frame_id,label,labelled_at\nf,a,yesterday\n", "when.csv line 2: labelled_at"),
    (
        "v2.labels.json",
        SIM | {"format": "robotops-sim-annotations/2"},
        "v2.labels.json: annotation",
    ),
    ("nof.labels.json", SIM, "nof.labels.json: frames is missing"),
    (
        "stamp.labels.json",
        SIM | {"frames": [{"stamp_ns": 1.5, "label": "a"}]},
        "stamp.labels.json frame 0: stamp_ns 1.5 is not an integer",
    ),
    (
        "sbox.labels.json",
        SIM | {"frames": [{"stamp_ns": 1, "label": "a", "box": [1, 2, 3]}]},
        "sbox.labels.json frame 0: box [1, 2, 3] is not [x0, y0, x1, y1]",
    ),
    (
        "sstatus.labels.json",
        SIM | {"review_status": "done", "frames": []},
        "sstatus.labels.json: review_status 'done' is not one of",
    ),
    ("dict.json", {"tasks": []}, "dict.json: unknown label file format"),
    ("min.json", [{"id": 3, "door": "a"}], "min.json task 3: has no data object"),
    (
        "two.json",
        [task(annotation("a"), task_id=1), task(annotation("b"), task_id=2)],
        "two.json task 2: labels the same frame as task 1",
    ),
    (
        "multi.json",
        results(CHOICE | {"value": {"choices": ["b", "a"]}}),
        "multi.json task 1: chooses more than one class: a, b",
    ),
    (
        "review.json",
        results(CHOICE, reviews=[{"accepted": "yes"}]),
        "review.json task 1: review has no accepted true/false",
    ),
    (
        "size.json",
        results({k: v for k, v in RECT.items() if k != "original_height"}),
        "size.json task 1: rectangle has no original_width/original_height",
    ),
    (
        "rot.json",
        results(RECT | {"value": RECT["value"] | {"rotation": 30}}),
        "rot.json task 1: rectangle is rotated by 30 degrees",
    ),
    ("rects.json", results(RECT, RECT), "rects.json task 1: has 2 rectangles"),
    (
        "clash.json",
        results(CHOICE, RECT | {"value": RECT["value"] | {"rectanglelabels": ["wooden_door"]}}),
        "clash.json task 1: chooses 'glass_door' but its rectangle says 'wooden_door'",
    ),
    (
        "time.json",
        [task(annotation("a", at="soon"))],
        "time.json task 1: updated_at 'soon' is not an ISO 8601 time",
    ),
]


@pytest.mark.parametrize(("name", "content", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_malformed_files_fail_with_one_line_naming_file_and_place(
    tmp_path: Path, name: str, content: str | list[Any] | dict[str, Any], message: str
) -> None:
    with pytest.raises(LabelFileError) as caught:
        read_labels(write(tmp_path / name, content))
    text = str(caught.value)
    assert text.startswith(message)
    assert "\n" not in text and "\r" not in text
    assert isinstance(caught.value, DataError) and caught.value.exit_code == 3


def test_missing_file_is_a_label_file_error(tmp_path: Path) -> None:
    with pytest.raises(LabelFileError, match=r"^gone\.csv: cannot read"):
        read_labels(tmp_path / "gone.csv")
