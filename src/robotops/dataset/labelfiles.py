"""Label files in and out of the dataset stage: pure parsing and writing, no store involved.

Three formats are read, told apart by their content rather than their file name:

* the simulator's ``*.labels.json`` (``"format": "robotops-sim-annotations/1"``),
* CSV with a header: ``label`` and either ``frame_id`` or ``recording_id`` + ``stamp_ns``;
  optionally ``annotator``, ``reviewer``, ``review_status``, ``labelled_at_ns`` or
  ``labelled_at`` (ISO 8601) and the box as ``x0, y0, x1, y1``,
* Label Studio's JSON export (a list of tasks), of tasks made by :func:`label_studio_tasks`.

A frame is named either by ``(recording_id, stamp_ns)``, the stamp being the colour frame's
header stamp, or by the dataset's ``frame_id``. Frames a file leaves unlabelled are skipped and
counted. Anything malformed raises :class:`LabelFileError`, whose message is one line naming
the file, the place in it and the problem.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from robotops.errors import DataError, UsageError

SIM_FORMAT = "robotops-sim-annotations/1"
"""The ``format`` value of the simulator's annotation files."""

# Names of the tags in the Label Studio labelling config; exported tasks and read-back agree.
LS_IMAGE = "image"
LS_CHOICES = "door"
LS_BOX = "box"

