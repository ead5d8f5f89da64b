"""A tiny fusion checkpoint and synthetic frames, shared by the export, runtime and serving tests.

Building a model and saving its checkpoint directly is much faster than training one, and an
untrained model exercises export, parity and quantisation exactly as a trained one does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from robotops.transforms import PreprocessSpec, preprocess_frame, stack_samples

CLASSES = ("glass_door", "no_door", "wooden_door")
SPEC = PreprocessSpec(image_height=32, image_width=32, lidar_points=64)
HYPER = {"width": 8, "point_width": 8, "hidden": 16}


def raw_frames(count: int, seed: int = 0) -> list[tuple[np.ndarray | None, ...]]:
    """Random camera, depth and LiDAR frames; every fifth frame misses one modality."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(count):
        rgb = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
        depth = rng.integers(0, 6000, (48, 64)).astype(np.uint16)
        depth[rng.random((48, 64)) < 0.1] = 0  # invalid pixels
        xyz = (rng.random((300, 3)) * [6.0, 6.0, 2.0] + [0.5, -3.0, 0.0]).astype(np.float32)
        frame = [rgb, depth, xyz]
        if i % 5 == 4:
            frame[i % 3] = None
        frames.append(tuple(frame))
    return frames


def frame_arrays(count: int, seed: int = 0):  # -> FrameArrays
    from robotops.train.data import FrameArrays

    samples = [preprocess_frame(*f, SPEC) for f in raw_frames(count, seed)]
    labels = np.random.default_rng(seed + 100).integers(0, len(CLASSES), count)
    ids = tuple(f"frame-{seed}-{i}" for i in range(count))
    return FrameArrays(stack_samples(samples), labels, ids, CLASSES, cached=False)


def write_checkpoint(
    path: Path, name: str = "fusion", seed: int = 0, classes: tuple[str, ...] = CLASSES
) -> Path:
    import torch

    from robotops.models import build_model
    from robotops.train.checkpoint import model_meta, save_checkpoint

    torch.manual_seed(seed)
    model = build_model(name, len(classes), **HYPER).eval()
    meta = model_meta(model, classes, SPEC.to_dict()) | {
        "dataset": {"ref": "doors@3", "digest": "d" * 64},
        "run_id": "0" * 32,
    }
    return save_checkpoint(path, model, meta)
