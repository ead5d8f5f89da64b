"""The versioned dataset store, on Lance.

A dataset is a folder under the store root (a local path, or ``s3://…``, ``gs://…``) holding four
Lance tables:

* ``frames.lance``: sensor rows, append-only; sensor bytes are written once, on ingest.
* ``labels.lance``: one label row per frame, upserted by ``frame_id`` on each label change.
* ``splits.lance``: the split of each frame, replaced when splits are reassigned.
* ``commits.lance``: one row per dataset version; its Lance version *is* the dataset version.

A change writes its table(s) first and then appends one row to ``commits``: that append is the
single atomic commit point. A crash before it leaves component versions that no commit names;
readers never see them, and the next writer restores the component to its committed version
before writing on top. Tags are Lance tags on ``commits``; a committed version never changes.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lance
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs

from robotops.dataset.refs import DatasetRef, check_name
from robotops.dataset.schema import COMMIT_SCHEMA, FRAME_SCHEMA, LABEL_SCHEMA, SPLIT_SCHEMA
from robotops.errors import ConflictError, NotFoundError, UsageError

_COMPONENTS = {"frames": FRAME_SCHEMA, "labels": LABEL_SCHEMA, "splits": SPLIT_SCHEMA}


_IDS_PER_FILTER = 1000  # frame ids per filtered scan, to keep the filter expression small


@dataclass(frozen=True)
class Commit:
    """One dataset version as the commit log records it."""

    version: int
    kind: str
    message: str
    created_at_ns: int
    frames_version: int | None
    labels_version: int | None
    splits_version: int | None
    classes: tuple[str, ...]
    tags: tuple[str, ...] = ()


class Snapshot:
    """A dataset at one committed version: read-only."""

    def __init__(self, store: Store, name: str, commit: Commit) -> None:
        self.store, self.name, self.commit = store, name, commit

    @property
    def version(self) -> int:
        """The dataset version."""
        return self.commit.version

    @property
    def classes(self) -> tuple[str, ...]:
        """The dataset's class list."""
        return self.commit.classes

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"

    def _table(
        self, component: str, version: int | None, columns: Sequence[str] | None
    ) -> pa.Table:
        schema = _COMPONENTS[component]
        if version is None:
            return schema.empty_table().select(list(columns) if columns else schema.names)
        return self._open(component, version).to_table(columns=list(columns) if columns else None)

    def _open(self, component: str, version: int) -> lance.LanceDataset:
        """One of this version's Lance tables, at the version this commit names."""
        return lance.dataset(
            self.store.uri(self.name, component),
            version=version,
            storage_options=self.store.storage_options,
        )

    def frames(self, columns: Sequence[str] | None = None) -> pa.Table:
        """Frame rows (all columns, or ``columns``)."""
        return self._table("frames", self.commit.frames_version, columns)

    def scan_frames(
        self,
        columns: Sequence[str],
        *,
        frame_ids: Sequence[str] | None = None,
        batch_size: int = 512,
    ) -> Iterator[pa.RecordBatch]:
        """Frame rows in batches, reading only ``columns`` (and only ``frame_ids``, if given).

        For reading sensor bytes without holding the whole dataset in memory.
        """
        version = self.commit.frames_version
        if version is None or (frame_ids is not None and not frame_ids):
            return
        ds = self._open("frames", version)
        if frame_ids is None:
            yield from ds.to_batches(columns=list(columns), batch_size=batch_size)
            return
        for start in range(0, len(frame_ids), _IDS_PER_FILTER):
            chunk = frame_ids[start : start + _IDS_PER_FILTER]
            quoted = ", ".join("'" + f.replace("'", "''") + "'" for f in chunk)
            yield from ds.to_batches(
                columns=list(columns), filter=f"frame_id IN ({quoted})", batch_size=batch_size
            )

    def labels(self) -> pa.Table:
        """Current label rows, one per labelled frame."""
        return self._table("labels", self.commit.labels_version, None)

    def splits(self) -> pa.Table:
        """Split of each frame that has one."""
        return self._table("splits", self.commit.splits_version, None)

    def artifact_uri(self, filename: str) -> str:
        """Where a file kept with this version lives (whether or not it exists yet)."""
        return f"{self.store.root}/{self.name}/reports/v{self.version}/{filename}"

    def save_artifact(self, filename: str, data: bytes) -> str:
        """Keep a file (a report) with this version; returns its URI or path.

        Artifacts live beside the tables, under ``reports/v<VERSION>/``; writing one again
        replaces it whole (a local file is written aside and renamed into place).
        """
        uri = self.artifact_uri(filename)
        if self.store._local:
            path = Path(uri)
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.partial")
            partial.write_bytes(data)
            partial.replace(path)
            return str(path)
        fs, path = pafs.FileSystem.from_uri(uri)
        with fs.open_output_stream(path) as out:
            out.write(data)
        return uri

    def load_artifact(self, filename: str) -> bytes | None:
        """A file kept with this version by :meth:`save_artifact`, or None if there is none."""
        uri = self.artifact_uri(filename)
        if self.store._local:
            path = Path(uri)
            return path.read_bytes() if path.is_file() else None
        fs, path = pafs.FileSystem.from_uri(uri)
        if fs.get_file_info(path).type != pafs.FileType.File:
            return None
        with fs.open_input_stream(path) as stream:
            return stream.read()

    def frame_count(self) -> int:
        """Number of frames."""
        if self.commit.frames_version is None:
            return 0
        return self._open("frames", self.commit.frames_version).count_rows()

    def digest(self) -> str:
        """A fingerprint of what a model trained on this version saw: frames, labels, splits.

        It covers every frame id with its recording, label and split, the class list and the
        frames table version, so it changes exactly when a relabel, a re-split or new frames do.
        """
        index = self.index(("frame_id", "recording_id", "stamp_ns"))
        rows = index.select(["frame_id", "recording_id", "label", "split"]).to_pylist()
        text = json.dumps([self.commit.frames_version, self.classes, rows], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def index(
        self, columns: Sequence[str] = ("frame_id", "recording_id", "site", "stamp_ns")
    ) -> pa.Table:
        """Frames without sensor bytes, joined with their label and split (null where none)."""
        table = self.frames(columns)
        labels = self.labels().select(["frame_id", "label", "review_status"])
        splits = self.splits()
        table = table.join(labels, "frame_id", join_type="left outer")
        table = table.join(splits, "frame_id", join_type="left outer")
        return table.sort_by([("recording_id", "ascending"), ("stamp_ns", "ascending")])


class Store:
    """Datasets under one root, each a set of versioned Lance tables.

    Args:
        root: Local folder or object-store URI (``s3://bucket/prefix``).
        storage_options: Passed to Lance for object stores (credentials, region, endpoint).
    """

    def __init__(self, root: str | Path, storage_options: dict[str, str] | None = None) -> None:
        self.root = str(root).rstrip("/")
        self.storage_options = storage_options
        self._local = "://" not in self.root

    def uri(self, name: str, component: str) -> str:
        """URI of one Lance table of dataset ``name``."""
        return f"{self.root}/{name}/{component}.lance"

    def names(self) -> list[str]:
        """Names of the datasets in the store."""
        if self._local:
            root = Path(self.root)
            if not root.is_dir():
                return []
            return sorted(p.name for p in root.iterdir() if (p / "commits.lance").is_dir())
        fs, path = pafs.FileSystem.from_uri(self.root)
        infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
        names = []
        for info in infos:
            if info.type == pafs.FileType.Directory:
                probe = fs.get_file_info(f"{info.path}/commits.lance")
                if probe.type == pafs.FileType.Directory:
                    names.append(info.base_name)
        return sorted(names)

    def _commits(self, name: str, version: int | str | None = None) -> lance.LanceDataset:
        try:
            return lance.dataset(
                self.uri(name, "commits"), version=version, storage_options=self.storage_options
            )
        except (ValueError, OSError) as err:
            if version is None or name not in self.names():
                raise NotFoundError(f"no dataset {name!r} in {self.root}") from err
            what = "tag" if isinstance(version, str) else "version"
            raise NotFoundError(f"dataset {name!r} has no {what} {version!r}") from err

    def log(self, name: str) -> list[Commit]:
        """Every version of ``name``, oldest first, with its tags."""
        ds = self._commits(name)
        tags: dict[int, list[str]] = {}
        for tag, info in ds.tags.list().items():
            tags.setdefault(int(info["version"]), []).append(tag)
        return [
            _commit(row, tuple(sorted(tags.get(row["version"], []))))
            for row in ds.to_table().to_pylist()
        ]

    def snapshot(self, ref: DatasetRef | str) -> Snapshot:
        """The dataset version ``ref`` names (latest when it names none).

        Raises:
            NotFoundError: No such dataset, version or tag.
        """
        ref = DatasetRef.parse(ref) if isinstance(ref, str) else ref
        ds = self._commits(ref.name, ref.tag if ref.tag else ref.version)
        if ref.version is not None and ds.version != ref.version:
            raise NotFoundError(f"dataset {ref.name!r} has no version {ref.version}")
        rows = ds.to_table().to_pylist()
        return Snapshot(self, ref.name, _commit(rows[-1], ()))

    def head(self, name: str) -> Snapshot | None:
        """The latest version of ``name``, or None if the dataset does not exist yet."""
        return self.snapshot(name) if name in self.names() else None

    def tag(self, ref: DatasetRef | str, tag: str) -> Snapshot:
        """Tag the version ``ref`` names.

        Raises:
            ConflictError: The tag exists already (tags are never moved silently).
        """
        snap = self.snapshot(ref)
        check_name(tag, "tag")
        commits = self._commits(snap.name)
        if tag in commits.tags.list():
            raise ConflictError(f"tag {tag!r} exists already on {snap.name}")
        commits.tags.create(tag, snap.version)
        return snap

    @contextmanager
    def _lock(self, name: str) -> Iterator[None]:
        """One writer per dataset on a local store (object stores rely on Lance's commits)."""
        if not self._local:
            yield
            return
        folder = Path(self.root) / name
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _write_component(self, name: str, component: str, committed: int | None, write: Any) -> int:
        """Run ``write(uri, base_dataset_or_None)`` on a component restored to ``committed``."""
        uri = self.uri(name, component)
        base = None
        if committed is not None:
            base = lance.dataset(uri, storage_options=self.storage_options)
            if base.version != committed:  # an uncommitted write was left behind: drop it
                lance.dataset(
                    uri, version=committed, storage_options=self.storage_options
                ).restore()
                base = lance.dataset(uri, storage_options=self.storage_options)
        elif self._exists(uri):
            # The component was created by a write that never committed: start afresh.
            lance.write_dataset(
                _COMPONENTS[component].empty_table(),
                uri,
                mode="overwrite",
                storage_options=self.storage_options,
            )
            base = lance.dataset(uri, storage_options=self.storage_options)
        return write(uri, base)

    def _exists(self, uri: str) -> bool:
        try:
            lance.dataset(uri, storage_options=self.storage_options)
        except (ValueError, OSError):
            return False
        return True

    def commit(
        self,
        name: str,
        *,
        kind: str,
        message: str,
        frames: pa.Table | None = None,
        labels: pa.Table | None = None,
        splits: pa.Table | None = None,
        classes: Sequence[str] | None = None,
    ) -> tuple[Snapshot, bool]:
        """Commit a change as one new version.

        ``frames`` are appended (frames whose id the dataset has already are skipped),
        ``labels`` upserted by frame id (rows equal to the current label are skipped),
        ``splits`` replace the split table. Nothing to change makes no new version.

        Returns:
            The dataset's head after the call, and whether a new version was made.
        """
        check_name(name)
        with self._lock(name):
            head = self.head(name)
            c = head.commit if head else None
            versions = {
                "frames": c.frames_version if c else None,
                "labels": c.labels_version if c else None,
                "splits": c.splits_version if c else None,
            }
            changed = False
            if frames is not None:
                new = _anti_join(frames, head.frames(["frame_id"]) if head else None)
                if new.num_rows:
                    versions["frames"] = self._write_component(
                        name, "frames", versions["frames"], _appender(new, self.storage_options)
                    )
                    changed = True
            if labels is not None:
                new = _changed_labels(labels, head.labels() if head else None)
                if new.num_rows:
                    versions["labels"] = self._write_component(
                        name, "labels", versions["labels"], _upserter(new, self.storage_options)
                    )
                    changed = True
            if splits is not None:
                current = head.splits() if head else SPLIT_SCHEMA.empty_table()
                if not _same_rows(splits, current, "frame_id"):
                    versions["splits"] = self._write_component(
                        name, "splits", versions["splits"], _replacer(splits, self.storage_options)
                    )
                    changed = True
            new_classes = tuple(classes) if classes is not None else (c.classes if c else ())
            if c and new_classes != c.classes:
                changed = True
            if not changed:
                if head is None:
                    raise UsageError(f"nothing to commit: dataset {name!r} would be empty")
                return head, False
            row = {
                "version": (c.version if c else 0) + 1,
                "kind": kind,
                "message": message,
                "created_at_ns": time.time_ns(),
                "frames_version": versions["frames"],
                "labels_version": versions["labels"],
                "splits_version": versions["splits"],
                "classes": list(new_classes),
            }
            commits_uri = self.uri(name, "commits")
            table = pa.Table.from_pylist([row], schema=COMMIT_SCHEMA)
            ds = lance.write_dataset(
                table,
                commits_uri,
                mode="append" if c else "create",
                storage_options=self.storage_options,
            )
            if ds.version != row["version"]:
                raise ConflictError(f"dataset {name!r} changed during the commit; try again")
            return Snapshot(self, name, _commit(row, ())), True


def _commit(row: dict[str, Any], tags: tuple[str, ...]) -> Commit:
    return Commit(
        version=row["version"],
        kind=row["kind"],
        message=row["message"],
        created_at_ns=row["created_at_ns"],
        frames_version=row["frames_version"],
        labels_version=row["labels_version"],
        splits_version=row["splits_version"],
        classes=tuple(row["classes"] or ()),
        tags=tags,
    )


def _anti_join(rows: pa.Table, existing: pa.Table | None) -> pa.Table:
    """Rows of ``rows`` whose frame id is not in ``existing`` (and first of any duplicates)."""
    ids = rows.column("frame_id")
    keep = pc.invert(pc.is_in(ids, existing.column("frame_id"))) if existing is not None else None
    first = _first_occurrence(ids)
    mask = first if keep is None else pc.and_(keep, first)
    return rows.filter(mask)


def _first_occurrence(ids: pa.ChunkedArray) -> np.ndarray:
    """A mask that is True at the first row of each distinct id."""
    positions = pa.table({"id": ids, "row": pa.array(np.arange(len(ids)))})
    first = positions.group_by("id", use_threads=False).aggregate([("row", "min")])
    mask = np.zeros(len(ids), dtype=bool)
    mask[first.column("row_min").to_numpy()] = True
    return mask


def _changed_labels(labels: pa.Table, current: pa.Table | None) -> pa.Table:
    """Label rows that differ from the current label of their frame (time of labelling aside)."""
    labels = labels.cast(LABEL_SCHEMA)
    if current is None or current.num_rows == 0:
        return labels
    compare = [n for n in LABEL_SCHEMA.names if n not in ("frame_id", "labelled_at_ns")]
    now = {r["frame_id"]: r for r in current.select(["frame_id", *compare]).to_pylist()}
    keep = []
    for row in labels.select(["frame_id", *compare]).to_pylist():
        old = now.get(row["frame_id"])
        keep.append(old is None or any(old[k] != row[k] for k in compare))
    return labels.filter(pa.array(keep))


def _same_rows(a: pa.Table, b: pa.Table, key: str) -> bool:
    if a.num_rows != b.num_rows:
        return False
    return a.sort_by(key).to_pylist() == b.sort_by(key).to_pylist()


def _appender(rows: pa.Table, options: dict[str, str] | None) -> Any:
    def write(uri: str, base: lance.LanceDataset | None) -> int:
        ds = lance.write_dataset(
            rows.cast(FRAME_SCHEMA),
            uri,
            mode="append" if base is not None else "create",
            storage_options=options,
        )
        return ds.version

    return write


def _upserter(rows: pa.Table, options: dict[str, str] | None) -> Any:
    def write(uri: str, base: lance.LanceDataset | None) -> int:
        if base is None:
            return lance.write_dataset(rows, uri, mode="create", storage_options=options).version
        base.merge_insert(
            "frame_id"
        ).when_matched_update_all().when_not_matched_insert_all().execute(rows)
        return lance.dataset(uri, storage_options=options).version

    return write


def _replacer(rows: pa.Table, options: dict[str, str] | None) -> Any:
    def write(uri: str, base: lance.LanceDataset | None) -> int:
        mode = "overwrite" if base is not None else "create"
        return lance.write_dataset(
            rows.cast(SPLIT_SCHEMA), uri, mode=mode, storage_options=options
        ).version

    return write
