"""The prediction log: every served prediction, written off the request path in batches.

The server hands each answered frame to :meth:`PredictionLog.submit`, which only appends to a
queue. One writer thread takes the queue, computes the frame's input statistics
(:func:`robotops.monitor.stats.input_stats`), decides whether to keep the input itself (always
below the low-confidence threshold, else a seeded random sample), encodes it as a dataset frame
row encodes it, and writes a Parquet part file every ``batch_rows`` rows or ``flush_seconds``.
:meth:`PredictionLog.close` drains the queue and writes the rest, so after a graceful shutdown
the rows logged equal the frames served.

The log is a folder of ``predictions-*.parquet`` parts in :data:`LOG_SCHEMA`. A part is written
under a temporary name and renamed into place, so a reader (``robotops monitor``) or a crash never
sees half a part. :func:`read_log` reads them all as one table.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import queue
import random
import secrets
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from robotops.dataset.frames import SENSOR_COLUMNS, decode_row
from robotops.errors import DataError, NotFoundError, OutputError, one_line
from robotops.monitor.stats import input_stats
from robotops.runtime import Frame

PART_GLOB = "predictions-*.parquet"
BUNDLES = "bundles.json"
"""The bundles the log's rows came from, by digest: path, model, version, dataset, loaded at."""

LOG_SCHEMA = pa.schema(
    [
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("item", pa.int32(), nullable=False),  # the frame's position in its request
        pa.field("time_ns", pa.int64(), nullable=False),  # when the request arrived
        pa.field("model", pa.string(), nullable=False),
        pa.field("version", pa.string()),  # registry version, when the bundle has one
        pa.field("bundle", pa.string(), nullable=False),  # the bundle's digest
        pa.field("label", pa.string(), nullable=False),
        pa.field("index", pa.int32(), nullable=False),
        pa.field("confidence", pa.float32(), nullable=False),
        pa.field("probabilities", pa.list_(pa.float32()), nullable=False),
        pa.field("latency_ms", pa.float32(), nullable=False),  # the request's, in the server
        pa.field("robot", pa.string()),  # request parameters, when the client sends them
        pa.field("site", pa.string()),
        pa.field("brightness", pa.float32()),
        pa.field("depth_valid", pa.float32()),
        pa.field("lidar_returns", pa.int32()),
        pa.field("low_confidence", pa.bool_(), nullable=False),
        pa.field("input_kept", pa.bool_(), nullable=False),
        # The input, when kept, encoded as dataset frame rows encode it (robotops.dataset.schema).
        pa.field("rgb", pa.large_binary()),  # PNG
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("depth_mm", pa.large_binary()),  # little-endian uint16, row-major
        pa.field("depth_width", pa.int32()),
        pa.field("depth_height", pa.int32()),
        pa.field("lidar_xyz", pa.large_binary()),  # little-endian float32 x, y, z
        pa.field("lidar_points", pa.int32()),
    ]
)

INPUT_COLUMNS = (
    "rgb",
    "width",
    "height",
    "depth_mm",
    "depth_width",
    "depth_height",
    "lidar_xyz",
    "lidar_points",
)
"""The columns that hold kept inputs; leave them out of a read that needs only the numbers."""


@dataclass(frozen=True)
class LogEntry:
    """One served frame, as the request handler knows it.

    Attributes:
        request_id: The request's id (the client's, or one the server made).
        item: The frame's position in the request's batch.
        time_ns: When the request arrived, ns since the epoch.
        model: The served model's name.
        version: Its registry version, if any.
        bundle: The bundle's digest.
        label: The predicted class.
        index: Its index in the class list.
        confidence: Its probability.
        probabilities: Every class's probability.
        latency_ms: The request's time in the server up to its answer.
        frame: The raw input arrays.
        robot: The robot that sent it, if the request said.
        site: The site it was sent from, if the request said.
    """

    request_id: str
    item: int
    time_ns: int
    model: str
    version: str | None
    bundle: str
    label: str
    index: int
    confidence: float
    probabilities: tuple[float, ...]
    latency_ms: float
    frame: Frame
    robot: str | None = None
    site: str | None = None