_BOX_COLUMNS = ("x0", "y0", "x1", "y1")
_KNOWN_COLUMNS = frozenset(
    {"frame_id", "recording_id", "stamp_ns", "label", "annotator", "reviewer", "review_status"}
    | {"labelled_at_ns", "labelled_at", *_BOX_COLUMNS}
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Box = tuple[int, int, int, int]


class LabelFileError(DataError):
    """A label file is unreadable or malformed; the message is one line naming file and place."""


class ReviewStatus(StrEnum):
    """Where a label stands in review."""

    UNREVIEWED = "unreviewed"
    REVIEWED = "reviewed"
    REJECTED = "rejected"


class LabelFormat(StrEnum):
    """The label file formats :func:`read_labels` understands."""

    SIM = "robotops-sim"
    CSV = "csv"
    LABEL_STUDIO = "label-studio"


@dataclass(frozen=True)
class LabelRecord:
    """One frame's label as a file states it.

    A record names its frame by ``(recording_id, stamp_ns)``, by ``frame_id``, or by both (tasks
    exported by robotops carry both). When a file gives only the frame id, ``recording_id`` is
    ``""`` and ``stamp_ns`` is ``0``; :attr:`key` hides that difference.

    Attributes:
        recording_id: The recording, or ``""`` when only ``frame_id`` is known.
        stamp_ns: Header stamp of the colour frame, or ``0`` when only ``frame_id`` is known.
        label: The class name.
        box: Door box in pixels as ``(x0, y0, x1, y1)``, or None.
        annotator: Who labelled the frame, when known.
        reviewer: Who reviewed the label, when known.
        review_status: Where the label stands in review.
        labelled_at_ns: When the label was made (Unix epoch, ns), when known.
        frame_id: The dataset's frame id, when the file names it.
    """

    recording_id: str
    stamp_ns: int
    label: str
    box: Box | None
    annotator: str | None
    reviewer: str | None
    review_status: ReviewStatus
    labelled_at_ns: int | None
    frame_id: str | None = None

    def __post_init__(self) -> None:
        if not self.recording_id and not self.frame_id:
            raise ValueError("a label record needs a recording_id or a frame_id")

    @property
    def key(self) -> tuple[str, int] | str:
        """How the record finds its frame: ``(recording_id, stamp_ns)``, else the frame id."""
        if self.recording_id:
            return (self.recording_id, self.stamp_ns)
        return self.frame_id or ""


@dataclass(frozen=True)
class LabelFile:
    """The labels read from one file.

    Attributes:
        path: The file read.
        format: Which format it was in.
        records: One record per labelled frame, in file order.
        skipped: Frames the file lists without a label (null label, empty cell, task without a
            non-cancelled annotation or with an empty result).
        classes: The classes the file declares (only the simulator's files do), else None.
    """

    path: Path
    format: LabelFormat
    records: list[LabelRecord]
    skipped: int
    classes: tuple[str, ...] | None = None


@dataclass(frozen=True)
class TaskFrame:
    """A frame to put in front of annotators in Label Studio.

    Attributes:
        frame_id: The dataset's frame id.
        recording_id: The recording the frame belongs to.
        stamp_ns: Header stamp of the colour frame.
        site: The site the recording was made at.
        image_url: Where Label Studio loads the image from.
        prediction: A model's class for the frame, shown as a pre-annotation; None for none.
        score: The model's confidence in ``prediction``; unused without a prediction.
    """

    frame_id: str
    recording_id: str
    stamp_ns: int
    site: str
    image_url: str
    prediction: str | None = None
    score: float | None = None


def read_labels(path: Path) -> LabelFile:
    """Read a label file, telling its format from its content.

    Args:
        path: A simulator annotation file, a CSV file or a Label Studio JSON export.

    Returns:
        The labelled frames, how many unlabelled frames were skipped, and declared classes.

    Raises:
        LabelFileError: The file cannot be read, its format is unknown, or it is malformed.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise _error(path, "", f"cannot read: {err.strerror or err}") from err
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise _error(path, "", f"not UTF-8 text (byte {err.start})") from err
    stripped = text.lstrip()
    if not stripped:
        raise _error(path, "", "empty file")
    if stripped[0] in "{[" or path.suffix.lower() == ".json":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as err:
            where = f"line {err.lineno} column {err.colno}"
            raise _error(path, "", f"invalid JSON at {where}: {err.msg}") from err
        if isinstance(doc, dict) and "format" in doc:
            if doc["format"] != SIM_FORMAT:
                problem = f"annotation format {_show(doc['format'])} is not {SIM_FORMAT!r}"
                raise _error(path, "", problem)
            return _read_sim(path, doc)
        if isinstance(doc, list):
            return _read_label_studio(path, doc)
    else:
        header = next(csv.reader([stripped.splitlines()[0]]), [])
        if len(header) >= 2 or {h.strip().lower() for h in header} & _KNOWN_COLUMNS:
            return _read_csv(path, text)
    expected = "expected robotops sim annotations, CSV or Label Studio JSON"
    raise _error(path, "", f"unknown label file format ({expected})")


# --- simulator annotations ----------------------------------------------------------------------


def _read_sim(path: Path, doc: dict[str, Any]) -> LabelFile:
    recording_id = doc.get("recording_id")
    if not isinstance(recording_id, str) or not recording_id:
        raise _error(path, "", "recording_id is missing or not a non-empty string")
    classes = doc.get("classes")
    if not isinstance(classes, list) or not all(isinstance(c, str) and c for c in classes):
        raise _error(path, "", "classes is missing or not a list of names")
    annotator = _optional_str(path, "", "annotator", doc.get("annotator"))
    status = _review_status(path, "", doc.get("review_status", ReviewStatus.UNREVIEWED.value))
    frames = doc.get("frames")
    if not isinstance(frames, list):
        raise _error(path, "", "frames is missing or not a list")
    records: list[LabelRecord] = []
    seen: dict[int, int] = {}
    skipped = 0
    for i, frame in enumerate(frames):
        where = f"frame {i}"
        if not isinstance(frame, dict):
            raise _error(path, where, "is not an object")
        stamp_ns = _stamp(path, where, frame.get("stamp_ns"))
        if stamp_ns in seen:
            raise _error(path, where, f"stamp_ns {stamp_ns} repeats frame {seen[stamp_ns]}")
        seen[stamp_ns] = i
        label = frame.get("label")
        if label is None:
            skipped += 1
            continue
        if not isinstance(label, str) or not label.strip():
            raise _error(path, where, f"label {_show(label)} is not a class name")
        records.append(
            LabelRecord(
                recording_id=recording_id,
                stamp_ns=stamp_ns,
                label=label.strip(),
                box=_json_box(path, where, frame.get("box")),
                annotator=annotator,
                reviewer=None,
                review_status=status,
                labelled_at_ns=None,
            )
        )
    return LabelFile(path, LabelFormat.SIM, records, skipped, tuple(classes))


def _json_box(path: Path, where: str, value: Any) -> Box | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 4:
        raise _error(path, where, f"box {_show(value)} is not [x0, y0, x1, y1]")
    corners = [_int(path, where, n, v) for n, v in zip(_BOX_COLUMNS, value, strict=True)]
    return _box(path, where, corners)


# --- CSV ----------------------------------------------------------------------------------------


def _read_csv(path: Path, text: str) -> LabelFile:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next((row for row in reader if any(cell.strip() for cell in row)), None)
    if header is None:
        raise _error(path, "", "no CSV header")
    header = [h.strip().lower() for h in header]
    where = f"line {reader.line_num}"
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise _error(path, where, f"column {dupes[0]!r} appears twice")
    if "label" not in header:
        raise _error(path, where, f"missing column 'label' (header: {', '.join(header)})")
    by_stamp = "recording_id" in header and "stamp_ns" in header
    if "frame_id" not in header and not by_stamp:
        raise _error(path, where, "missing column 'frame_id' or columns 'recording_id','stamp_ns'")
    box_cols = [c for c in _BOX_COLUMNS if c in header]
    if box_cols and len(box_cols) != 4:
        missing = ", ".join(c for c in _BOX_COLUMNS if c not in header)
        raise _error(path, where, f"box columns x0, y0, x1, y1 go together; missing {missing}")

    records: list[LabelRecord] = []
    seen: dict[tuple[str, int] | str, str] = {}
    skipped = 0
    for row in reader:
        where = f"line {reader.line_num}"
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise _error(path, where, f"{len(row)} fields where the header has {len(header)}")
        cells = {h: (c.strip() or None) for h, c in zip(header, row, strict=True)}
        frame_id = cells.get("frame_id")
        recording_id, stamp = cells.get("recording_id"), cells.get("stamp_ns")
        if (recording_id is None) != (stamp is None):
            raise _error(path, where, "recording_id and stamp_ns must both be given or neither")
        if frame_id is None and recording_id is None:
            raise _error(path, where, "no frame_id or recording_id/stamp_ns")
        stamp_ns = 0 if stamp is None else _stamp(path, where, _parse_int(path, where, stamp))
        label = cells["label"]
        if label is None:
            skipped += 1
            continue
        record = LabelRecord(
            recording_id=recording_id or "",
            stamp_ns=stamp_ns,
            label=label,
            box=_csv_box(path, where, cells) if box_cols else None,
            annotator=cells.get("annotator"),
            reviewer=cells.get("reviewer"),
            review_status=_review_status(path, where, cells.get("review_status") or "unreviewed"),
            labelled_at_ns=_csv_labelled_at(path, where, cells),
            frame_id=frame_id,
        )
        _claim(path, where, seen, record)
        records.append(record)
    return LabelFile(path, LabelFormat.CSV, records, skipped)


def _csv_box(path: Path, where: str, cells: dict[str, str | None]) -> Box | None:
    values = [cells[c] for c in _BOX_COLUMNS]
    if all(v is None for v in values):
        return None
    if any(v is None for v in values):
        raise _error(path, where, "box needs all of x0, y0, x1, y1 or none")
    corners = [_parse_int(path, where, v, n) for n, v in zip(_BOX_COLUMNS, values, strict=True)]
    return _box(path, where, corners)


def _csv_labelled_at(path: Path, where: str, cells: dict[str, str | None]) -> int | None:
    if (ns := cells.get("labelled_at_ns")) is not None:
        return _parse_int(path, where, ns, "labelled_at_ns")
    if (iso := cells.get("labelled_at")) is not None:
        return _iso_ns(path, where, "labelled_at", iso)
    return None


# --- Label Studio -------------------------------------------------------------------------------


def label_studio_config(classes: Sequence[str]) -> str:
    """The labelling config to paste into a Label Studio project for :func:`label_studio_tasks`.

    One required single choice of class for the whole image (``door``), and optional class
    boxes (``box``) that cannot be rotated, since the dataset stores axis-aligned boxes.

    Args:
        classes: The class names, in the order annotators should see them.

    Raises:
        UsageError: ``classes`` is empty or repeats a name.
    """
    _check_classes(classes)
    choices = "".join(f"\n    <Choice value={quoteattr(c)}/>" for c in classes)
    labels = "".join(f"\n    <Label value={quoteattr(c)}/>" for c in classes)
    return (
        "<View>\n"
        f'  <Image name="{LS_IMAGE}" value="$image"/>\n'
        f'  <Choices name="{LS_CHOICES}" toName="{LS_IMAGE}" choice="single" showInline="true"'
        f' required="true">{choices}\n  </Choices>\n'
        f'  <RectangleLabels name="{LS_BOX}" toName="{LS_IMAGE}" canRotate="false">{labels}\n'
        "  </RectangleLabels>\n"
        "</View>\n"
    )


def label_studio_tasks(frames: Iterable[TaskFrame], classes: Sequence[str]) -> list[dict[str, Any]]:
    """Label Studio import tasks for ``frames``, with a model's class as pre-annotation.

    ``stamp_ns`` goes into the task as a decimal string: nanosecond stamps exceed the 2**53 that
    JavaScript numbers hold exactly, and a task passes through browsers and JS tools.
    :func:`read_labels` accepts it as string or number.

    Args:
        frames: The frames to label.
        classes: The project's classes; predictions must be among them.

    Returns:
        One task per frame, ready to be written as a JSON list and imported.

    Raises:
        UsageError: ``classes`` is empty or repeats a name, or a prediction is not a class.
    """
    _check_classes(classes)
    tasks = []
    for frame in frames:
        task: dict[str, Any] = {
            "data": {
                LS_IMAGE: frame.image_url,
                "frame_id": frame.frame_id,
                "recording_id": frame.recording_id,
                "stamp_ns": str(frame.stamp_ns),
                "site": frame.site,
            }
        }
        if frame.prediction is not None:
            if frame.prediction not in classes:
                raise UsageError(
                    f"frame {frame.frame_id}: prediction {frame.prediction!r} is not one of the "
                    f"classes {', '.join(classes)}"
                )
            prediction: dict[str, Any] = {
                "result": [
                    {
                        "from_name": LS_CHOICES,
                        "to_name": LS_IMAGE,
                        "type": "choices",
                        "value": {"choices": [frame.prediction]},
                    }
                ]
            }
            if frame.score is not None:
                prediction["score"] = float(frame.score)
            task["predictions"] = [prediction]
        tasks.append(task)
    return tasks


def _check_classes(classes: Sequence[str]) -> None:
    if isinstance(classes, str) or not classes:
        raise UsageError("classes must be a non-empty list of class names")
    if len(set(classes)) != len(classes):
        raise UsageError(f"classes repeat a name: {', '.join(classes)}")


def _read_label_studio(path: Path, tasks: list[Any]) -> LabelFile:
    records: list[LabelRecord] = []
    seen: dict[tuple[str, int] | str, str] = {}
    skipped = 0
    for i, task in enumerate(tasks):
        if not isinstance(task, dict):
            raise _error(path, f"item {i}", "is not a task object")
        where = f"task {task['id']}" if isinstance(task.get("id"), int | str) else f"item {i}"
        data = task.get("data")
        if not isinstance(data, dict):
            raise _error(path, where, "has no data object (JSON-MIN and CSV exports are not read)")
        frame_id = _optional_str(path, where, "frame_id", data.get("frame_id")) or None
        recording_id = _optional_str(path, where, "recording_id", data.get("recording_id"))
        stamp = data.get("stamp_ns")
        if not recording_id or stamp is None:
            recording_id, stamp = None, None
            if frame_id is None:
                raise _error(path, where, "has no frame_id or recording_id/stamp_ns")
        if isinstance(stamp, str):  # as label_studio_tasks writes it
            stamp = _parse_int(path, where, stamp)
        stamp_ns = 0 if stamp is None else _stamp(path, where, stamp)
        annotation = _latest_annotation(path, where, task.get("annotations", []))
        if annotation is None or (found := _ls_result(path, where, annotation)) is None:
            skipped += 1
            continue
        label, box = found
        reviewer, status = _ls_review(path, where, annotation)
        record = LabelRecord(
            recording_id=recording_id or "",
            stamp_ns=stamp_ns,
            label=label,
            box=box,
            annotator=_ls_user(annotation.get("completed_by")),
            reviewer=reviewer,
            review_status=status,
            labelled_at_ns=_ls_time(path, where, annotation),
            frame_id=frame_id,
        )
        _claim(path, where, seen, record)
        records.append(record)
    return LabelFile(path, LabelFormat.LABEL_STUDIO, records, skipped)


def _latest_annotation(path: Path, where: str, annotations: Any) -> dict[str, Any] | None:
    """The task's latest non-cancelled annotation; ties and missing times go by list order."""
    if not isinstance(annotations, list):
        raise _error(path, where, "annotations is not a list")
    live: list[tuple[int, int, dict[str, Any]]] = []
    for j, annotation in enumerate(annotations):
        if not isinstance(annotation, dict):
            raise _error(path, where, f"annotation {j} is not an object")
        if not annotation.get("was_cancelled", False):
            when = _ls_time(path, where, annotation)
            live.append((-1 if when is None else when, j, annotation))
    return max(live, key=lambda t: t[:2])[2] if live else None


def _ls_result(path: Path, where: str, annotation: dict[str, Any]) -> tuple[str, Box | None] | None:
    """The class and box of an annotation, or None when it labels nothing."""
    result = annotation.get("result", [])
    if not isinstance(result, list):
        raise _error(path, where, "annotation result is not a list")
    choices: dict[str, set[str]] = {}  # by the control tag's name
    boxes: list[tuple[str, Box]] = []
    for item in result:
        if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
            raise _error(path, where, "annotation result item has no value object")
        value = item["value"]
        if item.get("type") == "choices":
            names = value.get("choices")
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise _error(path, where, f"choices {_show(names)} is not a list of names")
            choices.setdefault(str(item.get("from_name")), set()).update(names)
        elif item.get("type") == "rectanglelabels":
            boxes.append(_ls_box(path, where, item, value))
    # Our config's class choice wins; other choice tags a user added to the config don't count.
    chosen = choices.get(LS_CHOICES) or set().union(*choices.values())
    if len(chosen) > 1:
        raise _error(path, where, f"chooses more than one class: {', '.join(sorted(chosen))}")
    if len(boxes) > 1:
        raise _error(path, where, f"has {len(boxes)} rectangles; one box per frame is stored")
    if not chosen and not boxes:
        return None
    if not boxes:
        return chosen.pop(), None
    box_label, box = boxes[0]
    label = chosen.pop() if chosen else box_label
    if box_label != label:
        raise _error(path, where, f"chooses {label!r} but its rectangle says {box_label!r}")
    return label, box


def _ls_box(path: Path, where: str, item: dict[str, Any], value: dict[str, Any]) -> tuple[str, Box]:
    """A rectangle in percent of the original image, converted to a pixel box."""
    names = value.get("rectanglelabels")
    if not isinstance(names, list) or len(names) != 1 or not isinstance(names[0], str):
        raise _error(path, where, f"rectangle labels {_show(names)} are not exactly one class")
    if value.get("rotation", 0):
        raise _error(path, where, f"rectangle is rotated by {_show(value['rotation'])} degrees")
    size = item.get("original_width"), item.get("original_height")
    if not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size):
        raise _error(path, where, "rectangle has no original_width/original_height")
    geometry = [value.get(k) for k in ("x", "y", "width", "height")]
    if not all(isinstance(g, int | float) and not isinstance(g, bool) for g in geometry):
        raise _error(path, where, "rectangle lacks numeric x, y, width, height")
    x, y, w, h = geometry
    if w <= 0 or h <= 0:
        raise _error(path, where, f"rectangle has width {w} and height {h}")
    (width, height) = size

    # Pixel corners, inclusive and inside the image as the simulator writes them.
    def px(percent: float, extent: int) -> int:
        return min(max(round(percent / 100.0 * extent), 0), extent - 1)

    box = (px(x, width), px(y, height), px(x + w, width), px(y + h, height))
    if box[0] >= box[2] or box[1] >= box[3]:
        raise _error(path, where, f"rectangle is empty in pixels: {box}")
    return names[0], box


