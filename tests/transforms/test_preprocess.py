from __future__ import annotations

import itertools

import numpy as np
import pytest

from robotops.errors import DataError
from robotops.transforms import (
    PreprocessSpec,
    TransformError,
    depth_from_bytes,
    lidar_from_bytes,
    preprocess_depth,
    preprocess_frame,
    preprocess_lidar,
    preprocess_rgb,
    sample_shapes,
    stack_samples,
)

SPEC = PreprocessSpec()
# Outlier rule off and a fine crop: the lidar tests below check one step at a time.
PLAIN = PreprocessSpec(lidar_outlier_min_neighbours=0, lidar_points=8)


def plane(nx: int, ny: int, x_m: float = 3.0, spacing_m: float = 0.1) -> np.ndarray:
    """A wall facing the robot: an (nx * ny, 3) grid at x = x_m, one point per 10 cm."""
    y, z = np.meshgrid(np.arange(nx) * spacing_m - 1.0, np.arange(ny) * spacing_m + 0.1)
    return np.stack([np.full(y.size, x_m), y.ravel(), z.ravel()], axis=1).astype(np.float32)


# --- colour -------------------------------------------------------------------------------


def test_rgb_shape_dtype_and_normalisation() -> None:
    image = np.empty((48, 80, 3), np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = 255, 0, 51
    out = preprocess_rgb(image, SPEC)
    assert out.shape == (3, 64, 64)
    assert out.dtype == np.float32
    expected = (np.array([1.0, 0.0, 0.2]) - SPEC.rgb_mean) / SPEC.rgb_std
    for channel in range(3):
        np.testing.assert_allclose(out[channel], expected[channel], atol=1e-5)


def test_rgb_accepts_grey_and_rgba() -> None:
    grey = np.full((10, 10), 128, np.uint8)
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., :3] = 128
    rgba[..., 3] = 7
    from_grey = preprocess_rgb(grey, SPEC)
    np.testing.assert_array_equal(from_grey, preprocess_rgb(rgba, SPEC))
    np.testing.assert_array_equal(from_grey, preprocess_rgb(grey[:, :, None], SPEC))


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((8, 8, 3), np.float32),
        np.zeros((8, 8, 2), np.uint8),
        np.zeros((0, 8, 3), np.uint8),
        np.zeros((2, 8, 8, 3), np.uint8),
    ],
)
def test_rgb_rejects_what_is_not_a_uint8_image(image: np.ndarray) -> None:
    with pytest.raises(TransformError):
        preprocess_rgb(image, SPEC)


# --- depth --------------------------------------------------------------------------------


def test_depth_is_scaled_to_metres_over_range_exactly() -> None:
    depth = np.zeros((64, 64), np.uint16)
    depth[:, :16] = 4000  # 4 m of 8 m
    depth[:, 16:32] = 2000
    depth[:, 32:48] = 9500  # beyond range: clipped, still valid
    out = preprocess_depth(depth, SPEC)
    assert out.shape == (2, 64, 64)
    assert out.dtype == np.float32
    assert (out[0, :, :16] == 0.5).all()
    assert (out[0, :, 16:32] == 0.25).all()
    assert (out[0, :, 32:48] == 1.0).all()
    assert (out[0, :, 48:] == 0.0).all()
    assert (out[1, :, :48] == 1.0).all()
    assert (out[1, :, 48:] == 0.0).all()


def test_invalid_depth_never_blurs_into_valid_pixels() -> None:
    rng = np.random.default_rng(3)
    depth = np.full((97, 131), 3000, np.uint16)
    depth[rng.random(depth.shape) < 0.3] = 0  # scattered holes
    depth[20:50, 40:90] = 0  # and a big one, as a glass pane gives
    for size in [(64, 64), (200, 300), (13, 7)]:
        out = preprocess_depth(depth, PreprocessSpec(image_height=size[0], image_width=size[1]))
        values = set(np.unique(out[0]).tolist())
        assert values <= {0.0, 0.375}, values  # no value between "invalid" and 3 m
        np.testing.assert_array_equal(out[1] == 0, out[0] == 0)
        assert 0 < out[1].mean() < 1


