"""Door-region statistics of a simulated bag, read back with rosbags as a user would."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore

from robotops.sim import rig


@dataclass(frozen=True)
class DoorStats:
    mean_rgb: np.ndarray  # (3,) mean colour in the door box, 0..255
    depth_on_door: float  # fraction of door-box depth pixels on the door plane
    lidar_on_door: (
        float  # fraction of LiDAR points seen in the door box that return from the door plane
    )


def door_stats(bag: Path, labels: Path) -> list[DoorStats]:
    doc = json.loads(labels.read_text())
    # Frames where a person stands in front of the door show the person, not the door.
    boxes = {f["stamp_ns"]: f["box"] for f in doc["frames"] if f["box"] and not f["tags"]["person"]}
    colour, depth, clouds, size = {}, {}, [], None
    with AnyReader([bag], default_typestore=get_typestore(Stores.ROS2_HUMBLE)) as reader:
        wanted = [c for c in reader.connections if c.topic != "/tf_static"]
        for conn, _, raw in reader.messages(connections=wanted):
            msg = reader.deserialize(raw, conn.msgtype)
            stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            if conn.topic == doc["topics"]["rgb"]:
                colour[stamp] = msg.data.reshape(msg.height, msg.width, 3)
                size = (msg.width, msg.height)
            elif conn.topic == doc["topics"]["depth"]:
                depth[stamp] = msg.data.view(np.uint16).reshape(msg.height, msg.width)
            elif conn.topic == doc["topics"]["lidar"]:
                clouds.append((stamp, msg.data.view(np.float32).reshape(-1, 4)[:, :3]))
    intr = rig.Intrinsics.for_size(*size)
    depth_stamps = np.array(sorted(depth))
    cloud_stamps = np.array([s for s, _ in clouds])
    out = []
    for stamp, box in sorted(boxes.items()):
        x0, y0, x1, y1 = box
        if (x1 - x0) < 6 or (y1 - y0) < 6:
            continue
        d = depth[int(depth_stamps[np.argmin(np.abs(depth_stamps - stamp))])].astype(float) / 1000
        # The wall around the door tells where the door plane is.
        band = np.concatenate(
            [d[y0:y1, max(0, x0 - 6) : max(0, x0 - 2)].ravel(), d[y0:y1, x1 + 3 : x1 + 7].ravel()]
        )
        band = band[band > 0]
        if band.size < 10:
            continue
        plane = float(np.median(band))
        inner = d[y0 + 2 : y1 - 1, x0 + 2 : x1 - 1]
        depth_on = float(np.mean(np.abs(inner - plane) < 0.25))
        cloud = clouds[int(np.argmin(np.abs(cloud_stamps - stamp)))][1]
        # Only returns above the floor: the LiDAR sits lower than the camera, so floor points
        # just in front of the door project into the door's box.
        cloud = cloud[cloud[:, 2] + rig.LIDAR_XYZ_M[2] > 0.1]
        pts = rig.lidar_to_optical(cloud)
        uv, ok = rig.project(pts, intr)
        inside = (
            ok
            & (uv[:, 0] > x0 + 2)
            & (uv[:, 0] < x1 - 2)
            & (uv[:, 1] > y0 + 2)
            & (uv[:, 1] < y1 - 2)
        )
        if inside.sum() < 5:
            continue
        lidar_on = float(np.mean(np.abs(pts[inside, 2] - plane) < 0.3))
        rgb = colour[stamp][y0 + 2 : y1 - 1, x0 + 2 : x1 - 1].reshape(-1, 3).mean(axis=0)
        out.append(DoorStats(rgb, depth_on, lidar_on))
    return out


def best_threshold_accuracy(a: np.ndarray, b: np.ndarray) -> float:
    """Best accuracy any single threshold on one feature reaches in telling a from b."""
    values = np.concatenate([a, b])
    truth = np.concatenate([np.zeros(len(a)), np.ones(len(b))])
    best = 0.0
    for t in np.unique(values):
        pred = values >= t
        best = max(best, float(np.mean(pred == truth)), float(np.mean(pred != truth)))
    return best
