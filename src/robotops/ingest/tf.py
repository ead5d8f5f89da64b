"""Static transforms from ``/tf_static``: move LiDAR points into the robot's base frame."""

from __future__ import annotations

from typing import Any

import numpy as np


def _matrix(translation: Any, rotation: Any) -> np.ndarray:
    x, y, z, w = rotation.x, rotation.y, rotation.z, rotation.w
    rot = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    out = np.eye(4)
    out[:3, :3] = rot
    out[:3, 3] = (translation.x, translation.y, translation.z)
    return out


class StaticTransforms:
    """The tree of static transforms, parent -> child, as published on ``/tf_static``."""

    def __init__(self) -> None:
        self._parent: dict[str, tuple[str, np.ndarray]] = {}

    def add(self, message: Any) -> None:
        """Add every transform of a ``TFMessage``."""
        for ts in message.transforms:
            child = ts.child_frame_id.lstrip("/")
            parent = ts.header.frame_id.lstrip("/")
            self._parent[child] = (parent, _matrix(ts.transform.translation, ts.transform.rotation))

    def to_frame(self, target: str, source: str) -> np.ndarray | None:
        """4x4 transform taking points in ``source`` to ``target``, or None if not connected."""
        source, target = source.lstrip("/"), target.lstrip("/")
        chain = np.eye(4)
        frame = source
        seen = set()
        while frame != target:
            if frame not in self._parent or frame in seen:
                return None
            seen.add(frame)
            parent, matrix = self._parent[frame]
            chain = matrix @ chain
            frame = parent
        return chain

    def apply(self, target: str, source: str, xyz: np.ndarray) -> tuple[np.ndarray, bool]:
        """Points moved into ``target``; unchanged (and False) when no transform is known."""
        matrix = self.to_frame(target, source)
        if matrix is None:
            return xyz, False
        return (xyz @ matrix[:3, :3].T + matrix[:3, 3]).astype(np.float32), True
