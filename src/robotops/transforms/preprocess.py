"""Deterministic preprocessing: one frame's sensor arrays into the model's fixed-size input.

This module is the single definition used by training, evaluation and the robot runtime. It
imports nothing but NumPy and the standard library (a test guards that), takes every number from a
:class:`~robotops.transforms.spec.PreprocessSpec`, and never draws random numbers: augmentation
lives in :mod:`robotops.transforms.augment` and works on this module's output, so the runtime never
sees it.

A *sample* is a dict of float32 arrays (shapes for the default spec, H = W = 64, P = 512):

============== ============ ===========================================================
key            shape        content
============== ============ ===========================================================
``rgb``        (3, H, W)    colour scaled to [0, 1], then ``(x - mean) / std`` per channel
``depth``      (2, H, W)    channel 0: metres / ``depth_max_m`` clipped to [0, 1], 0 where
                            invalid; channel 1: 1 where the pixel is valid, else 0
``lidar``      (P, 3)       x, y, z in metres in the robot base frame
``lidar_mask`` (P,)         1 for each distinct real point, 0 for padding
``present``    (3,)         1 where the modality (rgb, depth, lidar) was in the frame
============== ============ ===========================================================

A missing modality (``None``) is all zeros with ``present`` 0, so a batch always has one shape.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from robotops.transforms.cloud import crop_points, fixed_count, outlier_mask, voxel_downsample
from robotops.transforms.errors import TransformError
from robotops.transforms.resize import resize_bilinear, resize_nearest
from robotops.transforms.spec import PreprocessSpec

MODALITIES = ("rgb", "depth", "lidar")
"""The modalities in the order of the ``present`` flags."""

Sample = dict[str, np.ndarray]


def sample_shapes(spec: PreprocessSpec) -> dict[str, tuple[int, ...]]:
    """Shape of each array of one sample under ``spec`` (prepend the batch size for a batch)."""
    h, w, p = spec.image_height, spec.image_width, spec.lidar_points
    return {
        "rgb": (3, h, w),
        "depth": (2, h, w),
        "lidar": (p, 3),
        "lidar_mask": (p,),
        "present": (len(MODALITIES),),
    }


def preprocess_rgb(image: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """Colour image (H, W, 3) RGB, (H, W, 4) RGBA or (H, W) grey, uint8 -> float32 (3, h, w).

    Resized with antialiased bilinear filtering to the spec's size (aspect ratio not kept: the
    model sees the camera's whole field of view), scaled to [0, 1] and normalised per channel.
    Alpha is dropped; grey is repeated into three channels.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise TransformError(f"colour image must be uint8, got {image.dtype}")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise TransformError(
            f"colour image must be (H, W), (H, W, 3) or (H, W, 4), got {image.shape}"
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise TransformError(f"colour image is empty: {image.shape}")
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    chw = image[:, :, :3].transpose(2, 0, 1).astype(np.float32) / np.float32(255.0)  # (3, H, W)
    small = resize_bilinear(chw, spec.image_height, spec.image_width)  # (3, h, w)
    mean = np.asarray(spec.rgb_mean, np.float32)[:, None, None]
    std = np.asarray(spec.rgb_std, np.float32)[:, None, None]
    return ((small - mean) / std).astype(np.float32, copy=False)


def preprocess_depth(depth_mm: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """Depth image (H, W) uint16 millimetres, 0 = invalid -> float32 (2, h, w).

    Resized by nearest neighbour *before* any arithmetic, so an invalid pixel is copied or skipped
    but never averaged into a valid one (a blurred hole would read as a phantom surface at half
    the distance). Channel 0 is metres / ``depth_max_m`` clipped to [0, 1] (0 where invalid);
    channel 1 is the validity mask, so "no reading" stays distinguishable from "very near".
    """
    depth_mm = np.asarray(depth_mm)
    if depth_mm.dtype.kind != "u" or depth_mm.dtype.itemsize != 2:
        raise TransformError(f"depth image must be uint16 millimetres, got {depth_mm.dtype}")
    if depth_mm.ndim != 2 or depth_mm.shape[0] == 0 or depth_mm.shape[1] == 0:
        raise TransformError(f"depth image must be a non-empty (H, W) array, got {depth_mm.shape}")
    small = resize_nearest(depth_mm, spec.image_height, spec.image_width)  # (h, w)
    valid = small > 0
    # float32 division is correctly rounded: 4000 mm over 8 m gives exactly 0.5.
    scaled = small.astype(np.float32) / np.float32(1000.0 * spec.depth_max_m)
    out = np.empty((2, spec.image_height, spec.image_width), np.float32)
    out[0] = np.where(valid, np.minimum(scaled, np.float32(1.0)), np.float32(0.0))
    out[1] = valid
    return out


def preprocess_lidar(xyz: np.ndarray, spec: PreprocessSpec) -> tuple[np.ndarray, np.ndarray]:
    """LiDAR cloud (N, 3) x, y, z in the base frame -> float32 points (P, 3) and mask (P,).

    In order: cast to float32 (the frame contract, so float64 input gives the same result);
    drop non-finite points and those outside the crop box or range; one point per voxel (the mean
    of its points); drop voxel points with too few neighbours; then exactly P rows, as
    :func:`~robotops.transforms.cloud.fixed_count` describes (a hash-chosen subset when there
    are more, cyclic repeats with mask 0 when fewer, zeros when none). The result does not depend
    on the order of the input points.
    """
    xyz = np.asarray(xyz)
    if xyz.ndim != 2 or xyz.shape[1] != 3:
        raise TransformError(f"LiDAR cloud must be (N, 3) x, y, z, got {xyz.shape}")
    if xyz.dtype.kind != "f":
        raise TransformError(f"LiDAR cloud must be floating point, got {xyz.dtype}")
    points = crop_points(
        xyz.astype(np.float32, copy=False),
        spec.lidar_x_m,
        spec.lidar_y_m,
        spec.lidar_z_m,
        spec.lidar_max_range_m,
    )
    voxels, cells = voxel_downsample(points, spec.lidar_voxel_m)
    keep = outlier_mask(voxels, spec.lidar_outlier_cell_m, spec.lidar_outlier_min_neighbours)
    return fixed_count(voxels[keep], cells[keep], spec.lidar_points)


def preprocess_frame(
    rgb: np.ndarray | None,
    depth_mm: np.ndarray | None,
    xyz: np.ndarray | None,
    spec: PreprocessSpec,
) -> Sample:
    """One frame's decoded modalities (any may be ``None``) -> a sample (see the module doc).

    Args:
        rgb: Colour image, uint8 (H, W, 3) RGB; see :func:`preprocess_rgb`.
        depth_mm: Depth image, uint16 (H, W) millimetres; see :func:`preprocess_depth`.
        xyz: LiDAR points, float (N, 3) in the base frame; see :func:`preprocess_lidar`. A cloud
            that is present but has no point left after cropping stays ``present`` = 1 with an
            all-zero mask: an empty view (as through glass) is information, a missing sensor not.
        spec: The preprocessing definition.
    """
    sample = {key: np.zeros(shape, np.float32) for key, shape in sample_shapes(spec).items()}
    if rgb is not None:
        sample["rgb"] = preprocess_rgb(rgb, spec)
        sample["present"][0] = 1.0
    if depth_mm is not None:
        sample["depth"] = preprocess_depth(depth_mm, spec)
        sample["present"][1] = 1.0
    if xyz is not None:
        sample["lidar"], sample["lidar_mask"] = preprocess_lidar(xyz, spec)
        sample["present"][2] = 1.0
    return sample


def stack_samples(samples: Sequence[Sample]) -> Sample:
    """Stack samples into a batch: each key gets a leading batch axis."""
    if not samples:
        raise TransformError("cannot stack an empty list of samples")
    keys = set(samples[0])
    for i, sample in enumerate(samples):
        if set(sample) != keys:
            raise TransformError(f"sample {i} has keys {sorted(sample)}, sample 0 {sorted(keys)}")
    try:
        return {key: np.stack([s[key] for s in samples]) for key in samples[0]}
    except ValueError as err:
        raise TransformError(f"samples do not stack: {err}") from err


def depth_from_bytes(data: bytes, width: int, height: int) -> np.ndarray:
    """A frame's ``depth_mm`` column (little-endian uint16, row-major) as (height, width)."""
    if width <= 0 or height <= 0 or len(data) != width * height * 2:
        raise TransformError(f"depth is {len(data)} bytes, expected {width}x{height} uint16 pixels")
    return np.frombuffer(data, dtype="<u2").reshape(height, width).astype(np.uint16)


def lidar_from_bytes(data: bytes, points: int | None = None) -> np.ndarray:
    """A frame's ``lidar_xyz`` column (little-endian float32 x, y, z) as an (N, 3) array."""
    if len(data) % 12 or (points is not None and len(data) != points * 12):
        expected = "a multiple of 12" if points is None else f"{points} points x 12"
        raise TransformError(f"LiDAR cloud is {len(data)} bytes, expected {expected}")
    return np.frombuffer(data, dtype="<f4").reshape(-1, 3).astype(np.float32)
