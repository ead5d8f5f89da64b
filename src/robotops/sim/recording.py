"""One simulated recording: the robot drives towards a door while its sensors publish.

Sensors run on their own clocks, as on a real robot: the camera at 15 Hz and the LiDAR at 10 Hz,
each stamp jittered, each message logged a little after its stamp (transport latency), depth
stamped a few milliseconds away from colour. Nothing is pre-synchronised; that is ingest's job.
"""

from __future__ import annotations

import io
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from robotops.sim import rig
from robotops.sim.bag_writer import BagFormat, BagSink
from robotops.sim.render import CameraFrame, Pose, render_camera, render_lidar
from robotops.sim.scene import CLASSES, DoorClass, Scenario, build_world, sample_scenario
from robotops.sim.sites import Site

ROBOT = "simbot-1"
EPOCH_NS = 1_767_225_600 * 1_000_000_000  # 2026-01-01T00:00:00Z: simulated clocks start here

TOPICS = {
    "rgb": "/camera/color/image_raw",
    "rgb_compressed": "/camera/color/image_raw/compressed",
    "depth": "/camera/aligned_depth_to_color/image_raw",
    "camera_info": "/camera/color/camera_info",
    "lidar": "/lidar/points",
    "tf_static": "/tf_static",
}


@dataclass(frozen=True)
class RecordingSpec:
    """What to record: everything needed to reproduce one recording exactly."""

    site: Site
    index: int
    door_class: DoorClass
    seed: int
    frames: int
    width: int
    height: int
    variant: str | None = None
    lighting: str | None = None

    @property
    def recording_id(self) -> str:
        """Stable, readable id: site, seed and index."""
        return f"{self.site.name}-{self.seed}-{self.index:03d}"

    def rng(self, *stream: int) -> np.random.Generator:
        """An independent random stream of this recording (frame ``i``: ``rng(i)``)."""
        return np.random.default_rng(
            [self.seed, zlib.crc32(self.site.name.encode()), self.index, *stream]
        )


@dataclass(frozen=True)
class FrameTruth:
    """Ground truth of one colour frame, keyed by its header stamp."""

    stamp_ns: int
    door_box: tuple[int, int, int, int] | None
    person: bool


@dataclass(frozen=True)
class _Event:
    log_ns: int
    stamp_ns: int
    topic: str
    frame: int


def _timeline(spec: RecordingSpec, t0_ns: int, compressed: bool) -> tuple[list[_Event], int]:
    """All messages of the recording in log-time order, and the LiDAR sweep count."""
    rng = spec.rng(1_000_000)
    duration_s = spec.frames / rig.CAMERA_HZ
    events: list[_Event] = []
    rgb_topic = TOPICS["rgb_compressed"] if compressed else TOPICS["rgb"]
    for i in range(spec.frames):
        stamp = t0_ns + round((i / rig.CAMERA_HZ + rng.normal(0.0, 0.0015)) * 1e9)
        depth_stamp = stamp + int(rng.normal(0.0, 0.001) * 1e9)
        latency = int(rng.uniform(0.008, 0.025) * 1e9)
        events.append(_Event(stamp + latency, stamp, rgb_topic, i))
        events.append(_Event(stamp + latency + 100_000, stamp, TOPICS["camera_info"], i))
        events.append(
            _Event(
                depth_stamp + int(rng.uniform(0.008, 0.025) * 1e9), depth_stamp, TOPICS["depth"], i
            )
        )
    sweeps = math.ceil(duration_s * rig.LIDAR_HZ)
    offset = rng.uniform(0.0, 1.0 / rig.LIDAR_HZ)
    for j in range(sweeps):
        stamp = t0_ns + round((offset + j / rig.LIDAR_HZ + rng.normal(0.0, 0.0005)) * 1e9)
        events.append(
            _Event(stamp + int(rng.uniform(0.005, 0.015) * 1e9), stamp, TOPICS["lidar"], j)
        )
    events.sort(key=lambda e: (e.log_ns, e.topic))
    return events, sweeps


