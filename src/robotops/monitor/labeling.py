"""``robotops monitor --to-labeling``: hard logged frames into a new dataset version and tasks.

This closes the loop from the robot back to the dataset. Of the logged rows a monitor report
compared, a row is sent to labelling when the log kept its input and either

* the server marked it **low-confidence** (below ``serve.low_confidence``), or
* it is **drifted**: one of its input statistics (or its confidence) lies outside the
  reference's 1st-99th percentile range, for a feature whose verdict is a warning or an alert.
  On a quiet log, only low-confidence frames go; a frame that is merely unusual, in a
  population that has not moved, does not.

The rows become frame rows of ``FRAME_SCHEMA``: the logged bytes as they are (colour PNG,
depth and LiDAR as the schema stores them), ``recording_id`` ``serve-<request id>``,
``stamp_ns`` the request's arrival plus the frame's position in it, and so a ``frame_id`` that
is the same each time the log is read; the request's site and robot; and tags ``source=serve``,
``reason``, ``predicted``, ``confidence`` and ``model_version``. They are committed as one
dataset version of kind ``monitor``, frames only, so they are unlabelled; frames the dataset
holds already are skipped, so reading the same log twice adds nothing. Then the selected frames
that are still unlabelled are exported as Label Studio tasks, each with the model's prediction as
pre-annotation; ``robotops labels import`` brings the annotations back.

The task folder is checked to be free before anything is committed. Should the export fail after
the commit, running the command again exports the frames (they are in the dataset, unlabelled).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from robotops.dataset.export import LOCAL_FILES_PREFIX, ExportResult, check_free, export_tasks
from robotops.dataset.refs import DatasetRef, check_name
from robotops.dataset.schema import FRAME_SCHEMA, frame_id, tags_json
from robotops.dataset.store import Snapshot, Store
from robotops.monitor.drift import Status
from robotops.monitor.monitor import MonitorReport
from robotops.serve.predlog import decode_frame, read_log

LOW_CONFIDENCE = "low_confidence"
"""The ``reason`` tag of a frame sent for its low confidence."""


@dataclass(frozen=True)
class LabelingResult:
    """What :func:`to_labeling` did.

    Attributes:
        selected: Logged rows selected for labelling.
        reasons: Selected rows per reason (``low_confidence``, ``drift:brightness``, ...); a row
            with several reasons counts under each.
        snapshot: The dataset version holding the frames (None when none was selected).
        new_version: Whether a version was committed (False when every frame was there).
        added: Frames new to the dataset.
        export: The Label Studio export (None when none was selected).
    """

    selected: int
    reasons: dict[str, int]
    snapshot: Snapshot | None = None
    new_version: bool = False
    added: int = 0
    export: ExportResult | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "selected": self.selected,
            "reasons": dict(self.reasons),
            "dataset": str(self.snapshot) if self.snapshot else None,
            "new_version": self.new_version,
            "added": self.added,
            "tasks": self.export.tasks if self.export else 0,
            "tasks_path": str(self.export.tasks_path) if self.export else None,
        }


def to_labeling(
    report: MonitorReport,
    store: Store,
    out_dir: Path,
    *,
    dataset: str | None = None,
    image_url_prefix: str = LOCAL_FILES_PREFIX,
) -> LabelingResult:
    """Commit the report's low-confidence and drifted logged frames, then export their tasks.

    Args:
        report: A monitor report (its log, bundle rows and reference ranges are used).
        store: The dataset store.
        out_dir: The folder for the Label Studio tasks; must not exist or be empty.
        dataset: The dataset to add the frames to (default: the reference's).
        image_url_prefix: Put before each image path in the tasks (see
            :func:`robotops.dataset.export.export_tasks`).

    Returns:
        What was selected, committed and exported.

    Raises:
        ConflictError: ``out_dir`` is not free.
        UsageError: ``dataset`` is not a valid name.
        DataError: A selected row's input does not decode (nothing is committed).
        OutputError: The tasks cannot be written.
    """
    out_dir = Path(out_dir)
    check_free(out_dir)  # before any commit: a version without its tasks helps nobody
    name = check_name(dataset or DatasetRef.parse(report.reference).name)
    rows, reasons = select_rows(report)
    counts = Counter(r for rs in reasons for r in rs.split(","))
    if not reasons:
        return LabelingResult(selected=0, reasons={})
    frames = frame_rows(rows, reasons, report)
    head = store.head(name)
    known = set(head.frames(["frame_id"]).column("frame_id").to_pylist()) if head else set()
    ids = frames.column("frame_id").to_pylist()
    snapshot, new_version = store.commit(
        name,
        kind="monitor",
        message=f"{len(ids)} frames to label from prediction log {report.log} "
        f"({', '.join(f'{r} {n}' for r, n in counts.most_common())})",
        frames=frames,
        classes=None if head else report.classes,
    )
    labels = rows.column("label").to_pylist()
    confidence = rows.column("confidence").to_pylist()
    predictions = {
        fid: (label, score)
        for fid, label, score in zip(ids, labels, confidence, strict=True)
        if label in snapshot.classes
    }
    export = export_tasks(
        snapshot,
        out_dir,
        frame_ids=ids,
        image_url_prefix=image_url_prefix,
        predictions=predictions,
    )
    return LabelingResult(
        selected=len(ids),
        reasons=dict(counts.most_common()),
        snapshot=snapshot,
        new_version=new_version,
        added=len(set(ids) - known),
        export=export,
    )


def select_rows(report: MonitorReport) -> tuple[pa.Table, list[str]]:
    """The logged rows to label (all columns, inputs included) and each one's reasons.

    Returns:
        The rows, and per row its reasons joined by commas (``low_confidence,drift:brightness``).
    """
    table = read_log(Path(report.log))
    table = table.filter(
        pc.and_(pc.equal(table.column("bundle"), report.bundle_digest), table.column("input_kept"))
    )
    low_confidence = table.column("low_confidence").to_pylist()
    reasons = [[LOW_CONFIDENCE] if low else [] for low in low_confidence]
    for feature in report.features:
        if feature.status not in (Status.WARN, Status.ALERT) or feature.reference_range is None:
            continue
        low, high = feature.reference_range
        values = pc.cast(table.column(feature.name), pa.float64()).to_numpy(zero_copy_only=False)
        with np.errstate(invalid="ignore"):  # NaN (missing modality) is never outside
            outside = (values < low) | (values > high)
        for i in np.flatnonzero(outside):
            reasons[i].append(f"drift:{feature.name}")
    keep = [i for i, r in enumerate(reasons) if r]
    return table.take(pa.array(keep, pa.int64())), [",".join(reasons[i]) for i in keep]


def frame_rows(rows: pa.Table, reasons: list[str], report: MonitorReport) -> pa.Table:
    """Logged rows as dataset frame rows (``FRAME_SCHEMA``), their bytes kept as logged.

    Raises:
        DataError: A row's input does not decode.
    """
    out = []
    for row, reason in zip(rows.to_pylist(), reasons, strict=True):
        decode_frame(row)  # refuse bytes that do not decode before anything is committed
        recording_id = f"serve-{row['request_id']}"
        stamp_ns = row["time_ns"] + row["item"]  # frames of one request stay apart, in order
        out.append(
            {
                "frame_id": frame_id(recording_id, stamp_ns),
                "recording_id": recording_id,
                "site": row["site"],
                "robot": row["robot"],
                "stamp_ns": stamp_ns,
                "source": report.log,
                "rgb": row["rgb"],
                "rgb_format": "png" if row["rgb"] is not None else None,
                "rgb_stamp_ns": stamp_ns if row["rgb"] is not None else None,
                "width": row["width"],
                "height": row["height"],
                "depth_mm": row["depth_mm"],
                "depth_width": row["depth_width"],
                "depth_height": row["depth_height"],
                "depth_stamp_ns": stamp_ns if row["depth_mm"] is not None else None,
                "lidar_xyz": row["lidar_xyz"],
                "lidar_points": row["lidar_points"],
                "lidar_stamp_ns": stamp_ns if row["lidar_xyz"] is not None else None,
                "tags": tags_json(
                    {
                        "source": "serve",
                        "reason": reason,
                        "predicted": row["label"],
                        "confidence": f"{row['confidence']:.3f}",
                        "model_version": row["version"] or "",
                    }
                ),
            }
        )
    return pa.Table.from_pylist(out, schema=FRAME_SCHEMA)
