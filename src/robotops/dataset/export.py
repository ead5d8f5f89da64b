"""Export frames for labelling in Label Studio: images, import tasks and the labelling config.

The output folder holds::

    tasks.json                 Label Studio import tasks (a JSON list), one per frame
    label_config.xml           the labelling config that the tasks and :func:`read_labels` agree on
    images/<frame_id>.png|jpg  each frame's colour image, the bytes exactly as stored

Each task's ``image`` is ``image_url_prefix`` followed by the image's path relative to the folder
(``images/<frame_id>.png``). The default prefix suits Label Studio's local-file serving: start
Label Studio with ``LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true`` and
``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=<the output folder, absolute>``, add a *Local files*
source storage to the project with the absolute path of ``<output folder>/images`` (do not sync
it: the tasks already point at the files), paste ``label_config.xml`` as the labelling interface
and import ``tasks.json``. When the document root is a parent of the output folder, add the
folder's path below the root to the prefix (``/data/local-files/?d=batch-07/``); for images
served by any web server, use its URL as the prefix; ``""`` leaves plain relative paths.

Annotations exported from Label Studio as JSON carry each task's ``frame_id``, ``recording_id``
and ``stamp_ns`` back, and ``robotops labels import`` reads them.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from robotops.dataset.labelfiles import TaskFrame, label_studio_config, label_studio_tasks
from robotops.dataset.store import Snapshot
from robotops.errors import ConflictError, DataError, OutputError

LOCAL_FILES_PREFIX = "/data/local-files/?d="
"""Label Studio's URL for files under ``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT``."""

TASKS_FILE = "tasks.json"
CONFIG_FILE = "label_config.xml"
IMAGES_DIR = "images"

_EXTENSIONS = {"png": "png", "jpeg": "jpg", "jpg": "jpg"}


@dataclass(frozen=True)
class ExportResult:
    """The result of :func:`export_tasks`.

    Attributes:
        out_dir: The folder written.
        tasks_path: Its ``tasks.json``.
        config_path: Its ``label_config.xml``.
        tasks: Tasks written.
        images: Image files written (one per task).
        skipped_labelled: Selected frames left out because they have a label already.
        skipped_no_image: Selected frames left out because they have no colour image.
    """

    out_dir: Path
    tasks_path: Path
    config_path: Path
    tasks: int
    images: int
    skipped_labelled: int
    skipped_no_image: int