class _Robot:
    """Where the robot and the walking person are at any time of the recording."""

    def __init__(self, spec: RecordingSpec, scenario: Scenario, t0_ns: int) -> None:
        self.spec, self.scenario, self.t0_ns = spec, scenario, t0_ns
        self.duration_s = spec.frames / rig.CAMERA_HZ

    def pose(self, stamp_ns: int) -> Pose:
        sc = self.scenario
        tau = (stamp_ns - self.t0_ns) / 1e9
        s = min(max(tau / self.duration_s, 0.0), 1.0)
        distance = sc.start_distance_m + (sc.end_distance_m - sc.start_distance_m) * s
        return Pose(
            x_m=-distance - rig.CAMERA_XYZ_M[0],
            y_m=sc.door_y_m + sc.robot_offset_m + 0.05 * math.sin(2 * math.pi * tau / 3.0),
            yaw_rad=sc.yaw0_rad * (1 - s) + 0.02 * math.sin(2 * math.pi * tau / 2.5),
        )

    def person_y(self, stamp_ns: int) -> float | None:
        sc = self.scenario
        if not sc.occluded:
            return None
        tau = (stamp_ns - self.t0_ns) / 1e9
        # Walks across the corridor at 1.2 m/s, starting at the recording's middle.
        y = sc.person_start_y_m - math.copysign(1.2, sc.person_start_y_m) * (
            tau - self.duration_s / 2
        )
        return y if abs(y) < self.spec.site.corridor_m / 2 - 0.25 else None


def _cloud_fields(sink: BagSink) -> list[Any]:
    point_field = "sensor_msgs/msg/PointField"
    return [
        sink.msg(point_field, name=name, offset=4 * k, datatype=7, count=1)  # 7 = FLOAT32
        for k, name in enumerate(("x", "y", "z", "intensity"))
    ]


def _static_tf(sink: BagSink, stamp_ns: int) -> Any:
    def transform(
        parent: str, child: str, xyz: tuple[float, float, float], quat: tuple[float, ...]
    ) -> Any:
        return sink.msg(
            "geometry_msgs/msg/TransformStamped",
            header=sink.header(TOPICS["tf_static"], stamp_ns, parent),
            child_frame_id=child,
            transform=sink.msg(
                "geometry_msgs/msg/Transform",
                translation=sink.msg("geometry_msgs/msg/Vector3", x=xyz[0], y=xyz[1], z=xyz[2]),
                rotation=sink.msg(
                    "geometry_msgs/msg/Quaternion", x=quat[0], y=quat[1], z=quat[2], w=quat[3]
                ),
            ),
        )

    identity = (0.0, 0.0, 0.0, 1.0)
    return sink.msg(
        "tf2_msgs/msg/TFMessage",
        transforms=[
            transform(rig.BASE_FRAME, rig.CAMERA_FRAME, rig.CAMERA_XYZ_M, identity),
            transform(rig.CAMERA_FRAME, rig.OPTICAL_FRAME, (0.0, 0.0, 0.0), rig.OPTICAL_QUAT_XYZW),
            transform(rig.BASE_FRAME, rig.LIDAR_FRAME, rig.LIDAR_XYZ_M, identity),
        ],
    )


