"""Transforms: deterministic preprocessing of colour, depth and LiDAR, and training augmentation.

:func:`preprocess_frame` under a :class:`PreprocessSpec` is the one definition of model input,
shared by training, evaluation and the robot runtime; it imports only NumPy. :func:`augment_frame`
randomises its output for training, from an explicit ``numpy.random.Generator``.
"""

from robotops.transforms.augment import AugmentConfig, augment_frame, flip_frame
from robotops.transforms.errors import SpecError, TransformError
from robotops.transforms.preprocess import (
    MODALITIES,
    Sample,
    depth_from_bytes,
    lidar_from_bytes,
    preprocess_depth,
    preprocess_frame,
    preprocess_lidar,
    preprocess_rgb,
    sample_shapes,
    stack_samples,
)
from robotops.transforms.spec import SPEC_VERSION, PreprocessSpec

__all__ = [
    "MODALITIES",
    "SPEC_VERSION",
    "AugmentConfig",
    "PreprocessSpec",
    "Sample",
    "SpecError",
    "TransformError",
    "augment_frame",
    "depth_from_bytes",
    "flip_frame",
    "lidar_from_bytes",
    "preprocess_depth",
    "preprocess_frame",
    "preprocess_lidar",
    "preprocess_rgb",
    "sample_shapes",
    "stack_samples",
]
