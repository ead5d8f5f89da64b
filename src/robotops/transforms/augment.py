"""Training-time augmentation of preprocessed samples, driven by an explicit random generator.

Augmentation works on the output of :mod:`robotops.transforms.preprocess`, never on raw sensor
data, so the deterministic path the robot runs stays free of it. Every draw comes from the
``numpy.random.Generator`` passed in (never the global random state): the same seed and config
give the same augmented sample. Like preprocessing, this module imports only NumPy.

Colour jitter is applied in pixel space: the normalised image is mapped back to [0, 1] with the
spec's mean and std, jittered, clipped to [0, 1] and normalised again, so a jittered image is one
the camera could have produced and magnitudes read in familiar pixel units.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from robotops.transforms.cloud import pad_cyclic
from robotops.transforms.errors import SpecError, TransformError
from robotops.transforms.preprocess import MODALITIES, Sample, sample_shapes
from robotops.transforms.spec import PreprocessSpec


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and magnitudes of each augmentation; the defaults (all zero) change nothing.

    Attributes:
        flip_prob: Chance of a lateral (left-right) mirror of the whole frame, all modalities.
        modality_drop_prob: Chance, per present modality, of blanking it as if the sensor were
            missing (zeros, ``present`` 0), so the model learns to cope; one present modality is
            always kept.
        brightness: Maximum additive brightness shift in pixel units ([0, 1] scale), drawn
            uniformly from [-brightness, brightness].
        contrast: Maximum relative contrast change: the factor is drawn from
            [1 - contrast, 1 + contrast] and scales the distance to the image's grey mean.
        rgb_noise_std: Standard deviation of per-pixel Gaussian colour noise, pixel units.
        depth_noise_std_m: Standard deviation of Gaussian noise on valid depth pixels, metres.
        depth_dropout_prob: Chance, per valid depth pixel, of turning it invalid (value and mask 0).
        lidar_dropout_prob: Chance, per real LiDAR point, of dropping it; the survivors are padded
            to the fixed count by the same cyclic rule preprocessing uses.
        lidar_noise_std_m: Standard deviation of Gaussian jitter on each real point, metres.
    """

    flip_prob: float = 0.0
    modality_drop_prob: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0
    rgb_noise_std: float = 0.0
    depth_noise_std_m: float = 0.0
    depth_dropout_prob: float = 0.0
    lidar_dropout_prob: float = 0.0
    lidar_noise_std_m: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise SpecError(f"augmentation {f.name} must be a number >= 0, got {value!r}")
            if f.name.endswith("_prob") and value > 1:
                raise SpecError(f"augmentation {f.name} is a probability, got {value!r}")
        if self.contrast >= 1:
            raise SpecError(f"augmentation contrast must be below 1, got {self.contrast!r}")

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON types, for run parameters."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AugmentConfig:
        """Read a config written by :meth:`to_dict`; unknown fields raise :class:`SpecError`."""
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise SpecError(f"unknown augmentation field(s): {', '.join(unknown)}")
        return cls(**data)


def flip_frame(sample: Sample) -> Sample:
    """Mirror a sample (or a batch of samples) left-right, consistently across modalities.

    The colour and depth images are reversed along their width and the cloud's lateral axis is
    negated (y -> -y; x forward and z up stay). This presumes the camera looks along the base
    frame's x axis from y = 0, as on a rig whose camera is centred; flipping twice is the identity.
    Keys other than ``rgb``, ``depth`` and ``lidar`` are copied unchanged; absent ones are skipped.
    """
    out = {key: np.array(value, copy=True) for key, value in sample.items()}
    for key in ("rgb", "depth"):
        if key in out:
            out[key] = np.ascontiguousarray(out[key][..., ::-1])
    if "lidar" in out:
        out["lidar"][..., 1] = -out["lidar"][..., 1]
    return out


