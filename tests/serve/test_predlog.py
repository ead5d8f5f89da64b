"""The prediction log: batched parts, what is kept, the flush on close, and reading it back."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from robotops.errors import NotFoundError, OutputError
from robotops.runtime import Frame
from robotops.serve.predlog import (
    INPUT_COLUMNS,
    LogEntry,
    PredictionLog,
    decode_frame,
    log_parts,
    read_log,
)


def entry(i: int, confidence: float, frame: Frame | None = None) -> LogEntry:
    rng = np.random.default_rng(i)
    if frame is None:
        frame = Frame(
            rng.integers(0, 256, (6, 8, 3), dtype=np.uint8),
            rng.integers(0, 4000, (6, 8)).astype(np.uint16),
            rng.normal(size=(20, 3)).astype(np.float32),
        )
    return LogEntry(
        request_id=f"r{i}", item=0, time_ns=1_000 + i, model="m", version="3", bundle="b" * 64,
        label="glass_door", index=0, confidence=confidence,
        probabilities=(confidence, 1 - confidence), latency_ms=2.5, frame=frame,
    )  # fmt: skip


def test_close_flushes_everything_in_parts_of_at_most_batch_rows(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "log", batch_rows=7, flush_seconds=60).start()
    for i in range(30):
        log.submit([entry(i, 0.9)])
    log.close()
    assert log.written == log.submitted == 30
    parts = log_parts(tmp_path / "log")
    assert len(parts) == 5  # 7 + 7 + 7 + 7 + 2
    table = read_log(tmp_path / "log")
    assert table.column("request_id").to_pylist() == [f"r{i}" for i in range(30)]
    assert not any(p.name.endswith(".tmp") for p in (tmp_path / "log").iterdir())


def test_rows_are_written_within_the_flush_interval_while_serving(tmp_path: Path) -> None:
    with PredictionLog(tmp_path / "log", batch_rows=1000, flush_seconds=0.1) as log:
        log.submit([entry(0, 0.9), entry(1, 0.9)])
        deadline = time.monotonic() + 5
        while log.written < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert log.written == 2  # on disk before close
        assert read_log(tmp_path / "log").num_rows == 2


def test_low_confidence_inputs_are_always_kept_and_others_sampled(tmp_path: Path) -> None:
    with PredictionLog(tmp_path / "log", sample_rate=0.25, low_confidence=0.6, seed=1) as log:
        log.submit([entry(i, 0.4 if i % 2 else 0.95) for i in range(200)])
    rows = read_log(tmp_path / "log").to_pylist()
    low = [r for r in rows if r["low_confidence"]]
    high = [r for r in rows if not r["low_confidence"]]
    assert len(low) == 100 and all(r["input_kept"] for r in low)
    kept = sum(r["input_kept"] for r in high)
    assert 10 <= kept <= 45  # about a quarter of 100
    for row in rows:
        assert (row["rgb"] is not None) == row["input_kept"]


def test_kept_inputs_decode_to_the_served_arrays_and_stats_are_computed(tmp_path: Path) -> None:
    frame = entry(3, 0.1).frame
    with PredictionLog(tmp_path / "log") as log:
        log.submit([entry(3, 0.1, frame), entry(4, 0.1, Frame(None, None, frame.xyz))])
    first, second = read_log(tmp_path / "log").to_pylist()
    rgb, depth, xyz = decode_frame(first)
    np.testing.assert_array_equal(rgb, frame.rgb)
    np.testing.assert_array_equal(depth, frame.depth_mm)
    np.testing.assert_array_equal(xyz, frame.xyz)
    luma = (frame.rgb @ np.array([0.299, 0.587, 0.114])).mean() / 255
    assert first["brightness"] == pytest.approx(luma, rel=1e-5)
    assert first["depth_valid"] == pytest.approx(np.count_nonzero(frame.depth_mm) / 48)
    assert first["lidar_returns"] == 20
    assert second["brightness"] is None and second["depth_valid"] is None  # missing, not zero
    assert decode_frame(second).rgb is None


def test_reading_numbers_only_skips_the_inputs(tmp_path: Path) -> None:
    with PredictionLog(tmp_path / "log") as log:
        log.submit([entry(0, 0.1)])
    table = read_log(tmp_path / "log", ["confidence", "time_ns"])
    assert table.column_names == ["confidence", "time_ns"]
    assert not set(INPUT_COLUMNS) & set(table.column_names)


def test_missing_logs_and_unwritable_folders_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no such prediction log folder"):
        read_log(tmp_path / "none")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotFoundError, match="no prediction log parts"):
        read_log(tmp_path / "empty")
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match="cannot create the log folder"):
        PredictionLog(tmp_path / "file" / "log").start()


def test_a_failed_write_is_retried_at_the_next_flush(tmp_path: Path) -> None:
    folder = tmp_path / "log"
    log = PredictionLog(folder, flush_seconds=0.05).start()
    folder.rmdir()
    folder.write_text("")  # the folder is gone: writes fail (as root too)
    log.submit([entry(0, 0.9)])
    deadline = time.monotonic() + 5
    while log.failures == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert log.written == 0 and log.failures >= 1
    folder.unlink()
    folder.mkdir()
    log.close()
    assert log.written == 1
    assert read_log(folder).num_rows == 1