def write_recording(
    spec: RecordingSpec,
    path: Path,
    fmt: BagFormat,
    *,
    compressed: bool = False,
    on_frame: Callable[[], None] | None = None,
) -> tuple[Scenario, list[FrameTruth]]:
    """Simulate ``spec`` and write it as a bag at ``path``.

    Returns:
        The scenario drawn and the ground truth of each colour frame, in time order.
    """
    scenario = sample_scenario(
        spec.site,
        spec.door_class,
        spec.rng(),
        spec.frames / rig.CAMERA_HZ,
        variant=spec.variant,
        lighting=spec.lighting,
    )
    t0_ns = EPOCH_NS + int(spec.rng(2_000_000).integers(0, 86_400)) * 1_000_000_000
    events, _ = _timeline(spec, t0_ns, compressed)
    robot = _Robot(spec, scenario, t0_ns)
    intr = rig.Intrinsics.for_size(spec.width, spec.height)
    rendered: dict[int, CameraFrame] = {}
    truths: list[FrameTruth] = []
    rgb_topic = TOPICS["rgb_compressed"] if compressed else TOPICS["rgb"]

    def camera(i: int, stamp_ns: int) -> CameraFrame:
        # Colour, depth and info of frame i come from one exposure at the colour stamp.
        if i not in rendered:
            world = build_world(spec.site, scenario, robot.person_y(stamp_ns))
            rendered[i] = render_camera(world, scenario, robot.pose(stamp_ns), intr, spec.rng(i))
        return rendered[i]

    colour_stamps = {e.frame: e.stamp_ns for e in events if e.topic == rgb_topic}
    with BagSink(path, fmt) as sink:
        sink.add_topic(TOPICS["tf_static"], "tf2_msgs/msg/TFMessage", latched=True)
        sink.add_topic(
            rgb_topic, "sensor_msgs/msg/CompressedImage" if compressed else "sensor_msgs/msg/Image"
        )
        sink.add_topic(TOPICS["depth"], "sensor_msgs/msg/Image")
        sink.add_topic(TOPICS["camera_info"], "sensor_msgs/msg/CameraInfo")
        sink.add_topic(TOPICS["lidar"], "sensor_msgs/msg/PointCloud2")
        sink.write(TOPICS["tf_static"], t0_ns, _static_tf(sink, t0_ns))
        written: dict[int, int] = {}
        for ev in events:
            if ev.topic == TOPICS["lidar"]:
                world = build_world(spec.site, scenario, robot.person_y(ev.stamp_ns))
                cloud = render_lidar(world, robot.pose(ev.stamp_ns), spec.rng(500_000 + ev.frame))
                msg = sink.msg(
                    "sensor_msgs/msg/PointCloud2",
                    header=sink.header(ev.topic, ev.stamp_ns, rig.LIDAR_FRAME),
                    height=1,
                    width=cloud.shape[0],
                    fields=_cloud_fields(sink),
                    is_bigendian=False,
                    point_step=16,
                    row_step=16 * cloud.shape[0],
                    data=cloud.view(np.uint8).ravel(),
                    is_dense=True,
                )
                sink.write(ev.topic, ev.log_ns, msg)
                continue
            colour_stamp = colour_stamps[ev.frame]
            frame = camera(ev.frame, colour_stamp)
            header = sink.header(ev.topic, ev.stamp_ns, rig.OPTICAL_FRAME)
            if ev.topic == rgb_topic:
                msg = _colour_message(sink, header, frame.rgb, compressed)
                truths.append(
                    FrameTruth(ev.stamp_ns, frame.door_box, robot.person_y(ev.stamp_ns) is not None)
                )
            elif ev.topic == TOPICS["depth"]:
                msg = _image_message(sink, header, frame.depth_mm, "16UC1")
            else:
                msg = sink.msg(
                    "sensor_msgs/msg/CameraInfo",
                    header=header,
                    height=intr.height,
                    width=intr.width,
                    distortion_model="plumb_bob",
                    **sink.camera_info_fields(intr.k, intr.p),
                    binning_x=0,
                    binning_y=0,
                    roi=sink.msg(
                        "sensor_msgs/msg/RegionOfInterest",
                        x_offset=0,
                        y_offset=0,
                        height=0,
                        width=0,
                        do_rectify=False,
                    ),
                )
            sink.write(ev.topic, ev.log_ns, msg)
            written[ev.frame] = written.get(ev.frame, 0) + 1
            if written[ev.frame] == 3:  # colour, depth and info are out: drop the frame
                del rendered[ev.frame]
                if on_frame is not None:
                    on_frame()
    truths.sort(key=lambda f: f.stamp_ns)
    return scenario, truths


def _image_message(sink: BagSink, header: Any, array: np.ndarray, encoding: str) -> Any:
    height, width = array.shape[:2]
    data = np.ascontiguousarray(array).view(np.uint8).ravel()
    return sink.msg(
        "sensor_msgs/msg/Image",
        header=header,
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=0,
        step=data.size // height,
        data=data,
    )


def _colour_message(sink: BagSink, header: Any, rgb: np.ndarray, compressed: bool) -> Any:
    if not compressed:
        return _image_message(sink, header, rgb, "rgb8")
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=90)
    return sink.msg(
        "sensor_msgs/msg/CompressedImage",
        header=header,
        format="rgb8; jpeg compressed bgr8",
        data=np.frombuffer(buffer.getvalue(), dtype=np.uint8),
    )


def plan_classes(count: int, offset: int) -> list[DoorClass]:
    """Classes of ``count`` recordings, cycling so each class appears as evenly as possible."""
    return [DoorClass(CLASSES[(offset + i) % len(CLASSES)]) for i in range(count)]