def export_tasks(
    snapshot: Snapshot,
    out_dir: Path,
    *,
    frame_ids: Sequence[str] | None = None,
    unlabelled_only: bool = True,
    image_url_prefix: str = LOCAL_FILES_PREFIX,
    predictions: Mapping[str, tuple[str, float | None]] | None = None,
) -> ExportResult:
    """Write frames of ``snapshot`` as a folder of Label Studio tasks.

    The frames are all frames of the snapshot, or those of ``frame_ids`` (in that order); of
    them, ``unlabelled_only`` keeps those without a label (pass False to relabel). Frames without
    a colour image cannot be labelled in an image interface: they are skipped and counted.

    Nothing is written partially: the folder is built beside ``out_dir`` under a temporary name
    and renamed into place at the end; on any error the temporary folder is removed.

    Args:
        snapshot: The dataset version to export from.
        out_dir: The folder to create; it must not exist or be empty.
        frame_ids: Frames to export (default: every frame).
        unlabelled_only: Leave out frames that have a label.
        image_url_prefix: Put before each image's relative path to make the task's image URL.
        predictions: A model's ``(class, confidence)`` by frame id, given to annotators as each
            task's pre-annotation; frames not in it get none.

    Returns:
        Where the files went and how many frames were written and skipped.

    Raises:
        UsageError: The dataset has no class list, or a prediction is not one of its classes.
        DataError: ``frame_ids`` names frames not in ``snapshot``, or a colour image is neither
            PNG nor JPEG.
        ConflictError: ``out_dir`` exists and is not an empty folder.
        OutputError: The folder cannot be written.
    """
    out_dir = Path(out_dir)
    predictions = predictions or {}
    config = label_studio_config(snapshot.classes)
    check_free(out_dir)

    index = snapshot.frames(["frame_id", "recording_id", "site", "stamp_ns"])
    index = index.sort_by([("recording_id", "ascending"), ("stamp_ns", "ascending")])
    meta = {row["frame_id"]: row for row in index.to_pylist()}
    if frame_ids is None:
        selected = list(meta)
    else:
        if isinstance(frame_ids, str):  # one id given as a bare string
            frame_ids = [frame_ids]
        selected = list(dict.fromkeys(frame_ids))
        unknown = [f for f in selected if f not in meta]
        if unknown:
            raise DataError(
                f"{len(unknown)} frame id(s) not in {snapshot} (first: {', '.join(unknown[:3])}); "
                "nothing was written"
            )
    skipped_labelled = 0
    if unlabelled_only:
        labelled = set(snapshot.labels().column("frame_id").to_pylist())
        kept = [f for f in selected if f not in labelled]
        skipped_labelled = len(selected) - len(kept)
        selected = kept

    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    except OSError as err:
        raise OutputError(f"cannot write beside {out_dir}: {err.strerror or err}") from err
    try:
        images = work / IMAGES_DIR
        images.mkdir()
        paths: dict[str, str] = {}
        for fid, data, fmt in _colour_images(snapshot, selected):
            relative = f"{IMAGES_DIR}/{fid}.{_extension(fid, fmt, data)}"
            (work / relative).write_bytes(data)
            paths[fid] = relative
        frames = [
            TaskFrame(
                frame_id=fid,
                recording_id=meta[fid]["recording_id"],
                stamp_ns=meta[fid]["stamp_ns"],
                site=meta[fid]["site"] or "",
                image_url=image_url_prefix + paths[fid],
                prediction=predictions[fid][0] if fid in predictions else None,
                score=predictions[fid][1] if fid in predictions else None,
            )
            for fid in selected
            if fid in paths
        ]
        tasks = label_studio_tasks(frames, snapshot.classes)
        (work / TASKS_FILE).write_text(json.dumps(tasks, indent=2) + "\n", encoding="utf-8")
        (work / CONFIG_FILE).write_text(config, encoding="utf-8")
        _move_into_place(work, out_dir)
    except OSError as err:
        shutil.rmtree(work, ignore_errors=True)
        raise OutputError(f"cannot write {out_dir}: {err.strerror or err}") from err
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return ExportResult(
        out_dir=out_dir,
        tasks_path=out_dir / TASKS_FILE,
        config_path=out_dir / CONFIG_FILE,
        tasks=len(frames),
        images=len(paths),
        skipped_labelled=skipped_labelled,
        skipped_no_image=len(selected) - len(paths),
    )


def check_free(out_dir: Path) -> None:
    """Refuse an ``out_dir`` that exists, unless it is an empty folder.

    Raises:
        ConflictError: It is a file, or a folder with something in it.
    """
    if out_dir.is_dir():
        if next(out_dir.iterdir(), None) is not None:
            raise ConflictError(f"{out_dir} exists and is not empty; choose a new folder")
    elif out_dir.exists():
        raise ConflictError(f"{out_dir} exists and is not a folder")


def _move_into_place(work: Path, out_dir: Path) -> None:
    """Rename the finished folder to ``out_dir`` (POSIX rename replaces an empty folder)."""
    try:
        os.replace(work, out_dir)
    except OSError as err:
        if out_dir.exists():  # something was put there while we worked
            raise ConflictError(f"{out_dir} appeared while exporting; nothing was written") from err
        raise


def _colour_images(snapshot: Snapshot, frame_ids: list[str]) -> Iterator[tuple[str, bytes, str]]:
    """``(frame_id, rgb bytes, rgb_format)`` of those ``frame_ids`` that have a colour image."""
    for batch in snapshot.scan_frames(["frame_id", "rgb", "rgb_format"], frame_ids=frame_ids):
        for row in batch.to_pylist():
            if row["rgb"] is not None:
                yield row["frame_id"], row["rgb"], row["rgb_format"] or ""


def _extension(frame_id: str, fmt: str, data: bytes) -> str:
    """File extension of a stored colour image: from its first bytes, else from its format."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if fmt.lower() in _EXTENSIONS:
        return _EXTENSIONS[fmt.lower()]
    raise DataError(
        f"frame {frame_id}: colour image format {fmt!r} is neither PNG nor JPEG; "
        "nothing was written"
    )