def test_depth_accepts_big_endian_uint16() -> None:
    depth = np.full((4, 4), 1000, dtype=">u2")
    np.testing.assert_array_equal(
        preprocess_depth(depth, SPEC), preprocess_depth(depth.astype(np.uint16), SPEC)
    )


@pytest.mark.parametrize(
    "depth", [np.zeros((8, 8), np.float32), np.zeros((8, 8), np.int16), np.zeros(8, np.uint16)]
)
def test_depth_rejects_what_is_not_uint16_millimetres(depth: np.ndarray) -> None:
    with pytest.raises(TransformError):
        preprocess_depth(depth, SPEC)


# --- lidar --------------------------------------------------------------------------------


def test_lidar_crop_drops_out_of_range_and_non_finite_points() -> None:
    xyz = np.array(
        [
            [2.0, 0.0, 1.0],  # kept
            [-1.0, 0.0, 1.0],  # behind the robot
            [2.0, 6.0, 1.0],  # too far left
            [2.0, 0.0, 3.5],  # too high
            [9.9, 4.9, 1.0],  # in the box, beyond the 10 m range
            [np.nan, 0.0, 1.0],
            [2.0, np.inf, 1.0],
        ],
        np.float32,
    )
    points, mask = preprocess_lidar(xyz, PLAIN)
    assert mask.tolist() == [1.0] + [0.0] * 7
    np.testing.assert_array_equal(points, np.tile([[2.0, 0.0, 1.0]], (8, 1)))


def test_points_in_one_voxel_become_their_mean() -> None:
    xyz = np.array([[2.01, 0.01, 1.01], [2.03, 0.02, 1.02], [2.04, 0.04, 1.03]], np.float32)
    points, mask = preprocess_lidar(xyz, PLAIN)
    assert mask.sum() == 1
    np.testing.assert_allclose(points[0], xyz.mean(axis=0), atol=1e-6)


def test_fixed_count_when_too_many_points() -> None:
    xyz = plane(30, 20)  # 600 points, each in its own 5 cm voxel
    points, mask = preprocess_lidar(xyz, PreprocessSpec(lidar_points=512))
    assert points.shape == (512, 3) and points.dtype == np.float32
    assert mask.shape == (512,) and mask.dtype == np.float32
    assert (mask == 1).all()
    assert np.unique(points, axis=0).shape[0] == 512  # distinct points, all from the input
    assert {tuple(p) for p in points.tolist()} <= {tuple(p) for p in xyz.tolist()}
    # spread over the whole wall, not one end of it
    assert points[:, 1].min() < -0.8 and points[:, 1].max() > 1.7


def test_fixed_count_when_too_few_points_repeats_them() -> None:
    xyz = plane(3, 1)
    points, mask = preprocess_lidar(xyz, PLAIN)
    assert mask.tolist() == [1, 1, 1, 0, 0, 0, 0, 0]
    np.testing.assert_array_equal(points[3:6], points[:3])
    np.testing.assert_array_equal(points[6:], points[:2])
    assert {tuple(p) for p in points[:3].tolist()} == {tuple(p) for p in xyz.tolist()}


def test_empty_cloud_gives_zeros_and_an_empty_mask() -> None:
    for xyz in (np.zeros((0, 3), np.float32), np.array([[-5.0, 0.0, 0.0]], np.float32)):
        points, mask = preprocess_lidar(xyz, SPEC)
        assert points.shape == (512, 3)
        assert not points.any() and not mask.any()


def test_lidar_is_deterministic_and_independent_of_point_order() -> None:
    rng = np.random.default_rng(7)
    xyz = np.concatenate([plane(40, 25), rng.uniform([0, -4, 0], [8, 4, 2.5], (3000, 3))])
    xyz = xyz.astype(np.float32)
    first = preprocess_lidar(xyz, SPEC)
    again = preprocess_lidar(xyz.copy(), SPEC)
    shuffled = preprocess_lidar(xyz[rng.permutation(xyz.shape[0])], SPEC)
    for a, b, c in zip(first, again, shuffled, strict=True):
        assert a.tobytes() == b.tobytes() == c.tobytes()


def test_float64_cloud_gives_the_float32_result() -> None:
    xyz = plane(10, 10).astype(np.float64) + 1e-9
    for a, b in zip(
        preprocess_lidar(xyz, SPEC), preprocess_lidar(xyz.astype(np.float32), SPEC), strict=True
    ):
        np.testing.assert_array_equal(a, b)