class PredictionLog:
    """A batched, threaded writer of :data:`LOG_SCHEMA` parts into ``folder``.

    Use as a context manager, or call :meth:`start` and :meth:`close`.

    Args:
        folder: Where the parts go (created).
        sample_rate: Share of inputs kept besides the low-confidence ones, 0 to 1.
        low_confidence: Inputs with a confidence below this are always kept.
        batch_rows: Rows per part at most.
        flush_seconds: A part is written at least this often while rows wait.
        seed: Seeds the sampling, so a replay keeps the same inputs.
    """

    def __init__(
        self,
        folder: Path,
        *,
        sample_rate: float = 0.05,
        low_confidence: float = 0.6,
        batch_rows: int = 512,
        flush_seconds: float = 1.0,
        seed: int = 0,
    ) -> None:
        self.folder = Path(folder)
        self.sample_rate = sample_rate
        self.low_confidence = low_confidence
        self.batch_rows = batch_rows
        self.flush_seconds = flush_seconds
        self._random = random.Random(seed)
        self._queue: queue.SimpleQueue[Sequence[LogEntry] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._submitted = 0
        self._written = 0
        self._failures = 0
        self._parts = 0
        # Time and process alone repeat when one process opens a log twice within a second;
        # a random part keeps the second writer from replacing the first one's parts.
        started = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        self._prefix = f"predictions-{started}-{os.getpid()}-{secrets.token_hex(4)}"

    @property
    def submitted(self) -> int:
        """Rows handed to :meth:`submit` so far."""
        return self._submitted

    @property
    def written(self) -> int:
        """Rows in parts on disk so far."""
        return self._written

    @property
    def pending(self) -> int:
        """Rows submitted but not yet on disk."""
        return self._submitted - self._written

    @property
    def failures(self) -> int:
        """Part writes that failed (their rows are retried at the next flush)."""
        return self._failures

    def start(self) -> PredictionLog:
        """Create the folder and start the writer thread.

        Raises:
            OutputError: The folder cannot be created.
        """
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise OutputError(f"{self.folder}: cannot create the log folder: {err}") from err
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()
        return self

    def note_bundle(self, digest: str, info: dict[str, Any]) -> None:
        """Record in :data:`BUNDLES` what the bundle with ``digest`` is (on load and reload).

        Raises:
            OutputError: The file cannot be written.
        """
        bundles = read_bundles(self.folder)
        bundles[digest] = info
        path = self.folder / BUNDLES
        temporary = path.with_name(f".{BUNDLES}.tmp")
        try:
            temporary.write_text(json.dumps(bundles, indent=2) + "\n", encoding="utf-8")
            os.replace(temporary, path)
        except OSError as err:
            raise OutputError(f"{path}: cannot write: {one_line(err)}") from err

    def submit(self, entries: Sequence[LogEntry]) -> None:
        """Queue ``entries`` for writing; returns at once."""
        if not entries:
            return
        with self._lock:
            self._submitted += len(entries)
        self._queue.put(entries)

    def close(self) -> None:
        """Write everything queued, then stop the writer thread."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join()
        self._thread = None

    def __enter__(self) -> PredictionLog:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        rows: list[dict] = []
        deadline = time.monotonic() + self.flush_seconds
        stopping = False
        while not stopping:
            try:
                item = self._queue.get(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                item = ()
            if item is None:
                stopping = True
            else:
                for entry in item:
                    try:
                        rows.append(self._row(entry))
                    except Exception as err:  # one bad entry must not stop the writer
                        self._failures += 1
                        print(
                            f"robotops serve: request {entry.request_id}: not logged: "
                            f"{one_line(err)}",
                            file=sys.stderr,
                        )
            now = time.monotonic()
            if rows and (stopping or len(rows) >= self.batch_rows or now >= deadline):
                rows = self._write(rows, final=stopping)
            if now >= deadline:
                deadline = now + self.flush_seconds

    def _row(self, entry: LogEntry) -> dict:
        rgb, depth_mm, xyz = entry.frame
        stats = input_stats(rgb, depth_mm, xyz)
        low = entry.confidence < self.low_confidence
        keep = low or self._random.random() < self.sample_rate
        row = {
            "request_id": entry.request_id,
            "item": entry.item,
            "time_ns": entry.time_ns,
            "model": entry.model,
            "version": entry.version,
            "bundle": entry.bundle,
            "label": entry.label,
            "index": entry.index,
            "confidence": entry.confidence,
            "probabilities": list(entry.probabilities),
            "latency_ms": entry.latency_ms,
            "robot": entry.robot,
            "site": entry.site,
            "brightness": stats.brightness,
            "depth_valid": stats.depth_valid,
            "lidar_returns": stats.lidar_returns,
            "low_confidence": low,
            "input_kept": keep,
        }
        if keep:
            row.update(encode_frame(entry.frame))
        return row

    def _write(self, rows: list[dict], *, final: bool) -> list[dict]:
        """Write ``rows`` as one part; the rows still unwritten (empty on success)."""
        for start in range(0, len(rows), self.batch_rows):
            chunk = rows[start : start + self.batch_rows]
            path = self.folder / f"{self._prefix}-{self._parts:06d}.parquet"
            temporary = path.with_name(f".{path.name}.tmp")
            try:
                pq.write_table(pa.Table.from_pylist(chunk, schema=LOG_SCHEMA), temporary)
                os.replace(temporary, path)
            except OSError as err:
                self._failures += 1
                with contextlib.suppress(OSError):
                    temporary.unlink(missing_ok=True)
                lost = "" if not final else f"; {len(rows) - start} rows not logged"
                print(
                    f"robotops serve: {path}: cannot write the log: {one_line(err)}{lost}",
                    file=sys.stderr,
                )
                return [] if final else rows[start:]
            self._parts += 1
            with self._lock:
                self._written += len(chunk)
        return []


def encode_frame(frame: Frame) -> dict:
    """A frame's arrays as the input columns of :data:`LOG_SCHEMA` (and of a dataset frame)."""
    rgb, depth_mm, xyz = frame
    out: dict = {}
    if rgb is not None:
        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(rgb, np.uint8)).save(buffer, format="PNG")
        out.update(rgb=buffer.getvalue(), width=rgb.shape[1], height=rgb.shape[0])
    if depth_mm is not None:
        depth = np.ascontiguousarray(depth_mm, "<u2")
        out.update(
            depth_mm=depth.tobytes(), depth_width=depth.shape[1], depth_height=depth.shape[0]
        )
    if xyz is not None:
        points = np.ascontiguousarray(xyz, "<f4").reshape(-1, 3)
        out.update(lidar_xyz=points.tobytes(), lidar_points=len(points))
    return out


