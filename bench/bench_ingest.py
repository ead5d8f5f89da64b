"""Ingest speed: frames per second of `ingest()` into a fresh store, local and on Ray.

Baseline, measured in the same run on the same bags: opening each bag with rosbags' `AnyReader`
and deserialising every message of every topic, nothing more. The ratio shows what pixel and
point-cloud decoding, synchronisation and the Lance commit cost on top of reading the bag.
"""

from __future__ import annotations

import itertools
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore

from robotops.config import Config
from robotops.dataset.store import Store
from robotops.ingest.ingest import Engine, ingest
from robotops.sim import SimConfig, simulate

RECORDINGS = 4
FRAMES = 48  # colour frames per recording
REPEATS = 3


def _read_only(paths: Sequence[Path]) -> int:
    """Read and deserialise every message of every bag; the number of messages."""
    typestore = get_typestore(Stores.ROS2_HUMBLE)
    count = 0
    for path in paths:
        with AnyReader([path], default_typestore=typestore) as reader:
            for conn, _, raw in reader.messages():
                reader.deserialize(raw, conn.msgtype)
                count += 1
    return count


def _ingest_into(tmp: Path, engine: Engine) -> Callable[[Sequence[Path]], int]:
    """A function that ingests the bags into a fresh store under ``tmp``; the frames added."""
    runs = itertools.count()

    def run(paths: Sequence[Path]) -> int:
        root = tmp / f"store-{engine}-{next(runs)}"
        report = ingest(paths, Store(root), "bench", Config(), engine=engine)
        shutil.rmtree(root)
        return report.added_frames

    return run


def _timed(work: Callable[[Sequence[Path]], int], paths: Sequence[Path]) -> tuple[float, int]:
    """Median seconds of ``REPEATS`` calls, and what the last call returned."""
    seconds = []
    result = 0
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = work(paths)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def _ray_cold(tmp: Path, paths: Sequence[Path]) -> tuple[float, int]:
    """One Ray ingest that starts and stops its own local Ray (as `--engine ray` does)."""
    start = time.perf_counter()
    frames = _ingest_into(tmp, Engine.RAY)(paths)
    return time.perf_counter() - start, frames


def _ray_warm(tmp: Path, paths: Sequence[Path]) -> tuple[float, int]:
    """Median Ray ingest with Ray started beforehand (as on a running cluster)."""
    import ray

    ray.init(include_dashboard=False, log_to_driver=False)
    try:
        return _timed(_ingest_into(tmp, Engine.RAY), paths)
    finally:
        ray.shutdown()


def run() -> str:
    """Measure and return the Markdown section."""
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        written = simulate(
            SimConfig(
                out_dir=tmp / "bags",
                recordings=RECORDINGS,
                frames=FRAMES,
                width=160,
                height=120,
                seed=7,
            )
        )
        paths = [r.bag for r in written]
        frames = sum(r.frames for r in written)
        base_s, messages = _timed(_read_only, paths)
        local_s, local_frames = _timed(_ingest_into(tmp, Engine.LOCAL), paths)
        cold_s, cold_frames = _ray_cold(tmp, paths)
        warm_s, warm_frames = _ray_warm(tmp, paths)

    base_fps = frames / base_s

    def row(what: str, how: str, seconds: float, count: int) -> str:
        fps = count / seconds
        return f"| {what} | {how} | {count} | {seconds:.2f} | {fps:.1f} | {fps / base_fps:.2f} |"

    return "\n".join(
        [
            "## Ingest (`robotops ingest`)",
            "",
            f"{RECORDINGS} simulated MCAP recordings of {FRAMES} colour frames at 160x120",
            f"({messages} messages: colour, depth, camera info, LiDAR, TF). Baseline: rosbags",
            "`AnyReader` reading and deserialising every message of every bag, without decoding",
            "pixels. `ingest()` reads, decodes, synchronises and commits one Lance version into a",
            f"fresh store each time. Times are the median of {REPEATS} runs, except Ray cold: one",
            "run that includes starting and stopping a local Ray (as `--engine ray` does without",
            f"`--address`). Ray warm: Ray started beforehand, median of {REPEATS} runs. With",
            f"{os.cpu_count()} cores Ray reads at most that many recordings at once, and a cold",
            "start-up costs far more than the reading itself at this size.",
            "",
            "| what | how | frames | seconds | frames/s | vs read-only |",
            "| --- | --- | --- | --- | --- | --- |",
            row("read + deserialise (baseline)", "rosbags AnyReader", base_s, frames),
            row("ingest", "local", local_s, local_frames),
            row("ingest", "Ray, cold (with start-up)", cold_s, cold_frames),
            row("ingest", "Ray, warm", warm_s, warm_frames),
        ]
    )


if __name__ == "__main__":
    print(run())
