from __future__ import annotations

import json

import numpy as np
import pytest

from robotops.transforms import (
    AugmentConfig,
    PreprocessSpec,
    Sample,
    SpecError,
    TransformError,
    augment_frame,
    flip_frame,
    preprocess_frame,
    preprocess_rgb,
)

SPEC = PreprocessSpec(image_height=32, image_width=48, lidar_points=256)
ALL_ON = AugmentConfig(
    flip_prob=0.5,
    modality_drop_prob=0.2,
    brightness=0.2,
    contrast=0.3,
    rgb_noise_std=0.02,
    depth_noise_std_m=0.01,
    depth_dropout_prob=0.1,
    lidar_dropout_prob=0.2,
    lidar_noise_std_m=0.01,
)


def left_sided_frame() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A frame whose left half is bright in colour and near in depth, with a cloud on the left."""
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[:, :32] = 250
    depth = np.full((48, 64), 6000, np.uint16)
    depth[:, :32] = 1000
    depth[::7, ::5] = 0  # some invalid pixels
    y, z = np.meshgrid(np.linspace(0.2, 2.0, 30), np.linspace(0.1, 2.0, 20))
    xyz = np.stack([np.full(y.size, 2.5), y.ravel(), z.ravel()], axis=1).astype(np.float32)
    return rgb, depth, xyz


def sample() -> Sample:
    return preprocess_frame(*left_sided_frame(), SPEC)


def pixels(rgb: np.ndarray) -> np.ndarray:
    """A normalised colour sample back in [0, 1] pixel units."""
    mean = np.asarray(SPEC.rgb_mean, np.float32)[:, None, None]
    std = np.asarray(SPEC.rgb_std, np.float32)[:, None, None]
    return rgb * std + mean


def assert_samples_equal(a: Sample, b: Sample) -> None:
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


# --- flip ---------------------------------------------------------------------------------


def test_flip_mirrors_every_modality_consistently() -> None:
    before = sample()
    after = flip_frame(before)
    half = SPEC.image_width // 2
    # colour: bright on the left before, on the right after
    assert before["rgb"][:, :, :half].mean() > before["rgb"][:, :, half:].mean()
    assert after["rgb"][:, :, half:].mean() > after["rgb"][:, :, :half].mean()
    # depth: near (small) on the right after, invalid pixels mirrored with their mask
    near, far = 1.0 / 8.0, 6.0 / 8.0
    valid = after["depth"][1] > 0
    assert set(np.unique(after["depth"][0][valid]).tolist()) == {near, far}
    assert (after["depth"][0, :, half:][valid[:, half:]] == near).all()
    assert (after["depth"][0, :, :half][valid[:, :half]] == far).all()
    np.testing.assert_array_equal(after["depth"][1], before["depth"][1][:, ::-1])
    # cloud: every real point moves from y > 0 to y < 0; x and z stay
    real = before["lidar_mask"] > 0
    assert (before["lidar"][real, 1] > 0).all()
    assert (after["lidar"][real, 1] < 0).all()
    np.testing.assert_array_equal(after["lidar"][:, [0, 2]], before["lidar"][:, [0, 2]])
    np.testing.assert_array_equal(after["lidar_mask"], before["lidar_mask"])
    np.testing.assert_array_equal(after["present"], before["present"])


def test_flipping_twice_is_the_identity_and_leaves_the_input_alone() -> None:
    before = sample()
    kept = {k: v.copy() for k, v in before.items()}
    assert_samples_equal(flip_frame(flip_frame(before)), before)
    assert_samples_equal(before, kept)


def test_flipping_the_sample_equals_preprocessing_the_mirrored_image() -> None:
    rgb = np.random.default_rng(2).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    flipped = flip_frame({"rgb": preprocess_rgb(rgb, SPEC)})["rgb"]
    np.testing.assert_allclose(flipped, preprocess_rgb(rgb[:, ::-1], SPEC), atol=1e-5)


def test_flip_works_on_a_batch() -> None:
    one = sample()
    batch = {k: np.stack([v, v]) for k, v in one.items()}
    flipped = flip_frame(batch)
    for key, value in flip_frame(one).items():
        np.testing.assert_array_equal(flipped[key][1], value)


# --- augment ------------------------------------------------------------------------------


def test_augment_with_everything_off_is_the_identity() -> None:
    before = sample()
    kept = {k: v.copy() for k, v in before.items()}
    after = augment_frame(before, np.random.default_rng(0), AugmentConfig(), SPEC)
    assert_samples_equal(after, before)
    assert all(after[k] is not before[k] for k in before)  # a copy, never the input
    assert_samples_equal(before, kept)


def test_augment_is_reproducible_for_a_seed() -> None:
    runs = [augment_frame(sample(), np.random.default_rng(s), ALL_ON, SPEC) for s in (5, 5, 6)]
    assert_samples_equal(runs[0], runs[1])
    assert any(not np.array_equal(runs[0][k], runs[2][k]) for k in runs[0])


def test_augment_keeps_shapes_and_dtypes() -> None:
    for seed in range(5):
        after = augment_frame(sample(), np.random.default_rng(seed), ALL_ON, SPEC)
        before = sample()
        assert {k: (v.shape, v.dtype) for k, v in after.items()} == {
            k: (v.shape, v.dtype) for k, v in before.items()
        }


def test_certain_flip_equals_flip_frame() -> None:
    config = AugmentConfig(flip_prob=1.0)
    assert_samples_equal(
        augment_frame(sample(), np.random.default_rng(0), config, SPEC), flip_frame(sample())
    )


def test_colour_jitter_stays_within_what_a_camera_gives() -> None:
    config = AugmentConfig(brightness=0.5, contrast=0.5, rgb_noise_std=0.1)
    for seed in range(5):
        out = pixels(augment_frame(sample(), np.random.default_rng(seed), config, SPEC)["rgb"])
        assert out.min() >= -1e-6 and out.max() <= 1 + 1e-6
        assert not np.allclose(out, pixels(sample()["rgb"]))


def test_brightness_shifts_pixels_uniformly() -> None:
    rgb = np.full((8, 8, 3), 100, np.uint8)
    spec = PreprocessSpec(image_height=8, image_width=8)
    base = preprocess_frame(rgb, None, None, spec)
    out = augment_frame(base, np.random.default_rng(1), AugmentConfig(brightness=0.2), spec)
    mean = np.asarray(spec.rgb_mean, np.float32)[:, None, None]
    std = np.asarray(spec.rgb_std, np.float32)[:, None, None]
    shift = (out["rgb"] - base["rgb"]) * std
    assert 0 < abs(float(shift.mean())) <= 0.2
    np.testing.assert_allclose(shift, shift.mean(), atol=1e-5)
    np.testing.assert_allclose(out["rgb"] * std + mean, 100 / 255 + shift.mean(), atol=1e-5)


def test_depth_dropout_turns_pixels_invalid_value_and_mask_together() -> None:
    before = sample()
    config = AugmentConfig(depth_dropout_prob=0.5, depth_noise_std_m=0.05)
    after = augment_frame(before, np.random.default_rng(3), config, SPEC)["depth"]
    invalid_before = before["depth"][1] == 0
    assert (after[1][invalid_before] == 0).all()  # nothing invalid becomes valid
    assert (after[0][after[1] == 0] == 0).all()  # invalid means value 0
    dropped = (after[1] == 0) & ~invalid_before
    assert 0.4 < dropped.sum() / (~invalid_before).sum() < 0.6
    kept = after[1] > 0
    assert not np.array_equal(after[0][kept], before["depth"][0][kept])  # noise applied
    assert after[0].min() >= 0 and after[0].max() <= 1


def test_lidar_dropout_keeps_the_fixed_count_and_the_padding_rule() -> None:
    before = sample()
    assert before["lidar_mask"].all()  # 600 wall points, 256 chosen
    after = augment_frame(
        before, np.random.default_rng(4), AugmentConfig(lidar_dropout_prob=0.5), SPEC
    )
    points, mask = after["lidar"], after["lidar_mask"]
    kept = int(mask.sum())
    assert 90 < kept < 166
    assert (mask[:kept] == 1).all() and (mask[kept:] == 0).all()
    np.testing.assert_array_equal(points, points[np.arange(points.shape[0]) % kept])
    # survivors are original points, in their original order
    index = {tuple(p): i for i, p in enumerate(before["lidar"].tolist())}
    positions = [index[tuple(p)] for p in points[:kept].tolist()]
    assert positions == sorted(positions)


def test_lidar_noise_moves_real_points_and_keeps_duplicates_duplicate() -> None:
    spec = PreprocessSpec(lidar_points=16, lidar_outlier_min_neighbours=0)
    xyz = np.array([[2.0, 0.0, 1.0], [3.0, 1.0, 1.0], [4.0, -1.0, 1.5]], np.float32)
    before = preprocess_frame(None, None, xyz, spec)
    config = AugmentConfig(lidar_noise_std_m=0.02)
    after = augment_frame(before, np.random.default_rng(0), config, spec)
    np.testing.assert_array_equal(after["lidar_mask"], before["lidar_mask"])
    assert not np.array_equal(after["lidar"][:3], before["lidar"][:3])
    np.testing.assert_allclose(after["lidar"][:3], before["lidar"][:3], atol=0.2)
    np.testing.assert_array_equal(after["lidar"][3:6], after["lidar"][:3])


def test_modality_drop_keeps_at_least_one_and_blanks_the_rest() -> None:
    config = AugmentConfig(modality_drop_prob=1.0)
    seen = set()
    for seed in range(12):
        after = augment_frame(sample(), np.random.default_rng(seed), config, SPEC)
        assert after["present"].sum() == 1
        for i, name in enumerate(("rgb", "depth", "lidar")):
            assert bool(after[name].any()) is bool(after["present"][i])
        assert bool(after["lidar_mask"].any()) is bool(after["present"][2])
        seen.add(int(np.argmax(after["present"])))
    assert seen == {0, 1, 2}


def test_missing_modalities_stay_missing() -> None:
    _, depth, _ = left_sided_frame()
    before = preprocess_frame(None, depth, None, SPEC)
    for seed in range(3):
        after = augment_frame(before, np.random.default_rng(seed), ALL_ON, SPEC)
        assert after["present"].tolist() == [0, 1, 0]
        assert not after["rgb"].any() and not after["lidar"].any()
        assert not after["lidar_mask"].any()


def test_augment_rejects_a_sample_of_another_spec() -> None:
    other = preprocess_frame(*left_sided_frame(), PreprocessSpec())
    with pytest.raises(TransformError, match="spec says"):
        augment_frame(other, np.random.default_rng(0), ALL_ON, SPEC)
    broken = sample()
    del broken["lidar_mask"]
    with pytest.raises(TransformError, match="lidar_mask"):
        augment_frame(broken, np.random.default_rng(0), ALL_ON, SPEC)


# --- config -------------------------------------------------------------------------------


def test_augment_config_round_trips_and_validates() -> None:
    assert AugmentConfig.from_dict(json.loads(json.dumps(ALL_ON.to_dict()))) == ALL_ON
    with pytest.raises(SpecError, match="unknown augmentation"):
        AugmentConfig.from_dict({"hue": 0.1})
    bad_values = [
        {"flip_prob": 1.5},
        {"brightness": -0.1},
        {"contrast": 1.0},
        {"rgb_noise_std": "x"},
    ]
    for bad in bad_values:
        with pytest.raises(SpecError):
            AugmentConfig(**bad)  # type: ignore[arg-type]