def _ls_review(
    path: Path, where: str, annotation: dict[str, Any]
) -> tuple[str | None, ReviewStatus]:
    """Reviewer and status from ``reviews`` (Enterprise export) or ``review_result``."""
    reviews = annotation.get("reviews")
    if isinstance(reviews, list) and reviews:
        latest = reviews[-1]
        if not isinstance(latest, dict) or not isinstance(latest.get("accepted"), bool):
            raise _error(path, where, "review has no accepted true/false")
        status = ReviewStatus.REVIEWED if latest["accepted"] else ReviewStatus.REJECTED
        return _ls_user(latest.get("created_by")), status
    outcome = annotation.get("review_result")
    if isinstance(outcome, dict):
        outcome = outcome.get("accepted", outcome.get("result"))
    reviewer = _ls_user(annotation.get("reviewed_by"))
    if outcome is True or outcome == "accepted":
        return reviewer, ReviewStatus.REVIEWED
    if outcome is False or outcome == "rejected":
        return reviewer, ReviewStatus.REJECTED
    if outcome is not None:
        raise _error(path, where, f"review_result {_show(outcome)} is not accepted or rejected")
    return reviewer, ReviewStatus.UNREVIEWED


def _ls_user(user: Any) -> str | None:
    """A Label Studio user (an id, or a dict with email and id) as a name."""
    if isinstance(user, dict):
        email = user.get("email")
        if isinstance(email, str) and email:
            return email
        user = user.get("id")
    if isinstance(user, int) and not isinstance(user, bool):
        return f"label-studio-user-{user}"
    return user if isinstance(user, str) and user else None


