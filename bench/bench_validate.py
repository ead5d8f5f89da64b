"""Validation speed: `robotops validate` on 20,000 frames against reading their bytes from Lance.

The frames are the store benchmark's synthetic ones (distinct noisy PNG colour, depth and LiDAR
per frame), committed with labels and a split by recording. Baseline: scanning the same sensor
columns from the same Lance version without decoding anything, so the ratio is what decoding,
hashing and the checks cost on top of reading.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_store import CLASSES, HEIGHT, POINTS, WIDTH, make_frames
from robotops.config import Config
from robotops.dataset.splits import split_dataset
from robotops.dataset.store import Store
from robotops.validate import validate
from robotops.validate.scan import SENSOR_COLUMNS


def _read_only(store: Store) -> float:
    start = time.perf_counter()
    rows = 0
    for batch in store.snapshot("doors").scan_frames(SENSOR_COLUMNS, batch_size=256):
        rows += batch.num_rows
    return time.perf_counter() - start


def _validate(store: Store, workers: int) -> float:
    start = time.perf_counter()
    validate(store, "doors", Config(), recompute=True, workers=workers)
    return time.perf_counter() - start


def run() -> str:
    """Measure and return the Markdown section."""
    frames, labels = make_frames(seed=1)
    n = frames.num_rows
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "store")
        store.commit("doors", kind="ingest", message="bench", frames=frames, classes=CLASSES)
        store.commit("doors", kind="labels", message="bench", labels=labels)
        split_dataset(store, "doors", fractions=(0.7, 0.15, 0.15))
        _read_only(store)  # warm the page cache so both sides read from memory
        baseline = min(_read_only(store) for _ in range(3))
        one = _validate(store, workers=1)
        every = _validate(store, workers=cores)
    rows = [
        ("read sensor bytes (baseline)", "Lance scan", baseline),
        ("validate, 1 thread", "scan + 15 checks + HTML report", one),
        (f"validate, {cores} threads", "scan + 15 checks + HTML report", every),
    ]
    lines = [
        "## Validation (`robotops validate`)",
        "",
        f"{n:,} synthetic frames (the store benchmark's: {WIDTH}x{HEIGHT} noisy PNG colour,",
        f"{WIDTH}x{HEIGHT} uint16 depth, {POINTS:,}-point LiDAR, all distinct), labelled and split",
        "by recording. Baseline: scanning the same sensor columns of the same Lance version",
        "without decoding (best of 3, page cache warm). Validate: decode every colour image,",
        "count valid depth and finite LiDAR points, hash for duplicates, run every check, render",
        "and keep the HTML and JSON reports (one run each, `recompute=True`).",
        "",
        "| what | how | seconds | frames/s | vs read-only |",
        "| --- | --- | --- | --- | --- |",
    ]
    for what, how, seconds in rows:
        lines.append(
            f"| {what} | {how} | {seconds:.2f} | {n / seconds:,.0f} | {seconds / baseline:.1f}x |"
        )
    lines += ["", f"Target: well under a minute for 20,000 frames on 2 cores: {every:.1f} s."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())