def test_isolated_points_are_removed_as_outliers() -> None:
    wall = plane(20, 20)
    stray = np.array([[6.0, 3.0, 2.0]], np.float32)
    xyz = np.concatenate([wall, stray])
    points, mask = preprocess_lidar(xyz, SPEC)
    real = points[mask > 0]
    assert real.shape[0] == wall.shape[0]
    assert not np.isclose(real, stray).all(axis=1).any()
    # with the rule off the stray point stays
    points, mask = preprocess_lidar(xyz, PreprocessSpec(lidar_outlier_min_neighbours=0))
    assert np.isclose(points[mask > 0], stray).all(axis=1).any()


@pytest.mark.parametrize(
    "xyz", [np.zeros((4, 4), np.float32), np.zeros(3, np.float32), np.zeros((4, 3), np.int32)]
)
def test_lidar_rejects_what_is_not_a_float_xyz_cloud(xyz: np.ndarray) -> None:
    with pytest.raises(TransformError):
        preprocess_lidar(xyz, SPEC)


# --- frames and batches -------------------------------------------------------------------


def test_frame_with_missing_modalities_is_zeros_with_present_flags() -> None:
    rgb = np.full((24, 32, 3), 200, np.uint8)
    depth = np.full((24, 32), 1500, np.uint16)
    xyz = plane(5, 5)
    shapes = sample_shapes(SPEC)
    for keep in itertools.product([True, False], repeat=3):
        inputs = [x if k else None for x, k in zip((rgb, depth, xyz), keep, strict=True)]
        sample = preprocess_frame(*inputs, SPEC)
        assert {k: v.shape for k, v in sample.items()} == shapes
        assert all(v.dtype == np.float32 for v in sample.values())
        assert sample["present"].tolist() == [float(k) for k in keep]
        for name, present in zip(("rgb", "depth", "lidar"), keep, strict=True):
            assert bool(sample[name].any()) is present, name
        assert bool(sample["lidar_mask"].any()) is keep[2]


def test_frame_matches_the_single_modality_functions() -> None:
    rgb = np.random.default_rng(1).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    depth = np.full((30, 40), 900, np.uint16)
    xyz = plane(30, 30)
    sample = preprocess_frame(rgb, depth, xyz, SPEC)
    np.testing.assert_array_equal(sample["rgb"], preprocess_rgb(rgb, SPEC))
    np.testing.assert_array_equal(sample["depth"], preprocess_depth(depth, SPEC))
    np.testing.assert_array_equal(sample["lidar"], preprocess_lidar(xyz, SPEC)[0])


def test_stack_samples_adds_a_batch_axis() -> None:
    a = preprocess_frame(np.zeros((8, 8, 3), np.uint8), None, plane(3, 3), SPEC)
    b = preprocess_frame(None, np.ones((8, 8), np.uint16), None, SPEC)
    batch = stack_samples([a, b])
    assert {k: v.shape for k, v in batch.items()} == {
        k: (2, *s) for k, s in sample_shapes(SPEC).items()
    }
    assert batch["present"].tolist() == [[1, 0, 1], [0, 1, 0]]
    with pytest.raises(TransformError):
        stack_samples([])
    with pytest.raises(TransformError):
        stack_samples([a, {"rgb": a["rgb"]}])


def test_frame_columns_decode_from_bytes() -> None:
    depth = np.arange(12, dtype="<u2").reshape(3, 4)
    np.testing.assert_array_equal(depth_from_bytes(depth.tobytes(), 4, 3), depth)
    xyz = plane(2, 2)
    np.testing.assert_array_equal(lidar_from_bytes(xyz.astype("<f4").tobytes(), 4), xyz)
    np.testing.assert_array_equal(lidar_from_bytes(b""), np.zeros((0, 3), np.float32))
    with pytest.raises(TransformError):
        depth_from_bytes(depth.tobytes(), 4, 4)
    with pytest.raises(TransformError):
        lidar_from_bytes(b"\x00" * 13)
    with pytest.raises(DataError):  # the package's root class for bad input
        lidar_from_bytes(xyz.tobytes(), 5)
