"""``robotops ingest``: recordings in, one new dataset version out.

Each recording (a ROS bag, or a folder of images and PCD files) is read into frame rows; all
recordings of one call are committed together as one version, and if any recording fails nothing
is committed. The ``ray`` engine reads recordings in parallel on a Ray cluster (local by default)
and still commits once, from the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import pyarrow as pa

from robotops.config import Config
from robotops.dataset.store import Snapshot, Store
from robotops.errors import DataError, RobotopsError, UsageError, one_line
from robotops.ingest.bag import read_bag
from robotops.ingest.folder import read_folder
from robotops.ingest.frames import RecordingSummary
from robotops.raycluster import connect

BAG_FILES = ("*.db3", "*.db3.zstd", "*.mcap", "*.mcap.zstd")


class Engine(StrEnum):
    """Where recordings are read."""

    LOCAL = "local"
    RAY = "ray"


@dataclass(frozen=True)
class IngestReport:
    """The result of :func:`ingest`."""

    snapshot: Snapshot
    new_version: bool
    added_frames: int
    recordings: list[RecordingSummary]


def is_bag(path: Path) -> bool:
    """Whether ``path`` is a ROS bag (ROS 1 file, ROS 2 folder) rather than a folder of files."""
    if not path.is_dir():
        return True  # a file is read as a bag; rosbags says what is wrong with it
    return (path / "metadata.yaml").is_file() or any(
        next(path.glob(pattern), None) for pattern in BAG_FILES
    )


def read_recording(
    path: Path, config: Config, on_frame: Callable[[], None] | None = None
) -> tuple[pa.Table, RecordingSummary]:
    """Read one recording, bag or folder, into frame rows (not committed).

    Raises:
        DataError: The recording cannot be ingested.
    """
    path = Path(path)
    reader = read_bag if is_bag(path) else read_folder
    return reader(path, config, on_frame)


def _read_with_ray(
    paths: Sequence[Path], config: Config, address: str | None, on_frame: Callable[[], None] | None
) -> list[tuple[pa.Table, RecordingSummary]]:
    try:
        import ray
    except ImportError as err:
        raise UsageError("--engine ray needs Ray: pip install 'robotops[ray]'") from err

    started = connect(ray, address)
    try:
        task = ray.remote(read_recording)
        pending = {task.remote(Path(p).resolve(), config): i for i, p in enumerate(paths)}
        results: list[tuple[pa.Table, RecordingSummary] | None] = [None] * len(paths)
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            i = pending.pop(done[0])
            try:
                results[i] = ray.get(done[0])
            except ray.exceptions.RayTaskError as err:
                for ref in pending:
                    ray.cancel(ref)
                if isinstance(err.cause, RobotopsError):
                    raise err.cause from None  # the reader's own one-line error
                raise DataError(f"{paths[i]}: ingest failed on Ray: {one_line(err.cause)}") from err
            if on_frame is not None:
                for _ in range(results[i][0].num_rows):
                    on_frame()
        return [r for r in results if r is not None]
    finally:
        if started:
            ray.shutdown()


def ingest(
    paths: Sequence[Path],
    store: Store,
    name: str,
    config: Config,
    *,
    engine: Engine = Engine.LOCAL,
    address: str | None = None,
    on_frame: Callable[[], None] | None = None,
) -> IngestReport:
    """Ingest recordings into dataset ``name`` as one new version.

    Frames the dataset has already (same recording, same stamp) are not added again; if no frame
    is new, no version is made.

    Args:
        paths: Bags or folders, in the order their frames are appended.
        store: The dataset store.
        name: Dataset name.
        config: Topics, base frame and synchronisation settings.
        engine: ``local`` reads one recording after another; ``ray`` reads them in parallel.
        address: Ray cluster address for the ``ray`` engine (default: start a local Ray).
        on_frame: Called once per frame read (per recording's frames, for ``ray``).

    Raises:
        DataError: A recording cannot be ingested; nothing is committed then.
    """
    if engine is Engine.RAY:
        results = _read_with_ray(paths, config, address, on_frame)
    else:
        results = [read_recording(Path(p), config, on_frame) for p in paths]
    frames = pa.concat_tables([table for table, _ in results])
    summaries = [summary for _, summary in results]
    before = store.head(name)
    count_before = before.frame_count() if before else 0
    message = f"ingest {len(paths)} recording(s): " + ", ".join(s.recording_id for s in summaries)
    snapshot, new_version = store.commit(
        name,
        kind="ingest",
        message=message,
        frames=frames,
        classes=None if before else config.classes,
    )
    return IngestReport(
        snapshot=snapshot,
        new_version=new_version,
        added_frames=snapshot.frame_count() - count_before,
        recordings=summaries,
    )
