"""Simulation speed: frames per second at the default size and at 640x480.

Baseline, measured in the same run: writing messages of the same sizes (colour, depth, camera
info, LiDAR) through rosbags without rendering anything: the floor that any recorder pays.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import numpy as np

from robotops.sim import SimConfig, simulate
from robotops.sim.bag_writer import BagFormat, BagSink
from robotops.sim.recording import TOPICS

FRAMES = 48
SIZES = ((160, 120), (640, 480))


def _write_only(path: Path, width: int, height: int, frames: int, points: int) -> float:
    """Seconds to write pre-made messages of the simulator's sizes."""
    rgb = np.zeros(width * height * 3, np.uint8)
    depth = np.zeros(width * height * 2, np.uint8)
    cloud = np.zeros(points * 16, np.uint8)
    start = time.perf_counter()
    with BagSink(path, BagFormat.MCAP) as sink:
        sink.add_topic(TOPICS["rgb"], "sensor_msgs/msg/Image")
        sink.add_topic(TOPICS["depth"], "sensor_msgs/msg/Image")
        sink.add_topic(TOPICS["lidar"], "sensor_msgs/msg/PointCloud2")
        for i in range(frames):
            for topic, data, enc in (
                (TOPICS["rgb"], rgb, "rgb8"),
                (TOPICS["depth"], depth, "16UC1"),
            ):
                msg = sink.msg(
                    "sensor_msgs/msg/Image",
                    header=sink.header(topic, i, "cam"),
                    height=height,
                    width=width,
                    encoding=enc,
                    is_bigendian=0,
                    step=data.size // height,
                    data=data,
                )
                sink.write(topic, i, msg)
        for j in range(math.ceil(frames / 15 * 10)):
            msg = sink.msg(
                "sensor_msgs/msg/PointCloud2",
                header=sink.header(TOPICS["lidar"], j, "lidar"),
                height=1,
                width=points,
                fields=[],
                is_bigendian=False,
                point_step=16,
                row_step=16 * points,
                data=cloud,
                is_dense=True,
            )
            sink.write(TOPICS["lidar"], j, msg)
    return time.perf_counter() - start


def run() -> str:
    """Measure and return the Markdown section."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for width, height in SIZES:
            out = Path(tmp) / f"sim-{width}"
            start = time.perf_counter()
            written = simulate(
                SimConfig(out_dir=out, recordings=3, frames=FRAMES // 3, width=width, height=height)
            )
            sim_s = time.perf_counter() - start
            frames = sum(r.frames for r in written)
            base_s = _write_only(Path(tmp) / f"base-{width}", width, height, frames, 13_000)
            rows.append(
                f"| {width}x{height} | {frames} | {frames / sim_s:.1f} | {frames / base_s:.1f} "
                f"| {sim_s / base_s:.1f}x |"
            )
    return "\n".join(
        [
            "## Simulation (`robotops sim`)",
            "",
            "Colour frames per second of `simulate()` (render colour, depth and LiDAR; write",
            "MCAP), against writing pre-made messages of the same sizes with rosbags.",
            "",
            "| size | frames | sim frames/s | write-only frames/s | sim cost vs write-only |",
            "| --- | --- | --- | --- | --- |",
            *rows,
        ]
    )