def _ls_time(path: Path, where: str, annotation: dict[str, Any]) -> int | None:
    for key in ("updated_at", "created_at"):
        if isinstance(value := annotation.get(key), str):
            return _iso_ns(path, where, key, value)
    return None


# --- shared checks ------------------------------------------------------------------------------


def _claim(
    path: Path, where: str, seen: dict[tuple[str, int] | str, str], record: LabelRecord
) -> None:
    """Refuse a second label for a frame: which one to keep is the user's call."""
    keys = {record.key} | ({record.frame_id} if record.frame_id else set())
    for key in keys:
        if key in seen:
            raise _error(path, where, f"labels the same frame as {seen[key]}")
    seen.update(dict.fromkeys(keys, where))


def _review_status(path: Path, where: str, value: Any) -> ReviewStatus:
    try:
        return ReviewStatus(value)
    except ValueError:
        allowed = ", ".join(s.value for s in ReviewStatus)
        raise _error(path, where, f"review_status {_show(value)} is not one of {allowed}") from None


def _stamp(path: Path, where: str, value: Any) -> int:
    stamp = _int(path, where, "stamp_ns", value)
    if stamp < 0:
        raise _error(path, where, f"stamp_ns {stamp} is negative")
    return stamp


def _int(path: Path, where: str, name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _error(path, where, f"{name} {_show(value)} is not an integer")
    return value


def _parse_int(path: Path, where: str, text: str, name: str = "stamp_ns") -> int:
    try:
        return int(text)
    except ValueError:
        raise _error(path, where, f"{name} {_show(text)} is not an integer") from None


def _box(path: Path, where: str, corners: list[int]) -> Box:
    x0, y0, x1, y1 = corners
    if min(corners) < 0 or x0 >= x1 or y0 >= y1:
        raise _error(path, where, f"box {tuple(corners)} is not x0 < x1, y0 < y1, all >= 0")
    return (x0, y0, x1, y1)


def _optional_str(path: Path, where: str, name: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise _error(path, where, f"{name} {_show(value)} is not a string")
    return value


def _iso_ns(path: Path, where: str, name: str, text: str) -> int:
    """An ISO 8601 time as Unix ns; times without a zone are taken as UTC."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise _error(path, where, f"{name} {_show(text)} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _show(value: Any) -> str:
    """A value for an error message: quoted, short, and on one line."""
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _error(path: Path, where: str, problem: str) -> LabelFileError:
    message = f"{path.name} {where}: {problem}" if where else f"{path.name}: {problem}"
    return LabelFileError(" ".join(message.splitlines()))