def decode_frame(row: dict) -> Frame:
    """The raw arrays of a log row whose input was kept (see :func:`encode_frame`).

    The input columns are a dataset frame's, so :func:`robotops.dataset.frames.decode_row`
    reads them.

    Raises:
        DataError: The bytes do not decode.
    """
    where = f"log row {row.get('request_id')} item {row.get('item')}"
    columns = {name: row.get(name) for name in SENSOR_COLUMNS} | {"frame_id": where}
    try:
        return Frame(*decode_row(columns))
    except (DataError, TypeError) as err:  # TypeError: a size column is null
        raise DataError(f"{where}: input does not decode: {one_line(err)}") from err


def read_bundles(folder: Path) -> dict[str, dict[str, Any]]:
    """The log's :data:`BUNDLES` record (empty when there is none).

    Raises:
        DataError: The file is not a JSON object.
    """
    path = Path(folder) / BUNDLES
    try:
        bundles = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: not readable JSON: {one_line(err)}") from err
    if not isinstance(bundles, dict):
        raise DataError(f"{path}: not a JSON object of bundles by digest")
    return bundles


def log_parts(folder: Path) -> list[Path]:
    """The log's part files, oldest first.

    Raises:
        NotFoundError: ``folder`` does not exist or holds no part.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise NotFoundError(f"{folder}: no such prediction log folder")
    parts = sorted(folder.glob(PART_GLOB))
    if not parts:
        raise NotFoundError(f"{folder}: no prediction log parts ({PART_GLOB}) in it")
    return parts


def read_log(folder: Path, columns: Sequence[str] | None = None) -> pa.Table:
    """Every row of the log in ``folder``, in time order.

    Args:
        folder: The log folder.
        columns: Columns to read (default: all); leave out :data:`INPUT_COLUMNS` for speed.

    Raises:
        NotFoundError: No log there.
        DataError: A part is not a readable prediction log part.
    """
    tables = []
    for part in log_parts(folder):
        try:
            table = pq.read_table(part, columns=list(columns) if columns else None)
        except (OSError, pa.ArrowInvalid, KeyError) as err:
            raise DataError(f"{part}: not a readable prediction log part: {one_line(err)}") from err
        tables.append(table)
    schema = pa.schema([LOG_SCHEMA.field(c) for c in columns]) if columns else LOG_SCHEMA
    try:
        table = pa.concat_tables([t.cast(schema) for t in tables])
    except (pa.ArrowInvalid, ValueError) as err:
        raise DataError(f"{folder}: log parts do not match the log schema: {err}") from err
    return table.sort_by("time_ns") if "time_ns" in table.column_names else table
