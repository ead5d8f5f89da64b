"""Import labels into a dataset: match them to frames, check them, commit them as one version."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from robotops.dataset.labelfiles import LabelFile, read_labels
from robotops.dataset.schema import LABEL_SCHEMA, frame_id
from robotops.dataset.store import Snapshot, Store
from robotops.errors import DataError


@dataclass(frozen=True)
class LabelImport:
    """The result of :func:`import_labels`."""

    snapshot: Snapshot
    new_version: bool
    files: list[LabelFile]
    changed: int  # labels that differ from the dataset's before the import


def import_labels(store: Store, name: str, paths: list[Path]) -> LabelImport:
    """Import label files into dataset ``name`` as one new version.

    Every label must name a frame of the dataset and a class of its class list; if any does
    not, nothing is written and the error says how many and gives an example.

    Raises:
        DataError: A file cannot be read, or names unknown frames or classes.
    """
    head = store.snapshot(name)
    known = set(head.frames(["frame_id"]).column("frame_id").to_pylist())
    classes = set(head.classes)
    rows = []
    files = [read_labels(p) for p in paths]
    now = time.time_ns()
    for file in files:
        unknown_frames: list[str] = []
        unknown_classes: Counter[str] = Counter()
        for rec in file.records:
            fid = rec.frame_id or frame_id(rec.recording_id, rec.stamp_ns)
            if fid not in known:
                unknown_frames.append(rec.frame_id or f"{rec.recording_id}@{rec.stamp_ns}")
                continue
            if rec.label not in classes:
                unknown_classes[rec.label] += 1
                continue
            rows.append(
                {
                    "frame_id": fid,
                    "label": rec.label,
                    "box": list(rec.box) if rec.box else None,
                    "annotator": rec.annotator,
                    "reviewer": rec.reviewer,
                    "review_status": str(rec.review_status),
                    "labelled_at_ns": rec.labelled_at_ns or now,
                }
            )
        if unknown_frames:
            raise DataError(
                f"{file.path}: {len(unknown_frames)} label(s) for frames not in {head} "
                f"(first: {unknown_frames[0]}); nothing was written"
            )
        if unknown_classes:
            names = ", ".join(f"{c!r} x{n}" for c, n in unknown_classes.most_common())
            raise DataError(
                f"{file.path}: classes not in {head}'s class list ({', '.join(head.classes)}): "
                f"{names}; nothing was written"
            )
    labels = pa.Table.from_pylist(rows, schema=LABEL_SCHEMA)
    before = head.labels()
    snapshot, new_version = store.commit(
        name,
        kind="labels",
        message="import labels: " + ", ".join(p.name for p in paths),
        labels=labels,
    )
    changed = _count_changed(before, snapshot.labels())
    return LabelImport(snapshot=snapshot, new_version=new_version, files=files, changed=changed)


def _count_changed(before: pa.Table, after: pa.Table) -> int:
    old = {r["frame_id"]: r["label"] for r in before.select(["frame_id", "label"]).to_pylist()}
    new = after.select(["frame_id", "label"]).to_pylist()
    return sum(1 for r in new if old.get(r["frame_id"]) != r["label"])
