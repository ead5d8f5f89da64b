from __future__ import annotations

import numpy as np
import pytest

from robotops.transforms.resize import nearest_indices, resize_bilinear, resize_nearest


@pytest.mark.parametrize(("h", "w"), [(480, 640), (64, 64), (20, 30), (7, 5)])
def test_bilinear_keeps_a_constant_image_constant(h: int, w: int) -> None:
    image = np.full((3, h, w), 0.3, np.float32)
    image[1] = 0.7
    out = resize_bilinear(image, 64, 48)
    assert out.shape == (3, 64, 48)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0], 0.3, atol=1e-6)
    np.testing.assert_allclose(out[1], 0.7, atol=1e-6)


@pytest.mark.parametrize("w", [640, 100, 64, 17])
def test_bilinear_keeps_a_ramp_monotone(w: int) -> None:
    ramp = np.broadcast_to(np.linspace(0.0, 1.0, w, dtype=np.float32), (1, 40, w))
    out = resize_bilinear(ramp, 32, 64)
    steps = np.diff(out, axis=2)
    if w >= 64:
        assert (steps > 0).all()
    else:  # enlarging clamps at the borders: flat there, rising everywhere else
        assert (steps >= 0).all()
        assert (steps[..., 2:-2] > 0).all()
    # rows are identical: a horizontal ramp has no vertical structure to resample
    np.testing.assert_allclose(out, np.broadcast_to(out[:, :1], out.shape), atol=1e-6)
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_bilinear_to_the_same_size_is_the_identity() -> None:
    image = np.random.default_rng(0).random((3, 12, 9), dtype=np.float32)
    np.testing.assert_array_equal(resize_bilinear(image, 12, 9), image)


def test_bilinear_shrink_averages_blocks() -> None:
    # Antialiased: a 2x shrink of a fine checkerboard is flat grey, not a sampled checkerboard.
    # (The border pixels see a truncated filter and are off by a little.)
    board = (np.indices((32, 32)).sum(axis=0) % 2).astype(np.float32)[None]
    np.testing.assert_allclose(resize_bilinear(board, 16, 16)[:, 1:-1, 1:-1], 0.5, atol=1e-6)


def test_nearest_samples_pixel_centres() -> None:
    assert nearest_indices(4, 2).tolist() == [1, 3]
    assert nearest_indices(2, 4).tolist() == [0, 0, 1, 1]
    assert nearest_indices(5, 5).tolist() == [0, 1, 2, 3, 4]
    image = np.arange(16, dtype=np.uint16).reshape(4, 4)
    out = resize_nearest(image, 2, 2)
    assert out.dtype == np.uint16
    assert out.tolist() == [[5, 7], [13, 15]]
