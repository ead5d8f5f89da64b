"""Behavioural tests: what a door classifier must do beyond scoring well on average.

Configured under ``behaviour:`` in ``robotops.yaml`` (:class:`robotops.config.BehaviourSettings`):

* ``flip``: a mirrored scene shows the same door; the predictions must agree.
* ``brightness``: a scene a little brighter or darker (both ways, ``magnitude`` in pixel units of
  [0, 1]) must be classified the same.
* ``noise``: seeded Gaussian sensor noise (``magnitude``: colour std in pixel units, depth and
  LiDAR std in metres) must not change the class.
* ``drop_lidar``, ``drop_depth``: with that sensor gone, accuracy must stay above a floor.
* ``slice_accuracy``: no slice (site, lighting, ...) with enough frames may fall below a floor.
* ``latency``: one frame through the exported model within a budget; it needs a bundle, and says
  so instead of passing when there is none.

Agreement tests compare with the model's own unperturbed predictions, not with the labels: they
measure stability, which accuracy alone hides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from robotops.config import BehaviourSettings
from robotops.evaluate.metrics import Metrics
from robotops.evaluate.results import BehaviourResult
from robotops.transforms import AugmentConfig, PreprocessSpec, augment_frame, flip_frame

Predictor = Callable[[dict[str, np.ndarray]], np.ndarray]
LatencyProbe = Callable[[dict[str, np.ndarray]], float]
"""Median milliseconds of one frame of the given inputs through the exported model."""
NOISE_SEED = 20261126


def shift_brightness(
    arrays: dict[str, np.ndarray], delta: float, spec: PreprocessSpec
) -> dict[str, np.ndarray]:
    """Stacked inputs with every present colour image ``delta`` brighter (pixel units, clipped)."""
    mean = np.asarray(spec.rgb_mean, np.float32)[None, :, None, None]
    std = np.asarray(spec.rgb_std, np.float32)[None, :, None, None]
    pixels = np.clip(arrays["rgb"] * std + mean + np.float32(delta), 0.0, 1.0)
    has_rgb = arrays["present"][:, 0] > 0
    rgb = np.where(has_rgb[:, None, None, None], (pixels - mean) / std, arrays["rgb"])
    return {**arrays, "rgb": rgb.astype(np.float32)}


def add_noise(
    arrays: dict[str, np.ndarray], magnitude: float, spec: PreprocessSpec
) -> dict[str, np.ndarray]:
    """Stacked inputs with seeded sensor noise on every present modality."""
    config = AugmentConfig(
        rgb_noise_std=magnitude, depth_noise_std_m=magnitude, lidar_noise_std_m=magnitude
    )
    rng = np.random.default_rng(NOISE_SEED)
    samples = [
        augment_frame({k: v[i] for k, v in arrays.items()}, rng, config, spec)
        for i in range(arrays["rgb"].shape[0])
    ]
    return {k: np.stack([s[k] for s in samples]) for k in arrays}


def _agreement(
    test_id: str, description: str, baseline: np.ndarray, outputs: list[np.ndarray], floor: float
) -> BehaviourResult:
    same = np.concatenate([out.argmax(1) == baseline for out in outputs])
    measured = float(same.mean()) if len(same) else 1.0
    changed = int((~same).sum())
    return BehaviourResult(
        test_id,
        description,
        measured >= floor,
        measured,
        floor,
        f"{measured:.1%} of predictions unchanged ({changed} of {len(same)} changed)",
    )


def _floor(test_id: str, description: str, metrics: Metrics, floor: float) -> BehaviourResult:
    return BehaviourResult(
        test_id,
        description,
        metrics.accuracy >= floor,
        metrics.accuracy,
        floor,
        f"accuracy {metrics.accuracy:.1%} on {metrics.frames} frames",
    )


def run_behaviour(
    predict: Predictor,
    arrays: dict[str, np.ndarray],
    predicted: np.ndarray,
    spec: PreprocessSpec,
    settings: BehaviourSettings,
    *,
    modalities: Mapping[str, Metrics],
    slices: Mapping[str, Mapping[str, Metrics]],
    latency_ms: LatencyProbe | None = None,
) -> tuple[BehaviourResult, ...]:
    """Run every configured behavioural test.

    Args:
        predict: Probabilities (N, K) of the model for stacked inputs.
        arrays: The split's stacked inputs.
        predicted: The model's predicted classes on ``arrays`` as they are.
        spec: The preprocessing the inputs were made with.
        settings: Which tests, with which thresholds.
        modalities: Metrics per modality subset (see :mod:`robotops.evaluate.evaluation`).
        slices: Metrics per slice.
        latency_ms: One frame's latency through the exported model, or None if not exported.
    """
    results: list[BehaviourResult] = []
    if settings.flip is not None:
        flipped = predict(flip_frame(arrays))
        results.append(
            _agreement(
                "flip",
                "mirrored scenes keep their class",
                predicted,
                [flipped],
                settings.flip.min_agreement,
            )
        )
    if settings.brightness is not None:
        delta = settings.brightness.magnitude
        outputs = [predict(shift_brightness(arrays, d, spec)) for d in (delta, -delta)]
        results.append(
            _agreement(
                "brightness",
                f"brightness shifted by +/-{delta:g} keeps the class",
                predicted,
                outputs,
                settings.brightness.min_agreement,
            )
        )
    if settings.noise is not None:
        magnitude = settings.noise.magnitude
        noisy = predict(add_noise(arrays, magnitude, spec))
        results.append(
            _agreement(
                "noise",
                f"sensor noise (std {magnitude:g}) keeps the class",
                predicted,
                [noisy],
                settings.noise.min_agreement,
            )
        )
    if settings.drop_lidar is not None:
        results.append(
            _floor(
                "drop.lidar",
                "accurate without LiDAR",
                modalities["rgb+depth"],
                settings.drop_lidar.min_accuracy,
            )
        )
    if settings.drop_depth is not None:
        results.append(
            _floor(
                "drop.depth",
                "accurate without depth",
                modalities["rgb+lidar"],
                settings.drop_depth.min_accuracy,
            )
        )
    if settings.slice_accuracy is not None:
        results.append(
            _slice_floor(
                slices, settings.slice_accuracy.min_accuracy, settings.slice_accuracy.min_frames
            )
        )
    if settings.latency is not None:
        results.append(_latency(latency_ms, arrays, settings.latency.budget_ms))
    return tuple(results)


def _slice_floor(
    slices: Mapping[str, Mapping[str, Metrics]], floor: float, min_frames: int
) -> BehaviourResult:
    judged = [
        (f"{key}={value}", m)
        for key, values in slices.items()
        for value, m in values.items()
        if m.frames >= min_frames
    ]
    description = f"every slice of at least {min_frames} frames is accurate"
    if not judged:
        return BehaviourResult(
            "slice_accuracy", description, None, None, floor, f"no slice has {min_frames} frames"
        )
    below = sorted((m.accuracy, name) for name, m in judged if m.accuracy < floor)
    worst_name, worst = min(judged, key=lambda item: item[1].accuracy)
    if below:
        named = ", ".join(f"{name} {acc:.1%}" for acc, name in below)
        detail = f"below the floor: {named}"
    else:
        detail = f"worst slice {worst_name} at {worst.accuracy:.1%} ({len(judged)} slices)"
    return BehaviourResult("slice_accuracy", description, not below, worst.accuracy, floor, detail)


def _latency(
    latency_ms: LatencyProbe | None, arrays: dict[str, np.ndarray], budget_ms: float
) -> BehaviourResult:
    description = f"one frame through the exported model within {budget_ms:g} ms"
    if latency_ms is None:
        return BehaviourResult(
            "latency",
            description,
            None,
            None,
            budget_ms,
            "not checked: the model has no exported bundle yet",
        )
    measured = latency_ms(arrays)
    return BehaviourResult(
        "latency",
        description,
        measured <= budget_ms,
        measured,
        budget_ms,
        f"median {measured:.2f} ms at batch 1",
    )