def augment_frame(
    sample: Sample,
    rng: np.random.Generator,
    config: AugmentConfig,
    spec: PreprocessSpec,
) -> Sample:
    """A randomly augmented copy of one preprocessed sample; the input is left untouched.

    Args:
        sample: One sample from :func:`~robotops.transforms.preprocess.preprocess_frame`.
        rng: The only source of randomness.
        config: Which augmentations, how strong.
        spec: The spec the sample was made with: colour jitter needs its mean and std, depth noise
            its range, to work in physical units.

    Steps, each skipped for a modality that is not present: modality drop, flip, colour
    (brightness, contrast, noise), depth (noise, dropout), LiDAR (dropout, jitter).
    """
    _check(sample, spec)
    out = {key: np.array(value, dtype=np.float32, copy=True) for key, value in sample.items()}
    if config.modality_drop_prob > 0:
        _drop_modalities(out, rng, config.modality_drop_prob)
    if config.flip_prob > 0 and rng.random() < config.flip_prob:
        out = flip_frame(out)
    present = dict(zip(MODALITIES, out["present"] > 0, strict=True))
    if present["rgb"]:
        out["rgb"] = _jitter_colour(out["rgb"], rng, config, spec)
    if present["depth"]:
        _augment_depth(out["depth"], rng, config, spec)
    if present["lidar"]:
        out["lidar"], out["lidar_mask"] = _augment_lidar(
            out["lidar"], out["lidar_mask"], rng, config
        )
    return out


def _check(sample: Sample, spec: PreprocessSpec) -> None:
    for key, shape in sample_shapes(spec).items():
        if key not in sample:
            raise TransformError(f"sample has no {key!r} array")
        if np.shape(sample[key]) != shape:
            raise TransformError(f"sample {key!r} is {np.shape(sample[key])}, spec says {shape}")


def _drop_modalities(out: Sample, rng: np.random.Generator, prob: float) -> None:
    present = np.flatnonzero(out["present"] > 0)
    drop = present[rng.random(present.shape[0]) < prob]
    if drop.shape[0] == present.shape[0] and drop.shape[0] > 0:
        drop = np.delete(drop, rng.integers(drop.shape[0]))  # keep one modality
    for index in drop:
        name = MODALITIES[index]
        out[name][...] = 0.0
        if name == "lidar":
            out["lidar_mask"][...] = 0.0
        out["present"][index] = 0.0


def _jitter_colour(
    rgb: np.ndarray, rng: np.random.Generator, config: AugmentConfig, spec: PreprocessSpec
) -> np.ndarray:
    if config.brightness == 0 and config.contrast == 0 and config.rgb_noise_std == 0:
        return rgb
    mean = np.asarray(spec.rgb_mean, np.float32)[:, None, None]
    std = np.asarray(spec.rgb_std, np.float32)[:, None, None]
    pixels = rgb * std + mean  # back to [0, 1] pixel units, (3, H, W)
    if config.brightness > 0:
        pixels = pixels + np.float32(rng.uniform(-config.brightness, config.brightness))
    if config.contrast > 0:
        factor = np.float32(rng.uniform(1.0 - config.contrast, 1.0 + config.contrast))
        grey = pixels.mean()
        pixels = (pixels - grey) * factor + grey
    if config.rgb_noise_std > 0:
        pixels = pixels + rng.normal(0.0, config.rgb_noise_std, pixels.shape).astype(np.float32)
    pixels = np.clip(pixels, 0.0, 1.0)
    return ((pixels - mean) / std).astype(np.float32)


def _augment_depth(
    depth: np.ndarray, rng: np.random.Generator, config: AugmentConfig, spec: PreprocessSpec
) -> None:
    """Noise and dropout on a (2, H, W) depth sample, in place."""
    valid = depth[1] > 0
    if config.depth_noise_std_m > 0:
        noise = rng.normal(0.0, config.depth_noise_std_m / spec.depth_max_m, valid.shape)
        depth[0] = np.where(valid, np.clip(depth[0] + noise, 0.0, 1.0), 0.0)
    if config.depth_dropout_prob > 0:
        dropped = valid & (rng.random(valid.shape) < config.depth_dropout_prob)
        depth[:, dropped] = 0.0


def _augment_lidar(
    points: np.ndarray, mask: np.ndarray, rng: np.random.Generator, config: AugmentConfig
) -> tuple[np.ndarray, np.ndarray]:
    if config.lidar_dropout_prob == 0 and config.lidar_noise_std_m == 0:
        return points, mask
    real = points[mask > 0]  # the distinct points, in preprocessing's canonical order
    if config.lidar_dropout_prob > 0:
        real = real[rng.random(real.shape[0]) >= config.lidar_dropout_prob]
    if config.lidar_noise_std_m > 0:
        real = real + rng.normal(0.0, config.lidar_noise_std_m, real.shape).astype(np.float32)
    return pad_cyclic(real, points.shape[0])
